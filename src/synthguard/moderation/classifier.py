"""The model-judge hook: a `Classifier` protocol and an adapter for guard models served
behind any OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp ...).

The adapter speaks Qwen3Guard-Gen's output format ("Safety: Safe|Unsafe|Controversial",
"Categories: ...", and for responses "Refusal: Yes|No") and maps its categories to the
TC260 taxonomy. Qwen3Guard has no categories for TC260 A.3-A.5 beyond copyright, so the
keyword library and human review cover those. It is off by default: the engine calls a
classifier only when one is given, and nothing here loads weights or reaches a network
the operator did not configure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from synthguard.errors import SynthGuardError

Level = Literal["safe", "controversial", "unsafe"]
Stage = Literal["input", "output"]

# Qwen3Guard category → TC260 risk id (docs/reference/moderation.md §4).
QWEN3GUARD_RISKS: Mapping[str, str] = {
    "Violent": "A.1.6",
    "Sexual Content or Sexual Acts": "A.1.6",
    "Non-violent Illegal Acts": "A.1.8",
    "Politically Sensitive Topics": "A.1.2",
    "Unethical Acts": "A.2.9",
    "PII": "A.4.6",
    "Suicide & Self-Harm": "A.4.1",
    "Copyright Violation": "A.3.1",
    "Jailbreak": "A.1.8",
}
FALLBACK_RISK = "A.1.8"  # an unsafe verdict with no category we know
_SAFETY = re.compile(r"Safety:\s*(Safe|Unsafe|Controversial)\b", re.IGNORECASE)
_CATEGORIES = re.compile(r"Categories:\s*(.*)", re.IGNORECASE)
_REFUSAL = re.compile(r"Refusal:\s*(Yes|No)\b", re.IGNORECASE)
MAX_RESPONSE_BYTES = 1 << 20


class ClassifierError(SynthGuardError):
    """The guard model could not give a verdict (unreachable, timed out, unparseable)."""

    code = "classifier_failed"


@dataclass(frozen=True)
class ClassifierVerdict:
    level: Level
    risks: tuple[tuple[str, str], ...] = ()  # (model label, TC260 risk id)
    refusal: bool | None = None  # response moderation: did the model refuse?
    raw: str = ""


class Classifier(Protocol):
    """A judge for one text. Must be thread-safe; raises ClassifierError on failure."""

    name: str

    def classify(self, text: str, *, stage: Stage, prompt: str | None = None
                 ) -> ClassifierVerdict: ...


def parse_qwen3guard(output: str, label_map: Mapping[str, str] = QWEN3GUARD_RISKS
                     ) -> ClassifierVerdict:
    """Read a Qwen3Guard-Gen answer; ClassifierError when it has no Safety line."""
    safety = _SAFETY.search(output)
    if safety is None:
        raise ClassifierError(f"guard model answer has no 'Safety:' line: {output[:200]!r}")
    level: Level = safety.group(1).lower()  # type: ignore[assignment]
    labels: list[str] = []
    categories = _CATEGORIES.search(output)
    if categories:
        labels = [c.strip() for c in categories.group(1).split(",")
                  if c.strip() and c.strip().lower() != "none"]
    risks: tuple[tuple[str, str], ...] = ()
    if level != "safe":
        risks = tuple((label, label_map.get(label, FALLBACK_RISK)) for label in labels)
        risks = risks or (("unspecified", FALLBACK_RISK),)
    refusal = _REFUSAL.search(output)
    return ClassifierVerdict(level, risks,
                             None if refusal is None else refusal.group(1).lower() == "yes",
                             output)


class OpenAIGuardClassifier:
    """A guard model behind `{base_url}/chat/completions` (base_url ends in /v1)."""

    name = "openai-guard"

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 timeout: float = 10.0, label_map: Mapping[str, str] = QWEN3GUARD_RISKS,
                 client: httpx.Client | None = None) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.label_map = label_map
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(timeout=timeout, headers=headers)

    def classify(self, text: str, *, stage: Stage, prompt: str | None = None
                 ) -> ClassifierVerdict:
        if stage == "input":
            messages = [{"role": "user", "content": text}]
        else:  # response moderation judges the answer to its prompt
            messages = [{"role": "user", "content": prompt or ""},
                        {"role": "assistant", "content": text}]
        body = {"model": self.model, "messages": messages, "temperature": 0,
                "max_tokens": 128}
        try:
            response = self._client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise ClassifierError(f"guard model at {self.url} unreachable: {exc}") from None
        if response.status_code != 200:
            raise ClassifierError(f"guard model at {self.url} answered HTTP "
                                  f"{response.status_code}")
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise ClassifierError(f"guard model at {self.url} answered over 1 MiB")
        return parse_qwen3guard(_content(response), self.label_map)

    def close(self) -> None:
        self._client.close()


def _content(response: httpx.Response) -> str:
    try:
        data: Any = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ClassifierError("guard model answer is not an OpenAI chat completion") from None
    if not isinstance(content, str):
        raise ClassifierError("guard model answer has no text content")
    return content

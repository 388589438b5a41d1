"""The guard-model adapter against a real fake server on loopback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from synthguard.moderation.classifier import (
    ClassifierError,
    OpenAIGuardClassifier,
    parse_qwen3guard,
)
from tests.moderation.conftest import FakeOpenAI, chat, engine_of, entry


def test_parse_qwen3guard_answers() -> None:
    safe = parse_qwen3guard("Safety: Safe\nCategories: None")
    assert (safe.level, safe.risks, safe.refusal) == ("safe", (), None)
    unsafe = parse_qwen3guard("Safety: Unsafe\nCategories: Violent, PII\nRefusal: Yes")
    assert unsafe.level == "unsafe" and unsafe.refusal is True
    assert unsafe.risks == (("Violent", "A.1.6"), ("PII", "A.4.6"))
    political = parse_qwen3guard("Safety: Controversial\nCategories: Politically Sensitive "
                                 "Topics")
    assert political.risks == (("Politically Sensitive Topics", "A.1.2"),)
    unknown = parse_qwen3guard("Safety: Unsafe\nCategories: Something New")
    assert unknown.risks == (("Something New", "A.1.8"),)
    bare = parse_qwen3guard("Safety: Unsafe")
    assert bare.risks == (("unspecified", "A.1.8"),)
    with pytest.raises(ClassifierError, match="no 'Safety:' line"):
        parse_qwen3guard("I think this is fine")


def _guard(body: dict[str, Any]) -> tuple[int, Any]:
    last = body["messages"][-1]["content"]
    if "炸药" in last:
        return 200, chat("Safety: Unsafe\nCategories: Violent\nRefusal: No")
    if "敏感" in last:
        return 200, chat("Safety: Controversial\nCategories: Politically Sensitive Topics")
    if "坏掉" in last:
        return 200, b"{not json"
    if "出错" in last:
        return 500, {"error": {"message": "boom"}}
    return 200, chat("Safety: Safe\nCategories: None")


def test_adapter_sends_prompt_and_response_messages_and_maps_labels() -> None:
    with FakeOpenAI(_guard) as server:
        guard = OpenAIGuardClassifier(server.base_url, "Qwen3Guard-Gen-0.6B", api_key="k1")
        verdict = guard.classify("怎么做炸药", stage="input")
        assert verdict.level == "unsafe" and verdict.risks == (("Violent", "A.1.6"),)
        guard.classify("好的，做法如下", stage="output", prompt="怎么做饭")
        guard.close()
    first, second = server.requests
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer k1"
    assert first["body"]["model"] == "Qwen3Guard-Gen-0.6B"
    assert first["body"]["messages"] == [{"role": "user", "content": "怎么做炸药"}]
    assert [m["role"] for m in second["body"]["messages"]] == ["user", "assistant"]


@pytest.mark.parametrize(("text", "problem"), [("坏掉", "not an OpenAI chat completion"),
                                                ("出错", "HTTP 500")])
def test_adapter_failures_raise_classifier_error(text: str, problem: str) -> None:
    with FakeOpenAI(_guard) as server:
        guard = OpenAIGuardClassifier(server.base_url, "m")
        with pytest.raises(ClassifierError, match=problem):
            guard.classify(text, stage="input")


def test_unreachable_guard_raises_classifier_error() -> None:
    with FakeOpenAI(_guard) as server:
        url = server.base_url
    guard = OpenAIGuardClassifier(url, "m", client=httpx.Client(timeout=2))
    with pytest.raises(ClassifierError, match="unreachable"):
        guard.classify("你好", stage="input")


def test_engine_uses_the_classifier_only_when_given_and_applies_policy() -> None:
    with FakeOpenAI(_guard) as server:
        guard = OpenAIGuardClassifier(server.base_url, "m")
        plain = engine_of(entry("代开发票"))
        assert plain.review("怎么做炸药", stage="input").decision == "allow"
        judged = engine_of(entry("代开发票"), classifier=guard)
        unsafe = judged.review("怎么做炸药", stage="input")
        assert unsafe.decision == "block"
        assert unsafe.matches[0].entry_id == "classifier:Violent"
        assert unsafe.matches[0].view == "model" and unsafe.risk_ids == ("A.1.6",)
        assert judged.review("一个敏感话题", stage="input").decision == "review"
        lenient = engine_of(entry("代开发票"), classifier=guard, policy={"A.1.6": "review"})
        assert lenient.review("怎么做炸药", stage="input").decision == "review"
        assert judged.review("今天天气不错", stage="input").decision == "allow"
    assert len(server.requests) == 4  # the plain engine never called the guard

"""The GB 45438-2025 Annex E label: seven string fields, strict validation, JSON codec.

Writers are strict (a bad value raises `LabelValueError` naming the field and the
character); the reader is tolerant (it accepts the wrapped and the bare form and the
real-world variants) but reports every deviation as a `Finding`, so an inspector can
say exactly why a file is not conformant.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from synthguard.errors import LabelValueError
from synthguard.identity.uscc import check_uscc

# Annex E b): the keys, in the order the standard lists them.
FIELDS = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
REQUIRED = ("Label", "ContentProducer", "ProduceID")

# Annex E "Label": 1 属于 (is generated), 2 可能 (possibly), 3 疑似 (suspected).
LABEL_NAMES = {"1": "generated", "2": "possibly", "3": "suspected"}

# Bounds so a hostile file cannot make us hold huge values; generous enough for a
# TC260-PG-202511A SecurityData record (SM2 signature + public key + bindings).
MAX_FIELD_CHARS = 4096
MAX_LABEL_CHARS = 64 * 1024

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """One conformance observation. `error` makes a file noncompliant; the others inform."""

    code: str
    severity: Severity
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message,
                "field": self.field}


def charset_violation(value: str) -> tuple[int, str] | None:
    """Annex E j): 0x21, 0x23-0x5B, 0x5D-0x7E plus the escaped quote.

    Decoded, that is printable ASCII without space and backslash; a `"` is allowed
    because JSON carries it as the escape sequence the clause permits.
    Returns (position, character) of the first offending character.
    """
    for i, ch in enumerate(value):
        o = ord(ch)
        if not (0x21 <= o <= 0x7E) or o == 0x5C:
            return i, ch
    return None


def _describe(ch: str) -> str:
    return f"{ch!r} (U+{ord(ch):04X})"


def check_value(name: str, value: str) -> None:
    """Raise `LabelValueError` if `value` is not a valid value for field `name`."""
    if not isinstance(value, str):
        raise LabelValueError(name, f"must be a string, got {type(value).__name__}")
    if len(value) > MAX_FIELD_CHARS:
        raise LabelValueError(name, f"is {len(value)} characters, limit {MAX_FIELD_CHARS}")
    bad = charset_violation(value)
    if bad is not None:
        pos, ch = bad
        raise LabelValueError(
            name, f"character {_describe(ch)} at position {pos} is outside the Annex E "
            "charset (printable ASCII without space and backslash)")
    if name == "Label" and value not in LABEL_NAMES:
        raise LabelValueError(name, f"must be one of \"1\", \"2\", \"3\", got {value!r}")
    if name in REQUIRED and not value:
        raise LabelValueError(name, "must not be empty")


@dataclass(frozen=True)
class AIGCLabel:
    """An Annex E label. Construct with `AIGCLabel.create()` to get the first-write rule."""

    label: str
    content_producer: str
    produce_id: str
    reserved_code1: str = ""
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code2: str = ""

    def __post_init__(self) -> None:
        for name, value in self.fields().items():
            check_value(name, value)

    @classmethod
    def create(
        cls,
        *,
        producer: str,
        produce_id: str,
        label: str = "1",
        propagator: str | None = None,
        propagate_id: str | None = None,
        reserved_code1: str = "",
        reserved_code2: str = "",
    ) -> AIGCLabel:
        """Build a label. Annex E note 1: on the producer's first write the propagation
        fields repeat the producer's own code and ID, so they default to those."""
        return cls(
            label=str(label),
            content_producer=producer,
            produce_id=produce_id,
            reserved_code1=reserved_code1,
            content_propagator=producer if propagator is None else propagator,
            propagate_id=produce_id if propagate_id is None else propagate_id,
            reserved_code2=reserved_code2,
        )

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> AIGCLabel:
        """From Annex E keys; absent optional keys become empty strings."""
        return cls(*(fields.get(k, "") for k in FIELDS))

    @property
    def label_name(self) -> str:
        return LABEL_NAMES[self.label]

    def fields(self) -> dict[str, str]:
        """The seven fields under their Annex E names, in Annex E order."""
        return dict(zip(FIELDS, (
            self.label, self.content_producer, self.produce_id, self.reserved_code1,
            self.content_propagator, self.propagate_id, self.reserved_code2,
        ), strict=True))

    def to_json(self, *, wrapped: bool = False) -> str:
        """Compact JSON. `wrapped=False` gives the bare object the TC260 guides put under
        an AIGC key (XMP, MP4, WAV); `wrapped=True` the `{"AIGC":{...}}` string of
        GB 45438 Annex E b), used where the carrier's key is not itself named AIGC."""
        obj: dict[str, Any] = self.fields()
        if wrapped:
            obj = {"AIGC": obj}
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


@dataclass
class Decoded:
    """What `decode` made of a raw label string."""

    fields: dict[str, str] | None
    form: Literal["bare", "wrapped", "prefixed", "invalid"]
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.fields is not None and not any(f.severity == "error" for f in self.findings)

    def label(self) -> AIGCLabel | None:
        """The strict label, if the decoded fields are valid; else None."""
        if self.fields is None:
            return None
        try:
            return AIGCLabel.from_fields(self.fields)
        except LabelValueError:
            return None


_PREFIXED = re.compile(r"^AIGC\s*[:=]?\s*(\{.*\})$", re.DOTALL)


def decode(raw: str | bytes) -> Decoded:
    """Parse a label as found in a file. Never raises on bad input: problems are findings."""
    findings: list[Finding] = []
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            findings.append(Finding("encoding", "error", "label bytes are not valid UTF-8"))
    else:
        text = raw
    if len(text) > MAX_LABEL_CHARS:
        return Decoded(None, "invalid", [*findings, Finding(
            "oversized", "error", f"label is {len(text)} characters, limit {MAX_LABEL_CHARS}")])
    stripped = text.strip().rstrip("\x00").strip()
    if stripped != text:
        findings.append(Finding("whitespace", "info", "surrounding whitespace or NUL trimmed"))

    form: Literal["bare", "wrapped", "prefixed", "invalid"] = "bare"
    m = _PREFIXED.match(stripped)
    if m:
        stripped = m.group(1)
        form = "prefixed"
        findings.append(Finding("prefixed-form", "warning",
                                "label written as AIGC{...}, not as JSON"))
    try:
        obj = json.loads(stripped, object_pairs_hook=_reject_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        return Decoded(None, "invalid", [*findings, Finding(
            "malformed-json", "error", f"label is not valid JSON: {_short(exc)}")])
    if not isinstance(obj, dict):
        return Decoded(None, "invalid", [*findings, Finding(
            "not-object", "error", "label JSON is not an object")])
    if "AIGC" in obj and isinstance(obj["AIGC"], dict):
        if len(obj) > 1:
            findings.append(Finding("unknown-field", "error",
                                    "keys beside AIGC in the wrapped form", None))
        obj = obj["AIGC"]
        form = "wrapped" if form == "bare" else form
    if stripped != json.dumps(obj if form == "bare" else {"AIGC": obj},
                              ensure_ascii=False, separators=(",", ":")) and form != "prefixed":
        findings.append(Finding("formatting", "info",
                                "JSON has whitespace or key order other than compact Annex E"))

    fields: dict[str, str] = {}
    for key, value in obj.items():
        if key not in FIELDS:
            findings.append(Finding("unknown-field", "error",
                                    f"unknown field {key!r} (Annex E has seven)", key))
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            findings.append(Finding("not-string", "error",
                                    f"{key} must be a string, got {type(value).__name__}", key))
            continue
        if not isinstance(value, str):
            findings.append(Finding("not-string", "error",
                                    f"{key} must be a string, got number {value!r}", key))
            value = str(value)
        try:
            check_value(key, value)
        except LabelValueError as exc:
            findings.append(Finding("invalid-value", "error", str(exc), key))
        fields[key] = value
    for key in FIELDS:
        if key not in obj:
            if key in REQUIRED:
                findings.append(Finding("missing-field", "error", f"{key} is missing", key))
            else:
                findings.append(Finding("missing-field", "warning",
                                        f"{key} is absent (Annex E lists seven fields)", key))
    for key, code in (("ContentProducer", "ContentProducer"),
                      ("ContentPropagator", "ContentPropagator")):
        value = fields.get(key, "")
        if value and len(value) == 27 and value.startswith("00"):
            problem = provider_code_problem(value)
            if problem:
                findings.append(Finding("provider-code", "warning",
                                        f"{code} looks like a TC260 provider code but {problem}",
                                        key))
    return Decoded(fields, form, findings)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"duplicate keys {dupes}")
    return dict(pairs)


def _short(exc: BaseException) -> str:
    return str(exc).split("\n")[0][:120]


# --- TC260-PG-20252A provider codes --------------------------------------------------------

_SERVICE_KINDS = {"1": "generation", "2": "propagation"}
_CODE_CHARS = re.compile(r"^[0-9A-Z]{27}$")


@dataclass(frozen=True)
class ProviderCode:
    """A parsed 27-character provider code (format 00, organisation bound to a USCC)."""

    code: str
    uscc: str
    service: str  # "" when the extension is 00000 (unused)
    model_code: str


def provider_code(uscc: str, *, service: str = "1", model_code: str = "0000") -> str:
    """Build a provider code: `00` + `1` (organisation) + `1` (bound to USCC) + USCC +
    service extension (`1` generation / `2` propagation + 4-character model/app code;
    `00000` when unused). Raises `LabelValueError` if any part is invalid."""
    result = check_uscc(uscc)
    if not result.ok:
        raise LabelValueError("uscc", result.reason)
    ext = "00000" if service in ("", "0") else service + model_code
    code = "0011" + uscc + ext
    parse_provider_code(code)
    return code


def provider_code_problem(code: str) -> str | None:
    """None if `code` is a valid provider code, else the reason."""
    if not _CODE_CHARS.match(code):
        return "must be 27 digits or capital letters"
    if code[:2] != "00":
        return f"format code is {code[:2]!r}, expected '00'"
    if code[2:4] != "11":
        return f"subject code prefix is {code[2:4]!r}, expected '11' (organisation bound to USCC)"
    uscc = check_uscc(code[4:22])
    if not uscc.ok:
        return f"embedded unified social credit code is invalid: {uscc.reason}"
    ext = code[22:]
    if ext != "00000" and ext[0] not in _SERVICE_KINDS:
        return f"service extension {ext!r} must start with 1 or 2, or be 00000"
    return None


def parse_provider_code(code: str) -> ProviderCode:
    """Parse and validate a provider code; raises `LabelValueError` naming the problem."""
    problem = provider_code_problem(code)
    if problem:
        raise LabelValueError("provider code", problem)
    ext = code[22:]
    service = "" if ext == "00000" else _SERVICE_KINDS[ext[0]]
    return ProviderCode(code, code[4:22], service, "" if ext == "00000" else ext[1:])

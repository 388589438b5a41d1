"""Leaf entries: the canonical JSON of a gateway request record.

A leaf hash commits to bytes, so the same record must always give the same bytes:
RFC 8785 (JCS) canonical JSON: object keys sorted by UTF-16 code units, no whitespace,
strings with only the escapes JSON requires, numbers in ECMAScript's shortest form
(1.0 -> 1, 1e-7, 1e+21). Integers beyond 2**53, which JCS would round through a double,
are written exactly instead: deterministic either way, and nothing is lost.

Personal data never enters an entry. Accounts appear as keyed hashes (HMAC-SHA256 with
the server secret, one domain per kind of id) so that the operator can still find a
user's entries, a reader of an exported log cannot link them to a person, and deleting
an account later changes nothing the tree committed to. Inputs and outputs appear as
the record's SHA-256 digests, never as text.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from synthguard.errors import SynthGuardError

if TYPE_CHECKING:  # the verifier imports this module without any database code
    from synthguard.accounts.records import RequestRecord

ENTRY_VERSION = 1
ENTRY_TYPE = "gateway.request"
_SUBJECT_DOMAIN = b"synthguard/audit/subject/v1\x00"


class CanonicalError(SynthGuardError):
    """A value has no canonical JSON form (NaN, a lone surrogate, a non-string key)."""

    code = "canonical_error"


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 form of `value` as UTF-8 bytes."""
    try:
        simple = _json_ready(value, 0)
    except _NeedsSlowPath:
        parts: list[str] = []
        _encode(value, parts, depth=0)
        text = "".join(parts)
    else:
        # The C encoder writes exactly what RFC 8785 asks once `_json_ready` has made
        # sure that code-point order is UTF-16 order and every float prints the same.
        text = json.dumps(simple, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalError("text holds a lone surrogate, which JSON cannot carry") from None


class _NeedsSlowPath(Exception):
    pass


def _json_ready(value: Any, depth: int) -> Any:
    """`value` with integral floats as ints; raises `_NeedsSlowPath` where `json.dumps`
    and RFC 8785 would differ (exponent-form floats, keys from U+E000 up, odd types)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        if value.is_integer() and abs(value) <= 2.0**53:
            return int(value)  # exact, and ECMAScript prints these without a fraction
        if not 1e-4 <= abs(value) < 2.0**53 or "e" in repr(value):
            raise _NeedsSlowPath
        return value
    if depth > _MAX_DEPTH:
        raise _NeedsSlowPath
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key, default="") < "\ue000"):
                raise _NeedsSlowPath
            out[key] = _json_ready(item, depth + 1)
        return out
    if kind is list or kind is tuple:
        return [_json_ready(item, depth + 1) for item in value]
    raise _NeedsSlowPath  # subclasses and other types: let the reference encoder decide


_MAX_DEPTH = 64


def _encode(value: Any, out: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise CanonicalError(f"value is nested deeper than {_MAX_DEPTH} levels")
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise CanonicalError("object keys must be strings")
        out.append("{")
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be",
                                                                      "surrogatepass"))):
            if i:
                out.append(",")
            out.append(encode_basestring(key))
            out.append(":")
            _encode(value[key], out, depth + 1)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out, depth + 1)
        out.append("]")
    else:
        raise CanonicalError(f"{type(value).__name__} has no JSON form")


def format_number(value: float) -> str:
    """ECMAScript Number::toString, which RFC 8785 §3.2.2.3 prescribes."""
    if not math.isfinite(value):
        raise CanonicalError("NaN and infinities have no JSON form")
    if value == 0:
        return "0"  # also -0
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript requires.
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + text


def subject_ref(secret: bytes, kind: str, value: str | None) -> str | None:
    """The keyed hash that stands for an account id in an entry."""
    return None if value is None else _subject_ref(secret, kind, value)


@functools.lru_cache(maxsize=8192)  # the same few users and keys, request after request
def _subject_ref(secret: bytes, kind: str, value: str) -> str:
    mac = hmac.new(secret, _SUBJECT_DOMAIN + kind.encode() + b"\x00" + value.encode("utf-8"),
                   hashlib.sha256)
    return mac.hexdigest()


def timestamp(value: datetime) -> str:
    """UTC, microseconds always written: one text per instant."""
    if value.tzinfo is None:
        raise CanonicalError("timestamps must be timezone-aware")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def record_entry(record: RequestRecord, secret: bytes) -> bytes:
    """The leaf entry for a gateway request record."""
    return canonical_json({
        "v": ENTRY_VERSION,
        "type": ENTRY_TYPE,
        "record_id": record.id,
        "created_at": timestamp(record.created_at),
        "org_ref": subject_ref(secret, "org", record.org_id),
        "user_ref": subject_ref(secret, "user", record.user_id),
        "key_ref": subject_ref(secret, "key", record.key_id),
        "endpoint": record.endpoint,
        "model": record.model,
        "status": record.status,
        "input_digest": record.input_digest,
        "output_digest": record.output_digest,
        "input_review": record.input_review,
        "output_review": record.output_review,
        "labels": record.labels,
        "enforcement": record.enforcement,
        "error_code": record.error_code,
        "overhead_ms": record.overhead_ms,
    })


def entry_problem(entry: bytes, record_id: str | None = None) -> str | None:
    """Why `entry` is not a well-formed leaf entry (for `record_id`), or None."""
    try:
        value = json.loads(entry)
    except (ValueError, RecursionError):
        return "entry is not JSON"
    if not isinstance(value, dict) or value.get("v") != ENTRY_VERSION:
        return "entry is not a version-1 audit entry"
    try:
        if canonical_json(value) != entry:
            return "entry is not in canonical form"
    except CanonicalError as exc:
        return f"entry is not in canonical form: {exc}"
    if record_id is not None and value.get("record_id") != record_id:
        return f"entry names record {value.get('record_id')!r}, the row says {record_id!r}"
    return None

"""Signed labels (TC260-PG-202511A): a `SecurityData` record in ReservedCode1/ReservedCode2.

The record has the shape real producers write (MiniMax, reference §2.4), as compact JSON
of hex strings (no space or backslash: it passes the Annex E charset; `"` travels as
the escaped quote the clause allows)::

    {"SecurityData":{"Type":"TC260PG","Version":1,
      "Bindings":[{"Type":"ContentHash","AlgID":SM3,"Method":…,"Value":hex},
                  {"Type":"Watermark","Value":hex}],
      "PubSD":[{"Type":"DS","AlgID":SM3withSM2,"TBSData":{"Type":"Md"},"Signature":DER hex},
               {"Type":"DS",…,"TBSData":{"Type":"MdBindings"},…},
               {"Type":"PubKey","AlgID":SM3withSM2,"KeyValue":SPKI DER hex}]}}

`Md` signs the Appendix A.1 string `"Label":"1","ContentProducer":"…","ProduceID":"…"`
exactly, so other TC260 verifiers can check it; `MdBindings` signs that string plus
`,"Bindings":[…]`, tying the label to the content (the guide's own selection for
binding signatures is not public: this one is ours, and a verifier that knows only
`Md` calls it unsupported, not failed). A propagator signs ReservedCode2 over every
field before it, so it also seals the producer's record as the platform received it.

The content digest (`labels.digest`) hashes the media data, not the metadata, so writing
the label or a C2PA manifest leaves it unchanged.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from gmssl import sm2  # type: ignore[import-untyped]

from synthguard.errors import MalformedFile, SynthGuardError, UnsupportedFormat
from synthguard.labels.aigc import AIGCLabel
from synthguard.labels.digest import ContentDigest, content_digest

SM3_OID = "1.2.156.10197.1.401"
SM3_WITH_SM2 = "1.2.156.10197.1.501"
RECORD_TYPE = "TC260PG"
RECORD_VERSION = 1
# SubjectPublicKeyInfo DER up to the point: id-ecPublicKey with the SM2 curve (1.2.156.10197.1.301).
SPKI_PREFIX = bytes.fromhex("3059301306072A8648CE3D020106082A811CCF5501822D034200")
SIGNER_ID = b"1234567812345678"  # GB/T 35276 default ID (OpenSSL: -pkeyopt distid:…)

_CURVE: dict[str, str] = sm2.default_ecc_table
_P, _A, _B, _N = (int(_CURVE[k], 16) for k in ("p", "a", "b", "n"))
_G = bytes.fromhex(_CURVE["g"])

Role = Literal["producer", "propagator"]
Status = Literal["valid", "invalid", "unsigned", "untrusted"]
RECORD_FIELD: dict[Role, str] = {"producer": "ReservedCode1", "propagator": "ReservedCode2"}
SIGNED_FIELDS: dict[Role, tuple[str, ...]] = {
    "producer": ("Label", "ContentProducer", "ProduceID"),  # Appendix A.1
    "propagator": ("Label", "ContentProducer", "ProduceID", "ReservedCode1",
                   "ContentPropagator", "PropagateID"),
}
_LABEL_TBS = ("Md", "LabelMataData")  # MiniMax spells it LabelMataData
_BINDINGS_TBS = "MdBindings"



# --- SM2 over gmssl's curve arithmetic --------------------------------------------------


def _sm3(*parts: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    for part in parts:
        h.update(part)
    return h.finalize()


def _engine(point: bytes = b"", scalar: int | None = None) -> Any:
    # The public key is set after construction: gmssl's constructor strips a "04" prefix
    # with lstrip("04"), which also eats leading 0/4 digits of x.
    engine = sm2.CryptSM2(private_key="" if scalar is None else f"{scalar:064x}", public_key="")
    engine.public_key = point.hex()
    return engine


def _on_curve(point: bytes) -> bool:
    x, y = int.from_bytes(point[:32], "big"), int.from_bytes(point[32:], "big")
    return x < _P and y < _P and (y * y - (x * x * x + _A * x + _B)) % _P == 0


def _e(point: bytes, message: bytes) -> bytes:
    """e = SM3(Z_A || M), Z_A = SM3(ENTL || ID || a || b || G || public key)."""
    curve = b"".join(int(_CURVE[k], 16).to_bytes(32, "big") for k in ("a", "b"))
    za = _sm3((len(SIGNER_ID) * 8).to_bytes(2, "big"), SIGNER_ID, curve, _G, point)
    return _sm3(za, message)


def _sign(scalar: int, point: bytes, message: bytes) -> bytes:
    e = _e(point, message)
    engine = _engine(point, scalar)
    while True:  # gmssl returns None for the rare k that gives r = 0 or s = 0
        k = secrets.randbelow(_N - 1) + 1  # never gmssl's default k, from `random`
        rs = engine.sign(e, f"{k:064x}")
        if rs:
            return encode_dss_signature(int(rs[:64], 16), int(rs[64:], 16))


def _verify(point: bytes, message: bytes, der: bytes) -> bool:
    try:
        r, s = decode_dss_signature(der)
    except ValueError:
        return False
    if not (0 < r < _N and 0 < s < _N):
        return False
    return bool(_engine(point).verify(f"{r:064x}{s:064x}", _e(point, message)))


def parse_public_key(value: str | bytes) -> bytes:
    """The 64-byte point X||Y from an SM2 SubjectPublicKeyInfo (DER), `04||X||Y` or
    `X||Y`, as bytes or hex. Raises `SynthGuardError` if it is none of those or not
    a point of the SM2 curve."""
    raw = value
    if isinstance(raw, str):
        try:
            raw = bytes.fromhex(raw)
        except ValueError:
            raise SynthGuardError("SM2 public key is not hexadecimal") from None
    if raw.startswith(SPKI_PREFIX):
        raw = raw[len(SPKI_PREFIX):]
    if len(raw) == 65 and raw[0] == 4:
        raw = raw[1:]
    if len(raw) != 64:
        raise SynthGuardError(f"SM2 public key has {len(raw)} bytes, expected an SM2 "
                              "SubjectPublicKeyInfo or an uncompressed point")
    if not _on_curve(raw):
        raise SynthGuardError("SM2 public key is not a point of the SM2 curve")
    return raw


def spki_hex(point: bytes) -> str:
    """The SubjectPublicKeyInfo DER, in the upper-case hex of `PubSD.KeyValue`."""
    return (SPKI_PREFIX + b"\x04" + point).hex().upper()


def key_id(point: bytes) -> str:
    """A short fingerprint for reports and logs: SM3 of the SPKI, first 8 bytes."""
    return _sm3(bytes.fromhex(spki_hex(point)))[:8].hex()


@dataclass(frozen=True, repr=False)
class SigningKey:
    """An SM2 private key. `public_key_hex` is what verifiers pin."""

    scalar: int

    def __post_init__(self) -> None:
        if not 0 < self.scalar < _N - 1:
            raise SynthGuardError("SM2 private key is out of range")

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(secrets.randbelow(_N - 2) + 1)

    @classmethod
    def from_hex(cls, value: str) -> SigningKey:
        """From the 32-byte private scalar in hex (as key files and KMS exports hold it)."""
        try:
            return cls(int(value, 16))
        except ValueError:
            raise SynthGuardError("SM2 private key is not hexadecimal") from None

    @classmethod
    def from_bytes(cls, data: bytes) -> SigningKey:
        """From a key file: the scalar in hex, or an OpenSSL SM2 private key in PEM."""
        from synthguard.labels.keyfile import private_scalar

        return cls(private_scalar(data))

    @property
    def point(self) -> bytes:
        return bytes.fromhex(_engine()._kg(self.scalar, _CURVE["g"]))

    @property
    def public_key_hex(self) -> str:
        return spki_hex(self.point)

    def __repr__(self) -> str:  # the scalar never reaches a log
        return f"SigningKey(key_id={key_id(self.point)})"


# --- the record ---------------------------------------------------------------------------


def _tbs(label: AIGCLabel, role: Role) -> str:
    """Appendix A.1: the signer's fields as `"Key":"value"` pairs joined by commas."""
    fields = label.fields()
    return ",".join(f"{json.dumps(k)}:{json.dumps(fields[k])}" for k in SIGNED_FIELDS[role])


def _compact(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def _bindings_tbs(label: AIGCLabel, role: Role, bindings: list[Any]) -> bytes:
    return f"{_tbs(label, role)},\"Bindings\":{_compact(bindings)}".encode()


def sign_label(label: AIGCLabel, content_digest: ContentDigest, private_key: SigningKey,
               *, role: Role = "producer", watermark: bytes | None = None) -> AIGCLabel:
    """`label` with a signed `SecurityData` record in ReservedCode1 (producer) or
    ReservedCode2 (propagator), bound to `content_digest` and, when given, the
    watermark payload embedded in the content."""
    bindings: list[Any] = [{"Type": "ContentHash", "AlgID": SM3_OID,
                            "Method": content_digest.method, "Value": content_digest.hex()}]
    if watermark is not None:
        bindings.append({"Type": "Watermark", "Value": watermark.hex().upper()})
    point = private_key.point
    pub_sd = [
        {"Type": "DS", "AlgID": SM3_WITH_SM2, "TBSData": {"Type": "Md"},
         "Signature": _sign(private_key.scalar, point, _tbs(label, role).encode()).hex().upper()},
        {"Type": "DS", "AlgID": SM3_WITH_SM2, "TBSData": {"Type": _BINDINGS_TBS},
         "Signature": _sign(private_key.scalar, point,
                            _bindings_tbs(label, role, bindings)).hex().upper()},
        {"Type": "PubKey", "AlgID": SM3_WITH_SM2, "KeyValue": spki_hex(point)},
    ]
    record = _compact({"SecurityData": {"Type": RECORD_TYPE, "Version": RECORD_VERSION,
                                        "Bindings": bindings, "PubSD": pub_sd}})
    field = "reserved_code1" if role == "producer" else "reserved_code2"
    return replace(label, **{field: record})  # validates the Annex E charset and length


@dataclass(frozen=True)
class SignatureResult:
    """What `verify_label` concluded. `code` is stable for programs, `reason` for people."""

    status: Status
    code: str
    reason: str
    role: Role = "producer"
    key_id: str | None = None
    content_bound: bool = False  # the content digest was checked against a signed binding

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "reason": self.reason,
                "role": self.role, "key_id": self.key_id, "content_bound": self.content_bound}


def _objects(value: object) -> list[dict[str, Any]]:
    return [cast(dict[str, Any], v) for v in value if isinstance(v, dict)] \
        if isinstance(value, list) else []


def _signature(entries: list[dict[str, Any]], tbs_types: tuple[str, ...]) -> bytes | None:
    for entry in entries:
        tbs = entry.get("TBSData")
        if (entry.get("Type") == "DS" and entry.get("AlgID") == SM3_WITH_SM2
                and isinstance(tbs, dict) and tbs.get("Type") in tbs_types):
            try:
                return bytes.fromhex(str(entry.get("Signature", "")))
            except ValueError:
                return b""
    return None


def verify_label(label: AIGCLabel, content_digest: ContentDigest | None,
                 pinned_public_keys: Iterable[str | bytes], *, role: Role = "producer",
                 watermark: bytes | None = None) -> SignatureResult:
    """Check the `role`'s SecurityData record: its signatures with the key it carries,
    its binding to `content_digest` (None: label fields only) and to `watermark`
    (the payload read from the content, if any), then whether the key is pinned."""
    def result(status: Status, code: str, reason: str, kid: str | None = None,
               bound: bool = False) -> SignatureResult:
        return SignatureResult(status, code, reason, role, kid, bound)

    pinned = {parse_public_key(key) for key in pinned_public_keys}  # bad config fails first
    where = RECORD_FIELD[role]
    raw = label.fields()[where]
    try:
        parsed: object = json.loads(raw) if raw.startswith("{") else None
    except (ValueError, RecursionError):  # 4096 characters can nest deeper than json allows
        return result("invalid", "malformed-record", f"{where} starts like JSON but is not")
    record = parsed.get("SecurityData") if isinstance(parsed, dict) else None
    if not isinstance(record, dict):
        what = "is empty" if not raw else "holds no SecurityData record"
        return result("unsigned", "no-record", f"{where} {what}")
    if record.get("Type") != RECORD_TYPE or record.get("Version") not in (1, "1"):
        return result("invalid", "malformed-record", f"{where} SecurityData is not Type "
                      f"{RECORD_TYPE!r} Version {RECORD_VERSION}")
    entries = _objects(record.get("PubSD", record.get("PubSd")))
    keys = [e for e in entries if e.get("Type") == "PubKey" and e.get("AlgID") == SM3_WITH_SM2]
    if len(keys) != 1:
        return result("invalid", "bad-key", f"{where} carries {len(keys)} SM2 public keys, "
                      "expected one")
    try:
        point = parse_public_key(str(keys[0].get("KeyValue", "")))
    except SynthGuardError as exc:
        return result("invalid", "bad-key", f"{where}: {exc}")
    kid = key_id(point)
    md = _signature(entries, _LABEL_TBS)
    if md is None:
        return result("invalid", "no-signature", f"{where} has no SM3withSM2 label signature",
                      kid)
    if not _verify(point, _tbs(label, role).encode(), md):
        return result("invalid", "signature-mismatch",
                      f"the {role}'s label signature does not verify: "
                      f"{', '.join(SIGNED_FIELDS[role])} changed after signing, the "
                      "signature was made with another key, or it signs other data", kid)
    bound = False
    if content_digest is not None or watermark is not None:
        problem = _check_bindings(label, role, record, entries, point, content_digest,
                                  watermark)
        if problem is not None and problem[0] != "no-binding":
            return result("invalid", *problem, kid)
        bound = problem is None
    if point not in pinned:
        return result("untrusted", "key-not-pinned",
                      f"the signature verifies, but with key {kid}, which is not pinned: "
                      "it proves integrity, not who signed", kid, bound)
    if content_digest is not None and not bound:
        return result("untrusted", "no-binding",
                      f"the label signature verifies with pinned key {kid}, but {where} binds "
                      "no content this verifier supports", kid)
    return result("valid", "valid", f"signed by pinned key {kid}"
                  + (" and bound to this content" if bound else ""), kid, bound)


def _check_bindings(label: AIGCLabel, role: Role, record: dict[str, Any],
                    entries: list[dict[str, Any]], point: bytes,
                    digest: ContentDigest | None, watermark: bytes | None,
                    ) -> tuple[str, str] | None:
    """None if the signed bindings match; else (code, reason)."""
    bindings = record.get("Bindings")
    signature = _signature(entries, (_BINDINGS_TBS,))
    if not isinstance(bindings, list) or signature is None:
        return "no-binding", "the record has no signed content binding"
    if not _verify(point, _bindings_tbs(label, role, bindings), signature):
        return ("signature-mismatch", "the binding signature does not verify: the bindings "
                "or the label fields changed after signing")
    by_type = {str(b.get("Type")): b for b in _objects(bindings)}
    content = by_type.get("ContentHash")
    if digest is not None:
        if content is None:
            return "no-binding", "the record binds no content hash"
        if content.get("Method") != digest.method or content.get("AlgID") != SM3_OID:
            return ("digest-method", f"the binding uses method {content.get('Method')!r}, "
                    f"the digest given was made by {digest.method!r}")
        if str(content.get("Value", "")).upper() != digest.hex():
            return ("content-mismatch", "the media data does not match the signed content "
                    "hash: the content changed, or the label was taken from another file")
    mark = by_type.get("Watermark")
    if watermark is not None and mark is not None \
            and str(mark.get("Value", "")).upper() != watermark.hex().upper():
        return ("watermark-mismatch", "the watermark payload in the content differs from the "
                "signed one: the label was taken from another file")
    return None


def binding_method(label: AIGCLabel, role: Role = "producer") -> str | None:
    """The content digest method the role's record was signed with, to recompute it."""
    try:
        parsed = json.loads(label.fields()[RECORD_FIELD[role]])
        bindings = parsed["SecurityData"]["Bindings"]
    except (ValueError, RecursionError, KeyError, TypeError, IndexError):
        return None
    for b in _objects(bindings):
        if b.get("Type") == "ContentHash" and isinstance(b.get("Method"), str):
            return cast(str, b["Method"])
    return None


def verify_file(path: str | os.PathLike[str], label: AIGCLabel,
                pinned_public_keys: Iterable[str | bytes], *,
                watermark: bytes | None = None) -> dict[Role, SignatureResult]:
    """Both records of `label` (as read from `path`), each checked against the content
    digest computed by the method its binding names."""
    pinned = list(pinned_public_keys)
    results: dict[Role, SignatureResult] = {}
    for role in ("producer", "propagator"):
        method = binding_method(label, role)
        digest = None
        if method is not None:
            try:
                digest = content_digest(path, method)
            except (MalformedFile, UnsupportedFormat) as exc:
                results[role] = SignatureResult("invalid", "digest-failed",
                                                f"cannot compute the content digest: {exc}",
                                                role)
                continue
        results[role] = verify_label(label, digest, pinned, role=role, watermark=watermark)
    return results


__all__ = ["ContentDigest", "SignatureResult", "SigningKey", "binding_method", "content_digest",
           "key_id", "parse_public_key", "sign_label", "spki_hex",
           "verify_file", "verify_label"]

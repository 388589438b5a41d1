"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys.

A note is UTF-8 text ending in a newline, a blank line, then one or more signature
lines `— <key name> base64(key id || signature)`. The key id is the first four bytes
of SHA-256(name || 0x0A || 0x01 || public key), 0x01 being the Ed25519 algorithm byte.
Keys travel in the Go `sumdb/note` encodings: the verifier key
`<name>+<key id hex>+base64(0x01 || public key)` and the signer key
`PRIVATE+KEY+<name>+<key id hex>+base64(0x01 || seed)`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from synthguard.errors import SynthGuardError

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
# C2SP: verifiers must accept at least 16 signatures; more than this is refused outright.
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
_NAME = re.compile(r"[^\s+]+")


class NoteError(SynthGuardError):
    """A key or note is malformed, or a note is not signed by the expected key."""

    code = "note_error"


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name) or not name.isprintable():
        raise NoteError(f"key name {name!r} must be non-empty, with no spaces or '+'")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """From `<name>+<hex key id>+<base64(0x01 || key)>`."""
        parts = vkey.strip().split("+", 2)  # base64 may hold "+" itself
        if len(parts) != 3:
            raise NoteError("verifier key must look like <name>+<key id>+<base64 key>")
        name, hex_id, encoded = parts
        _check_name(name)
        raw = _b64decode(encoded, "verifier key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 key")
        verifier = cls(name, raw[1:])
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id) or bytes.fromhex(hex_id) != verifier.key_id:
            raise NoteError("verifier key id does not match its name and key")
        return verifier

    def encode(self) -> str:
        raw = bytes([ALG_ED25519]) + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode()}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    name: str
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.seed) != 32:
            raise NoteError("an Ed25519 signing key is a 32-byte seed")

    @classmethod
    def parse(cls, skey: str) -> NoteSigner:
        """From `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("signer key must look like PRIVATE+KEY+<name>+<key id>+<base64 key>")
        name, hex_id, encoded = parts[2:]
        raw = _b64decode(encoded, "signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("signer key is not an Ed25519 key")
        signer = cls(name, raw[1:])
        if hex_id != signer.verifier.key_id.hex():
            raise NoteError("signer key id does not match its name and key")
        return signer

    @property
    def verifier(self) -> NoteVerifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return NoteVerifier(self.name, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def encode(self) -> str:
        raw = bytes([ALG_ED25519]) + self.seed
        return (f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+"
                f"{base64.b64encode(raw).decode()}")

    def sign(self, text: str) -> str:
        """The signed note for `text` (which must end in a newline)."""
        data = _check_text(text)
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(data)
        encoded = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {encoded}\n"


def _check_text(text: str) -> bytes:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if "\n\n" in text:
        raise NoteError("note text must not contain a blank line")
    if not all(c == "\n" or c.isprintable() for c in text):
        raise NoteError("note text must be printable")
    return text.encode("utf-8")


@dataclass(frozen=True)
class SignedNote:
    text: str
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (key name, key id, signature)


def parse_note(note: str) -> SignedNote:
    """Split a signed note into its text and signature lines (nothing verified yet)."""
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise NoteError("note is too large")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("note has no signature block")
    text, block = note[:split + 1], note[split + 2:]
    _check_text(text)
    lines = block[:-1].split("\n")
    if not 1 <= len(lines) <= MAX_SIGNATURES:
        raise NoteError(f"note must carry 1 to {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("signature line does not start with an em dash")
        name, _, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
        _check_name(name)
        raw = _b64decode(encoded, "signature")
        if len(raw) < 5:
            raise NoteError("signature is too short")
        signatures.append((name, raw[:4], raw[4:]))
    return SignedNote(text, tuple(signatures))


def open_note(note: str, verifier: NoteVerifier) -> str:
    """The text of `note` if `verifier`'s key signed it; signatures by other keys (a
    witness's cosignature, say) are ignored, as C2SP requires."""
    parsed = parse_note(note)
    data = parsed.text.encode("utf-8")
    for name, kid, signature in parsed.signatures:
        if (name == verifier.name and kid == verifier.key_id
                and verifier.verify(data, signature)):
            return parsed.text
    raise NoteError(f"note is not signed by key {verifier.name}+{verifier.key_id.hex()}")

"""Receipt codes and sealed contact details of complaints.

A reporter follows a complaint with a receipt code: 80 random bits in Crockford base32
(`SG-7KQM-3X9D-WB2F-8N4T`), typed back without confusion (O reads as 0, I and L as 1,
case and dashes do not matter). Only its keyed hash is stored, so neither a database
reader nor a guessed id can reach someone's complaint, and the code is not the row id.

A reporter's contact (e-mail or phone, optional) is personal information: it is stored
AES-256-GCM sealed under a key derived from the server secret, bound to its complaint id
so a ciphertext cannot be moved to another row, and shown masked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from synthguard.governance.errors import GovernanceError, invalid

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
RECEIPT_PREFIX = "SG"
RECEIPT_GROUPS = 4
_GROUP = 4
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1"})
_NONCE = 12
MAX_CONTACT = 200


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"synthguard governance " + purpose).derive(secret)


def new_receipt_code() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(RECEIPT_GROUPS * _GROUP))
    groups = [chars[i:i + _GROUP] for i in range(0, len(chars), _GROUP)]
    return "-".join([RECEIPT_PREFIX, *groups])


def normalise_receipt(code: str) -> str | None:
    """The canonical form of a typed code, or None when it cannot be one."""
    text = re.sub(r"[\s-]", "", code).upper().translate(_TYPO)
    # The prefix may be left out; a body of its own can start with "SG" too.
    if len(text) == len(RECEIPT_PREFIX) + RECEIPT_GROUPS * _GROUP \
            and text.startswith(RECEIPT_PREFIX):
        text = text[len(RECEIPT_PREFIX):]
    if len(text) != RECEIPT_GROUPS * _GROUP or any(c not in ALPHABET for c in text):
        return None
    return text


class Sealer:
    """Keyed hashes of receipt codes and sealing of contact details."""

    def __init__(self, secret: bytes) -> None:
        self._receipt_key = _derive(secret, b"receipt")
        self._contact = AESGCM(_derive(secret, b"contact"))

    def receipt_hash(self, code: str) -> str | None:
        normal = normalise_receipt(code)
        if normal is None:
            return None
        return hmac.new(self._receipt_key, normal.encode("ascii"), hashlib.sha256).hexdigest()

    def seal_contact(self, complaint_id: str, contact: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._contact.encrypt(nonce, contact.encode("utf-8"),
                                             complaint_id.encode("ascii"))

    def open_contact(self, complaint_id: str, sealed: bytes) -> str:
        try:
            return self._contact.decrypt(sealed[:_NONCE], sealed[_NONCE:],
                                         complaint_id.encode("ascii")).decode("utf-8")
        except (InvalidTag, ValueError):
            raise GovernanceError("the stored contact does not open with this server "
                                  "secret", "contact_unreadable", 500) from None


def check_contact(contact: str) -> str:
    contact = contact.strip()
    if not contact or len(contact) > MAX_CONTACT or any(c in contact for c in "\r\n\0"):
        raise invalid(f"contact must be one line of 1..{MAX_CONTACT} characters",
                      "invalid_contact")
    return contact


def mask_contact(contact: str) -> str:
    """`l***@example.com`, `138****5678`, or the first character and stars."""
    local, at, domain = contact.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"[:64]
    digits = re.sub(r"\D", "", contact)
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return contact[:1] + "***"

"""API key material: the plaintext form, its keyed hash, ids and scopes.

A key is `sg-` + 32 URL-safe characters (192 random bits). Only HMAC-SHA256 under the
server secret is stored: a stolen database does not yield usable keys, and without the
secret an attacker cannot even test guesses offline. Lookup is by that hash through a
unique index, so verifying a key costs one indexed read, not a slow password hash —
192 random bits need no stretching.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

from synthguard.accounts.errors import AccountError

KEY_PREFIX = "sg-"
KEY_FORMAT = re.compile(r"sg-[A-Za-z0-9_-]{32}")
DEFAULT_SCOPES = ("chat", "images", "audio")
SCOPE_FORMAT = re.compile(r"[a-z][a-z0-9_.:-]{0,31}")
MAX_RATE_LIMIT_PER_MIN = 1_000_000


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)  # 24 bytes -> exactly 32 characters


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def is_key_shaped(text: str) -> bool:
    return KEY_FORMAT.fullmatch(text) is not None


def key_hash(secret: bytes, plaintext: str) -> str:
    return hmac.new(secret, plaintext.encode("ascii"), hashlib.sha256).hexdigest()


def normalise_scopes(scopes: Iterable[str]) -> frozenset[str]:
    result = frozenset(s.strip() for s in scopes)
    if not result:
        raise AccountError("a key needs at least one scope")
    for scope in sorted(result):
        if not SCOPE_FORMAT.fullmatch(scope):
            raise AccountError(f"scope {scope!r} must be lower-case letters, digits, _ . : - "
                            "(at most 32 characters)")
    return result


def check_rate_limit(per_min: int) -> int:
    if not 1 <= per_min <= MAX_RATE_LIMIT_PER_MIN:
        raise AccountError(f"rate limit must be 1..{MAX_RATE_LIMIT_PER_MIN} requests per minute")
    return per_min

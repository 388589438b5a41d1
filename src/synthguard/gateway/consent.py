"""The consent gate's hook (deep-synthesis rules Art. 14; PIPL Art. 29): editing a real
person's face or voice needs that person's separate consent, on record.

The identity issue supplies the real consent records; until then a `ConsentStore` is
anything that can say whether a consent id exists for a user and a kind of edit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

BiometricKind = Literal["face", "voice"]


@dataclass(frozen=True)
class ConsentVerdict:
    granted: bool
    reason: str = ""


class ConsentChecker(Protocol):
    def check(self, consent_id: str | None, *, kind: BiometricKind, user_id: str,
              output: str | None = None) -> ConsentVerdict:
        """`output` is what the request makes ("image", "audio"; None for text), for
        consents that allow some kinds of output only."""
        ...


class ConsentStore(Protocol):
    def knows(self, consent_id: str, *, kind: BiometricKind, user_id: str) -> bool: ...


class MemoryConsentStore:
    """Consent ids held in memory, as (user_id, kind, consent_id); for demos and tests."""

    def __init__(self, grants: Iterable[tuple[str, BiometricKind, str]] = ()) -> None:
        self._grants = set(grants)
        self._lock = threading.Lock()

    def grant(self, user_id: str, kind: BiometricKind, consent_id: str) -> None:
        with self._lock:
            self._grants.add((user_id, kind, consent_id))

    def knows(self, consent_id: str, *, kind: BiometricKind, user_id: str) -> bool:
        with self._lock:
            return (user_id, kind, consent_id) in self._grants


class StoreConsentChecker:
    """Refuses a biometric edit without a consent id; accepts ids the store knows."""

    def __init__(self, store: ConsentStore | None = None) -> None:
        self.store: ConsentStore = store if store is not None else MemoryConsentStore()

    def check(self, consent_id: str | None, *, kind: BiometricKind, user_id: str,
              output: str | None = None) -> ConsentVerdict:
        if not consent_id:
            return ConsentVerdict(False, "no consent_id was given")
        if not self.store.knows(consent_id, kind=kind, user_id=user_id):
            return ConsentVerdict(False, "the consent_id is not a known consent record for "
                                  f"a {kind} edit by this account")
        return ConsentVerdict(True)

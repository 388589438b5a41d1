"""Console operators: sign-in names, scrypt password hashes, roles, disabling.

Passwords are hashed with scrypt (hashlib) at n=2**15, r=8, p=1 (32 MiB, tens of
milliseconds), with a 16-byte salt; the parameters are stored with the hash. Signing in
with an unknown name costs the same scrypt run as a wrong password, so response times
do not tell which names exist. Every method commits before it returns.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from synthguard.console.models import OperatorRow
from synthguard.errors import SynthGuardError
from synthguard.governance.auth import Role
from synthguard.store import Database

SCRYPT_LOG2_N = 15
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # scrypt takes any length; a bound keeps a request from hashing megabytes
MAX_NAME = 100
# Names appear in console URLs and as the actor of what the operator does.
NAME = re.compile(r"[A-Za-z0-9._@-]{1,100}")


class OperatorError(SynthGuardError):
    """A refused operator change (bad name, weak password, unknown operator)."""

    code = "operator"


@dataclass(frozen=True)
class OperatorInfo:
    id: str
    name: str
    roles: frozenset[Role]
    session_epoch: int
    created_at: datetime
    created_by: str
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, log2_n: int = SCRYPT_LOG2_N) -> str:
    check_password(password)
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, log2_n, SCRYPT_R, SCRYPT_P)
    return f"scrypt${log2_n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`; False for a malformed stored hash."""
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password[:MAX_PASSWORD], base64.b64decode(salt, validate=True),
                         int(log2_n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    if not 10 <= log2_n <= 20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    n = 1 << log2_n
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=2 * 128 * n * r * p + (1 << 20), dklen=32)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise OperatorError(f"a password has at most {MAX_PASSWORD} characters")


def parse_roles(roles: Iterable[str]) -> frozenset[Role]:
    found = set()
    for role in roles:
        try:
            found.add(Role(role.strip()))
        except ValueError:
            raise OperatorError(f"unknown role {role!r} (one of "
                                f"{', '.join(r.value for r in Role)})") from None
    if not found:
        raise OperatorError("an operator needs at least one role")
    return frozenset(found)


def _name(name: str) -> str:
    name = name.strip()
    if not NAME.fullmatch(name):
        raise OperatorError(f"an operator name is 1..{MAX_NAME} letters, digits and . _ @ -")
    return name


class Operators:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _utcnow,
                 log2_n: int = SCRYPT_LOG2_N) -> None:
        self._db = db
        self._clock = clock
        self._log2_n = log2_n
        # What an unknown name is checked against, so it costs a real scrypt run.
        self._decoy = f"scrypt${log2_n}${SCRYPT_R}${SCRYPT_P}${_b64(bytes(16))}${_b64(bytes(32))}"

    def create(self, name: str, password: str, roles: Iterable[str], *,
               actor: str) -> OperatorInfo:
        name, role_set = _name(name), parse_roles(roles)
        now = self._clock()
        row = OperatorRow(id="opr_" + secrets.token_hex(12), name=name,
                          password_hash=hash_password(password, log2_n=self._log2_n),
                          roles=" ".join(sorted(role_set)), session_epoch=0, created_at=now,
                          created_by=actor[:100], password_changed_at=now, disabled_at=None)
        with self._db.session() as s:
            if s.scalar(select(OperatorRow.id).where(OperatorRow.name == name)) is not None:
                raise OperatorError(f"an operator named {name!r} exists")
            s.add(row)
        return _info(row)

    def authenticate(self, name: str, password: str) -> OperatorInfo | None:
        """The active operator with this name and password, else None."""
        with self._db.session(readonly=True) as s:
            row = s.scalar(select(OperatorRow).where(OperatorRow.name == name.strip()[:MAX_NAME]))
        ok = verify_password(password, row.password_hash if row else self._decoy)
        if row is None or not ok or row.disabled_at is not None:
            return None
        return _info(row)

    def get(self, operator_id: str) -> OperatorInfo | None:
        with self._db.session(readonly=True) as s:
            row = s.get(OperatorRow, operator_id[:32])
            return None if row is None else _info(row)

    def all(self) -> list[OperatorInfo]:
        with self._db.session(readonly=True) as s:
            return [_info(r) for r in s.scalars(select(OperatorRow).order_by(OperatorRow.name))]

    def set_password(self, name: str, password: str) -> None:
        """A new password; it ends the operator's sessions."""
        digest = hash_password(password, log2_n=self._log2_n)
        with self._db.session() as s:
            row = self._by_name(s, name)
            row.password_hash, row.password_changed_at = digest, self._clock()
            row.session_epoch += 1

    def set_roles(self, name: str, roles: Iterable[str]) -> OperatorInfo:
        role_set = parse_roles(roles)
        with self._db.session() as s:
            row = self._by_name(s, name)
            row.roles = " ".join(sorted(role_set))
            return _info(row)

    def disable(self, name: str) -> OperatorInfo:
        """Disable at once: the next request of any of the operator's sessions fails."""
        with self._db.session() as s:
            row = self._by_name(s, name)
            if row.disabled_at is None:
                row.disabled_at = self._clock()
            row.session_epoch += 1
            return _info(row)

    def enable(self, name: str) -> OperatorInfo:
        with self._db.session() as s:
            row = self._by_name(s, name)
            row.disabled_at = None
            return _info(row)

    def end_sessions(self, operator_id: str) -> None:
        """Sign out everywhere (the console's sign-out does this)."""
        with self._db.session() as s:
            row = s.get(OperatorRow, operator_id, with_for_update=True)
            if row is not None:
                row.session_epoch += 1

    @staticmethod
    def _by_name(s: Session, name: str) -> OperatorRow:
        row = s.scalar(select(OperatorRow).where(OperatorRow.name == name.strip())
                       .with_for_update())
        if row is None:
            raise OperatorError(f"no operator named {name!r}")
        return row


def _info(row: OperatorRow) -> OperatorInfo:
    return OperatorInfo(row.id, row.name, frozenset(Role(r) for r in row.roles.split()),
                        row.session_epoch, row.created_at, row.created_by, row.disabled_at)

"""Service switches an operator flips on a regulator's order (Provisions Art. 21): suspend
new registrations, suspend generation (publishing) altogether, or suspend one model route.

Every flip records who, when, why and the order it carries out (the regulator's
document number, or an internal emergency reference), in an append-only history next
to the current position. The gateway asks `is_active` / `blocking_generation` on every
request, so the engaged switches are cached for `cache_s` seconds; a flip made through
the same object takes effect at once, one made by another process within `cache_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select

from synthguard.governance import errors
from synthguard.governance.models import SwitchEventRow, SwitchRow
from synthguard.store import Database

MAX_MODEL = 200


class SwitchKind(StrEnum):
    REGISTRATIONS = "registrations"  # no new accounts
    GENERATION = "generation"  # no generation or publishing at all
    MODEL = "model"  # one model route (named with `model`)


@dataclass(frozen=True)
class Suspension:
    switch: str  # "registrations", "generation" or "model:<route>"
    since: datetime
    actor: str
    reason: str
    order_ref: str


@dataclass(frozen=True)
class SwitchChange:
    switch: str
    engaged: bool
    at: datetime
    actor: str
    reason: str
    order_ref: str


def switch_name(kind: SwitchKind | str, model: str | None = None) -> str:
    try:
        kind = SwitchKind(kind)
    except ValueError:
        raise errors.invalid(f"unknown switch {kind!r} (one of "
                             f"{', '.join(k.value for k in SwitchKind)})",
                             "unknown_switch") from None
    if (kind is SwitchKind.MODEL) != (model is not None):
        raise errors.invalid("a model switch needs a model route, and only it takes one",
                             "unknown_switch")
    if model is None:
        return kind.value
    model = model.strip()
    if not model or len(model) > MAX_MODEL or not model.isprintable():
        raise errors.invalid(f"a model route is 1..{MAX_MODEL} printable characters",
                             "unknown_switch")
    return f"model:{model}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _field(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise errors.invalid(f"{what} must be 1..{limit} characters")
    return value


class Switches:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _utcnow,
                 cache_s: float = 2.0) -> None:
        self._db = db
        self._clock = clock
        self._cache_s = cache_s
        self._lock = threading.Lock()
        self._engaged: dict[str, Suspension] | None = None
        self._loaded = 0.0

    def engage(self, kind: SwitchKind | str, *, reason: str, order_ref: str, actor: str,
               model: str | None = None) -> Suspension:
        """Turn a suspension on (again: recorded again, with the new order)."""
        self._flip(switch_name(kind, model), True, reason, order_ref, actor)
        found = self.suspension(kind, model)
        assert found is not None, "just engaged"
        return found

    def release(self, kind: SwitchKind | str, *, reason: str, order_ref: str, actor: str,
                model: str | None = None) -> None:
        """Lift a suspension; lifting one that is not on is refused (nothing to record)."""
        name = switch_name(kind, model)
        if self._snapshot(fresh=True).get(name) is None:
            raise errors.conflict(f"switch {name} is not engaged", "switch_not_engaged")
        self._flip(name, False, reason, order_ref, actor)

    def is_active(self, kind: SwitchKind | str, model: str | None = None) -> bool:
        """Whether this suspension is on now."""
        return self.suspension(kind, model) is not None

    def suspension(self, kind: SwitchKind | str, model: str | None = None) -> Suspension | None:
        return self._snapshot().get(switch_name(kind, model))

    def blocking_generation(self, model: str) -> Suspension | None:
        """The suspension that stops generation with `model`, if any: the general one
        first, then the model route's."""
        engaged = self._snapshot()
        return engaged.get(SwitchKind.GENERATION.value) or engaged.get(f"model:{model}")

    def blocking_generation_cached(self, model: str) -> tuple[bool, Suspension | None]:
        """`blocking_generation` from the cache alone: (False, None) when the cache is
        stale and the database must be read (the gateway then asks from a thread)."""
        with self._lock:
            engaged = self._engaged
            if engaged is None or time.monotonic() - self._loaded >= self._cache_s:
                return False, None
        return True, (engaged.get(SwitchKind.GENERATION.value) or engaged.get(f"model:{model}"))

    def active(self) -> list[Suspension]:
        return sorted(self._snapshot(fresh=True).values(), key=lambda s: (s.since, s.switch))

    def history(self, since: datetime | None = None, until: datetime | None = None
                ) -> list[SwitchChange]:
        query = select(SwitchEventRow).order_by(SwitchEventRow.seq)
        if since is not None:
            query = query.where(SwitchEventRow.at >= since)
        if until is not None:
            query = query.where(SwitchEventRow.at < until)
        with self._db.session(readonly=True) as s:
            return [SwitchChange(r.name, r.engaged, r.at, r.actor, r.reason, r.order_ref)
                    for r in s.scalars(query)]

    def _flip(self, name: str, engaged: bool, reason: str, order_ref: str, actor: str) -> None:
        reason = _field(reason, "reason", 500)
        order_ref = _field(order_ref, "order reference", 200)
        actor = _field(actor, "actor", 100)
        now = self._clock()
        with self._db.session() as s:
            row = s.get(SwitchRow, name, with_for_update=True)
            if row is None:
                row = SwitchRow(name=name)
                s.add(row)
            row.engaged, row.since, row.actor, row.reason, row.order_ref = (
                engaged, now, actor, reason, order_ref)
            s.add(SwitchEventRow(name=name, engaged=engaged, at=now, actor=actor, reason=reason,
                                 order_ref=order_ref))
        with self._lock:
            self._engaged = None

    def _snapshot(self, *, fresh: bool = False) -> dict[str, Suspension]:
        with self._lock:
            if (not fresh and self._engaged is not None
                    and time.monotonic() - self._loaded < self._cache_s):
                return self._engaged
            with self._db.session(readonly=True) as s:
                rows = s.scalars(select(SwitchRow).where(SwitchRow.engaged.is_(True)))
                self._engaged = {r.name: Suspension(r.name, r.since, r.actor, r.reason,
                                                    r.order_ref) for r in rows}
            self._loaded = time.monotonic()
            return self._engaged

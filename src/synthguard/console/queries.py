"""Read-only views over other services' tables that their APIs do not offer: request
volumes and block rates for the dashboard, queue ages, user and consent listings.
Counts and ids only; nothing here reads prompts, outputs or identity data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from synthguard.identity.models import ConsentRecord
from synthguard.moderation.store_models import QueueItemRow
from synthguard.store import Database
from synthguard.store.models import RequestRecordRow, User

BLOCKED = ("blocked_input", "blocked_output")
OPEN_QUEUE = ("open", "claimed", "escalated")


@dataclass(frozen=True)
class Volume:
    window: str
    total: int
    by_status: dict[str, int]

    @property
    def blocked(self) -> int:
        return sum(self.by_status.get(s, 0) for s in BLOCKED)

    @property
    def block_rate(self) -> float | None:
        return self.blocked / self.total if self.total else None


@dataclass(frozen=True)
class QueueAge:
    waiting: int
    escalated: int
    oldest: datetime | None


@dataclass(frozen=True)
class UserRow:
    id: str
    name: str
    state: str
    verified: bool
    created_at: datetime


@dataclass(frozen=True)
class ConsentRow:
    id: str
    user_id: str
    scope: str
    status: str
    valid_until: datetime
    created_at: datetime


def volumes(db: Database, now: datetime) -> list[Volume]:
    out = []
    for window, span in (("24 h", timedelta(hours=24)), ("7 days", timedelta(days=7))):
        with db.session(readonly=True) as s:
            rows = s.execute(select(RequestRecordRow.status, func.count())
                             .where(RequestRecordRow.created_at >= now - span)
                             .group_by(RequestRecordRow.status)).all()
        counts = {str(status): int(n) for status, n in rows}
        out.append(Volume(window, sum(counts.values()), counts))
    return out


def queue_age(db: Database) -> QueueAge:
    with db.session(readonly=True) as s:
        waiting, oldest = s.execute(select(func.count(), func.min(QueueItemRow.created_at))
                                    .where(QueueItemRow.state.in_(OPEN_QUEUE))).one()
        escalated = s.scalar(select(func.count()).select_from(QueueItemRow)
                             .where(QueueItemRow.state == "escalated")) or 0
    # min() keeps the column's type, so the timestamp comes back timezone-aware.
    return QueueAge(int(waiting), int(escalated), oldest)


def queue_times(db: Database, ids: list[int]) -> dict[int, datetime]:
    """When each queue item was queued (QueueItem does not carry it)."""
    if not ids:
        return {}
    with db.session(readonly=True) as s:
        return {row.id: row.created_at for row in s.scalars(
            select(QueueItemRow).where(QueueItemRow.id.in_(ids)))}


def users(db: Database, search: str = "", limit: int = 100) -> list[UserRow]:
    query = select(User).order_by(User.created_at.desc()).limit(limit)
    if search:
        query = query.where(or_(User.id == search, User.name.startswith(search)))
    with db.session(readonly=True) as s:
        return [UserRow(u.id, u.name, u.state, u.verified, u.created_at)
                for u in s.scalars(query)]


def consents(db: Database, user_id: str = "", limit: int = 100) -> list[ConsentRow]:
    query = select(ConsentRecord).order_by(ConsentRecord.created_at.desc()).limit(limit)
    if user_id:
        query = query.where(ConsentRecord.user_id == user_id)
    with db.session(readonly=True) as s:
        return [ConsentRow(r.id, r.user_id, r.scope, r.status, r.valid_until, r.created_at)
                for r in s.scalars(query)]

"""The feature library and the human review queue, persisted (tables on the store's Base).

Library: the current version of each entry, every content version, and an append-only
event for every status change (who, when, from, to); entries change only through the
workflow functions of library.py, called here. A release row freezes which entry
versions it holds and their hash, so a release can be rebuilt exactly later.

Queue: texts the engine routed to "review" wait for a person, who claims one, comments,
decides (allow / block) or escalates it; every step is an event. A decision to block,
and every automatic block the gateway reports, is a violation of that user; input
violations are passed to `enforce` (the accounts service's enforcement rule: 3 in a row
or 5 a day suspends the service).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from synthguard.errors import SynthGuardError
from synthguard.moderation.engine import Review
from synthguard.moderation.library import (
    Entry,
    LibraryError,
    Release,
    Status,
    StatusChange,
    WorkflowError,
    make_release,
    revise,
    transition,
)
from synthguard.moderation.store_models import (
    DECISIONS,
    EntryEventRow,
    EntryRow,
    EntryVersionRow,
    QueueEventRow,
    QueueItemRow,
    ReleaseRow,
    ViolationRow,
)
from synthguard.store import Database


class QueueError(SynthGuardError):
    """A queue step that is not allowed now (claimed by someone else, already decided)."""

    code = "queue"


@dataclass(frozen=True)
class QueueItem:
    id: int
    stage: str
    user_id: str | None
    record_id: str | None
    content: str
    review: dict[str, Any]
    state: str
    level: int
    claimed_by: str | None
    decision: str | None


@dataclass(frozen=True)
class QueueEvent:
    item_id: int
    at: datetime
    actor: str
    action: str
    decision: str | None
    note: str


class ModerationStore:
    """Library workflow and review queue on a migrated `Database`."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] | None = None,
                 enforce: Callable[[str], object] | None = None) -> None:
        self._db = db
        self._clock = clock or (lambda: datetime.now(UTC))
        self._enforce = enforce

    # -- library -------------------------------------------------------------------

    def add(self, entries: Iterable[Entry], *, actor: str, note: str = "added") -> int:
        """New entries start as candidates: an imported file's status and reviewer are
        not trusted, its entries go through review here like any other."""
        now, count = self._clock(), 0
        with self._db.session() as s:
            for entry in entries:
                fresh = entry if entry.status == "candidate" else Entry.from_dict(
                    {**entry.to_dict(), "status": "candidate", "reviewer": None})
                if s.get(EntryRow, fresh.id) is not None:
                    raise WorkflowError(f"{fresh.id}: already in the library; revise it")
                s.add(EntryRow(id=fresh.id, version=fresh.version, status="candidate",
                               risk_id=fresh.risk_id, updated_at=now))
                s.flush()
                s.add(EntryVersionRow(entry_id=fresh.id, version=fresh.version,
                                      data=fresh.to_dict(), created_at=now))
                s.add(_event(StatusChange(fresh.id, fresh.version, None, "candidate", actor,
                                          now, note)))
                count += 1
        return count

    def move(self, entry_id: str, to: Status, *, actor: str, note: str = "") -> Entry:
        with self._db.session() as s:
            current = self._current(s, entry_id)
            changed, change = transition(current, to, actor=actor, at=self._clock(), note=note)
            self._save(s, changed, change, new_version=False)
        return changed

    def revise(self, entry_id: str, *, actor: str, **changes: Any) -> Entry:
        with self._db.session() as s:
            changed, change = revise(self._current(s, entry_id), actor=actor,
                                     at=self._clock(), **changes)
            self._save(s, changed, change, new_version=True)
        return changed

    def entries(self) -> list[Entry]:
        with self._db.session(readonly=True) as s:
            rows = s.execute(select(EntryVersionRow).join(
                EntryRow, (EntryRow.id == EntryVersionRow.entry_id)
                & (EntryRow.version == EntryVersionRow.version)).order_by(EntryRow.id))
            return [self._entry(row) for row in rows.scalars()]

    def history(self, entry_id: str | None = None) -> list[StatusChange]:
        query = select(EntryEventRow).order_by(EntryEventRow.id)
        if entry_id is not None:
            query = query.where(EntryEventRow.entry_id == entry_id)
        with self._db.session(readonly=True) as s:
            return [StatusChange(r.entry_id, r.version, r.from_status,  # type: ignore[arg-type]
                                 r.to_status, r.actor, r.at, r.note)  # type: ignore[arg-type]
                    for r in s.scalars(query)]

    def cut_release(self, version: str, *, actor: str, on: date | None = None) -> Release:
        release = make_release(self.entries(), version, on=on or self._clock().date())
        with self._db.session() as s:
            if s.get(ReleaseRow, version) is not None:
                raise WorkflowError(f"release {version!r} exists; releases are frozen")
            s.add(ReleaseRow(version=version, in_force_on=release.on.isoformat(),
                             sha256=release.sha256,
                             entries=[[e.id, e.version] for e in release.entries],
                             created_by=actor, created_at=self._clock()))
        return release

    def release(self, version: str) -> Release:
        """A stored release rebuilt from the entry versions it froze."""
        with self._db.session(readonly=True) as s:
            row = s.get(ReleaseRow, version)
            if row is None:
                raise WorkflowError(f"no release {version!r}")
            entries = [self._entry(s.get_one(EntryVersionRow, (entry_id, v)))
                       for entry_id, v in row.entries]
        rebuilt = make_release(entries, row.version, on=date.fromisoformat(row.in_force_on))
        if rebuilt.sha256 != row.sha256:
            raise LibraryError([f"release {version!r} no longer matches its hash"])
        return rebuilt

    def _current(self, s: Session, entry_id: str) -> Entry:
        row = s.get(EntryRow, entry_id, with_for_update=True)
        if row is None:
            raise WorkflowError(f"no entry {entry_id!r}")
        return self._entry(s.get_one(EntryVersionRow, (entry_id, row.version)))

    def _save(self, s: Session, entry: Entry, change: StatusChange, *,
              new_version: bool) -> None:
        now = self._clock()
        if new_version:
            s.add(EntryVersionRow(entry_id=entry.id, version=entry.version,
                                  data=entry.to_dict(), created_at=now))
        else:  # the reviewer is part of the version's record
            s.execute(update(EntryVersionRow).where(
                EntryVersionRow.entry_id == entry.id, EntryVersionRow.version == entry.version
            ).values(data=entry.to_dict()))
        s.execute(update(EntryRow).where(EntryRow.id == entry.id).values(
            version=entry.version, status=entry.status, risk_id=entry.risk_id, updated_at=now))
        s.add(_event(change))

    @staticmethod
    def _entry(row: EntryVersionRow) -> Entry:
        return Entry.from_dict(row.data)

    # -- review queue ----------------------------------------------------------------

    def enqueue(self, review: Review, content: str, *, record_id: str | None = None) -> int:
        now = self._clock()
        with self._db.session() as s:
            item = QueueItemRow(created_at=now, stage=review.stage, user_id=review.user_id,
                                record_id=record_id, content=content, review=review.as_dict(),
                                state="open", level=0)
            s.add(item)
            s.flush()
            s.add(QueueEventRow(item_id=item.id, at=now, actor="engine", action="queued",
                                note=review.decision))
            return item.id

    def claim(self, item_id: int, *, actor: str) -> QueueItem:
        with self._db.session() as s:
            claimed = s.execute(update(QueueItemRow).where(
                QueueItemRow.id == item_id, QueueItemRow.state.in_(("open", "escalated"))
            ).values(state="claimed", claimed_by=actor)).rowcount  # type: ignore[attr-defined]
            if claimed != 1:
                raise QueueError(f"item {item_id} is not open (claimed or decided)")
            s.add(QueueEventRow(item_id=item_id, at=self._clock(), actor=actor, action="claim",
                                note=""))
            return _item(s.get_one(QueueItemRow, item_id))

    def comment(self, item_id: int, *, actor: str, note: str) -> None:
        with self._db.session() as s:
            s.get_one(QueueItemRow, item_id)
            s.add(QueueEventRow(item_id=item_id, at=self._clock(), actor=actor,
                                action="comment", note=note[:2000]))

    def decide(self, item_id: int, decision: str, *, actor: str, note: str = "") -> QueueItem:
        if decision not in DECISIONS:
            raise QueueError(f"decision must be allow or block, not {decision!r}")
        now = self._clock()
        with self._db.session() as s:
            item = self._claimed(s, item_id, actor)
            item.state, item.decision, item.decided_by, item.decided_at = (
                "decided", decision, actor, now)
            s.add(QueueEventRow(item_id=item_id, at=now, actor=actor, action="decide",
                                decision=decision, note=note[:2000]))
            if decision == "block" and item.user_id:
                s.add(ViolationRow(user_id=item.user_id, at=now, stage=item.stage,
                                   source=actor, item_id=item_id))
            result = _item(item)
        if decision == "block" and result.user_id and result.stage == "input":
            self._feed(result.user_id)
        return result

    def escalate(self, item_id: int, *, actor: str, note: str) -> QueueItem:
        with self._db.session() as s:
            item = self._claimed(s, item_id, actor)
            item.state, item.level, item.claimed_by = "escalated", item.level + 1, None
            s.add(QueueEventRow(item_id=item_id, at=self._clock(), actor=actor,
                                action="escalate", note=note[:2000]))
            return _item(item)

    def items(self, *, state: str | None = None) -> list[QueueItem]:
        query = select(QueueItemRow).order_by(QueueItemRow.id)
        if state is not None:
            query = query.where(QueueItemRow.state == state)
        with self._db.session(readonly=True) as s:
            return [_item(row) for row in s.scalars(query)]

    def events(self, item_id: int) -> list[QueueEvent]:
        with self._db.session(readonly=True) as s:
            return [QueueEvent(r.item_id, r.at, r.actor, r.action, r.decision, r.note)
                    for r in s.scalars(select(QueueEventRow).where(
                        QueueEventRow.item_id == item_id).order_by(QueueEventRow.id))]

    def note_automatic(self, review: Review) -> None:
        """The gateway's blocked reviews count as violations of their user too."""
        if review.decision != "block" or not review.user_id:
            return
        with self._db.session() as s:
            s.add(ViolationRow(user_id=review.user_id, at=self._clock(), stage=review.stage,
                               source="engine"))
        if review.stage == "input":
            self._feed(review.user_id)

    def violations(self, user_id: str, *, within: timedelta | None = None) -> int:
        query = select(func.count()).select_from(ViolationRow).where(
            ViolationRow.user_id == user_id)
        if within is not None:
            query = query.where(ViolationRow.at > self._clock() - within)
        with self._db.session(readonly=True) as s:
            return s.scalar(query) or 0

    def _claimed(self, s: Session, item_id: int, actor: str) -> QueueItemRow:
        item = s.get(QueueItemRow, item_id, with_for_update=True)
        if item is None:
            raise QueueError(f"no queue item {item_id}")
        if item.state != "claimed" or item.claimed_by != actor:
            raise QueueError(f"item {item_id} is not claimed by {actor}")
        return item

    def _feed(self, user_id: str) -> None:
        if self._enforce is not None:
            self._enforce(user_id)


def _event(change: StatusChange) -> EntryEventRow:
    return EntryEventRow(entry_id=change.entry_id, version=change.version,
                         from_status=change.from_status, to_status=change.to_status,
                         actor=change.actor, at=change.at, note=change.note[:500])


def _item(row: QueueItemRow) -> QueueItem:
    return QueueItem(row.id, row.stage, row.user_id, row.record_id, row.content, row.review,
                     row.state, row.level, row.claimed_by, row.decision)

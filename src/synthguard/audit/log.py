"""The audit log on the database: durable, batched appends of gateway request records,
catch-up ingestion, proofs read from stored node hashes, and retention (`retention`).

An append is one transaction: it locks the head row (BEGIN IMMEDIATE on SQLite, SELECT
... FOR UPDATE on PostgreSQL, so several gateway processes can share one log), inserts
the leaves' payload rows, their level-0 nodes and the O(1) amortised interior nodes they
complete, and moves the head. When `append` returns, the records are committed; callers
arriving while a commit runs share the next one (see `groupcommit`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from synthguard.accounts.records import Records, RequestRecord, check_record, insert_records
from synthguard.audit import merkle
from synthguard.audit.canonical import record_entry
from synthguard.audit.errors import AuditError, UnknownRecord
from synthguard.audit.groupcommit import GroupCommit
from synthguard.audit.merkle import Node
from synthguard.audit.models import AuditHead, AuditLeaf, AuditNode
from synthguard.audit.retention import PURGE_BATCH, PurgeReport, purged_ranges
from synthguard.audit.retention import purge as retention_purge
from synthguard.store.db import Database
from synthguard.store.types import driver_datetime

DEFAULT_RETENTION = timedelta(days=180)
# A gap in request-record sequence numbers is either a transaction still in flight
# (PostgreSQL hands out sequence values before commit) or a rolled-back insert. The
# ingest watermark waits this long before treating a gap as permanent.
GAP_SETTLE_S = 30.0
_LOOKUP_CHUNK = 500  # node keys per query: well under every driver's parameter limit


@dataclass(frozen=True)
class LeafRef:
    """Where a record sits in the log; `appended` is False when it was already there."""

    index: int
    record_id: str
    appended: bool


@dataclass(frozen=True)
class LeafRow:
    index: int
    record_id: str
    created_at: datetime
    logged_at: datetime
    entry: bytes | None  # None once purged
    leaf_hash: bytes  # from the tree (level-0 node), not from the payload


@dataclass(frozen=True)
class _Pending:
    record_id: str
    created_at: datetime
    entry: bytes
    record: RequestRecord | None = None  # also to insert into request_records


class SessionNodes:
    """`merkle.NodeSource` over the stored node hashes, read in a few batched queries."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def nodes(self, wanted: Sequence[Node]) -> list[bytes]:
        found: dict[Node, bytes] = {}
        for at in range(0, len(wanted), _LOOKUP_CHUNK):
            by_level: dict[int, list[int]] = {}
            for level, idx in wanted[at:at + _LOOKUP_CHUNK]:
                by_level.setdefault(level, []).append(idx)
            # One `level = ? AND idx IN (...)` per level: SQLite answers a row-value
            # `(level, idx) IN (...)` with a full table scan, this with index lookups.
            query = select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(or_(
                *(and_(AuditNode.level == level, AuditNode.idx.in_(indices))
                  for level, indices in by_level.items())))
            found.update(((level, idx), h) for level, idx, h in self._session.execute(query))
        missing = [node for node in wanted if node not in found]
        if missing:
            raise AuditError(f"stored tree is missing node {missing[0]} (level, index)")
        return [found[node] for node in wanted]


def lock_head(session: Session) -> AuditHead:
    """The head row, locked for this transaction; created on first use."""
    query = select(AuditHead).where(AuditHead.id == 1).with_for_update()
    head = session.scalar(query)
    if head is None:
        dialect = session.get_bind().dialect.name
        maker = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(maker(AuditHead).values(id=1, size=0, ingested_seq=0)
                        .on_conflict_do_nothing())
        head = session.scalar(query)
        assert head is not None
    return head


def stored_size(session: Session) -> int:
    return session.scalar(select(AuditHead.size).where(AuditHead.id == 1)) or 0


def _lock_head_row(session: Session) -> tuple[int, datetime | None]:
    """`lock_head` for the append path: the head's size and last logging time, read
    with the driver (the ORM round trip cost more than the rest of a small append)."""
    connection = session.connection()
    on_sqlite = connection.dialect.name == "sqlite"
    # SQLite: the write session's BEGIN IMMEDIATE already holds the database lock.
    row = connection.exec_driver_sql(
        "SELECT size, logged_at FROM audit_head WHERE id = 1"
        + ("" if on_sqlite else " FOR UPDATE")).first()
    if row is None:
        head = lock_head(session)
        return head.size, head.logged_at
    size, logged_at = row
    if isinstance(logged_at, str):  # SQLite: naive UTC text, as UTCDateTime stores it
        logged_at = datetime.fromisoformat(logged_at).replace(tzinfo=UTC)
    return int(size), logged_at


def _insert(session: Session, leaves: list[tuple[int, str, datetime, str]], logged_at: datetime,
            nodes: list[tuple[int, int, bytes]], size: int) -> None:
    """Insert a batch's rows with the driver's executemany and move the head to `size`.
    SQLAlchemy's per-value bind processing cost more CPU than everything else in an
    append, so the timestamp columns are converted here exactly as `UTCDateTime` stores
    them (naive UTC text in SQLite's DATETIME format; aware UTC for PostgreSQL); tests
    read them back through the models."""
    connection = session.connection()
    on_sqlite = connection.dialect.name == "sqlite"
    mark = "?" if on_sqlite else "%s"
    logged = driver_datetime(logged_at, on_sqlite)
    connection.exec_driver_sql(
        "INSERT INTO audit_leaves (idx, record_id, created_at, logged_at, entry) "
        f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
        [(idx, record_id, driver_datetime(created, on_sqlite), logged, entry)
         for idx, record_id, created, entry in leaves])
    connection.exec_driver_sql(
        f"INSERT INTO audit_nodes (level, idx, hash) VALUES ({mark}, {mark}, {mark})", nodes)
    connection.exec_driver_sql(
        f"UPDATE audit_head SET size = {mark}, logged_at = {mark} WHERE id = 1",
        (size, logged))


class AuditLog:
    def __init__(self, db: Database, secret: bytes, *, retention: timedelta = DEFAULT_RETENTION,
                 max_batch: int = 1000, gap_settle_s: float = GAP_SETTLE_S) -> None:
        self.db = db
        self.retention = retention
        self._secret = secret
        self._group: GroupCommit[_Pending, LeafRef] = GroupCommit(self._commit,
                                                                  max_items=max_batch)
        # The compact range of the tree as last committed by this instance: saves the
        # frontier query on the next append when no other process appended since.
        self._frontier: tuple[int, list[tuple[int, int, bytes]]] | None = None
        self._gap_settle_s = gap_settle_s
        self._gaps: dict[int, float] = {}

    @property
    def commits(self) -> int:
        """Transactions committed by appends so far (a batch is one)."""
        return self._group.batches

    # -- appending ---------------------------------------------------------------

    def append(self, records: Sequence[RequestRecord]) -> list[LeafRef]:
        """Append the records (skipping any already logged); returns once committed."""
        pending = [_Pending(r.id, r.created_at, record_entry(r, self._secret)) for r in records]
        return self._group.submit(pending) if pending else []

    async def append_async(self, records: Sequence[RequestRecord], *,
                           store: bool = False) -> list[LeafRef]:
        """`append` for the gateway's event loop: the request waits for its batch's
        commit without holding a worker thread, so batches grow with concurrency.
        `store`: the records are new and are inserted into `request_records` in the
        same transaction as their leaves, so a request costs one commit, not two; if
        the batch fails, neither the records nor the leaves exist."""
        if store:
            for record in records:  # a bad record must not fail the others' batch
                check_record(record)
        pending = [_Pending(r.id, r.created_at, record_entry(r, self._secret),
                            r if store else None) for r in records]
        return await self._group.submit_async(pending) if pending else []

    def _commit(self, items: list[_Pending]) -> list[LeafRef]:
        try:
            with self.db.session() as s:
                size, logged_at = _lock_head_row(s)
                new = [item.record for item in items if item.record is not None]
                if new:
                    insert_records(s, new)
                # Items that bring their record were inserted just now, so they cannot be
                # in the log yet: only the others need the already-logged lookup.
                size, results, frontier = self._append_rows(
                    s, size, logged_at, items, check_known=len(new) < len(items))
        except BaseException:
            self._frontier = None
            raise
        self._frontier = (size, frontier)
        return results

    def _append_rows(self, s: Session, size: int, head_logged_at: datetime | None,
                     items: list[_Pending], *, check_known: bool = True
                     ) -> tuple[int, list[LeafRef], list[tuple[int, int, bytes]]]:
        known: dict[str, int] = {}
        if check_known:
            known.update((record_id, idx) for record_id, idx in s.execute(
                select(AuditLeaf.record_id, AuditLeaf.idx).where(AuditLeaf.record_id.in_(
                    {item.record_id for item in items}))))
        frontier = self._load_frontier(s, size)
        now = datetime.now(UTC)
        logged_at = max(now, head_logged_at) if head_logged_at else now
        leaves: list[tuple[int, str, datetime, str]] = []
        nodes: list[tuple[int, int, bytes]] = []
        results = []
        for item in items:
            if item.record_id in known:
                results.append(LeafRef(known[item.record_id], item.record_id, False))
                continue
            index, h = size, merkle.leaf_hash(item.entry)
            size += 1
            known[item.record_id] = index
            leaves.append((index, item.record_id, item.created_at, item.entry.decode("utf-8")))
            nodes.append((0, index, h))
            frontier.append((0, index, h))
            while len(frontier) > 1 and frontier[-1][0] == frontier[-2][0]:
                level, right, right_hash = frontier.pop()
                _, _, left_hash = frontier.pop()
                parent = (level + 1, right >> 1, merkle.node_hash(left_hash, right_hash))
                frontier.append(parent)
                nodes.append(parent)
            results.append(LeafRef(index, item.record_id, True))
        if leaves:
            _insert(s, leaves, logged_at, nodes, size)
        return size, results, frontier

    def _load_frontier(self, s: Session, size: int) -> list[tuple[int, int, bytes]]:
        if self._frontier is not None and self._frontier[0] == size:
            return list(self._frontier[1])
        wanted = merkle.range_nodes(0, size)
        return [(level, idx, h) for (level, idx), h
                in zip(wanted, SessionNodes(s).nodes(wanted), strict=True)]

    def ingest_records(self, records: Records, *, page: int = 1000) -> int:
        """Append every request record not yet in the log, in `seq` order; returns how
        many were appended. Safe to run beside inline appends and in several processes:
        records already logged are skipped."""
        with self.db.session(readonly=True) as s:
            watermark = s.scalar(select(AuditHead.ingested_seq).where(AuditHead.id == 1)) or 0
        appended, scan_from, expected, mark, blocked = 0, watermark, watermark + 1, watermark, False
        while True:
            batch = records.after(scan_from, page)
            for seq, _ in batch:
                if not blocked and (seq == expected or self._gap_settled(expected)):
                    mark = seq
                else:
                    blocked = True
                expected = seq + 1
            if batch:
                refs = self.append([record for _, record in batch])
                appended += sum(ref.appended for ref in refs)
                scan_from = batch[-1][0]
            if len(batch) < page:
                break
        if mark > watermark:
            with self.db.session() as s:
                head = lock_head(s)
                head.ingested_seq = max(head.ingested_seq, mark)
            self._gaps = {seq: seen for seq, seen in self._gaps.items() if seq > mark}
        return appended

    def _gap_settled(self, seq: int) -> bool:
        first_seen = self._gaps.setdefault(seq, time.monotonic())
        return time.monotonic() - first_seen >= self._gap_settle_s

    # -- reading -----------------------------------------------------------------

    def size(self) -> int:
        with self.db.session(readonly=True) as s:
            return stored_size(s)

    def root(self, size: int | None = None) -> bytes:
        with self.db.session(readonly=True) as s:
            return merkle.root(SessionNodes(s), self._check_size(s, size))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        with self.db.session(readonly=True) as s:
            return merkle.inclusion_proof(SessionNodes(s), index, self._check_size(s, size))

    def inclusion_proofs(self, indices: Sequence[int], size: int) -> list[list[bytes]]:
        """Proofs for many leaves of one tree, sharing node lookups (for exports)."""
        ranges = [merkle.inclusion_ranges(i, size) for i in indices]
        flat = [r for rs in ranges for r in rs]
        with self.db.session(readonly=True) as s:
            self._check_size(s, size)
            hashes = merkle.subtree_hashes(SessionNodes(s), flat)
        proofs, at = [], 0
        for rs in ranges:
            proofs.append(hashes[at:at + len(rs)])
            at += len(rs)
        return proofs

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        with self.db.session(readonly=True) as s:
            second = self._check_size(s, second)
            return merkle.consistency_proof(SessionNodes(s), first, second)

    @staticmethod
    def _check_size(s: Session, size: int | None) -> int:
        current = stored_size(s)
        if size is None:
            return current
        if not 0 <= size <= current:
            raise merkle.ProofError(f"tree size {size} is beyond the log's size {current}")
        return size

    def leaf_index(self, record_id: str) -> int:
        with self.db.session(readonly=True) as s:
            index = s.scalar(select(AuditLeaf.idx).where(AuditLeaf.record_id == record_id))
        if index is None:
            raise UnknownRecord(f"record {record_id!r} is not in the audit log")
        return index

    def leaves(self, start: int, end: int, *, chunk: int = 5000) -> Iterator[LeafRow]:
        """The leaves in [start, end) in index order, with their tree leaf hashes; rows
        missing from either table are simply absent (the verifier names them)."""
        for at in range(start, end, chunk):
            stop = min(end, at + chunk)
            with self.db.session(readonly=True) as s:
                hashes = dict(s.execute(select(AuditNode.idx, AuditNode.hash).where(
                    AuditNode.level == 0, AuditNode.idx >= at, AuditNode.idx < stop))
                    .all())
                rows = s.scalars(select(AuditLeaf).where(AuditLeaf.idx >= at, AuditLeaf.idx < stop)
                                 .order_by(AuditLeaf.idx)).all()
            for row in rows:
                yield LeafRow(row.idx, row.record_id, row.created_at, row.logged_at,
                              None if row.entry is None else row.entry.encode("utf-8"),
                              hashes.get(row.idx, b""))

    def level_hashes(self, level: int, start: int, end: int) -> bytes:
        """Stored nodes (level, start..end-1) concatenated; a missing one ends the run."""
        with self.db.session(readonly=True) as s:
            rows = s.execute(select(AuditNode.idx, AuditNode.hash).where(
                AuditNode.level == level, AuditNode.idx >= start, AuditNode.idx < end)
                .order_by(AuditNode.idx))
            out = bytearray()
            for expected, (idx, h) in enumerate(rows, start):
                if idx != expected:
                    break
                out += h
            return bytes(out)

    def index_range(self, since: datetime | None, until: datetime | None) -> tuple[int, int]:
        """The leaves logged in [since, until): contiguous, since logged_at never
        decreases along the log."""
        with self.db.session(readonly=True) as s:
            size = stored_size(s)

            def first_logged_at_or_after(moment: datetime) -> int:
                found = s.scalar(select(func.min(AuditLeaf.idx)).where(
                    AuditLeaf.logged_at >= moment))
                return size if found is None else min(found, size)

            start = 0 if since is None else first_logged_at_or_after(since)
            end = size if until is None else first_logged_at_or_after(until)
        return start, max(start, end)

    # -- retention ---------------------------------------------------------------

    def purge(self, *, now: datetime | None = None, retention: timedelta | None = None,
              batch: int = PURGE_BATCH) -> PurgeReport:
        """Apply retention (see `retention`): drop the payload of leaves logged before
        the period, keeping their hashes, so roots and proofs, old and new, still verify;
        delete the request records created before it that the log already holds. In
        transactions of at most `batch` rows."""
        now = now or datetime.now(UTC)
        cutoff = now - (retention if retention is not None else self.retention)
        return retention_purge(self.db, cutoff=cutoff, now=now, batch=batch)

    def purged_ranges(self, start: int, end: int) -> list[tuple[int, int]]:
        """The runs [first, stop) of leaves in [start, end) whose payload was purged."""
        return list(purged_ranges(self.db, start, end))

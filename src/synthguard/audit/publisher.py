"""Publishing signed checkpoints, at an interval (`service.Audit.run_background`) and on
demand, without ever signing two inconsistent ones.

Before signing size n the publisher checks, inside the transaction that holds the head
lock, that the stored tree still extends the last checkpoint (size m): the stored
subtrees covering [0, m) fold to the signed root, every leaf appended since hashes from
its payload to its stored leaf node, every interior node those leaves completed is
stored as rebuilt, and the consistency proof m -> n verifies. Anything else raises
`AuditAlarm` (logged at CRITICAL) and nothing is signed. The work is O(n - m + log n):
only what is new is re-read.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from synthguard.audit import merkle
from synthguard.audit.checkpoint import Checkpoint, StoredCheckpoint, open_checkpoint
from synthguard.audit.errors import AuditAlarm, AuditError, CheckpointError
from synthguard.audit.log import AuditLog, SessionNodes, lock_head
from synthguard.audit.models import AuditCheckpoint, AuditLeaf, AuditNode
from synthguard.audit.note import NoteSigner

log = logging.getLogger("synthguard.audit")
_SCAN_CHUNK = 5000


def _stored(row: AuditCheckpoint) -> StoredCheckpoint:
    return StoredCheckpoint(row.id, row.size, row.root, row.note, row.created_at)


class Checkpointer:
    def __init__(self, audit_log: AuditLog, signer: NoteSigner, origin: str) -> None:
        self.log = audit_log
        self.signer = signer
        self.verifier = signer.verifier
        self.origin = origin
        if not origin or "\n" in origin or not origin.isprintable():
            raise CheckpointError("checkpoint origin must be one non-empty line")

    def latest(self) -> StoredCheckpoint | None:
        with self.log.db.session(readonly=True) as s:
            row = s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())
                            .limit(1)).first()
            return None if row is None else _stored(row)

    def history(self, since: datetime | None = None, until: datetime | None = None
                ) -> list[StoredCheckpoint]:
        """Checkpoints in publication order, optionally those published in [since, until)."""
        query = select(AuditCheckpoint).order_by(AuditCheckpoint.id)
        if since is not None:
            query = query.where(AuditCheckpoint.created_at >= since)
        if until is not None:
            query = query.where(AuditCheckpoint.created_at < until)
        with self.log.db.session(readonly=True) as s:
            return [_stored(row) for row in s.scalars(query)]

    def publish(self) -> StoredCheckpoint:
        """Sign and store a checkpoint for the whole stored tree, after checking that it
        extends the last one; returns the last one when nothing was appended since."""
        with self.log.db.session() as s:
            size = lock_head(s).size
            last_row = s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())
                                 .limit(1)).first()
            last = None if last_row is None else self._trusted(last_row)
            if last is not None and last.size == size and last_row is not None:
                self._check_extension(s, last, size)
                return _stored(last_row)
            root = self._check_extension(s, last, size)
            note = self.signer.sign(Checkpoint(self.origin, size, root).body())
            row = AuditCheckpoint(size=size, root=root, note=note, created_at=datetime.now(UTC))
            s.add(row)
            s.flush()
            stored = _stored(row)
        log.info("audit checkpoint published", extra={
            "event": "audit_checkpoint", "size": size, "root": root.hex()})
        return stored

    def _trusted(self, row: AuditCheckpoint) -> Checkpoint:
        """The last checkpoint, re-verified: a row someone rewrote is no basis to sign on."""
        try:
            checkpoint = open_checkpoint(row.note, self.verifier, self.origin)
        except CheckpointError as exc:
            raise self._alarm(f"the last checkpoint (#{row.id}) does not verify: {exc}") from None
        if (checkpoint.size, checkpoint.root) != (row.size, row.root):
            raise self._alarm(f"checkpoint #{row.id}'s size or root columns differ from its note")
        return checkpoint

    def _check_extension(self, s: Session, last: Checkpoint | None, size: int) -> bytes:
        """The root of the stored tree of `size` leaves, after checking it against `last`."""
        first = last.size if last else 0
        if size < first:
            raise self._alarm(f"the log has {size} leaves but checkpoint size {first} was signed")
        nodes = SessionNodes(s)
        try:
            if last is not None and merkle.root(nodes, first) != last.root:
                raise self._alarm(f"the stored tree of size {first} no longer has the signed root")
            frontier_nodes = merkle.range_nodes(0, first)
            rebuilt = list(zip(frontier_nodes, nodes.nodes(frontier_nodes), strict=True))
        except AuditError as exc:
            if isinstance(exc, AuditAlarm):
                raise
            raise self._alarm(f"the stored tree of size {first} is incomplete: {exc}") from None
        for at in range(first, size, _SCAN_CHUNK):
            rebuilt = self._extend(s, rebuilt, at, min(size, at + _SCAN_CHUNK))
        root = merkle.fold([h for _, h in rebuilt])
        try:
            stored_root = merkle.root(nodes, size)
            proof = merkle.consistency_proof(nodes, first, size) if first else []
        except AuditError as exc:
            raise self._alarm(f"the stored tree of size {size} is incomplete: {exc}") from None
        if stored_root != root:
            raise self._alarm(f"stored interior hashes of the tree of size {size} do not match "
                              "its leaves")
        if last is not None and not merkle.verify_consistency(first, size, last.root, root, proof):
            raise self._alarm(f"no valid consistency proof from size {first} to {size}")
        return root

    def _extend(self, s: Session, rebuilt: list[tuple[merkle.Node, bytes]], start: int,
                end: int) -> list[tuple[merkle.Node, bytes]]:
        """Append leaves [start, end) to the compact range `rebuilt`, each leaf hashed
        from its payload (or taken from the tree once purged) and checked."""
        entries = dict(s.execute(select(AuditLeaf.idx, AuditLeaf.entry).where(
            AuditLeaf.idx >= start, AuditLeaf.idx < end)).all())
        hashes = dict(s.execute(select(AuditNode.idx, AuditNode.hash).where(
            AuditNode.level == 0, AuditNode.idx >= start, AuditNode.idx < end)).all())
        merged: list[tuple[merkle.Node, bytes]] = []
        for index in range(start, end):
            if index not in entries or index not in hashes:
                raise self._alarm(f"leaf {index} is missing from the stored log")
            entry = entries[index]
            h = hashes[index]
            if entry is not None and merkle.leaf_hash(entry.encode("utf-8")) != h:
                raise self._alarm(f"leaf {index}'s entry does not match its stored hash")
            rebuilt.append(((0, index), h))
            while len(rebuilt) > 1 and rebuilt[-1][0][0] == rebuilt[-2][0][0]:
                (level, right), right_hash = rebuilt.pop()
                _, left_hash = rebuilt.pop()
                rebuilt.append(((level + 1, right >> 1), merkle.node_hash(left_hash, right_hash)))
                merged.append(rebuilt[-1])
        # Every interior node these leaves completed must be stored as rebuilt: proofs
        # are served from them.
        try:
            stored = SessionNodes(s).nodes([node for node, _ in merged])
        except AuditError as exc:
            raise self._alarm(str(exc)) from None
        for (node, h), kept in zip(merged, stored, strict=True):
            if kept != h:
                raise self._alarm(f"stored node {node} (level, index) does not match the "
                                  "leaves under it")
        return rebuilt

    def _alarm(self, message: str) -> AuditAlarm:
        log.critical("audit alarm: refusing to sign a checkpoint: %s", message,
                     extra={"event": "audit_alarm"})
        return AuditAlarm(f"refusing to sign a checkpoint: {message}")

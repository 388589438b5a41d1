"""Export of the log, whole or for a time range, as one archive a regulator can verify
with the public key alone (`synthguard audit verify`).

A gzipped tar holding:

- `manifest.json`: format, origin, verifier key, kind (`full` or `range`), the leaf
  range [first_index, end_index), the signed tree size proofs refer to, and the
  SHA-256 of every other member.
- `checkpoints.jsonl`: signed notes (`{"note": ...}`); the whole history for a full
  export, for a range those published in it plus the latest.
- `leaves.jsonl`: `{"index", "record_id", "created_at", "logged_at", "leaf_hash",
  "entry"}`, entry being the exact canonical JSON hashed (null once purged).
- `proofs.jsonl`: a consistency proof between each pair of consecutive checkpoints and,
  for a range, each leaf's inclusion proof in the latest checkpoint.
- `tree.bin` (full only): the stored node hashes, level by level (level l has
  size >> l hashes). Untrusted hints: the verifier authenticates them against signed
  roots, and with them it can name the exact first entry that was altered.

Only leaves covered by the latest checkpoint are exported, so everything in the
archive is under a signature.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import tarfile
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from synthguard._atomic import atomic_output, commit
from synthguard.audit.canonical import timestamp
from synthguard.audit.checkpoint import StoredCheckpoint
from synthguard.audit.errors import AuditError

if TYPE_CHECKING:  # the verifier imports this module's format constants only
    from synthguard.audit.log import AuditLog
    from synthguard.audit.publisher import Checkpointer

FORMAT = "synthguard-audit-export"
VERSION = 1
MEMBERS = ("manifest.json", "checkpoints.jsonl", "leaves.jsonl", "proofs.jsonl", "tree.bin")
_PROOF_BATCH = 2000
_LEVEL_CHUNK = 1 << 16


def _hex(hashes: Iterable[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def consistency_chain(sizes: Iterable[int]) -> list[tuple[int, int]]:
    """The (first, second) pairs of checkpoint sizes a verifier needs consistency proofs
    for: consecutive distinct non-zero sizes, in order."""
    return list(itertools.pairwise(sorted({size for size in sizes if size > 0})))


def export_archive(checkpointer: Checkpointer, dest: Path, *, since: datetime | None = None,
                   until: datetime | None = None) -> dict[str, Any]:
    """Write the archive to `dest` (atomically) and return its manifest."""
    log = checkpointer.log
    history = checkpointer.history()
    size = log.size()
    # The largest signed tree the store holds (normally also the latest published).
    latest = max((c for c in history if c.size <= size), key=lambda c: (c.size, c.id),
                 default=None)
    if latest is None:
        raise AuditError("no checkpoint has been published yet; publish one first")
    full = since is None and until is None
    if full:
        first, end, checkpoints = 0, latest.size, history
    else:
        start, stop = log.index_range(since, until)
        first, end = min(start, latest.size), min(stop, latest.size)
        checkpoints = [c for c in checkpointer.history(since, until) if c.id != latest.id]
        checkpoints.append(latest)
    with tempfile.TemporaryDirectory(prefix=".audit-export.", dir=dest.parent) as work:
        folder = Path(work)
        digests = {
            "checkpoints.jsonl": _write_lines(folder / "checkpoints.jsonl",
                                              ({"note": c.note} for c in checkpoints)),
            "leaves.jsonl": _write_lines(folder / "leaves.jsonl", _leaf_lines(log, first, end)),
            "proofs.jsonl": _write_lines(folder / "proofs.jsonl",
                                         _proof_lines(checkpointer, checkpoints, first, end,
                                                      latest.size, full)),
        }
        if full:
            digests["tree.bin"] = _write_tree(checkpointer, folder / "tree.bin", latest.size)
        manifest = {
            "format": FORMAT, "version": VERSION, "kind": "full" if full else "range",
            "origin": checkpointer.origin, "verifier_key": checkpointer.verifier.encode(),
            "created_at": timestamp(datetime.now(UTC)),
            "range": {"since": since and timestamp(since), "until": until and timestamp(until)},
            "first_index": first, "end_index": end, "tree_size": latest.size,
            "files": digests,
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        with atomic_output(dest) as (out, tmp), tarfile.open(fileobj=out, mode="w:gz") as tar:
            for name in MEMBERS:
                if (folder / name).exists():
                    tar.add(folder / name, arcname=name, recursive=False)
        try:
            _check_written(tmp, digests)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        commit(tmp, dest)
    return manifest


def _write_lines(path: Path, lines: Iterable[dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for line in lines:
            data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            digest.update(data)
            f.write(data)
    return digest.hexdigest()


def _leaf_lines(log: AuditLog, first: int, end: int) -> Iterable[dict[str, Any]]:
    for row in log.leaves(first, end):
        yield {"index": row.index, "record_id": row.record_id,
               "created_at": timestamp(row.created_at), "logged_at": timestamp(row.logged_at),
               "leaf_hash": row.leaf_hash.hex(),
               "entry": None if row.entry is None else row.entry.decode("utf-8")}


def _proof_lines(checkpointer: Checkpointer, checkpoints: list[StoredCheckpoint], first: int,
                 end: int, size: int, full: bool) -> Iterable[dict[str, Any]]:
    log = checkpointer.log
    for a, b in consistency_chain(c.size for c in checkpoints):
        yield {"kind": "consistency", "first": a, "second": b,
               "path": _hex(log.consistency_proof(a, b))}
    if full:
        return
    for at in range(first, end, _PROOF_BATCH):
        indices = list(range(at, min(end, at + _PROOF_BATCH)))
        for index, proof in zip(indices, log.inclusion_proofs(indices, size), strict=True):
            yield {"kind": "inclusion", "index": index, "size": size, "path": _hex(proof)}


def _write_tree(checkpointer: Checkpointer, path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as f:
        level = 0
        while size >> level:
            count = size >> level
            for at in range(0, count, _LEVEL_CHUNK):
                stop = min(count, at + _LEVEL_CHUNK)
                data = checkpointer.log.level_hashes(level, at, stop)
                if len(data) != (stop - at) * 32:
                    raise AuditError(f"stored tree is missing nodes at level {level} "
                                     f"from index {at + len(data) // 32}")
                digest.update(data)
                f.write(data)
            level += 1
    return digest.hexdigest()


def _check_written(archive: Path, digests: dict[str, str]) -> None:
    """Read the archive back: every member there, with the digest the manifest claims."""
    with tarfile.open(archive, mode="r:gz") as tar:
        for name, expected in digests.items():
            member = tar.extractfile(name)
            if member is None or _sha256(member) != expected:
                raise AuditError(f"{archive}: member {name} did not read back intact")


def _sha256(f: IO[bytes] | io.BufferedReader) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()

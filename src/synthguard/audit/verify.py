"""The standalone verifier: given only the log's public key and an exported archive (or,
through `remote`, the log's HTTP endpoints), recompute everything and name the first
bad entry.

Trust comes from the checkpoints alone: each must carry a valid signature by the key,
and all must be mutually consistent. Then every entry is re-hashed from its canonical
JSON and the tree rebuilt: a full export must reproduce every signed root, a range
export must prove each entry into the latest signed root. When a root does not match,
the verifier walks down from it, authenticating the exported node hashes against the
signed root level by level, to the exact first leaf that differs: an entry changed,
removed, reordered or inserted shows up as the first index whose leaf is not the one
that was signed. (If the stored hashes were rewritten as well, the walk stops where
they stop matching and the report gives the range the bad entry must lie in.)
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from synthguard.audit import merkle
from synthguard.audit.canonical import entry_problem
from synthguard.audit.checkpoint import Checkpoint, open_checkpoint
from synthguard.audit.errors import CheckpointError
from synthguard.audit.export import FORMAT, MEMBERS, consistency_chain
from synthguard.audit.note import NoteVerifier
from synthguard.errors import SynthGuardError

MAX_MANIFEST_BYTES = 1 << 20
MAX_LINE_BYTES = 16 << 20
_HEX32 = re.compile(r"[0-9a-f]{64}")


class ArchiveError(SynthGuardError):
    """The archive is not an audit export at all (not a tar, no manifest ...)."""

    code = "archive_error"


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    index: int | None = None  # the leaf it is about, when it is about one


@dataclass
class VerifyReport:
    kind: str = ""
    entries: int = 0
    purged: int = 0
    checkpoints: int = 0
    proofs: int = 0
    tree_size: int = 0
    latest: Checkpoint | None = None  # the largest signed checkpoint
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad(self) -> Finding | None:
        indexed = [f for f in self.findings if f.index is not None]
        return min(indexed, key=lambda f: f.index or 0) if indexed else None

    def add(self, code: str, message: str, index: int | None = None) -> None:
        self.findings.append(Finding(code, message, index))

    def summary(self) -> str:
        counts = (f"{self.entries} entries ({self.purged} purged), {self.checkpoints} "
                  f"checkpoints, {self.proofs} proofs, signed tree size {self.tree_size}")
        if self.ok:
            return f"OK: {counts}"
        first = self.first_bad
        head = f"first bad entry #{first.index}: {first.message}" if first else \
            self.findings[0].message
        return f"FAILED: {head} ({len(self.findings)} problems; {counts})"


@dataclass
class _Leaf:
    index: int
    record_id: str
    leaf_hash: bytes


def verify_archive(path: Path, verifier: NoteVerifier) -> VerifyReport:
    """Check an exported archive against the log's public key."""
    try:
        with tarfile.open(path, mode="r:*") as tar:
            return _verify(tar, path, verifier)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise ArchiveError(f"{path}: not a readable archive: {exc}") from None


def _verify(tar: tarfile.TarFile, path: Path, verifier: NoteVerifier) -> VerifyReport:
    report = VerifyReport()
    members = _members(tar, path)
    manifest = _manifest(tar, members, path)
    report.kind = manifest["kind"]
    for name, expected in manifest["files"].items():
        if name not in members or _digest(tar, members[name]) != expected:
            report.add("archive_member", f"archive member {name} is missing or altered")
    signed = _checkpoints(tar, members, verifier, manifest, report)
    proofs = _proofs(tar, members, report)
    _check_chain(signed, proofs, report)
    leaves = list(_leaves(tar, members, manifest, report))
    report.entries = len(leaves)
    report.latest = signed[-1] if signed else None
    report.tree_size = report.latest.size if report.latest else 0
    # The hints are read only when their size fits the signed tree: an archive cannot
    # make the verifier allocate more than the log it claims to be.
    hint_bytes = merkle.HASH_SIZE * sum(report.tree_size >> level
                                        for level in range(report.tree_size.bit_length()))
    tree = b""
    if "tree.bin" in members and members["tree.bin"].size == hint_bytes:
        tree = _read(tar, members["tree.bin"])
    if not signed:
        report.add("no_checkpoint", "no checkpoint in the archive is signed by the key")
    elif report.kind == "full":
        _check_full(leaves, signed, tree, report)
    else:
        _check_range(leaves, signed, proofs, report)
    return report


def _members(tar: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    members: dict[str, tarfile.TarInfo] = {}
    for member in tar:
        if member.name not in MEMBERS or not member.isfile() or member.name in members:
            raise ArchiveError(f"{path}: unexpected archive member {member.name!r}")
        members[member.name] = member
    if "manifest.json" not in members:
        raise ArchiveError(f"{path}: not an audit export (no manifest.json)")
    return members


def _manifest(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], path: Path
              ) -> dict[str, Any]:
    info = members["manifest.json"]
    if info.size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{path}: manifest.json is too large")
    try:
        manifest = json.loads(_read(tar, info))
    except ValueError:
        raise ArchiveError(f"{path}: manifest.json is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{path}: not a {FORMAT} archive")
    ints = ("first_index", "end_index", "tree_size")
    if (manifest.get("kind") not in ("full", "range") or not isinstance(manifest.get("files"), dict)
            or not all(isinstance(manifest.get(k), int) and manifest[k] >= 0 for k in ints)):
        raise ArchiveError(f"{path}: manifest.json is malformed")
    return manifest


def _open(tar: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    f = tar.extractfile(info)
    if f is None:  # _members admits regular files only
        raise ArchiveError(f"archive member {info.name} is not a file")
    return f


def _read(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    return _open(tar, info).read()


def _digest(tar: tarfile.TarFile, info: tarfile.TarInfo) -> str:
    f = _open(tar, info)
    digest = hashlib.sha256()
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def _lines(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str,
           report: VerifyReport) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for each line of a member; bad lines are findings."""
    if name not in members:
        return
    f = _open(tar, members[name])
    for number, line in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
        try:
            if len(line) > MAX_LINE_BYTES:
                raise ValueError("line too long")
            yield number, json.loads(line)
        except (ValueError, RecursionError):
            report.add("malformed_line", f"{name} line {number} is not a JSON object")


def _checkpoints(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo],
                 verifier: NoteVerifier, manifest: dict[str, Any], report: VerifyReport
                 ) -> list[Checkpoint]:
    signed: list[Checkpoint] = []
    for number, line in _lines(tar, members, "checkpoints.jsonl", report):
        note = line.get("note") if isinstance(line, dict) else None
        report.checkpoints += 1
        try:
            checkpoint = open_checkpoint(note if isinstance(note, str) else "", verifier,
                                         manifest.get("origin"))
        except CheckpointError as exc:
            report.add("checkpoint_rejected", f"checkpoint {number} is rejected: {exc}")
            continue
        signed.append(checkpoint)
    signed.sort(key=lambda c: c.size)
    return signed


def _proofs(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], report: VerifyReport
            ) -> dict[tuple[str, int, int], list[bytes]]:
    proofs: dict[tuple[str, int, int], list[bytes]] = {}
    for number, line in _lines(tar, members, "proofs.jsonl", report):
        try:
            kind = line["kind"]
            a, b = (line["first"], line["second"]) if kind == "consistency" else \
                (line["index"], line["size"])
            path = [bytes.fromhex(h) for h in line["path"] if _HEX32.fullmatch(h)]
            if not isinstance(a, int) or not isinstance(b, int) or len(path) != len(line["path"]):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            report.add("malformed_proof", f"proofs.jsonl line {number} is not a proof")
            continue
        proofs[(kind, a, b)] = path
    return proofs


def _check_chain(signed: list[Checkpoint], proofs: dict[tuple[str, int, int], list[bytes]],
                 report: VerifyReport) -> None:
    """Signed checkpoints must describe one append-only log: same size, same root; a
    later size must extend an earlier one."""
    by_size: dict[int, bytes] = {}
    for c in signed:
        if by_size.setdefault(c.size, c.root) != c.root:
            report.add("checkpoint_fork", f"two signed checkpoints of size {c.size} have "
                       "different roots: the log signed inconsistent checkpoints")
    for a, b in consistency_chain(by_size):
        proof = proofs.get(("consistency", a, b))
        if proof is None:
            report.add("missing_proof", f"no consistency proof from size {a} to {b}")
        elif not merkle.verify_consistency(a, b, by_size[a], by_size[b], proof):
            report.add("checkpoint_inconsistent", f"signed checkpoints of size {a} and {b} are "
                       "inconsistent: the log signed a tree that does not extend the earlier one")
        else:
            report.proofs += 1


def _leaves(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], manifest: dict[str, Any],
            report: VerifyReport) -> Iterator[_Leaf]:
    """Each exported leaf with the hash its payload gives (the stored hash once purged);
    gaps, repeats and payloads that disagree with their hash are findings."""
    expected = manifest["first_index"]
    for number, line in _lines(tar, members, "leaves.jsonl", report):
        try:
            index, record_id, stored = line["index"], line["record_id"], line["leaf_hash"]
            entry = line["entry"]
            if not isinstance(index, int) or not isinstance(record_id, str):
                raise TypeError
        except (KeyError, TypeError):
            report.add("malformed_leaf", f"leaves.jsonl line {number} is not a leaf", expected)
            continue
        name = f"entry #{index} (record {record_id})"
        if index > expected:
            report.add("entry_missing", f"entry #{expected} is missing (removed?)", expected)
        elif index < expected:
            report.add("entry_out_of_order", f"{name} is out of order or repeated (inserted or "
                       "reordered?)", expected)
        expected = max(expected, index) + 1
        if isinstance(entry, str):
            data = entry.encode("utf-8")
            leaf = merkle.leaf_hash(data)
            problem = entry_problem(data, record_id)
            if problem:
                report.add("entry_malformed", f"{name}: {problem}", index)
            if isinstance(stored, str) and stored and stored != leaf.hex():
                report.add("entry_changed", f"{name} does not match its stored leaf hash "
                           "(changed?)", index)
        elif entry is None and isinstance(stored, str) and _HEX32.fullmatch(stored):
            leaf = bytes.fromhex(stored)
            report.purged += 1
        else:
            report.add("malformed_leaf", f"{name} has neither an entry nor a leaf hash", index)
            continue
        yield _Leaf(index, record_id, leaf)
    if expected < manifest["end_index"]:
        report.add("entry_missing", f"entries #{expected} to #{manifest['end_index'] - 1} are "
                   "missing (removed?)", expected)


def _hints(tree: bytes, size: int) -> merkle.MemoryTree | None:
    """The exported node hashes as a tree, if they have the right shape."""
    hints = merkle.MemoryTree()
    hints.levels, at, level = [], 0, 0
    while size >> level:
        width = (size >> level) * merkle.HASH_SIZE
        hints.levels.append(bytearray(tree[at:at + width]))
        at, level = at + width, level + 1
    return hints if at == len(tree) and size else None


def _check_full(leaves: list[_Leaf], signed: list[Checkpoint], tree: bytes,
                report: VerifyReport) -> None:
    """Every signed root against the tree rebuilt from the entries. The largest signed
    size the entries reproduce vouches for every entry below it, so a smaller
    checkpoint that disagrees is a forked checkpoint, not a bad entry; the first
    checkpoint above it that disagrees locates the first bad entry."""
    rebuilt = merkle.MemoryTree.from_leaf_hashes(b"".join(leaf.leaf_hash for leaf in leaves))
    matching = [c.size for c in signed if c.size <= rebuilt.size
                and rebuilt.root(c.size) == c.root]
    good = max(matching, default=0)
    for c in signed:
        if c.size <= rebuilt.size and rebuilt.root(c.size) == c.root:
            continue
        if c.size < good:
            report.add("checkpoint_fork", f"checkpoint size {c.size} is not a prefix of the "
                       f"log that checkpoint size {good} signed: the log signed inconsistent "
                       "checkpoints")
            continue
        if c.size > rebuilt.size:
            report.add("entry_missing", f"the archive has {rebuilt.size} entries but a checkpoint "
                       f"signs {c.size}: entries from #{rebuilt.size} were removed", rebuilt.size)
            return
        index, end, exact = _locate(rebuilt, _hints(tree, report.tree_size), c, good)
        leaf = leaves[index] if index < len(leaves) else None
        name = f"entry #{index}" + (f" (record {leaf.record_id})" if leaf else "")
        if exact:
            report.add("entry_not_signed", f"{name} is not the entry checkpoint size {c.size} "
                       "signed (changed, removed, reordered or inserted)", index)
        else:
            report.add("entries_not_signed", f"the first bad entry is one of #{index} to "
                       f"#{end - 1}: they do not match checkpoint size {c.size}, and the stored "
                       "hashes that would single it out were rewritten too", index)
        return
    if rebuilt.size > report.tree_size:
        report.add("entry_unsigned", f"entry #{report.tree_size} and later are not covered by "
                   "any checkpoint (inserted?)", report.tree_size)


def _locate(rebuilt: merkle.MemoryTree, hints: merkle.MemoryTree | None, c: Checkpoint,
            good: int) -> tuple[int, int, bool]:
    """Walk down from the signed root to the first leaf that differs, trusting an
    exported node only once its parent is authenticated: (first, end, exact), the bad
    entry being `first` when exact, else somewhere in [first, end). `good` is a size
    the rebuilt tree is known to match."""
    begin, end, expected = 0, c.size, c.root
    try:
        if hints is None or hints.subtree(0, c.size) != expected:
            return good, c.size, False
        while end - begin > 1:
            k = 1 << ((end - begin - 1).bit_length() - 1)
            left, right = hints.subtree(begin, begin + k), hints.subtree(begin + k, end)
            if merkle.node_hash(left, right) != expected:
                break
            if rebuilt.subtree(begin, begin + k) != left:
                end, expected = begin + k, left
            else:
                begin, expected = begin + k, right
    except KeyError:
        pass
    begin = max(begin, min(good, end - 1))
    return begin, end, end - begin == 1


def _check_range(leaves: list[_Leaf], signed: list[Checkpoint],
                 proofs: dict[tuple[str, int, int], list[bytes]], report: VerifyReport) -> None:
    latest = signed[-1]
    for leaf in leaves:
        proof = proofs.get(("inclusion", leaf.index, latest.size))
        name = f"entry #{leaf.index} (record {leaf.record_id})"
        if proof is None:
            report.add("missing_proof", f"{name} has no inclusion proof", leaf.index)
        elif merkle.verify_inclusion(leaf.index, latest.size, leaf.leaf_hash, proof, latest.root):
            report.proofs += 1
        else:
            report.add("entry_not_signed", f"{name} is not the entry checkpoint size "
                       f"{latest.size} signed at that index (changed, reordered or inserted)",
                       leaf.index)

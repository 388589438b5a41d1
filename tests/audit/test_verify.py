"""The verifier treats an archive as hostile: anything that is not an audit export is one
clear error, and damage inside one is a finding, never a crash or a false OK."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from synthguard.audit.export import export_archive
from synthguard.audit.note import NoteSigner
from synthguard.audit.verify import ArchiveError, verify_archive
from synthguard.store import Database
from tests.audit.conftest import SIGNER, make_audit, record


@pytest.fixture(scope="module")
def good_members(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A good full export of 12 entries under two checkpoints (made once: the archive
    format does not depend on the database it came from)."""
    folder = tmp_path_factory.mktemp("export")
    database = Database(f"sqlite:///{folder / 'log.db'}")
    database.migrate()
    audit = make_audit(database)
    audit.log.append([record(n) for n in range(5)])
    audit.checkpoints.publish()
    audit.log.append([record(n) for n in range(5, 12)])
    audit.checkpoints.publish()
    archive = folder / "good.tar.gz"
    export_archive(audit.checkpoints, archive)
    database.dispose()
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


@pytest.fixture
def members(good_members: dict[str, bytes]) -> dict[str, bytes]:
    return dict(good_members)


def _pack(path: Path, members: dict[str, bytes], *, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _lines(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.splitlines()]


def _dump(lines: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def test_a_repacked_good_archive_verifies(members: dict[str, bytes], tmp_path: Path) -> None:
    report = verify_archive(_pack(tmp_path / "a.tar", members, mode="w"), SIGNER.verifier)
    assert report.ok, report.findings
    assert (report.entries, report.tree_size, report.kind) == (12, 12, "full")


@pytest.mark.parametrize("content", [b"", b"not an archive at all", b"\x1f\x8b\x08garbage"])
def test_non_archives_are_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.tar.gz"
    path.write_bytes(content)
    with pytest.raises(ArchiveError, match="not a readable archive"):
        verify_archive(path, SIGNER.verifier)


def test_a_truncated_archive_is_an_error(members: dict[str, bytes], tmp_path: Path) -> None:
    path = _pack(tmp_path / "a.tar.gz", members)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ArchiveError):
        verify_archive(path, SIGNER.verifier)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.pop("manifest.json"), "no manifest"),
    (lambda m: m.update({"../evil": b"x"}), "unexpected archive member"),
    (lambda m: m.update({"manifest.json": b"{nope"}), "not JSON"),
    (lambda m: m.update({"manifest.json": b'{"format": "zip"}'}), "not a synthguard"),
    (lambda m: m.update({"manifest.json": json.dumps({
        "format": "synthguard-audit-export", "kind": "full", "files": {},
        "first_index": -1, "end_index": 0, "tree_size": 0}).encode()}), "malformed"),
    (lambda m: m.update({"manifest.json": b" " * (2 << 20)}), "too large"),
])
def test_archives_that_are_not_exports_are_refused(
        members: dict[str, bytes], tmp_path: Path, change: object, message: str) -> None:
    change(members)  # type: ignore[operator]
    with pytest.raises(ArchiveError, match=message):
        verify_archive(_pack(tmp_path / "a.tar.gz", members), SIGNER.verifier)


def test_damaged_members_are_findings_not_crashes(members: dict[str, bytes],
                                                  tmp_path: Path) -> None:
    leaves = members["leaves.jsonl"].splitlines(keepends=True)
    leaves[3] = b'{"index": 3, "record_id": 7}\n'
    leaves[5] = b"[[[[[[" * 10_000 + b"\n"
    members["leaves.jsonl"] = b"".join(leaves)
    members["proofs.jsonl"] += b'{"kind": "consistency", "first": 1, "second": 2, "path": [3]}\n'
    members["checkpoints.jsonl"] += b'"just a string"\n'
    report = verify_archive(_pack(tmp_path / "a.tar.gz", members), SIGNER.verifier)
    codes = {f.code for f in report.findings}
    assert {"malformed_leaf", "malformed_line", "malformed_proof", "checkpoint_rejected",
            "archive_member"} <= codes
    assert report.first_bad is not None and report.first_bad.index == 3


def test_without_usable_hints_the_bad_entry_is_bounded_by_checkpoints(
        members: dict[str, bytes], tmp_path: Path) -> None:
    lines = _lines(members["leaves.jsonl"])
    lines[7]["entry"] = str(lines[7]["entry"]).replace("chat", "chit")
    lines[7]["leaf_hash"] = ""  # no stored hash to compare with either
    members["leaves.jsonl"] = _dump(lines)
    members["tree.bin"] = members["tree.bin"][:-32]  # wrong size: not read at all
    report = verify_archive(_pack(tmp_path / "a.tar.gz", members), SIGNER.verifier)
    # Checkpoint 5 still matches, checkpoint 12 does not: the bad entry is in 5..11.
    assert report.first_bad is not None and report.first_bad.index == 5
    assert "one of #5 to #11" in report.first_bad.message


def test_a_leaf_with_neither_entry_nor_hash_is_named(members: dict[str, bytes],
                                                    tmp_path: Path) -> None:
    lines = _lines(members["leaves.jsonl"])
    lines[4]["entry"] = None
    lines[4]["leaf_hash"] = "zz"
    members["leaves.jsonl"] = _dump(lines)
    report = verify_archive(_pack(tmp_path / "a.tar.gz", members), SIGNER.verifier)
    assert report.first_bad is not None and report.first_bad.index == 4


def test_missing_trailing_entries_are_named(members: dict[str, bytes], tmp_path: Path) -> None:
    members["leaves.jsonl"] = _dump(_lines(members["leaves.jsonl"])[:9])
    report = verify_archive(_pack(tmp_path / "a.tar.gz", members), SIGNER.verifier)
    assert report.first_bad is not None and report.first_bad.index == 9


def test_the_wrong_key_verifies_nothing(members: dict[str, bytes], tmp_path: Path) -> None:
    other = NoteSigner(SIGNER.name, bytes(32)).verifier
    report = verify_archive(_pack(tmp_path / "a.tar.gz", members), other)
    assert not report.ok
    assert "no_checkpoint" in {f.code for f in report.findings}
    assert report.summary().startswith("FAILED")


def test_a_missing_consistency_proof_is_a_finding(members: dict[str, bytes],
                                                  tmp_path: Path) -> None:
    members["proofs.jsonl"] = b""
    report = verify_archive(_pack(tmp_path / "a.tar.gz", members), SIGNER.verifier)
    assert "missing_proof" in {f.code for f in report.findings}

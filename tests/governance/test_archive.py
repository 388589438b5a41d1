"""The signed archive format: it verifies as written, and every kind of tampering is named
(a file altered, added, removed or replaced by a link, the manifest edited, the wrong
key, not an archive at all)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from synthguard.governance.archive import (
    fingerprint,
    parse_public_key,
    public_key_text,
    verify_archive,
    write_archive,
)
from tests.governance.helpers import rewrite_archive

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
FILES: dict[str, bytes] = {"violations.jsonl": b'{"record_id": "r1"}\n',
                           "summary.html": "<p>摘要</p>".encode(),
                           "audit/checkpoint.txt": b"origin\n1\nroot\n"}


def _write(tmp_path: Path) -> Path:
    dest = tmp_path / "report.tar.gz"
    write_archive(dest, FILES, KEY, {"period": {"since": "a", "until": "b"}})
    return dest


def test_a_written_archive_verifies(tmp_path: Path) -> None:
    path = _write(tmp_path)
    check = verify_archive(path, KEY.public_key())
    assert check.ok and check.files == 3 and check.warnings == []
    assert check.key_fingerprint == fingerprint(KEY.public_key())
    assert check.manifest is not None and check.manifest["period"]["since"] == "a"
    assert parse_public_key(check.manifest["public_key"]).public_bytes_raw() == (
        KEY.public_key().public_bytes_raw())
    untrusted = verify_archive(path)
    assert untrusted.ok and "compare its fingerprint" in untrusted.warnings[0]


def _edit_manifest(name: str, data: bytes) -> bytes:
    if name != "manifest.json":
        return data
    manifest = json.loads(data)
    manifest["period"]["until"] = "c"
    return json.dumps(manifest).encode()


@pytest.mark.parametrize("change, extra, link, problem", [
    (lambda n, d: d + b'{"record_id": "r2"}\n' if n == "violations.jsonl" else d, None, None,
     "violations.jsonl: SHA-256 does not match"),
    (lambda n, d: None if n == "summary.html" else d, None, None,
     "summary.html: listed in the manifest but missing"),
    (lambda n, d: d, {"notes.txt": b"added later"}, None, "notes.txt: in the archive but not"),
    (lambda n, d: d, None, "audit/evil", "not a plain file"),
    (_edit_manifest, None, None, "signature does not verify"),
    (lambda n, d: b"AAAA\n" if n == "manifest.sig" else d, None, None,
     "signature does not verify"),
    (lambda n, d: None if n == "manifest.sig" else d, None, None, "manifest.sig is missing"),
    (lambda n, d: b"{" if n == "manifest.json" else d, None, None, "not JSON"),
])
def test_tampering_is_detected(tmp_path: Path, change: Callable[[str, bytes], bytes | None],
                               extra: dict[str, bytes] | None, link: str | None,
                               problem: str) -> None:
    tampered = rewrite_archive(_write(tmp_path), tmp_path / "tampered.tar.gz", change, extra, link)
    check = verify_archive(tampered, KEY.public_key())
    assert not check.ok
    assert any(problem in p for p in check.problems), check.problems


def test_wrong_key_and_garbage(tmp_path: Path) -> None:
    path = _write(tmp_path)
    other = Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key()
    check = verify_archive(path, other)
    assert not check.ok and "signature does not verify" in check.problems[0]
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b" + bytes(100))
    assert "not a readable archive" in verify_archive(garbage).problems[0]
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(path.read_bytes()[:200])
    assert not verify_archive(truncated, KEY.public_key()).ok


def test_key_text_round_trip_and_bad_names(tmp_path: Path) -> None:
    text = public_key_text(KEY.public_key())
    assert parse_public_key(text).public_bytes_raw() == KEY.public_key().public_bytes_raw()
    with pytest.raises(ValueError, match="Ed25519"):
        parse_public_key("not base64!")
    for name in ("../escape", "/abs", "manifest.json", "a/b/c/d/e/f"):
        with pytest.raises(ValueError, match="not allowed"):
            write_archive(tmp_path / "x.tar.gz", {name: b""}, KEY, {})
    assert not (tmp_path / "x.tar.gz").exists()


def test_members_can_come_from_files(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 4096)
    dest = tmp_path / "out.tar.gz"
    manifest = write_archive(dest, {"audit/big.bin": big}, KEY, {})
    assert manifest["files"]["audit/big.bin"]["size"] == 256 * 4096
    assert verify_archive(dest, KEY.public_key()).ok

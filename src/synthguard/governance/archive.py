"""Signed archives for the regulator: a gzipped tar of files, a manifest with the SHA-256
and size of every file, and an Ed25519 signature over the manifest's exact bytes.

    manifest.json   {"format", "version", "created_at", ..., "public_key", "files": {...}}
    manifest.sig    base64 Ed25519 signature of manifest.json
    <files>         everything the manifest lists, nothing else

`verify_archive` reads the archive as hostile input: regular files only, plain names,
bounded manifest size, streaming digests; it never extracts to disk. A file changed,
added, removed or renamed, or a manifest changed in any byte, is a named problem. The
signature is checked against the key the verifier trusts; without one, against the key
the archive names, which proves integrity only: compare its fingerprint with the
provider's published one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from synthguard._atomic import atomic_output, commit

FORMAT = "synthguard-regulator-report"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MAX_MANIFEST_BYTES = 1 << 20
MAX_MEMBERS = 10_000
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}(?:/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){0,3}")


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    """From base64, standard or URL-safe (a key pasted into a URL often is)."""
    try:
        raw = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise ValueError("not a base64 Ed25519 public key (32 bytes)") from None


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, first 16 bytes in hex: what to compare by phone."""
    return hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:32]


def write_archive(dest: Path, files: Mapping[str, bytes | Path], key: Ed25519PrivateKey,
                  meta: Mapping[str, Any]) -> dict[str, Any]:
    """Write `files` (contents, or files on disk for large members) with their signed
    manifest to `dest` atomically; the manifest."""
    for name in files:
        if not _NAME.fullmatch(name) or name in (MANIFEST, SIGNATURE):
            raise ValueError(f"archive member name {name!r} is not allowed")
    manifest = {"format": FORMAT, "version": VERSION, **meta,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "public_key": public_key_text(key.public_key()),
                "files": {name: _describe(data) for name, data in sorted(files.items())}}
    manifest_bytes = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    signature = base64.b64encode(key.sign(manifest_bytes)) + b"\n"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dest) as (out, tmp), tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in [(MANIFEST, manifest_bytes), (SIGNATURE, signature),
                           *sorted(files.items())]:
            _add(tar, name, data)
    try:
        check = verify_archive(tmp, key.public_key())
        if not check.ok:
            raise OSError(f"{dest}: the archive did not read back intact: {check.problems[0]}")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    commit(tmp, dest)
    return manifest


def _describe(data: bytes | Path) -> dict[str, Any]:
    if isinstance(data, bytes):
        return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    digest, size = hashlib.sha256(), 0
    with data.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return {"sha256": digest.hexdigest(), "size": size}


def _add(tar: tarfile.TarFile, name: str, data: bytes | Path) -> None:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime = 0o644, int(datetime.now(UTC).timestamp())
    if isinstance(data, bytes):
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        return
    info.size = data.stat().st_size
    with data.open("rb") as f:
        tar.addfile(info, f)


@dataclass
class ArchiveCheck:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    key_fingerprint: str | None = None
    files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_archive(path: Path, trusted_key: Ed25519PublicKey | None = None) -> ArchiveCheck:
    """Check the signature and every file digest of an archive (see module doc)."""
    check = ArchiveCheck()
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            _verify(tar, trusted_key, check)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        check.problems.append(f"not a readable archive: {exc}")
    return check


def _verify(tar: tarfile.TarFile, trusted: Ed25519PublicKey | None, check: ArchiveCheck) -> None:
    members: dict[str, tarfile.TarInfo] = {}
    for info in tar:
        if len(members) >= MAX_MEMBERS:
            check.problems.append(f"more than {MAX_MEMBERS} members")
            return
        if not info.isfile() or not _NAME.fullmatch(info.name):
            check.problems.append(f"member {info.name!r} is not a plain file with a plain name")
            continue
        if info.name in members:
            check.problems.append(f"member {info.name} appears twice")
        members[info.name] = info
    if MANIFEST not in members or SIGNATURE not in members:
        check.problems.append("manifest.json or manifest.sig is missing")
        return
    if members[MANIFEST].size > MAX_MANIFEST_BYTES or members[SIGNATURE].size > 1024:
        check.problems.append("manifest or signature is too large")
        return
    manifest_bytes = _read(tar, members[MANIFEST])
    manifest = _manifest(manifest_bytes, check)
    if manifest is None:
        return
    check.manifest = manifest
    key = trusted
    if key is None:
        try:
            key = parse_public_key(str(manifest.get("public_key", "")))
        except ValueError as exc:
            check.problems.append(f"manifest public_key: {exc}")
            return
        check.warnings.append("signature checked with the key inside the archive: compare "
                              f"its fingerprint {fingerprint(key)} with the provider's key")
    check.key_fingerprint = fingerprint(key)
    try:
        key.verify(base64.b64decode(_read(tar, members[SIGNATURE]).strip(), validate=True),
                   manifest_bytes)
    except (InvalidSignature, binascii.Error, ValueError):
        check.problems.append("the manifest signature does not verify with "
                              f"key {fingerprint(key)}")
    listed = manifest["files"]
    for name in sorted(set(members) - set(listed) - {MANIFEST, SIGNATURE}):
        check.problems.append(f"{name}: in the archive but not in the manifest")
    for name, expected in sorted(listed.items()):
        member = members.get(name)
        if member is None:
            check.problems.append(f"{name}: listed in the manifest but missing")
            continue
        digest, size = _digest(tar, member)
        if digest != expected.get("sha256") or size != expected.get("size"):
            check.problems.append(f"{name}: SHA-256 does not match the manifest (altered)")
        check.files += 1


def _manifest(data: bytes, check: ArchiveCheck) -> dict[str, Any] | None:
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        check.problems.append("manifest.json is not JSON")
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if manifest.get("format") != FORMAT or not isinstance(files, dict) or not all(
            isinstance(v, dict) for v in files.values()):
        check.problems.append(f"manifest.json is not a {FORMAT} manifest")
        return None
    return manifest  # type: ignore[no-any-return]


def _open(tar: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    f = tar.extractfile(info)
    if f is None:
        raise ValueError(f"{info.name} cannot be read")
    return f


def _read(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    with _open(tar, info) as f:
        return f.read(MAX_MANIFEST_BYTES + 1)


def _digest(tar: tarfile.TarFile, info: tarfile.TarInfo) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with _open(tar, info) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size

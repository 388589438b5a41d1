"""Checkpoints (C2SP tlog-checkpoint): `<origin>\\n<size>\\n<base64 root>\\n`, the body of
a signed note. Formatting, parsing and checking only: `publisher` signs them, under the
rule that a log never signs two inconsistent checkpoints."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

from synthguard.audit import merkle
from synthguard.audit.errors import CheckpointError
from synthguard.audit.note import NoteError, NoteVerifier, open_note

_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise CheckpointError("checkpoint body must be origin, size and root lines")
        origin, size, root = lines[:3]
        if not origin or not _SIZE.fullmatch(size):
            raise CheckpointError("checkpoint origin is empty or its size is not a decimal")
        try:
            raw = base64.b64decode(root, validate=True)
        except (binascii.Error, ValueError):
            raise CheckpointError("checkpoint root is not base64") from None
        if len(raw) != merkle.HASH_SIZE:
            raise CheckpointError("checkpoint root is not a SHA-256 hash")
        return cls(origin, int(size), raw)


def open_checkpoint(note: str, verifier: NoteVerifier, origin: str | None = None) -> Checkpoint:
    """The checkpoint in `note` if `verifier` signed it (and it is for `origin`)."""
    try:
        checkpoint = Checkpoint.parse(open_note(note, verifier))
    except NoteError as exc:
        raise CheckpointError(str(exc)) from None
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint


@dataclass(frozen=True)
class StoredCheckpoint:
    id: int
    size: int
    root: bytes
    note: str
    created_at: datetime

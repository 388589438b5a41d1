"""Verifying a live log through its HTTP endpoints (`audit.http`), with the public key
alone: the full export, then the current checkpoint and a consistency proof to it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from synthguard.audit import merkle
from synthguard.audit.checkpoint import open_checkpoint
from synthguard.audit.errors import CheckpointError
from synthguard.audit.note import NoteVerifier
from synthguard.audit.verify import VerifyReport, verify_archive


def verify_remote(base_url: str, verifier: NoteVerifier, *, timeout_s: float = 300
                  ) -> VerifyReport:
    """Verify a live log through its HTTP endpoints: download the full export, verify
    it, then check that the log's current checkpoint extends the exported one."""
    import httpx

    base = base_url.rstrip("/")
    with httpx.Client(timeout=timeout_s) as client, tempfile.TemporaryDirectory() as work:
        archive = Path(work) / "export.tar.gz"
        with client.stream("GET", f"{base}/export") as response:
            response.raise_for_status()
            with archive.open("wb") as f:
                for block in response.iter_bytes():
                    f.write(block)
        report = verify_archive(archive, verifier)
        answer = client.get(f"{base}/checkpoint")
        answer.raise_for_status()
        try:
            live = open_checkpoint(answer.text, verifier)
        except CheckpointError as exc:
            report.add("checkpoint_rejected", f"the log's current checkpoint is rejected: {exc}")
            return report
        report.checkpoints += 1
        exported = report.latest
        if exported is None or live.size < exported.size:
            report.add("checkpoint_rollback", f"the log's current checkpoint (size {live.size}) "
                       "is older than the exported one")
        elif live.size == exported.size:
            if live.root != exported.root:
                report.add("checkpoint_fork", f"the log's current checkpoint of size {live.size} "
                           "differs from the exported one")
        else:
            answer = client.get(f"{base}/proof/consistency",
                                params={"first": exported.size, "second": live.size})
            answer.raise_for_status()
            path = [bytes.fromhex(h) for h in answer.json().get("path", [])]
            if merkle.verify_consistency(exported.size, live.size, exported.root, live.root, path):
                report.proofs += 1
            else:
                report.add("checkpoint_inconsistent", f"the log's current checkpoint (size "
                           f"{live.size}) does not extend the exported one (size {exported.size})")
    return report

"""`synthguard audit`: the regulator's flow as real processes (key, checkpoint, export,
verify, tamper, verify again), the other commands and the error paths in process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from synthguard.accounts.records import Records, RequestRecord
from synthguard.audit.cli import audit_app
from synthguard.audit.merkle import verify_consistency, verify_inclusion
from synthguard.audit.note import NoteVerifier
from synthguard.store import Database
from tests.audit.conftest import SECRET, SIGNER, make_audit, record

ENV = {"SYNTHGUARD_SECRET": SECRET.hex()}


def audit_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV}
    for name in ("SYNTHGUARD_CONFIG", "SYNTHGUARD_AUDIT_KEY", "SYNTHGUARD_AUDIT_ORIGIN"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "synthguard.audit.cli", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def _url(database: Database) -> list[str]:
    return ["--database-url", database.url.render_as_string(hide_password=False)]


def test_the_regulator_flow_as_processes(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Real processes on SQLite (the in-process tests below cover PostgreSQL)."""
    database = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    database.migrate()
    for n in range(15):
        Records(database).write(record(n))
    url = _url(database)
    archive = tmp_path / "out" / "audit.tar.gz"
    archive.parent.mkdir()
    exported = audit_cli(*url, "export", str(archive), cwd=tmp_path)  # logs and signs first
    assert exported.returncode == 0, exported.stderr
    verifier = NoteVerifier.parse(exported.stdout.rsplit("--key ", 1)[1].strip())
    key_file = tmp_path / "var" / "audit-key"  # made on first use, private
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    ok = audit_cli("verify", str(archive), "--key", verifier.encode(), cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("OK: 15 entries"), ok.stdout + ok.stderr

    with database.session() as s:
        s.execute(text("DELETE FROM audit_leaves WHERE idx = 6"))
    monkeypatch.chdir(tmp_path)  # the same key file, re-exported in process
    monkeypatch.setenv("SYNTHGUARD_SECRET", SECRET.hex())
    for name in ("SYNTHGUARD_CONFIG", "SYNTHGUARD_AUDIT_KEY", "SYNTHGUARD_AUDIT_ORIGIN"):
        monkeypatch.delenv(name, raising=False)
    assert CliRunner().invoke(audit_app, [*url, "export", "--no-publish", str(archive)]
                              ).exit_code == 0
    database.dispose()
    (tmp_path / "key.pub").write_text(verifier.encode() + "\n")
    bad = audit_cli("verify", str(archive), "--key-file", str(tmp_path / "key.pub"), "--json",
                    cwd=tmp_path)
    assert bad.returncode == 1, bad.stderr
    report = json.loads(bad.stdout)
    assert report["ok"] is False and report["first_bad_index"] == 6


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name, value in {**ENV, "SYNTHGUARD_AUDIT_KEY": SIGNER.encode(),
                        "SYNTHGUARD_AUDIT_ORIGIN": SIGNER.name}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SYNTHGUARD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_proofs_from_the_cli_verify(database: Database, records: Records,
                                    runner: CliRunner) -> None:
    recs = [record(n) for n in range(9)]
    for r in recs:
        records.write(r)
    url = _url(database)
    assert runner.invoke(audit_app, [*url, "checkpoint", "--publish"]).exit_code == 0
    result = runner.invoke(audit_app, [*url, "proof", "--produce-id", recs[4].id])
    assert result.exit_code == 0, result.output
    proof = json.loads(result.output)
    from synthguard.audit.checkpoint import open_checkpoint

    signed = open_checkpoint(proof["checkpoint"], SIGNER.verifier)
    leaf = next(r for r in _leaves(database) if r[0] == proof["index"])[1]
    assert verify_inclusion(proof["index"], 9, leaf, [bytes.fromhex(h) for h in proof["path"]],
                            signed.root)
    for r in [record(n) for n in range(9, 14)]:
        records.write(r)
    assert runner.invoke(audit_app, [*url, "ingest"]).output.startswith("logged 5 records")
    assert runner.invoke(audit_app, [*url, "checkpoint", "--publish"]).exit_code == 0
    result = runner.invoke(audit_app, [*url, "proof", "--first", "9"])
    consistency = json.loads(result.output)
    later = open_checkpoint(consistency["checkpoint"], SIGNER.verifier)
    assert verify_consistency(9, 14, signed.root, later.root,
                              [bytes.fromhex(h) for h in consistency["path"]])


def _leaves(database: Database) -> list[tuple[int, bytes]]:
    with database.session(readonly=True) as s:
        rows = s.execute(text("SELECT idx, hash FROM audit_nodes WHERE level = 0")).all()
    return [(int(i), bytes(h)) for i, h in rows]


def test_purge_and_range_export(database: Database, records: Records, runner: CliRunner,
                                tmp_path: Path) -> None:
    for n in range(4):
        records.write(record(n))
    url = _url(database)
    archive = tmp_path / "range.tar.gz"
    result = runner.invoke(audit_app, [*url, "export", str(archive), "--since", "2000-01-01"])
    assert result.exit_code == 0, result.output
    assert "range export of entries #0 to #3" in result.output
    verified = runner.invoke(audit_app, ["verify", str(archive), "--key",
                                         SIGNER.verifier.encode()])
    assert verified.exit_code == 0 and "OK: 4 entries" in verified.output
    assert runner.invoke(audit_app, [*url, "purge"]).output.startswith(
        "purged the payload of 0 entries and deleted ")
    assert runner.invoke(audit_app, [*url, "key"]).output.strip() == SIGNER.verifier.encode()


def _aged(n: int, days: int) -> RequestRecord:
    return record(n, created_at=datetime.now(UTC) - timedelta(days=days, seconds=-n))


def _stored(database: Database) -> int:
    with database.session(readonly=True) as s:
        return int(s.scalar(text("SELECT count(*) FROM request_records")) or 0)


def test_purge_logs_first_then_deletes_past_retention(
        database: Database, records: Records, runner: CliRunner, tmp_path: Path) -> None:
    for n, days in enumerate((300, 250, 200, 40, 1)):
        records.write(_aged(n, days))
    url = _url(database)
    held_back = runner.invoke(audit_app, [*url, "purge", "--no-publish"])
    assert held_back.exit_code == 0, held_back.output
    first, second = held_back.output.splitlines()
    assert first.startswith("purged the payload of 0 entries and deleted 0 request records "
                            "from before ")
    assert second.startswith("kept 3 request records from before ")
    assert "'synthguard audit ingest'" in second and _stored(database) == 5

    purged = runner.invoke(audit_app, [*url, "purge"])  # logs and signs, then deletes
    assert purged.exit_code == 0, purged.output
    assert "deleted 3 request records" in purged.output and "kept" not in purged.output
    assert _stored(database) == 2

    config = tmp_path / "synthguard.toml"
    for days, deleted in ((60, 0), (30, 1)):  # the configured retention
        config.write_text(f"[audit]\nretention_days = {days}\n")
        result = runner.invoke(audit_app, ["--config", str(config), *url, "purge"])
        assert f"deleted {deleted} request records" in result.output, result.output
    assert _stored(database) == 1
    assert "deleted 0 request records" in runner.invoke(
        audit_app, [*url, "purge", "--days", "365"]).output


def test_an_export_names_the_purged_entries(
        database: Database, records: Records, runner: CliRunner, tmp_path: Path) -> None:
    for n in range(6):
        records.write(record(n))
    audit = make_audit(database)
    audit.catch_up(records)
    later = next(audit.log.leaves(0, 1)).logged_at + timedelta(days=181)
    assert audit.log.purge(now=later).payloads == 6
    archive = tmp_path / "purged.tar.gz"
    exported = runner.invoke(audit_app, [*_url(database), "export", str(archive),
                                         "--since", "2000-01-01"])
    assert exported.exit_code == 0, exported.output
    assert "purged past retention (6 entries" in exported.output
    assert exported.output.rstrip().splitlines()[1].endswith(": #0 to #5")
    verified = runner.invoke(audit_app, ["verify", str(archive), "--key",
                                         SIGNER.verifier.encode()])
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith("OK: 6 entries (6 purged)")


@pytest.mark.parametrize("args", [
    ["verify"],
    ["verify", "x.tar.gz"],
    ["verify", "x.tar.gz", "--url", "http://127.0.0.1:9", "--key", "k"],
    ["proof"],
    ["export", "out.tar.gz", "--since", "last tuesday"],
])
def test_usage_errors_exit_2(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(audit_app, args)
    assert result.exit_code == 2


def test_bad_inputs_are_one_line_errors(database: Database, runner: CliRunner,
                                        tmp_path: Path) -> None:
    key = SIGNER.verifier.encode()
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    cases = [
        (["verify", "junk.tar.gz", "--key", key], 2, "not a readable archive"),
        (["verify", "missing.tar.gz", "--key", key], 2, "missing.tar.gz"),
        (["verify", "junk.tar.gz", "--key", "nonsense"], 2, "verifier key"),
        ([*_url(database), "checkpoint"], 1, "no checkpoint yet"),
        ([*_url(database), "proof", "--record-id", "f" * 32], 1, "not in the audit log"),
        ([*_url(database), "export", "out.tar.gz", "--no-publish"], 1, "publish one first"),
    ]
    for args, code, message in cases:
        result = runner.invoke(audit_app, args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output and "Traceback" not in result.output

"""`synthguard admin`: the main flow as a real process on SQLite and PostgreSQL; error
paths in process (Typer's runner) plus real-process checks that errors are one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from synthguard.accounts import Accounts
from synthguard.accounts.cli import admin_app
from synthguard.config import Config
from synthguard.store import Database

SECRET_HEX = "5a" * 32


def admin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNTHGUARD_SECRET": SECRET_HEX}
    env.pop("SYNTHGUARD_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "synthguard.accounts.cli", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def ok_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("synthguard admin: error: ")
    return lines[0]


def test_admin_flow_as_a_process(database_url: str, tmp_path: Path) -> None:
    url = ["--database-url", database_url, "--json"]
    org = ok_json(admin(*url, "org", "create", "Acme 公司", cwd=tmp_path))["org_id"]
    user = ok_json(admin(*url, "user", "create", "--org", org, "Han Meimei", "--verified",
                         "--evidence", "ticket-9", cwd=tmp_path))["user_id"]
    made = admin(*url, "key", "create", "--user", user, "--scope", "chat", "--scope", "images",
                 "--rate-limit", "5", cwd=tmp_path)
    key = ok_json(made)
    assert "shown again" in made.stderr
    assert key["scopes"] == ["chat", "images"] and key["rate_limit_per_min"] == 5

    # The library, with the same secret, accepts the key the CLI printed.
    db = Database(database_url)
    accounts = Accounts(db, Config(secret=bytes.fromhex(SECRET_HEX), producer_code=""))
    ctx = accounts.authenticate(key["key"])
    assert ctx is not None and ctx.verified and ctx.user_id == user
    assert (ctx.scopes, ctx.rate_limit_per_min) == (frozenset({"chat", "images"}), 5)

    # State and revocation through the same app in process (the process wiring is
    # covered above and below; each process start costs about a second).
    runner = CliRunner(env={"SYNTHGUARD_SECRET": SECRET_HEX})
    changed = runner.invoke(admin_app, [*url, "user", "state", user, "suspended", "--reason",
                                        "manual review", "--actor", "admin:alice"])
    assert json.loads(changed.stdout) == {"user_id": user, "from_state": "active",
                                          "to_state": "suspended"}
    revoked = runner.invoke(admin_app, [*url, "key", "revoke", key["key_id"]])
    assert json.loads(revoked.stdout)["revoked"]
    assert accounts.authenticate(key["key"]) is None
    db.dispose()

    shown = admin(*url, "user", "show", user, cwd=tmp_path)
    info = ok_json(shown)
    assert key["key"] not in shown.stdout
    assert (info["org_id"], info["state"], info["verified"], info["verification_method"],
            info["verification_evidence"]) == (org, "suspended", True, "admin", "ticket-9")
    assert [(h["from_state"], h["to_state"], h["reason"], h["actor"]) for h in info["history"]] == [
        (None, "active", "account created", info["history"][0]["actor"]),
        ("active", "suspended", "manual review", "admin:alice")]
    assert info["history"][0]["actor"].startswith("admin")
    assert [(k["key_id"], k["revoked_by"] is not None) for k in info["keys"]] == [
        (key["key_id"], True)]


def test_errors_are_one_line_from_a_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert one_line_error(admin("--database-url", url, "user", "show", "usr_nope",
                                cwd=tmp_path)).endswith("no user 'usr_nope'")
    # Nothing listens on port 1: the connection failure is one line too.
    unreachable = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=5"
    assert "database error" in one_line_error(
        admin("--database-url", unreachable, "org", "create", "x", cwd=tmp_path))


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTHGUARD_SECRET", SECRET_HEX)
    monkeypatch.delenv("SYNTHGUARD_CONFIG", raising=False)
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'admin.db'}"

    def invoke(*args: str) -> Any:
        return runner.invoke(admin_app, ["--database-url", url, *args])
    return invoke


def _error(result: Any) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthguard admin: error: "), result.stderr
    return str(lines[0])


def test_closed_accounts_need_reopen(run: Any) -> None:
    org = run("org", "create", "Acme").stdout.strip()
    user = run("user", "create", "--org", org, "Li Lei").stdout.strip()
    assert run("user", "state", user, "closed", "--reason", "left").exit_code == 0
    assert "--reopen" in _error(run("user", "state", user, "active", "--reason", "back"))
    done = run("user", "state", user, "active", "--reason", "back", "--reopen")
    assert done.exit_code == 0 and done.stdout.strip() == f"{user}: closed -> active"
    shown = run("user", "show", user).stdout
    assert "state     active" in shown and "verified  no" in shown
    assert "closed -> active" in shown and ": back" in shown


@pytest.mark.parametrize("args, message", [
    (("user", "create", "--org", "org_nope", "x"), "no organisation 'org_nope'"),
    (("user", "state", "usr_nope", "warned", "--reason", "r"), "no user 'usr_nope'"),
    (("key", "create", "--user", "usr_nope"), "no user 'usr_nope'"),
    (("key", "revoke", "key_nope"), "no key 'key_nope'"),
    (("org", "create", " "), "organisation name must not be empty"),
])
def test_bad_requests(run: Any, args: tuple[str, ...], message: str) -> None:
    assert _error(run(*args)).endswith(message)


def test_bad_state_scope_and_reason(run: Any) -> None:
    org = run("org", "create", "Acme").stdout.strip()
    user = run("user", "create", "--org", org, "Li Lei").stdout.strip()
    assert "unknown account state 'frozen'" in _error(
        run("user", "state", user, "frozen", "--reason", "r"))
    assert "reason must not be empty" in _error(run("user", "state", user, "warned",
                                                    "--reason", ""))
    assert "scope 'Chat'" in _error(run("key", "create", "--user", user, "--scope", "Chat"))
    assert "rate limit" in _error(run("key", "create", "--user", user, "--rate-limit", "0"))
    assert run("user", "state", user, "warned").exit_code == 2  # --reason is required


def test_plain_output_and_key_listing(run: Any) -> None:
    org = run("org", "create", "Acme").stdout.strip()
    user = run("user", "create", "--org", org, "Li Lei", "--verified").stdout.strip()
    made = run("key", "create", "--user", user).stdout.splitlines()
    key_id, key = made[0].split()[1], made[1].split()[1]
    assert key.startswith("sg-")
    shown = run("user", "show", user).stdout
    assert f"{key_id}  audio chat images  60/min  active" in shown
    assert "verified  yes (admin," in shown and key not in shown


def test_config_file_and_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNTHGUARD_SECRET", raising=False)
    monkeypatch.delenv("SYNTHGUARD_DATABASE_URL", raising=False)
    config = tmp_path / "sg.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path}/from-config.db"\n'
                      f'secret_file = "{tmp_path}/keys/secret"\n', encoding="utf-8")
    result = CliRunner().invoke(admin_app, ["--config", str(config), "org", "create", "A"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-config.db").exists() and (tmp_path / "keys" / "secret").exists()
    bad = CliRunner().invoke(admin_app, ["--config", str(tmp_path / "none.toml"), "org",
                                         "create", "A"])
    assert "cannot read config" in _error(bad)

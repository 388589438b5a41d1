"""`synthguard console operator ...` with Typer's runner on a SQLite file: create (the
password from the environment), list, change roles and password, disable and enable;
bad input is one line on stderr with exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from synthguard.console.cli import PASSWORD_ENV, console_app
from synthguard.console.operators import Operators
from synthguard.store import Database

PASSWORD = "a long operator password"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SYNTHGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "SYNTHGUARD_SECRET": "00" * 32, PASSWORD_ENV: PASSWORD}


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(console_app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_operator_lifecycle(env: dict[str, str]) -> None:
    code, out, _ = run(env, "operator", "create", "root", "--role", "admin")
    assert code == 0 and "operator root created (admin)" in out
    assert run(env, "operator", "create", "li", "--role", "reviewer", "--role",
               "auditor")[0] == 0
    code, out, _ = run(env, "operator", "list")
    assert out.splitlines() == ["li\tauditor reviewer\tactive", "root\tadmin\tactive"]
    assert run(env, "operator", "roles", "li", "--role", "complaint_handler")[0] == 0
    new_env = {**env, PASSWORD_ENV: "another long password"}
    assert run(new_env, "operator", "password", "li")[0] == 0
    assert run(env, "operator", "disable", "li")[0] == 0
    db = Database(env["SYNTHGUARD_DATABASE_URL"])
    ops = Operators(db)
    assert ops.authenticate("li", "another long password") is None  # disabled
    assert run(env, "operator", "enable", "li")[0] == 0
    li = ops.authenticate("li", "another long password")
    assert li is not None and {r.value for r in li.roles} == {"complaint_handler"}
    db.dispose()


def test_errors_are_one_line(env: dict[str, str]) -> None:
    for args in (("operator", "create", "x", "--role", "root"),
                 ("operator", "disable", "nobody")):
        code, _, err = run(env, *args)
        assert code == 1 and err.count("\n") == 1 and err.startswith("synthguard console: ")
    code, _, err = run({**env, PASSWORD_ENV: "short"}, "operator", "create", "y", "--role",
                       "admin")
    assert code == 1 and "at least 12 characters" in err

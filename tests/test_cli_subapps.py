"""The service sub-commands mounted on the main `synthguard` command: one real process
(`python -m synthguard`, as a user runs it), the rest through Typer's runner."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from synthguard.cli import app


def test_identity_help_runs_as_a_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "synthguard", "identity", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "check-number" in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.parametrize(("name", "command"), [
    ("identity", "rotate-keys"), ("consent", "revoke"), ("audit", "checkpoint"),
    ("admin", "user"), ("moderation", "check"), ("governance", "complaints"),
    ("governance", "switches")])
def test_sub_app_help(name: str, command: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert command in result.output


def test_top_level_help_lists_the_sub_apps() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("identity", "consent", "audit", "admin", "moderation", "governance", "serve"):
        assert name in result.output

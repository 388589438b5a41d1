"""`synthguard serve --demo` (and `make demo`): the gateway on SQLite with the offline demo
backends, a demo organisation, a verified demo user and an API key, ready to call.

The demo database is created afresh on each start, so the printed key is the only one
and the records in it are this session's. The demo's watermark key and SM2 signing key
are made under the work folder on first use and kept, so images and speech carry the
robust watermark and a signed label, and `synthguard inspect` finds them later with
the same files (the banner prints the settings).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from synthguard.accounts import Accounts
from synthguard.config import DEMO_MODEL, Config, ReviewRuleSpec
from synthguard.store import Database

# A rule the demo shows a block with; real deployments configure their own rule list.
DEMO_RULE = ReviewRuleSpec(id="DEMO-001", category="demo", pattern="forbidden-demo-word")
DEMO_WORD_DELAY_S = 0.03  # the demo text generator streams like a model would


@dataclass(frozen=True)
class DemoSetup:
    config: Config
    database: Database
    org_id: str
    user_id: str
    api_key: str
    key_files: dict[str, str] = field(default_factory=dict)  # SYNTHGUARD_* settings


def prepare_demo(workdir: Path) -> DemoSetup:
    """A fresh demo database under `workdir` with an organisation, a real-name verified
    user and an API key for every scope."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "synthguard.db"
    for leftover in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        leftover.unlink(missing_ok=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("SYNTHGUARD_") or key == "SYNTHGUARD_SECRET"}
    key_files = _demo_keys(workdir)
    env.update({"SYNTHGUARD_DEMO": "true", "SYNTHGUARD_DATABASE_URL": f"sqlite:///{db_path}",
                "SYNTHGUARD_SECRET_FILE": str(workdir / "secret"), **key_files})
    config = Config.load(None, env)
    if not config.review_rules:
        config = dataclasses.replace(config, review_rules=(DEMO_RULE,))
    database = Database(config.database_url)
    database.migrate()
    accounts = Accounts(database, config)
    org_id = accounts.create_org("Demo organisation")
    user_id = accounts.create_user(org_id, "Demo user", actor="demo")
    # The demo stands in for a completed real-name check; the evidence id says so.
    accounts.mark_verified(user_id, "demo", "demo-setup")
    _, api_key = accounts.issue_key(user_id, rate_limit_per_min=600)
    return DemoSetup(config, database, org_id, user_id, api_key, key_files)


def _demo_keys(workdir: Path) -> dict[str, str]:
    """The demo's watermark and signing key files (made once), as settings."""
    from synthguard.labels.keyfile import watermark_key_text, write_private
    from synthguard.labels.security import SigningKey

    watermark, signing = workdir / "watermark-keys.toml", workdir / "signing.key"
    if not watermark.exists():
        write_private(watermark, watermark_key_text(1))
    if not signing.exists():
        write_private(signing, f"{SigningKey.generate().scalar:064x}\n")
    return {"SYNTHGUARD_WATERMARK_KEYS_FILE": str(watermark),
            "SYNTHGUARD_SIGNING_KEY_FILE": str(signing)}


def instructions(setup: DemoSetup, base_url: str) -> str:
    """What the demo prints: a curl line and a Python snippet that work as printed."""
    body = json.dumps({"model": DEMO_MODEL,
                       "messages": [{"role": "user", "content": "Tell me about rivers."}]})
    curl = (f"curl -s {base_url}/v1/chat/completions "
            f"-H {shlex.quote('Authorization: Bearer ' + setup.api_key)} "
            f"-H 'Content-Type: application/json' -d {shlex.quote(body)}")
    python = "\n".join([
        f"{shlex.quote(sys.executable)} - <<'EOF'",
        "from openai import OpenAI",
        f'client = OpenAI(base_url="{base_url}/v1", api_key="{setup.api_key}")',
        "stream = client.chat.completions.create(",
        f'    model="{DEMO_MODEL}", stream=True,',
        '    messages=[{"role": "user", "content": "Tell me about rivers."}])',
        "for chunk in stream:",
        '    print(chunk.choices[0].delta.content or "", end="", flush=True)',
        "print()",
        "EOF",
    ])
    rule = setup.config.review_rules[0]
    check = " ".join(f"{name}={shlex.quote(value)}" for name, value in setup.key_files.items())
    return "\n".join([
        f"SynthGuard gateway (demo) on {base_url}",
        f"  database     {setup.config.database_url}",
        f"  organisation {setup.org_id}",
        f"  user         {setup.user_id} (real-name verified for the demo)",
        f"  API key      {setup.api_key}   (shown once; stored only as a keyed hash)",
        f"  model        {DEMO_MODEL} (offline demo: text, images, speech)",
        f"  producer     {setup.config.producer_code} (ContentProducer in every label)",
        "",
        "Chat with curl:",
        f"  {curl}",
        "",
        "Stream with the openai Python client:",
        python,
        "",
        f"A prompt containing {rule.pattern!r} is blocked by review rule {rule.id}.",
        "Images and speech carry the robust watermark (payload: the record id) and an "
        "SM2-signed label; check a saved file with:",
        f"  {check} {shlex.quote(sys.executable)} -m synthguard inspect FILE",
        "Press Ctrl+C to stop.",
    ])


def run_demo_server(workdir: Path, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Set up the demo, print how to call it, and serve until interrupted."""
    from synthguard.gateway.server import serve

    setup = prepare_demo(workdir)
    print(instructions(setup, f"http://{host}:{port}"), flush=True)
    serve(setup.config, host, port, demo_delay_s=DEMO_WORD_DELAY_S, database=setup.database)

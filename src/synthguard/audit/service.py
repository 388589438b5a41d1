"""The audit service as the gateway and the CLI use it: settings, the log, the
checkpoint publisher, and the background task that ties them together.

Settings come from `Config.audit` (the `[audit]` table of the config file, with
`SYNTHGUARD_AUDIT_*` environment overrides; see synthguard.config):

- `origin`: the log's name in checkpoints, also the key name
  (default `synthguard.invalid/audit/<producer code>`).
- the Ed25519 signer key: `SYNTHGUARD_AUDIT_KEY` (`PRIVATE+KEY+...`, or a 32-byte seed
  in hex or base64), never the config file; else `key_file` (default `var/audit-key`),
  created with mode 0600 on first use like the server secret.
- `retention_days` (default 180: the Cybersecurity Law's six months; less is allowed
  and warned about): request records and entry payloads older than that are purged
  (see `retention`).
- `checkpoint_interval_s` (default 60).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from synthguard.accounts.records import Records
from synthguard.audit.errors import AuditAlarm
from synthguard.audit.log import DEFAULT_RETENTION, AuditLog
from synthguard.audit.note import NoteError, NoteSigner
from synthguard.audit.publisher import Checkpointer
from synthguard.config import (
    ENV_PREFIX,
    Config,
    ConfigError,
    _create_secret_file,
    decode_secret,
)
from synthguard.store.db import Database

DEFAULT_INTERVAL_S = 60.0
PURGE_EVERY_S = 3600.0

log = logging.getLogger("synthguard.audit")


@dataclass(frozen=True)
class AuditSettings:
    origin: str
    signer: NoteSigner = field(repr=False)
    retention: timedelta = DEFAULT_RETENTION
    checkpoint_interval_s: float = DEFAULT_INTERVAL_S

    @classmethod
    def load(cls, config: Config, env: Mapping[str, str] = os.environ) -> AuditSettings:
        """The settings of `config.audit`. The key: `config.audit.key` (what
        `Config.load` read from `SYNTHGUARD_AUDIT_KEY`), else `SYNTHGUARD_AUDIT_KEY` in
        `env` (a Config built in code still takes the key a deployment gives by
        environment), else `config.audit.key_file`, created on first use."""
        audit = config.audit
        origin = audit.origin or (
            "synthguard.invalid/audit" + (f"/{config.producer_code}" if config.producer_code
                                          else ""))
        key_text = audit.key or env.get(ENV_PREFIX + "AUDIT_KEY", "").strip()
        where = ENV_PREFIX + "AUDIT_KEY"
        if not key_text:
            path = audit.key_file
            if not path.exists():
                _create_secret_file(path)  # 32 random bytes, hex, mode 0600
            try:
                key_text = path.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read the audit key: {exc}") from None
            where = str(path)
        return cls(origin=origin, signer=_signer(key_text, origin, where),
                   retention=timedelta(days=audit.retention_days),
                   checkpoint_interval_s=audit.checkpoint_interval_s)


def _signer(text: str, origin: str, where: str) -> NoteSigner:
    text = text.strip()
    try:
        if text.startswith("PRIVATE+KEY+"):
            return NoteSigner.parse(text)
        seed = decode_secret(text, where)
        if len(seed) != 32:
            raise ConfigError(f"{where}: an Ed25519 seed is exactly 32 bytes")
        return NoteSigner(origin, seed)
    except NoteError as exc:
        raise ConfigError(f"{where}: {exc}") from None


class Audit:
    """One audit log with its checkpoint publisher; share one per process (the
    gateway keeps it as `app.state.audit`)."""

    def __init__(self, db: Database, config: Config, settings: AuditSettings | None = None
                 ) -> None:
        self.settings = settings or AuditSettings.load(config)
        if self.settings.retention < DEFAULT_RETENTION:
            log.warning("audit retention is below 180 days", extra={
                "event": "audit_retention_short", "days": self.settings.retention.days})
        self.log = AuditLog(db, config.secret, retention=self.settings.retention)
        self.checkpoints = Checkpointer(self.log, self.settings.signer, self.settings.origin)

    @property
    def verifier_key(self) -> str:
        """The public key a verifier needs (`<name>+<key id>+<base64 key>`)."""
        return self.checkpoints.verifier.encode()

    def catch_up(self, records: Records) -> None:
        """Ingest records the log has not seen, then sign a checkpoint over them."""
        self.log.ingest_records(records)
        self.checkpoints.publish()

    async def run_background(self, records: Records, stop: asyncio.Event) -> None:
        """Until `stop` is set: every checkpoint interval, ingest the records not yet
        logged and publish a checkpoint; every hour, apply retention (`AuditLog.purge`:
        old payloads, and old request records the log holds), only in a round whose
        ingest and checkpoint succeeded. Failures are logged and retried next round (an
        alarm is logged at CRITICAL)."""
        loop = asyncio.get_running_loop()
        next_purge = 0.0
        while not stop.is_set():
            try:
                await loop.run_in_executor(None, self.catch_up, records)
                if loop.time() >= next_purge:
                    await loop.run_in_executor(None, self.log.purge)
                    next_purge = loop.time() + PURGE_EVERY_S
            except AuditAlarm:
                pass  # logged at CRITICAL where it was raised
            except Exception as exc:
                log.error("audit background round failed", extra={
                    "event": "audit_background_failed", "error": type(exc).__name__})
            try:
                await asyncio.wait_for(stop.wait(), self.settings.checkpoint_interval_s)
            except TimeoutError:
                pass

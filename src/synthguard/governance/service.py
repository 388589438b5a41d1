"""All governance services over one database, as the gateway and the CLI hold them.

    governance = Governance(database, config)          # settings from the environment
    app.state.governance = governance                   # what http.router reads

The audit log, when the process has one, makes regulator exports carry its checkpoint
and proofs: `Governance(database, config, audit=audit)`. A long-running process runs
`run_background(stop)` to send complaint reminders and escalate passed deadlines
(`synthguard governance complaints sweep` does the same from cron).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from synthguard.accounts import Accounts, RateLimiter
from synthguard.audit.service import Audit
from synthguard.config import Config
from synthguard.governance.auth import ApiKeyOperators, OperatorAuthenticator
from synthguard.governance.complaints import ComplaintDesk
from synthguard.governance.flow import FlowDocument, processing_flow
from synthguard.governance.policies import Policies
from synthguard.governance.registry import Registry
from synthguard.governance.reports import AuditLogEvidence, RegulatorReports
from synthguard.governance.rumors import RumorLibrary
from synthguard.governance.settings import GovernanceSettings
from synthguard.governance.switches import Switches
from synthguard.identity.numbers import CHINA_TZ
from synthguard.store import Database

SWEEP_INTERVAL_S = 300.0
log = logging.getLogger("synthguard.governance")


class Governance:
    def __init__(self, db: Database, config: Config,
                 settings: GovernanceSettings | None = None, *, accounts: Accounts | None = None,
                 audit: Audit | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings or GovernanceSettings.load()
        self.config = config
        self.database = db
        timed: dict[str, Any] = {"clock": clock} if clock is not None else {}
        self._clock = clock or (lambda: datetime.now(UTC))
        self.accounts = accounts or Accounts(db, config, **timed)
        self.rumors = RumorLibrary(db, self.settings.rumors, **timed)
        self.complaints = ComplaintDesk(db, config.secret, self.settings.complaints,
                                        self.settings.calendar, accounts=self.accounts,
                                        rumors=self.rumors, protection=config.protection,
                                        **timed)
        self.registry = Registry(db, **timed)
        self.policies = Policies(db, **timed)
        self.switches = Switches(db, **timed)
        self.reports = RegulatorReports(
            db, self.settings.report_key, self.settings.calendar, rumors=self.rumors,
            switches=self.switches, audit=AuditLogEvidence(audit) if audit else None, **timed)
        self.operators: OperatorAuthenticator = ApiKeyOperators(self.accounts)
        self.limiter = RateLimiter()  # public forms, per client address

    def flow(self, today: date | None = None) -> FlowDocument:
        """The published processing flow and deadlines, from the configuration."""
        today = today or self._clock().astimezone(CHINA_TZ).date()
        return processing_flow(self.settings.complaints, self.settings.calendar, today=today)

    async def run_background(self, stop: asyncio.Event,
                             interval_s: float = SWEEP_INTERVAL_S) -> None:
        """Until `stop` is set: sweep the complaint deadlines every `interval_s`, logging
        each alert (ids and deadlines only). A failed round is logged and retried."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                for alert in await loop.run_in_executor(None, self.complaints.sweep):
                    log.warning("complaint deadline", extra={
                        "event": "complaint_deadline", "complaint_id": alert.complaint_id,
                        "deadline": alert.deadline, "urgency": alert.urgency,
                        "escalated": alert.escalated})
            except Exception as exc:
                log.error("complaint sweep failed", extra={
                    "event": "complaint_sweep_failed", "error": type(exc).__name__})
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass

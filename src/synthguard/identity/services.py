"""All identity and consent services over one database, built from configuration.

The HTTP routers find this object at `request.app.state.identity`; the CLI builds one
per command. Plug-ins not given explicitly come from `IdentitySettings`: HTTP adapters
for the configured vendor URLs, and in demo mode (`config.demo`) the development SMS
sender that writes codes to the server log.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from synthguard.accounts import Accounts
from synthguard.config import Config
from synthguard.consent.service import ConsentService
from synthguard.identity.adapters import (
    DevelopmentSmsSender,
    HttpNetworkIdentityVerifier,
    HttpOrganisationVerifier,
    HttpPersonVerifier,
    HttpSmsSender,
    NetworkIdentityVerifier,
    OrganisationVerifier,
    PersonVerifier,
    SmsSender,
)
from synthguard.identity.otp import OneTimeCodes
from synthguard.identity.settings import IdentitySettings
from synthguard.identity.vault import Keyring, PurgeReport, Vault
from synthguard.identity.verification import VerificationService
from synthguard.store.db import Database


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class IdentityServices:
    database: Database
    config: Config
    settings: IdentitySettings
    accounts: Accounts
    vault: Vault
    codes: OneTimeCodes
    verification: VerificationService
    consent: ConsentService

    @classmethod
    def build(cls, config: Config, database: Database,
              settings: IdentitySettings | None = None, *, sms: SmsSender | None = None,
              person: PersonVerifier | None = None,
              organisation: OrganisationVerifier | None = None,
              network: NetworkIdentityVerifier | None = None,
              clock: Callable[[], datetime] = _utcnow) -> IdentityServices:
        settings = settings if settings is not None else IdentitySettings.from_env(os.environ)
        if sms is None and settings.sms is not None:
            sms = HttpSmsSender(settings.sms)
        elif sms is None and config.demo:
            sms = DevelopmentSmsSender(demo=True)
        if person is None and settings.person_verifier is not None:
            person = HttpPersonVerifier(settings.person_verifier, settings.person_method)
        if organisation is None and settings.organisation_verifier is not None:
            organisation = HttpOrganisationVerifier(settings.organisation_verifier)
        if network is None and settings.network_identity is not None:
            network = HttpNetworkIdentityVerifier(settings.network_identity)
        accounts = Accounts(database, config, clock=clock)
        vault = Vault(Keyring(config.secret, settings.vault_keys, settings.vault_active_key),
                      clock)
        codes = OneTimeCodes(database, vault, sms, settings, config.secret, clock)
        verification = VerificationService(database, accounts, vault, codes, settings,
                                           person=person, organisation=organisation,
                                           network=network, clock=clock)
        consent = ConsentService(database, vault, codes, settings, clock)
        return cls(database, config, settings, accounts, vault, codes, verification, consent)

    def close(self) -> None:
        """Close the HTTP adapters' connection pools (the app's shutdown)."""
        for plugin in (self.codes.sender, *self.verification.plugins):
            close = getattr(plugin, "close", None)
            if callable(close):
                close()

    def purge(self) -> PurgeReport:
        """The retention job: personal data of accounts closed longer than the retention
        period, stale codes, and vault entries nothing references."""
        return self.vault.purge(self.database, timedelta(days=self.settings.retention_days))

    def rotate_keys(self) -> int:
        """Re-seal every vault entry under the active key."""
        return self.vault.rotate(self.database)

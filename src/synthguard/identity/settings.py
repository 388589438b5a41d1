"""Settings of the identity service, from `SYNTHGUARD_*` environment variables.

The shared `Config` has no identity section yet, so these are read here; every value has
a default that makes a demo install work with no set-up. Credentials are only ever read
from the environment, never from a file in the repository.

- `SYNTHGUARD_VAULT_KEYS`: `id:key,id:key`, AES-256 keys (hex or base64, 32 bytes);
  default one key `k0` derived from the server secret.
- `SYNTHGUARD_VAULT_ACTIVE_KEY`: the key id new values are sealed with (default: the
  last listed). Keep retired keys listed until `synthguard identity rotate-keys` ran.
- `SYNTHGUARD_IDENTITY_RETENTION_DAYS`: days personal data is kept after an account is
  closed (180).
- `SYNTHGUARD_IDENTITY_MAX_ACCOUNTS`: open accounts one phone, ID number or network
  identity may verify (1).
- `SYNTHGUARD_SMS_URL` + `SYNTHGUARD_SMS_CREDENTIAL`: the SMS gateway. Without it codes
  are only "sent" in demo mode, to the server log.
- `SYNTHGUARD_PERSON_VERIFIER_URL` + `..._CREDENTIAL` + `..._METHOD`: ID number + name
  checks; method `operator_three_element` (default) or `ekyc`.
- `SYNTHGUARD_ORG_VERIFIER_URL` + `..._CREDENTIAL`: organisation registry by credit code.
- `SYNTHGUARD_NETWORK_IDENTITY_URL` + `..._CREDENTIAL`: national network identity service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast, get_args
from urllib.parse import urlsplit

from synthguard.config import ConfigError, decode_secret

PersonMethod = Literal["operator_three_element", "ekyc"]
KEY_ID = re.compile(r"[a-z0-9_-]{1,16}")
AES_KEY_BYTES = 32
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class VendorEndpoint:
    """A third-party service reached over HTTPS (plain HTTP only on loopback, for local
    stand-ins): personal data must not cross a network in the clear."""

    url: str
    credential: str = field(repr=False)
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(f"vendor URL {self.url!r} must be an http(s) URL")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise ConfigError(f"vendor URL {self.url!r} must use https (personal data)")
        if not self.credential:
            raise ConfigError(f"vendor URL {self.url!r} needs a credential")
        if self.timeout_s <= 0:
            raise ConfigError("vendor timeout must be > 0")


@dataclass(frozen=True, kw_only=True)
class IdentitySettings:
    vault_keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    vault_active_key: str = ""
    retention_days: int = 180
    max_accounts_per_identity: int = 1
    otp_ttl_s: int = 300
    otp_max_attempts: int = 5
    otp_resend_interval_s: int = 60
    otp_max_sends_per_hour: int = 5
    otp_code_digits: int = 6
    identity_checks_per_day: int = 5  # paid, and each one probes someone's identity data
    consent_max_days: int = 3 * 365
    sms: VendorEndpoint | None = None
    person_verifier: VendorEndpoint | None = None
    person_method: PersonMethod = "operator_three_element"
    organisation_verifier: VendorEndpoint | None = None
    network_identity: VendorEndpoint | None = None

    def __post_init__(self) -> None:
        for key_id, key in self.vault_keys.items():
            if not KEY_ID.fullmatch(key_id):
                raise ConfigError(f"vault key id {key_id!r}: 1-16 of a-z 0-9 _ -")
            if len(key) != AES_KEY_BYTES:
                raise ConfigError(f"vault key {key_id!r} is {len(key)} bytes, need 32")
        if self.vault_keys and self.vault_active_key not in self.vault_keys:
            raise ConfigError(f"vault active key {self.vault_active_key!r} is not configured")
        if self.person_method not in get_args(PersonMethod):
            raise ConfigError(f"person verifier method must be one of {get_args(PersonMethod)}")
        for name in ("retention_days", "max_accounts_per_identity", "otp_ttl_s",
                     "otp_max_attempts", "otp_max_sends_per_hour", "identity_checks_per_day",
                     "consent_max_days"):
            if getattr(self, name) < (0 if name == "retention_days" else 1):
                raise ConfigError(f"identity setting {name} is out of range")
        if self.otp_resend_interval_s < 0 or not 4 <= self.otp_code_digits <= 10:
            raise ConfigError("otp_resend_interval_s must be >= 0, otp_code_digits 4..10")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IdentitySettings:
        def get(name: str) -> str:
            return env.get("SYNTHGUARD_" + name, "").strip()

        def number(name: str, default: int) -> int:
            text = get(name)
            if not text:
                return default
            try:
                return int(text)
            except ValueError:
                raise ConfigError(f"SYNTHGUARD_{name} must be a whole number") from None

        def endpoint(prefix: str) -> VendorEndpoint | None:
            url = get(prefix + "_URL")
            if not url:
                return None
            credential = get(prefix + "_CREDENTIAL")
            if not credential:
                raise ConfigError(f"SYNTHGUARD_{prefix}_URL is set but "
                                  f"SYNTHGUARD_{prefix}_CREDENTIAL is not")
            return VendorEndpoint(url, credential)

        keys = _parse_keys(get("VAULT_KEYS"))
        return cls(
            vault_keys=keys, vault_active_key=get("VAULT_ACTIVE_KEY") or next(reversed(keys), ""),
            retention_days=number("IDENTITY_RETENTION_DAYS", 180),
            max_accounts_per_identity=number("IDENTITY_MAX_ACCOUNTS", 1),
            sms=endpoint("SMS"), person_verifier=endpoint("PERSON_VERIFIER"),
            person_method=cast(PersonMethod,
                               get("PERSON_VERIFIER_METHOD") or "operator_three_element"),
            organisation_verifier=endpoint("ORG_VERIFIER"),
            network_identity=endpoint("NETWORK_IDENTITY"))


def _parse_keys(text: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, material = item.partition(":")
        if not sep:
            raise ConfigError("SYNTHGUARD_VAULT_KEYS entries are id:key")
        key = decode_secret(material, f"SYNTHGUARD_VAULT_KEYS[{key_id}]")
        keys[key_id.strip()] = key
    return keys

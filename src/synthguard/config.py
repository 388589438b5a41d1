"""Service configuration: an optional TOML file, then `SYNTHGUARD_*` environment overrides.

The file holds no secrets: the server secret comes from `SYNTHGUARD_SECRET` (hex or
base64, at least 32 bytes) or from `secret_file` (default `var/secret`), which is created
with mode 0600 on first use so that a demo install needs no set-up. Upstream API keys are
named by environment variable (`api_key_env`), never written in the file. Relative paths
(the SQLite file, the secret file, the moderation library) are relative to the working
directory.

```toml
database_url = "postgresql+psycopg://synthguard@db/synthguard"
producer_code = "001191110108MA01A0A00310001"
notice = "本内容由人工智能生成"
notice_position = "start"          # start | end | both
review_window_chars = 80
block_consecutive = 3              # 0 turns the rule off
block_per_day = 5                  # blocked inputs in any 24 hours; 0 turns it off
moderation_library = "var/library.jsonl"  # feature library; default: the shipped starter

[backends."gpt-4o"]
kind = "openai"
base_url = "https://upstream.example/v1"
api_key_env = "UPSTREAM_API_KEY"
upstream_model = "gpt-4o-2024-08-06"

[[review_rules]]
id = "R-001"
category = "violence"
pattern = "..."
regex = false
```

Content protection (`labels.protect`: watermark, signed labels, C2PA) is read by the
gateway, the `label`/`mark`/`inspect` commands and `synthguard.label()`. Keys are named
by file (or given by environment variable), never written in this file:

```toml
watermark = "auto"                 # auto | require | off
watermark_strength = 1.0
watermark_keys_file = "/etc/synthguard/watermark-keys.toml"  # id = "hex" lines, first marks
signing_key_file = "/etc/synthguard/sm2.key"   # SM2 private key: 64 hex digits or OpenSSL PEM
trusted_keys = ["3059301306…"]     # SM2 public keys that inspection pins (SPKI DER hex)
c2pa_cert_file = "/etc/synthguard/c2pa-chain.pem"   # leaf first
c2pa_key_file = "/etc/synthguard/c2pa-key.pem"
c2pa_alg = "es256"
c2pa_trust_anchors_file = "/etc/synthguard/c2pa-anchors.pem"
```

`SYNTHGUARD_WATERMARK_KEYS` ("ID:HEX,ID:HEX", the first marks new content) and
`SYNTHGUARD_SIGNING_KEY` (hex) give the keys themselves and win over the files;
`SYNTHGUARD_TRUSTED_KEYS` is a comma-separated list.

The audit log (`synthguard.audit`: checkpoints, proofs, retention) has its own table.
Its Ed25519 checkpoint key is never written here: it comes from `SYNTHGUARD_AUDIT_KEY`
(`PRIVATE+KEY+...`, or a 32-byte seed in hex or base64) or from `key_file`, created
with mode 0600 on first use like the server secret:

```toml
[audit]
origin = "ai.example.com/audit"    # the log's name in checkpoints; default
                                   # synthguard.invalid/audit/<producer code>
key_file = "/etc/synthguard/audit-key"     # default var/audit-key
retention_days = 180               # request records and entry payloads; below 180
                                   # (the Cybersecurity Law's six months) is warned about
checkpoint_interval_s = 60
```

Each has an environment override: `SYNTHGUARD_AUDIT_ORIGIN`, `SYNTHGUARD_AUDIT_KEY_FILE`,
`SYNTHGUARD_AUDIT_RETENTION_DAYS`, `SYNTHGUARD_AUDIT_CHECKPOINT_INTERVAL_S`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import re
import secrets
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

from synthguard.errors import SynthGuardError
from synthguard.explicit.text import Position
from synthguard.explicit.wording import DEFAULT_ZH, NoticeError, check_notice
from synthguard.labels.aigc import provider_code_problem
from synthguard.labels.protect import Protection, WatermarkMode

ENV_PREFIX = "SYNTHGUARD_"
DEFAULT_DATABASE_URL = "sqlite:///var/synthguard.db"
DEFAULT_SECRET_FILE = "var/secret"
DEFAULT_AUDIT_KEY_FILE = "var/audit-key"
DEFAULT_RETENTION_DAYS = 180  # the Cybersecurity Law's six months of logs
DEMO_MODEL = "synthguard-demo"
MIN_SECRET_BYTES = 32
BackendKind = Literal["demo", "openai"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class ConfigError(SynthGuardError):
    """A configuration value is missing or wrong; the message names where it came from."""

    code = "config_error"


@dataclass(frozen=True)
class BackendRoute:
    """Where requests for one public model name go."""

    kind: BackendKind
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    upstream_model: str | None = None  # None: the public model name
    timeout_s: float = 60
    connect_retries: int = 2

    def __post_init__(self) -> None:
        if self.kind not in get_args(BackendKind):
            raise ConfigError(f"backend kind {self.kind!r} is not one of {get_args(BackendKind)}")
        if self.kind == "openai" and not self.base_url:
            raise ConfigError("an openai backend needs base_url")
        if self.timeout_s <= 0 or self.connect_retries < 0:
            raise ConfigError("backend timeout_s must be > 0 and connect_retries >= 0")


@dataclass(frozen=True)
class ReviewRuleSpec:
    """One rule for the built-in keyword/regex reviewer."""

    id: str
    category: str
    pattern: str
    regex: bool = False

    def __post_init__(self) -> None:
        if not self.id or not self.pattern:
            raise ConfigError("a review rule needs an id and a pattern")
        if self.regex:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ConfigError(f"review rule {self.id}: bad regex: {exc}") from None


@dataclass(frozen=True)
class AuditConfig:
    """The audit log's settings (`synthguard.audit.service` turns them into a signer)."""

    origin: str = ""  # "": synthguard.invalid/audit/<producer code>
    key_file: Path = Path(DEFAULT_AUDIT_KEY_FILE)
    retention_days: int = DEFAULT_RETENTION_DAYS
    checkpoint_interval_s: float = 60.0
    # The checkpoint key's text from SYNTHGUARD_AUDIT_KEY (never from the file);
    # None: read key_file.
    key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problem = _audit_problem(self.origin, self.retention_days, self.checkpoint_interval_s)
        if problem:
            raise ConfigError(f"audit.{problem[0]}: {problem[1]}")


def _audit_problem(origin: str, retention_days: int, checkpoint_interval_s: float
                   ) -> tuple[str, str] | None:
    """(setting, what is wrong) for the first bad audit value, else None."""
    if origin and not re.fullmatch(r"[^\s+]+", origin):
        return "origin", "must have no spaces or '+' (it names the checkpoint key)"
    if retention_days < 1:
        return "retention_days", "must be at least 1"
    if not (math.isfinite(checkpoint_interval_s) and checkpoint_interval_s > 0):
        return "checkpoint_interval_s", "must be a number above 0"
    return None


def _default_backends() -> dict[str, BackendRoute]:
    return {DEMO_MODEL: BackendRoute(kind="demo")}


@dataclass(frozen=True, kw_only=True)
class Config:
    database_url: str = DEFAULT_DATABASE_URL
    secret: bytes = field(repr=False)
    # The provider's 27-character TC260 code (ContentProducer). Empty only in a Config
    # loaded for admin tools (`require_producer=False`), which never write labels.
    producer_code: str
    notice: str = DEFAULT_ZH
    notice_position: Position = "start"
    review_window_chars: int = 80
    block_consecutive: int = 3
    block_per_day: int = 5
    backends: dict[str, BackendRoute] = field(default_factory=_default_backends)
    review_rules: tuple[ReviewRuleSpec, ...] = ()
    # The feature library (.jsonl or .csv, docs/feature-library.md) the gateway's
    # moderation engine reviews with; None: the starter library shipped in the package.
    moderation_library: Path | None = None
    # Watermark keys, signing key and C2PA credentials for image and audio outputs.
    protection: Protection = field(default_factory=Protection)
    # The audit log: checkpoint origin and key, retention, checkpoint interval.
    audit: AuditConfig = field(default_factory=AuditConfig)
    demo: bool = False

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ConfigError(f"secret must be at least {MIN_SECRET_BYTES} bytes")
        if self.producer_code:
            problem = provider_code_problem(self.producer_code)
            if problem:
                raise ConfigError(f"producer_code: {problem}")
        try:
            check_notice(self.notice)
        except NoticeError as exc:
            raise ConfigError(f"notice: {exc}") from None
        if self.notice_position not in get_args(Position):
            raise ConfigError(f"notice_position must be one of {get_args(Position)}")
        if self.review_window_chars < 1:
            raise ConfigError("review_window_chars must be at least 1")
        if self.block_consecutive < 0 or self.block_per_day < 0:
            raise ConfigError("block_consecutive and block_per_day must be >= 0 (0 = off)")
        if (self.moderation_library is not None
                and self.moderation_library.suffix.lower() not in (".jsonl", ".csv")):
            raise ConfigError(f"moderation_library {self.moderation_library}: expected a "
                              ".jsonl or .csv file")

    @classmethod
    def load(cls, path: Path | None = None, env: Mapping[str, str] = os.environ, *,
             require_producer: bool = True) -> Config:
        """Read `path` (or `$SYNTHGUARD_CONFIG`; neither: embedded defaults), then apply
        the environment. `require_producer=False` is for admin tools only."""
        if path is None and env.get(ENV_PREFIX + "CONFIG"):
            path = Path(env[ENV_PREFIX + "CONFIG"])
        source = _Source(_read_toml(path) if path else {}, env, str(path) if path else "")
        demo = source.get("demo", _as_bool, False)
        producer = source.get("producer_code", _as_str, "")
        if not producer and demo:
            producer = _demo_producer_code()
        if not producer and require_producer:
            raise ConfigError("producer_code is not configured (set it in the config file or "
                              "SYNTHGUARD_PRODUCER_CODE; demo = true uses a demo code)")
        values: dict[str, Any] = {
            "database_url": source.get("database_url", _as_str, DEFAULT_DATABASE_URL),
            "secret": _load_secret(env.get(ENV_PREFIX + "SECRET"),
                                   Path(source.get("secret_file", _as_str, DEFAULT_SECRET_FILE))),
            "producer_code": producer,
            "notice": source.get("notice", _as_str, DEFAULT_ZH),
            "notice_position": source.get("notice_position", _as_str, "start"),
            "review_window_chars": source.get("review_window_chars", _as_int, 80),
            "block_consecutive": source.get("block_consecutive", _as_int, 3),
            "block_per_day": source.get("block_per_day", _as_int, 5),
            "demo": demo,
            "moderation_library": _optional_path(source.get("moderation_library", _as_str, "")),
            "review_rules": tuple(_review_rule(r, source.where("review_rules"))
                                  for r in source.table_list("review_rules")),
            "protection": _protection(source),
            "audit": _audit(source),
        }
        backends = source.tables("backends")
        if backends:
            values["backends"] = {name: _backend(spec, env, source.where(f"backends.{name}"))
                                  for name, spec in backends.items()}
        return cls(**values)


_PROTECTION_KEYS = {"watermark", "watermark_strength", "watermark_keys_file",
                    "signing_key_file", "trusted_keys", "c2pa_cert_file", "c2pa_key_file",
                    "c2pa_alg", "c2pa_trust_anchors_file"}
_KNOWN_KEYS = {"database_url", "secret_file", "producer_code", "notice", "notice_position",
               "review_window_chars", "block_consecutive", "block_per_day", "demo",
               "backends", "review_rules", "moderation_library", "audit", *_PROTECTION_KEYS}
_AUDIT_KEYS = {"origin", "key_file", "retention_days", "checkpoint_interval_s"}


def load_protection(path: Path | None = None, env: Mapping[str, str] = os.environ
                    ) -> Protection:
    """Only the content-protection settings of the configuration (`path`, else
    `$SYNTHGUARD_CONFIG`, then the environment): what `label`, `mark` and `inspect`
    need, without the server secret or a database. With nothing configured, an empty
    `Protection` (the label alone)."""
    if path is None and env.get(ENV_PREFIX + "CONFIG"):
        path = Path(env[ENV_PREFIX + "CONFIG"])
    return _protection(_Source(_read_toml(path) if path else {}, env,
                               str(path) if path else ""))


def _protection(source: _Source) -> Protection:
    from synthguard.labels.c2pa import C2paCredentials
    from synthguard.labels.security import SigningKey, parse_public_key
    from synthguard.watermark.keys import KeyRing

    try:
        keys_env = source.env.get(ENV_PREFIX + "WATERMARK_KEYS", "").strip()
        keys_file = source.get("watermark_keys_file", _as_str, "")
        ring = None
        if keys_env:
            ring = KeyRing.from_config(_key_pairs(keys_env, ENV_PREFIX + "WATERMARK_KEYS"))
        elif keys_file:
            ring = KeyRing.from_config(cast(dict[str | int, str],
                                            _read_toml(_key_file(Path(keys_file)))))
        signing_env = source.env.get(ENV_PREFIX + "SIGNING_KEY", "").strip()
        signing_file = source.get("signing_key_file", _as_str, "")
        signing = None
        if signing_env:
            signing = SigningKey.from_hex(signing_env)
        elif signing_file:
            signing = SigningKey.from_bytes(_read_bytes(_key_file(Path(signing_file))))
        no_keys: list[str] = []
        trusted = source.get("trusted_keys", _as_str_list, no_keys)
        for key in trusted:
            parse_public_key(key)
        cert, key_pem = (source.get(k, _as_str, "") for k in ("c2pa_cert_file", "c2pa_key_file"))
        credentials = None
        if bool(cert) != bool(key_pem):
            raise ConfigError("c2pa_cert_file and c2pa_key_file go together")
        if cert:
            credentials = C2paCredentials(_read_bytes(Path(cert)),
                                          _read_bytes(_key_file(Path(key_pem))),
                                          alg=source.get("c2pa_alg", _as_str, "es256"))
        anchors_file = source.get("c2pa_trust_anchors_file", _as_str, "")
        return Protection(
            watermark_keys=ring,
            watermark=cast(WatermarkMode, source.get("watermark", _as_str, "auto")),
            strength=source.get("watermark_strength", _as_float, 1.0),
            signing_key=signing, c2pa=credentials,
            c2pa_trust_anchors=_read_bytes(Path(anchors_file)) if anchors_file else None,
            trusted_keys=tuple(trusted))
    except ConfigError:
        raise
    except SynthGuardError as exc:
        where = source.file or "configuration"
        raise ConfigError(f"{where}: {exc}") from None


def _audit(source: _Source) -> AuditConfig:
    if isinstance(source.data.get("audit"), dict) and "key" in source.data["audit"]:
        raise ConfigError(f"{source.where('audit.key')}: the audit key does not go in the "
                          f"config file; use key_file or {ENV_PREFIX}AUDIT_KEY")
    audit = source.table("audit", _AUDIT_KEYS)
    key_file = audit.get("key_file", _as_str, DEFAULT_AUDIT_KEY_FILE)
    if not key_file.strip():
        raise ConfigError(f"{audit.named('key_file')}: must name a file")
    origin = audit.get("origin", _as_str, "")
    days = audit.get("retention_days", _as_int, DEFAULT_RETENTION_DAYS)
    interval = audit.get("checkpoint_interval_s", _as_float, 60.0)
    problem = _audit_problem(origin, days, interval)
    if problem:
        raise ConfigError(f"{audit.named(problem[0])}: {problem[1]}")
    return AuditConfig(origin=origin, key_file=Path(key_file), retention_days=days,
                       checkpoint_interval_s=interval,
                       key=source.env.get(ENV_PREFIX + "AUDIT_KEY", "").strip() or None)


def _key_pairs(text: str, where: str) -> dict[str | int, str]:
    """"ID:HEX,ID:HEX" as the {id: hex} mapping KeyRing.from_config reads, in order."""
    pairs: dict[str | int, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, secret = item.partition(":")
        if not sep:
            raise ConfigError(f"{where}: expected ID:HEX pairs separated by commas")
        if key_id.strip() in pairs:
            raise ConfigError(f"{where}: watermark key id {key_id.strip()} is configured twice")
        pairs[key_id.strip()] = secret.strip()
    return pairs


def _key_file(path: Path) -> Path:
    """A file holding a private key: it must exist, and should be private."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read key file: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("key file is readable by other users", extra={"path": str(path)})
    return path


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


class _Source:
    """Values from the file, overridden by `SYNTHGUARD_<KEY>` environment variables; in
    a table (`prefix="audit."`), `SYNTHGUARD_<TABLE>_<KEY>`."""

    def __init__(self, data: dict[str, Any], env: Mapping[str, str], file: str, *,
                 prefix: str = "", known: set[str] = _KNOWN_KEYS) -> None:
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{file}: unknown setting {prefix + unknown[0]!r}")
        self.data, self.env, self.file, self.prefix = data, env, file, prefix

    def where(self, key: str) -> str:
        return f"{self.file}: {self.prefix}{key}"

    def _env_name(self, key: str) -> str:
        return ENV_PREFIX + (self.prefix + key).replace(".", "_").upper()

    def named(self, key: str) -> str:
        """Where `key`'s value came from: its environment variable, else the file."""
        env_name = self._env_name(key)
        return env_name if self.env.get(env_name) else self.where(key)

    def table(self, key: str, known: set[str]) -> _Source:
        """The values of table [key] (absent: none), with their own overrides."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where(key)}: expected a table [{self.prefix}{key}]")
        return _Source(value, self.env, self.file, prefix=f"{self.prefix}{key}.", known=known)

    def get(self, key: str, convert: Callable[[Any, str], T], default: T) -> T:
        env_name = self._env_name(key)
        if self.env.get(env_name):
            return convert(_from_env(self.env[env_name], convert), env_name)
        if key in self.data:
            return convert(self.data[key], self.where(key))
        return default

    def tables(self, key: str) -> dict[str, dict[str, Any]]:
        value = self.data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
            raise ConfigError(f"{self.where(key)}: expected tables like [{key}.NAME]")
        return value

    def table_list(self, key: str) -> list[dict[str, Any]]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"{self.where(key)}: expected an array of tables [[{key}]]")
        return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _from_env(text: str, convert: Callable[[Any, str], Any]) -> Any:
    """Environment values are text; the file's are typed, and stay strictly so."""
    if convert is _as_int:
        try:
            return int(text.strip())
        except ValueError:
            return text
    if convert is _as_float:
        try:
            return float(text.strip())
        except ValueError:
            return text
    if convert is _as_str_list:
        return [part.strip() for part in text.split(",") if part.strip()]
    if convert is _as_bool:
        word = text.strip().lower()
        return {"1": True, "true": True, "yes": True, "0": False, "false": False,
                "no": False}.get(word, text)
    return text


def _as_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string")
    return value


def _as_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected a whole number")
    return value


def _as_float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number")
    return float(value)


def _as_str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return value


def _optional_path(text: str) -> Path | None:
    return Path(text) if text else None


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected true or false")


def _backend(spec: dict[str, Any], env: Mapping[str, str], where: str) -> BackendRoute:
    unknown = sorted(set(spec) - {"kind", "base_url", "api_key_env", "upstream_model",
                                  "timeout_s", "connect_retries"})
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r} (keys go in api_key_env)")
    api_key = None
    if "api_key_env" in spec:
        name = _as_str(spec["api_key_env"], f"{where}.api_key_env")
        api_key = env.get(name)
        if not api_key:
            raise ConfigError(f"{where}: environment variable {name} (api_key_env) is not set")
    try:
        return BackendRoute(
            kind=cast(BackendKind, _as_str(spec.get("kind"), f"{where}.kind")),
            base_url=_as_str(spec["base_url"], f"{where}.base_url") if "base_url" in spec else None,
            api_key=api_key,
            upstream_model=(_as_str(spec["upstream_model"], f"{where}.upstream_model")
                            if "upstream_model" in spec else None),
            timeout_s=_as_float(spec.get("timeout_s", 60), f"{where}.timeout_s"),
            connect_retries=_as_int(spec.get("connect_retries", 2), f"{where}.connect_retries"))
    except ConfigError as exc:
        if str(exc).startswith(where):
            raise
        raise ConfigError(f"{where}: {exc}") from None


def _review_rule(spec: dict[str, Any], where: str) -> ReviewRuleSpec:
    return ReviewRuleSpec(id=_as_str(spec.get("id"), f"{where}.id"),
                          category=_as_str(spec.get("category", "other"), f"{where}.category"),
                          pattern=_as_str(spec.get("pattern"), f"{where}.pattern"),
                          regex=_as_bool(spec.get("regex", False), f"{where}.regex"))


def _demo_producer_code() -> str:
    # Imported here: the demo module pulls in Pillow, which only a demo install needs.
    from synthguard.demo import DEMO_USCC
    from synthguard.labels.aigc import provider_code

    return provider_code(DEMO_USCC, service="1", model_code="0001")


def decode_secret(text: str, where: str) -> bytes:
    """The secret from its hex or base64 text form."""
    text = text.strip()
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", text):
        secret = bytes.fromhex(text)
    else:
        try:
            secret = base64.b64decode(text.replace("-", "+").replace("_", "/")
                                      + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{where}: secret is neither hex nor base64") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"{where}: secret is {len(secret)} bytes, need {MIN_SECRET_BYTES}")
    return secret


def _load_secret(env_value: str | None, path: Path) -> bytes:
    if env_value:
        return decode_secret(env_value, ENV_PREFIX + "SECRET")
    if not path.exists():
        _create_secret_file(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read secret: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("secret file is readable by other users", extra={"path": str(path)})
    return decode_secret(text, str(path))


def _create_secret_file(path: Path) -> None:
    """Write a new random secret, mode 0600, without ever exposing a half-written file:
    write a private temporary file, then hard-link it into place, which fails (and we
    keep the other's) if a concurrent process got there first."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (secrets.token_hex(MIN_SECRET_BYTES) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
            log.info("generated a new server secret", extra={"path": str(path)})
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create secret file: {exc.strerror or exc}") from None

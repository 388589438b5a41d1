"""Settings of the governance services: a TOML file of their own, plus the signing key.

The shared `Config` file rejects keys it does not know, so governance reads its own
file, named by `SYNTHGUARD_GOVERNANCE_CONFIG` (none: the defaults below, which make a
demo install work). The file holds no secrets. The Ed25519 key that signs regulator
archives comes from `SYNTHGUARD_GOVERNANCE_REPORT_KEY` (a 32-byte seed, hex or base64)
or from `SYNTHGUARD_GOVERNANCE_REPORT_KEY_FILE` (default `var/governance-report-key`),
created with mode 0600 on first use like the server secret.

```toml
[calendar]                      # or: calendar_file = "holidays-2026.toml"
holidays = ["2025-10-01..2025-10-08"]
makeup_workdays = ["2025-09-28", "2025-10-11"]

[complaints]
acknowledge_days = 1            # working days
answer_days = 5
remind_before_hours = 24        # a reminder when a deadline is this close
max_evidence_bytes = 20971520
max_evidence_files = 5
evidence_formats = ["jpeg", "png", "webp", "gif", "mp4", "mp3", "wav", "pdf"]
evidence_dir = "var/evidence"
submissions_per_minute = 5      # per client address, public form
status_lookups_per_minute = 30

[complaints.answer_days_by_category]
personal_information = 15       # the 15-working-day rule for personal-information requests

[rumors]
threshold = 0.5                 # overlap score of the near-duplicate search
action = "notice"               # notice | block (a claim may override)

[reports]
dir = "var/reports"
```
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from synthguard.config import ENV_PREFIX, ConfigError, _create_secret_file, decode_secret
from synthguard.governance.calendar import WorkingCalendar
from synthguard.governance.errors import GovernanceError
from synthguard.labels.carriers import CARRIERS

RumorAction = Literal["notice", "block"]
CONFIG_ENV = ENV_PREFIX + "GOVERNANCE_CONFIG"
KEY_ENV = ENV_PREFIX + "GOVERNANCE_REPORT_KEY"
KEY_FILE_ENV = ENV_PREFIX + "GOVERNANCE_REPORT_KEY_FILE"
DEFAULT_KEY_FILE = "var/governance-report-key"
# Formats the label inspector reads that evidence may come in: pictures, sound and
# video, and PDF/plain text for screenshots and transcripts.
DEFAULT_EVIDENCE_FORMATS = ("jpeg", "png", "webp", "gif", "tiff", "heif", "mp4", "matroska",
                            "wav", "avi", "flv", "flac", "ogg", "mp3", "pdf", "text")


@dataclass(frozen=True)
class ComplaintSettings:
    acknowledge_days: int = 1
    answer_days: int = 5
    answer_days_by_category: Mapping[str, int] = field(
        default_factory=lambda: {"personal_information": 15})
    remind_before_hours: float = 24
    max_evidence_bytes: int = 20 * 1024 * 1024
    max_evidence_files: int = 5
    evidence_formats: tuple[str, ...] = DEFAULT_EVIDENCE_FORMATS
    evidence_dir: Path = Path("var/evidence")
    submissions_per_minute: int = 5
    status_lookups_per_minute: int = 30

    def __post_init__(self) -> None:
        days = [self.acknowledge_days, self.answer_days, *self.answer_days_by_category.values()]
        if any(not 0 < d <= 60 for d in days):
            raise ConfigError("complaint deadlines must be 1..60 working days")
        if any(d < self.acknowledge_days for d in days):
            raise ConfigError("an answer deadline cannot be shorter than acknowledge_days")
        if self.remind_before_hours < 0 or self.max_evidence_bytes < 1 \
                or self.max_evidence_files < 0:
            raise ConfigError("remind_before_hours, max_evidence_bytes and "
                              "max_evidence_files must not be negative")
        if self.submissions_per_minute < 1 or self.status_lookups_per_minute < 1:
            raise ConfigError("rate limits must be at least 1 per minute")
        unknown = sorted(set(self.evidence_formats) - set(CARRIERS))
        if unknown:
            raise ConfigError(f"evidence format {unknown[0]!r} is not one the label inspector "
                              f"reads ({', '.join(CARRIERS)})")

    def answer_days_for(self, category: str) -> int:
        return self.answer_days_by_category.get(category, self.answer_days)


@dataclass(frozen=True)
class RumorSettings:
    threshold: float = 0.5
    action: RumorAction = "notice"

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ConfigError("rumors.threshold must be in (0, 1]")
        if self.action not in get_args(RumorAction):
            raise ConfigError(f"rumors.action must be one of {get_args(RumorAction)}")


@dataclass(frozen=True)
class GovernanceSettings:
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    complaints: ComplaintSettings = field(default_factory=ComplaintSettings)
    rumors: RumorSettings = field(default_factory=RumorSettings)
    reports_dir: Path = Path("var/reports")
    report_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate,
                                          repr=False)

    @classmethod
    def load(cls, env: Mapping[str, str] = os.environ, path: Path | None = None
             ) -> GovernanceSettings:
        """From `path` (or `$SYNTHGUARD_GOVERNANCE_CONFIG`; neither: defaults)."""
        if path is None and env.get(CONFIG_ENV):
            path = Path(env[CONFIG_ENV])
        data = _read(path) if path else {}
        where = str(path) if path else "governance settings"
        _only(data, {"calendar", "calendar_file", "complaints", "rumors", "reports"}, where)
        try:
            if "calendar_file" in data:
                calendar_path = Path(_typed(data["calendar_file"], str, f"{where}: calendar_file"))
                if path is not None and not calendar_path.is_absolute():
                    calendar_path = path.parent / calendar_path
                calendar = WorkingCalendar.load(calendar_path)
            else:
                calendar = WorkingCalendar.from_mapping(_table(data, "calendar", where),
                                                        f"{where}: calendar")
        except GovernanceError as exc:
            raise ConfigError(str(exc)) from None
        reports = _table(data, "reports", where)
        _only(reports, {"dir"}, f"{where}: reports")
        return cls(calendar=calendar,
                   complaints=_complaints(_table(data, "complaints", where), where),
                   rumors=_rumors(_table(data, "rumors", where), where),
                   reports_dir=Path(_typed(reports.get("dir", "var/reports"), str,
                                           f"{where}: reports.dir")),
                   report_key=load_report_key(env))


def load_report_key(env: Mapping[str, str] = os.environ) -> Ed25519PrivateKey:
    """The archive signing key: from the environment, else the key file (made on first use)."""
    text, where = env.get(KEY_ENV), KEY_ENV
    if not text:
        path = Path(env.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE)
        if not path.exists():
            _create_secret_file(path)  # 32 random bytes as hex, mode 0600
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the report key: {exc}") from None
        where = str(path)
    seed = decode_secret(text, where)
    if len(seed) != 32:
        raise ConfigError(f"{where}: an Ed25519 seed is exactly 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read governance settings: "
                          f"{exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _only(data: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}")


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _typed(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{where}: expected {getattr(kind, '__name__', 'a number')}")
    return value


def _complaints(data: dict[str, Any], where: str) -> ComplaintSettings:
    where = f"{where}: complaints"
    defaults = ComplaintSettings()
    ints = ("acknowledge_days", "answer_days", "max_evidence_bytes", "max_evidence_files",
            "submissions_per_minute", "status_lookups_per_minute")
    _only(data, {*ints, "answer_days_by_category", "remind_before_hours", "evidence_formats",
                 "evidence_dir"}, where)
    values: dict[str, Any] = {k: _typed(data[k], int, f"{where}.{k}") for k in ints if k in data}
    if "remind_before_hours" in data:
        values["remind_before_hours"] = float(_typed(data["remind_before_hours"],
                                                     (int, float), f"{where}.remind_before_hours"))
    if "answer_days_by_category" in data:
        table = _table(data, "answer_days_by_category", where)
        values["answer_days_by_category"] = {
            str(k): _typed(v, int, f"{where}.answer_days_by_category.{k}")
            for k, v in table.items()}
    if "evidence_formats" in data:
        formats = data["evidence_formats"]
        if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
            raise ConfigError(f"{where}.evidence_formats: expected a list of format names")
        values["evidence_formats"] = tuple(formats)
    if "evidence_dir" in data:
        values["evidence_dir"] = Path(_typed(data["evidence_dir"], str, f"{where}.evidence_dir"))
    try:
        return ComplaintSettings(**{**vars(defaults), **values})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _rumors(data: dict[str, Any], where: str) -> RumorSettings:
    where = f"{where}: rumors"
    _only(data, {"threshold", "action"}, where)
    threshold = float(_typed(data.get("threshold", 0.5), (int, float), f"{where}.threshold"))
    action = _typed(data.get("action", "notice"), str, f"{where}.action")
    try:
        return RumorSettings(threshold, cast(RumorAction, action))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None

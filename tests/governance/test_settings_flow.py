"""Governance settings (file, calendar file, signing key) and the published processing
flow generated from them."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import pytest

from synthguard.config import ConfigError
from synthguard.governance.calendar import WorkingCalendar
from synthguard.governance.flow import CATEGORY_LABELS, KIND_LABELS, processing_flow
from synthguard.governance.models import CATEGORIES, COMPLAINT_KINDS
from synthguard.governance.settings import ComplaintSettings, GovernanceSettings
from tests.governance.conftest import NATIONAL_DAY_2025


def _load(tmp_path: Path, text: str, **env: str) -> GovernanceSettings:
    path = tmp_path / "governance.toml"
    path.write_text(text)
    return GovernanceSettings.load(
        {"SYNTHGUARD_GOVERNANCE_REPORT_KEY_FILE": str(tmp_path / "key"), **env}, path)


def test_file_with_a_calendar_file(tmp_path: Path) -> None:
    (tmp_path / "holidays.json").write_text(json.dumps(NATIONAL_DAY_2025))
    settings = _load(tmp_path, 'calendar_file = "holidays.json"\n[complaints]\n'
                     'answer_days = 7\nevidence_formats = ["png", "mp4"]\n'
                     "remind_before_hours = 4.5\n[complaints.answer_days_by_category]\n"
                     "rumor = 3\n[rumors]\nthreshold = 0.6\naction = \"block\"\n"
                     '[reports]\ndir = "out"\n')
    assert settings.calendar == WorkingCalendar.from_mapping(NATIONAL_DAY_2025)
    complaints = settings.complaints
    assert complaints.answer_days_for("rumor") == 3 and complaints.answer_days_for("other") == 7
    assert complaints.evidence_formats == ("png", "mp4") and complaints.remind_before_hours == 4.5
    assert settings.rumors.action == "block" and settings.reports_dir == Path("out")


def test_defaults_need_no_file(tmp_path: Path) -> None:
    settings = GovernanceSettings.load({"SYNTHGUARD_GOVERNANCE_REPORT_KEY_FILE":
                                        str(tmp_path / "key")})
    assert settings.complaints.answer_days_for("personal_information") == 15
    assert settings.complaints.acknowledge_days == 1 and settings.calendar == WorkingCalendar()


@pytest.mark.parametrize("text, message", [
    ("colour = 1\n", "unknown setting 'colour'"),
    ("[complaints]\nanswer_days = \"five\"\n", "expected int"),
    ("[complaints]\nanswer_days = 0\n", "1..60"),
    ("[complaints]\nacknowledge_days = 3\nanswer_days = 2\n", "shorter"),
    ("[complaints]\nevidence_formats = [\"exe\"]\n", "'exe' is not one"),
    ("[rumors]\naction = \"delete\"\n", "rumors.action"),
    ("[rumors]\nthreshold = 2\n", "threshold"),
    ("[calendar]\nholidays = [\"soon\"]\n", "not an ISO date"),
    ("calendar_file = \"missing.toml\"\n", "cannot read"),
    ("not toml [", "not valid TOML"),
])
def test_bad_settings(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)


def test_report_key_from_environment_or_a_private_file(tmp_path: Path) -> None:
    first = _load(tmp_path, "").report_key
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600
    again = _load(tmp_path, "").report_key
    assert first.private_bytes_raw() == again.private_bytes_raw()
    pinned = _load(tmp_path, "", SYNTHGUARD_GOVERNANCE_REPORT_KEY="07" * 32).report_key
    assert pinned.private_bytes_raw() == bytes([7]) * 32
    with pytest.raises(ConfigError, match="16 bytes, need 32"):
        _load(tmp_path, "", SYNTHGUARD_GOVERNANCE_REPORT_KEY="07" * 16)


def test_flow_is_generated_from_the_settings() -> None:
    settings = ComplaintSettings(acknowledge_days=2, answer_days=6,
                                 answer_days_by_category={"personal_information": 15,
                                                          "rumor": 3},
                                 max_evidence_files=4, evidence_formats=("png", "mp4"))
    calendar = WorkingCalendar.from_mapping(NATIONAL_DAY_2025)
    flow = processing_flow(settings, calendar, today=date(2025, 6, 1))
    assert set(CATEGORY_LABELS) == set(CATEGORIES) and set(KIND_LABELS) == set(COMPLAINT_KINDS)
    days = {c.category: c.answer_working_days for c in flow.categories}
    assert days == {**dict.fromkeys(CATEGORIES, 6), "personal_information": 15, "rumor": 3}
    assert [s.deadline_working_days for s in flow.steps if s.deadline_working_days] == [2, 6]
    assert flow.holidays[0] == "2025-10-01" and flow.makeup_workdays == ("2025-09-28",
                                                                         "2025-10-11")
    markdown = flow.to_markdown()
    assert "| 个人信息权益请求 (Personal-information requests) | 15 |" in markdown
    assert "每件最多 4 个文件" in markdown and "png, mp4" in markdown
    assert flow.to_dict()["acknowledge_working_days"] == 2
    # Another year lists none of 2025's dates.
    assert processing_flow(settings, calendar, today=date(2027, 1, 1)).holidays == ()

"""The working-day calendar: weekends, configured holidays, make-up working days, and
deadlines in China time (the National Day week of 2025 as the worked example)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from synthguard.governance.calendar import WorkingCalendar
from synthguard.governance.errors import GovernanceError
from tests.governance.conftest import NATIONAL_DAY_2025

CN = timezone(timedelta(hours=8))
PLAIN = WorkingCalendar()
GOLDEN_WEEK = WorkingCalendar.from_mapping(NATIONAL_DAY_2025)


def test_weekends_are_skipped() -> None:
    friday = date(2025, 6, 6)
    assert PLAIN.add_working_days(friday, 1) == date(2025, 6, 9)  # Monday
    assert PLAIN.add_working_days(friday, 5) == date(2025, 6, 13)
    assert PLAIN.add_working_days(date(2025, 6, 7), 1) == date(2025, 6, 9)  # from Saturday
    assert PLAIN.add_working_days(friday, 0) == friday
    assert PLAIN.working_days_between(friday, date(2025, 6, 13)) == 5


def test_national_day_week_with_make_up_days() -> None:
    assert not GOLDEN_WEEK.is_working_day(date(2025, 10, 1))  # Wednesday, holiday
    assert GOLDEN_WEEK.is_working_day(date(2025, 9, 28))  # Sunday, worked
    assert GOLDEN_WEEK.is_working_day(date(2025, 10, 11))  # Saturday, worked
    assert not GOLDEN_WEEK.is_working_day(date(2025, 10, 12))  # a plain Sunday
    # From Tuesday 30 September: 9 Oct (Thu), 10 (Fri), 11 (Sat, make-up), 13, 14.
    tuesday = date(2025, 9, 30)
    assert [GOLDEN_WEEK.add_working_days(tuesday, n) for n in range(1, 6)] == [
        date(2025, 10, 9), date(2025, 10, 10), date(2025, 10, 11), date(2025, 10, 13),
        date(2025, 10, 14)]
    # Saturday 27 September: the next working day is the make-up Sunday.
    assert GOLDEN_WEEK.add_working_days(date(2025, 9, 27), 1) == date(2025, 9, 28)
    # The same dates without the configuration: the weekend rule alone.
    assert PLAIN.add_working_days(tuesday, 1) == date(2025, 10, 1)


def test_deadline_counts_from_the_day_after_in_china_time() -> None:
    received = datetime(2025, 9, 30, 15, 0, tzinfo=CN)
    assert GOLDEN_WEEK.deadline(received, 1) == datetime(2025, 10, 10, tzinfo=CN)
    assert GOLDEN_WEEK.deadline(received, 5) == datetime(2025, 10, 15, tzinfo=CN)
    assert GOLDEN_WEEK.deadline(received, 15) == datetime(2025, 10, 29, tzinfo=CN)
    # 16:30 UTC on the 29th is already 00:30 on the 30th in China: the same day counts.
    late_utc = datetime(2025, 9, 29, 16, 30, tzinfo=UTC)
    assert GOLDEN_WEEK.deadline(late_utc, 1) == datetime(2025, 10, 10, tzinfo=CN)
    early_utc = datetime(2025, 9, 29, 15, 30, tzinfo=UTC)  # 23:30 on the 29th in China
    assert GOLDEN_WEEK.deadline(early_utc, 1) == datetime(2025, 10, 1, tzinfo=CN)


def test_working_days_left() -> None:
    due = GOLDEN_WEEK.deadline(datetime(2025, 9, 30, 15, 0, tzinfo=CN), 5)  # ends 14 Oct
    assert GOLDEN_WEEK.working_days_left(datetime(2025, 9, 30, 16, tzinfo=CN), due) == 5
    assert GOLDEN_WEEK.working_days_left(datetime(2025, 10, 3, 9, tzinfo=CN), due) == 5
    assert GOLDEN_WEEK.working_days_left(datetime(2025, 10, 14, 23, 59, tzinfo=CN), due) == 0
    assert GOLDEN_WEEK.working_days_left(datetime(2025, 10, 15, 0, 0, tzinfo=CN), due) == -1
    assert GOLDEN_WEEK.working_days_left(datetime(2025, 10, 17, 9, tzinfo=CN), due) == -3


def test_load_from_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "calendar.toml"
    toml.write_text('holidays = [2025-10-01, "2025-10-02..2025-10-08"]\n'
                    'makeup_workdays = ["2025-09-28", 2025-10-11]\n')
    as_json = tmp_path / "calendar.json"
    as_json.write_text(json.dumps(NATIONAL_DAY_2025))
    assert WorkingCalendar.load(toml) == WorkingCalendar.load(as_json) == GOLDEN_WEEK
    assert GOLDEN_WEEK.listed(2025)["makeup_workdays"] == ["2025-09-28", "2025-10-11"]
    assert len(GOLDEN_WEEK.listed(2025)["holidays"]) == 8 and GOLDEN_WEEK.listed(2026) == {
        "holidays": [], "makeup_workdays": []}


@pytest.mark.parametrize("data, message", [
    ({"holidays": ["2025-10-01"], "makeup_workdays": ["2025-10-01"]}, "both"),
    ({"holidays": ["2025-10-08..2025-10-01"]}, "backwards"),
    ({"holidays": ["1 October"]}, "not an ISO date"),
    ({"holidays": "2025-10-01"}, "list of dates"),
    ({"vacations": []}, "unknown key"),
])
def test_bad_calendars_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(GovernanceError, match=message):
        WorkingCalendar.from_mapping(data)


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(GovernanceError, match="working days"):
        PLAIN.add_working_days(date(2025, 1, 1), -1)
    with pytest.raises(GovernanceError, match="timezone-aware"):
        PLAIN.deadline(datetime(2025, 1, 1), 1)
    with pytest.raises(GovernanceError, match="cannot read"):
        WorkingCalendar.load(tmp_path / "missing.toml")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(GovernanceError, match="expected an object"):
        WorkingCalendar.load(tmp_path / "bad.json")

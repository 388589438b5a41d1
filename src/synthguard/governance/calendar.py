"""The working-day calendar that complaint deadlines count in (Provisions Art. 12).

A day is a working day when it is a Monday to Friday that is not a configured public
holiday, or when it is a configured make-up working day (调休: the Saturday or Sunday the
State Council moves a working day to, next to a long holiday). The State Council
publishes each year's list in the autumn before; operators load it from a TOML or JSON
file (`WorkingCalendar.load`), so no holiday is guessed here.

Deadlines are counted in China Standard Time, the legal time of the complaint: the day a
complaint arrives is not counted (the usual rule for periods, 期间开始的当日不计入), and a
deadline of n working days ends at midnight after the n-th working day that follows.
China has kept UTC+8 without daylight saving since 1991, so the fixed offset is exactly
Asia/Shanghai without depending on the system's time zone database.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from synthguard.governance.errors import invalid
from synthguard.identity.numbers import CHINA_TZ

# Long enough for any real deadline (the longest legal one is 15 working days), short
# enough that a mistyped count cannot make a loop run for long.
MAX_WORKING_DAYS = 3660
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    makeup_workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        both = sorted(self.holidays & self.makeup_workdays)
        if both:
            raise invalid(f"{both[0].isoformat()} is listed both as a holiday and as a "
                          "make-up working day", "calendar")

    def is_working_day(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (`start` itself is not counted); n = 0 gives
        `start`."""
        if not 0 <= n <= MAX_WORKING_DAYS:
            raise invalid(f"working days must be 0..{MAX_WORKING_DAYS}, not {n}", "calendar")
        day = start
        while n:
            day += _ONE_DAY
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        days, day = 0, start
        while day < end:
            day += _ONE_DAY
            days += self.is_working_day(day)
        return days

    def deadline(self, received_at: datetime, working_days: int) -> datetime:
        """The instant a deadline of `working_days` passes for something received at
        `received_at`: midnight, China time, after the n-th working day that follows the
        day of receipt. Returned in China time (timezone-aware)."""
        if received_at.tzinfo is None:
            raise invalid("received_at must be timezone-aware", "calendar")
        local_day = received_at.astimezone(CHINA_TZ).date()
        last_day = self.add_working_days(local_day, working_days)
        return datetime.combine(last_day + _ONE_DAY, time(0), CHINA_TZ)

    def working_days_left(self, now: datetime, due_at: datetime) -> int:
        """Whole working days from today (China time) until the deadline's last day:
        0 on the last day itself, negative once it has passed."""
        today = now.astimezone(CHINA_TZ).date()
        last_day = (due_at.astimezone(CHINA_TZ) - timedelta(microseconds=1)).date()
        if now >= due_at:
            return -max(1, self.working_days_between(last_day, today))
        return self.working_days_between(today, last_day)

    def listed(self, year: int) -> dict[str, list[str]]:
        """The configured holidays and make-up days of one year, ISO dates, sorted."""
        return {"holidays": sorted(d.isoformat() for d in self.holidays if d.year == year),
                "makeup_workdays": sorted(d.isoformat() for d in self.makeup_workdays
                                          if d.year == year)}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "calendar") -> WorkingCalendar:
        """From `{"holidays": [...], "makeup_workdays": [...]}`; each item an ISO date or
        an inclusive range `"2025-10-01..2025-10-08"`."""
        unknown = sorted(set(data) - {"holidays", "makeup_workdays"})
        if unknown:
            raise invalid(f"{where}: unknown key {unknown[0]!r} (holidays, makeup_workdays)",
                          "calendar")
        return cls(frozenset(_dates(data.get("holidays", []), f"{where}.holidays")),
                   frozenset(_dates(data.get("makeup_workdays", []),
                                    f"{where}.makeup_workdays")))

    @classmethod
    def load(cls, path: Path) -> WorkingCalendar:
        """From a `.json` file, or a TOML file with the same two keys."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise invalid(f"{path}: cannot read the calendar: {exc.strerror or exc}",
                          "calendar") from None
        try:
            data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(
                raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid(f"{path}: not a valid calendar file: {exc}", "calendar") from None
        if not isinstance(data, dict):
            raise invalid(f"{path}: expected an object with holidays and makeup_workdays",
                          "calendar")
        return cls.from_mapping(data, str(path))


def _dates(items: Any, where: str) -> Iterable[date]:
    if not isinstance(items, list):
        raise invalid(f"{where}: expected a list of dates", "calendar")
    for item in items:
        if isinstance(item, date) and not isinstance(item, datetime):
            yield item  # TOML has a native date type
            continue
        if not isinstance(item, str):
            raise invalid(f"{where}: {item!r} is not a date", "calendar")
        first, _, last = item.partition("..")
        try:
            start = date.fromisoformat(first.strip())
            end = date.fromisoformat(last.strip()) if last else start
        except ValueError:
            raise invalid(f"{where}: {item!r} is not an ISO date or date range",
                          "calendar") from None
        if end < start or (end - start).days > 366:
            raise invalid(f"{where}: range {item!r} runs backwards or over a year",
                          "calendar")
        while start <= end:
            yield start
            start += _ONE_DAY

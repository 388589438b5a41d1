"""Column types shared by the models and the migrations (migrations import them by path,
so this module's names are part of the schema history: do not rename them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no timestamp type and drops the offset, so values are stored as naive UTC
    and given their UTC zone back on the way out; naive values are refused on the way in
    because their zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sequence_type() -> TypeEngine[int]:
    """64-bit auto-increment key; on SQLite it must be exactly INTEGER to alias the rowid."""
    return BigInteger().with_variant(Integer(), "sqlite")


def driver_datetime(moment: datetime, on_sqlite: bool) -> datetime | str:
    """`moment` as `UTCDateTime` hands it to the driver, for the few hot inserts that
    bypass SQLAlchemy's bind processing: naive UTC text in SQLite's DATETIME format,
    aware UTC for PostgreSQL."""
    utc = moment.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(" ", "microseconds") if on_sqlite else utc

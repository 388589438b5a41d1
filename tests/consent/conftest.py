"""The identity tests' fixtures: services on SQLite and PostgreSQL, a test clock, the
fake vendor server on loopback."""

from tests.identity.conftest import _migrated_sqlite, clock, database, services, vendor

__all__ = ["_migrated_sqlite", "clock", "database", "services", "vendor"]

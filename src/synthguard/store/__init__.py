"""Persistence: SQLAlchemy 2 models, the `Database` handle and Alembic migrations.

SQLite (WAL) is the default; PostgreSQL is chosen by URL. The schema only ever changes
through a migration under `migrations/versions`.
"""

from synthguard.store.db import Database, StoreError

__all__ = ["Database", "StoreError"]

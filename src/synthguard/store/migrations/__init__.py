"""Alembic migrations, run programmatically by `Database.migrate()` (no alembic.ini)."""

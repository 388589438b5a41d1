"""Alembic environment: always online, on the connection `Database.migrate()` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from synthguard.store.all_models import Base


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      compare_type=True, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("synthguard migrations run through Database.migrate(), "
                       "which passes the connection in")
run(_connection)

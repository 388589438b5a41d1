"""`synthguard serve`: the gateway under uvicorn."""

from __future__ import annotations

import uvicorn

from synthguard.config import Config
from synthguard.gateway.app import create_app
from synthguard.gateway.logs import configure_logging
from synthguard.store import Database


def serve(config: Config, host: str = "127.0.0.1", port: int = 8000, *,
          demo_delay_s: float = 0.0, database: Database | None = None) -> None:
    """Migrate the database to the newest schema, then serve until interrupted."""
    configure_logging()
    db = database if database is not None else Database(config.database_url)
    db.migrate()
    app = create_app(config, database=db, demo_delay_s=demo_delay_s)
    # One event loop per process; uvicorn's access log is off because it would print
    # client addresses and paths per request next to our own JSON request log.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning",
                timeout_graceful_shutdown=10)

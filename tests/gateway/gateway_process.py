"""Run a test gateway in its own process: `python -m tests.gateway.gateway_process
DATABASE_URL PORT_FILE`. It binds a free loopback port, writes the port number to
PORT_FILE and serves until killed (the durability test SIGKILLs it)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import uvicorn

from synthguard.gateway import create_app
from synthguard.store import Database
from tests.gateway.conftest import make_config


def main(database_url: str, port_file: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    app = create_app(make_config(), database=Database(database_url))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    tmp = Path(port_file + ".tmp")
    tmp.write_text(str(sock.getsockname()[1]))
    tmp.rename(port_file)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""A real PostgreSQL server for tests: Debian's binaries, started once per test process as the `postgres` user
(initdb and postgres refuse root) in a temporary directory, on 127.0.0.1 and a free port; each caller of
`postgres_database()` gets a fresh database on it. The server stops when the process exits."""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator

import pytest

_server: dict[str, str] = {}


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: install Debian's postgresql package")
    return found[-1]


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start() -> dict[str, str]:
    root = tempfile.mkdtemp(prefix="csops-pg-")
    data = os.path.join(root, "data")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    os.chmod(root, 0o700)
    subprocess.run(_as_postgres(_bin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"),
                   check=True, capture_output=True)
    port = _free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_postgres(_bin("pg_ctl"), "-D", data, "-o", options, "-l", os.path.join(root, "log"), "-w",
                                "start"), check=True, capture_output=True)

    def stop() -> None:
        subprocess.run(_as_postgres(_bin("pg_ctl"), "-D", data, "-m", "immediate", "stop"), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    return {"url": f"postgresql+psycopg://postgres@127.0.0.1:{port}"}


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A SQLAlchemy URL to a new, empty database (dropped afterwards)."""
    import sqlalchemy as sa

    if not _server:
        _server.update(_start())
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(f"{_server['url']}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{_server['url']}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> Iterator[str]:
    """The same test on a SQLite file (WAL) and on a fresh PostgreSQL database (import it into a test module)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'opdb.sqlite'}"
    else:
        with postgres_database() as url:
            yield url

"""Throwaway databases for the storage benchmarks: a SQLite file, or a uniquely named
PostgreSQL database on a server (MEDEVAC_TEST_POSTGRES_URL unless given), dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from medevac.store.database import dispose_engines, upgrade

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_server() -> str:
    """The PostgreSQL server the benchmarks make their databases on."""
    return os.environ.get("MEDEVAC_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


@contextmanager
def fresh_database(backend: str, folder: Path, server_url: str | None = None) -> Iterator[str]:
    """A new, migrated database on ``backend`` (sqlite or postgresql); yields its URL."""
    name = f"medevac_bench_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'{name}.db'}"
        upgrade(url)
        try:
            yield url
        finally:
            dispose_engines()
        return
    server = make_url(server_url or postgres_server())
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

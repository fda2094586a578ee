"""Databases for the storage tests: every test using them runs on SQLite and on PostgreSQL.

- `database_url`: a database migrated to head, emptied before each test. One database per
  backend and test session (PostgreSQL: a uniquely named database created on the server of
  MEDEVAC_TEST_POSTGRES_URL and dropped at the end).
- `uow_factory`: makes a new SqlUnitOfWork on `database_url`.
- `empty_database_url`: a fresh database that was never migrated (for migration tests).

PostgreSQL tests fail (never skip) when the server cannot be reached, unless
MEDEVAC_SKIP_POSTGRES=1 is set, which deselects them with a warning.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, make_url, text

from medevac.store.database import create_engine_for, dispose_engines, upgrade
from medevac.store.tables import ALL_TABLES
from medevac.store.unit_of_work import SqlUnitOfWork

BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SKIP_POSTGRES_VARIABLE = "MEDEVAC_SKIP_POSTGRES"


def postgres_server_url() -> str:
    return os.environ.get("MEDEVAC_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def postgres_skipped() -> bool:
    return os.environ.get(SKIP_POSTGRES_VARIABLE, "") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With MEDEVAC_SKIP_POSTGRES=1, deselect the PostgreSQL variants (the summary says so)."""
    if not postgres_skipped():
        return
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("backend") == "postgresql"
        (dropped if on_postgres else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


class _ServerDatabases:
    """Creates and drops uniquely named databases on one PostgreSQL server."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        self._admin: Engine | None = None
        self._unreachable: str | None = None

    def admin(self) -> Engine:
        """An autocommit engine on the server; fails the test when it cannot be reached."""
        if self._unreachable is not None:
            pytest.fail(self._unreachable, pytrace=False)
        if self._admin is None:
            engine = create_engine(
                self.server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
            )
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
            except Exception as error:
                engine.dispose()
                reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
                self._unreachable = (
                    f"PostgreSQL at {self.server_url.render_as_string(hide_password=True)} "
                    f"cannot be reached ({reason}); start it, point MEDEVAC_TEST_POSTGRES_URL at "
                    f"a server, or set {SKIP_POSTGRES_VARIABLE}=1 to deselect these tests"
                )
                pytest.fail(self._unreachable, pytrace=False)
            self._admin = engine
        return self._admin

    def create(self, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.admin().connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin().connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        if self._admin is not None:
            self._admin.dispose()


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[_ServerDatabases]:
    server = _ServerDatabases(postgres_server_url())
    yield server
    server.close()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend a storage test runs on."""
    return str(request.param)


def _new_database(
    backend: str, folder: Path, request: pytest.FixtureRequest, prefix: str
) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        path = folder / f"{prefix}_{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: None
    server: _ServerDatabases = request.getfixturevalue("_postgres_server")
    url = server.create(prefix)
    return url, lambda: server.drop(url)


@pytest.fixture(scope="session")
def _migrated_database(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Engine]]:
    folder = tmp_path_factory.mktemp("databases")
    url, drop = _new_database(backend, folder, request, "medevac_test")
    upgrade(url)
    engine = create_engine_for(url)
    yield url, engine
    engine.dispose()
    dispose_engines()
    drop()


@pytest.fixture
def database_url(_migrated_database: tuple[str, Engine]) -> str:
    """URL of a database migrated to head and holding no rows."""
    url, engine = _migrated_database
    # DELETE, children first: on tables this small it is much faster than TRUNCATE.
    with engine.begin() as connection:
        for table in reversed(ALL_TABLES):
            connection.execute(delete(table))
    return url


@pytest.fixture
def database_engine(_migrated_database: tuple[str, Engine], database_url: str) -> Engine:
    """The engine shared by the units of work of one storage test."""
    return _migrated_database[1]


@pytest.fixture
def uow_factory(database_engine: Engine) -> Callable[[], SqlUnitOfWork]:
    """Makes a new unit of work on the test database."""
    return lambda: SqlUnitOfWork(database_engine)


@pytest.fixture
def empty_database_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """URL of a fresh database with no tables at all (never migrated)."""
    url, drop = _new_database(backend, tmp_path, request, "medevac_empty")
    yield url
    drop()

"""Engines and schema migrations.

`create_engine_for(url)` makes an engine tuned for the backend (SQLite: foreign keys on, WAL,
synchronous=NORMAL; PostgreSQL through psycopg 3, URL `postgresql+psycopg://...`, with the
write lock that serialized blocks exclude writers by: `guard_writes`). On both, a transaction
waits for another's locks at most `lock_wait_seconds` (`DEFAULT_LOCK_WAIT_SECONDS`), then
fails with `RegistryBusy`.
Alembic is driven from code: the migration scripts ship inside the package, no alembic.ini.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from medevac.domain.errors import DomainError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_engines: dict[tuple[str, float], Engine] = {}
_engines_lock = threading.Lock()
#: the lock wait each engine was made with (`lock_wait_of`)
_lock_waits: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()

#: How long a transaction waits for the locks of another (a plan approval's serialized block,
#: say) before it gives up with `RegistryBusy`, nothing of it written: SQLite's busy timeout,
#: PostgreSQL's `lock_timeout`. The CLI takes MEDEVAC_LOCK_WAIT_SECONDS.
DEFAULT_LOCK_WAIT_SECONDS = 60.0


def _json_default(value: Any) -> Any:
    """Encode the values that audit snapshots commonly hold."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} value {value!r} cannot be stored as JSON")


def dumps_json(value: Any) -> str:
    """The JSON encoder used for every JSON column."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _sqlite_pragmas(lock_wait_seconds: float) -> Callable[[Any, Any], None]:
    """The "connect" listener that sets medevac's pragmas on each new SQLite connection."""
    busy_ms = _milliseconds(lock_wait_seconds)

    def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        _set_sqlite_pragmas(dbapi_connection, busy_ms)

    return set_pragmas


#: The longest lock wait there is (a day): SQLite keeps its busy timeout in a 32-bit number of
#: milliseconds (2,147,484 s and more read back as 0: no wait at all), PostgreSQL's
#: lock_timeout too.
MAX_LOCK_WAIT_SECONDS = 86_400.0


def _milliseconds(seconds: float) -> int:
    if not (0 < seconds <= MAX_LOCK_WAIT_SECONDS):  # NaN too
        raise ValueError(
            f"lock wait must be a number of seconds above 0 and at most {MAX_LOCK_WAIT_SECONDS:g}, "
            f"not {seconds!r}"
        )
    return max(1, round(seconds * 1000))


def _with_lock_timeout(url: URL, wait_ms: int) -> str:
    """libpq's `options` for a connection to ``url``: those the URL gives (else PGOPTIONS's,
    which an explicit `options` would override), then the lock timeout."""
    given = url.query.get("options")
    base = given if isinstance(given, str) else os.environ.get("PGOPTIONS", "")
    return f"{base} -c lock_timeout={wait_ms}".strip()


def _set_sqlite_pragmas(dbapi_connection: Any, busy_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
    finally:
        cursor.close()


#: The key of the PostgreSQL advisory lock by which serialized blocks exclude writers:
#: b"medevac!" read as a big-endian integer (any fixed key would do; this one names us).
WRITE_LOCK_KEY = 0x6D65646576616321
#: `Connection.info` entry saying which form of the write lock the current transaction holds
_WRITE_LOCK_HELD = "medevac.write_lock"
#: The statements that write nothing and lock no rows: plain reads and transaction control.
#: Anything else (INSERT, UPDATE, DELETE, MERGE, COPY, DDL, ...) counts as writing.
_READING = re.compile(
    r"\s*\(*\s*(SELECT|WITH|VALUES|TABLE|SHOW|SET|RESET|SAVEPOINT|RELEASE|ROLLBACK)\b",
    re.IGNORECASE,
)
#: What makes a reading statement write or lock rows after all (`SELECT ... FOR UPDATE`,
#: `SELECT ... INTO`, a data-modifying `WITH`); a column so named only costs a needless lock
_WRITING_ANYWAY = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|INTO|FOR\s+(KEY\s+)?SHARE)\b", re.IGNORECASE
)


def statement_writes(statement: str) -> bool:
    """Whether `statement` may write or lock rows (when in doubt, it may)."""
    return _READING.match(statement) is None or _WRITING_ANYWAY.search(statement) is not None


def lock_out_writers(connection: Connection) -> Connection:
    """Begin a transaction on `connection` (PostgreSQL, none open) that holds the write lock
    exclusively until it ends: it waits for the transactions that have written to end, and
    whoever then wants to write waits for it. Readers do not wait, and are not waited for.

    The transaction is READ COMMITTED: a REPEATABLE READ or SERIALIZABLE transaction takes
    its snapshot at its first statement, which is this one, before it waits, and would go on
    reading what was there before the writers it waited for committed."""
    connection = connection.execution_options(isolation_level="READ COMMITTED")
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
    connection.info[_WRITE_LOCK_HELD] = "exclusive"
    return connection


def claim_write_lock(connection: Connection) -> None:
    """Take the write lock, in shared mode, for the open transaction of `connection` before
    writing on the driver directly (COPY), which `guard_writes` does not see. Nothing to do
    when the transaction holds it already, or on SQLite."""
    if connection.dialect.name != "postgresql":
        return
    if not connection.in_transaction():
        connection.begin()
    if _WRITE_LOCK_HELD in connection.info:
        return
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock_shared({WRITE_LOCK_KEY})")
    connection.info[_WRITE_LOCK_HELD] = "shared"


def _share_write_lock_before_writing(
    connection: Connection,
    cursor: DBAPICursor,
    statement: str,
    _parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    # before_cursor_execute: runs inside SQLAlchemy's error handling, so an error of the lock
    # (a deadlock, say) reaches the caller as a DBAPIError like the statement's own would
    if _WRITE_LOCK_HELD in connection.info or not statement_writes(statement):
        return
    driver_connection = cursor.connection
    if driver_connection.autocommit:
        return  # no transaction would hold the lock past this statement
    lock = driver_connection.cursor()
    try:
        lock.execute(f"SELECT pg_advisory_xact_lock_shared({WRITE_LOCK_KEY})")
    finally:
        lock.close()
    connection.info[_WRITE_LOCK_HELD] = "shared"


def _forget_write_lock(connection: Connection, *_: Any) -> None:
    # A transaction begins or ends, or a savepoint is rolled back (which releases the locks
    # taken since it, maybe this one): the next write asks for the lock again (cheap when held).
    connection.info.pop(_WRITE_LOCK_HELD, None)


def guard_writes(engine: Engine) -> None:
    """Make every transaction on `engine` (PostgreSQL) take the write lock, in shared mode,
    just before its first statement that writes or locks rows, so that it waits while a
    serialized block (`lock_out_writers`) runs, and such a block waits for it to end.

    Shared holders do not wait for each other, and readers take no lock. The lock is taken
    before the transaction locks any row, so a writer never holds a row that a serialized
    block waits for while it waits for the block. Safe to call again; nothing on SQLite,
    where `BEGIN IMMEDIATE` does the same (pysqlite begins a transaction at its first write).
    """
    if engine.dialect.name != "postgresql":
        return
    if event.contains(engine, "before_cursor_execute", _share_write_lock_before_writing):
        return
    for name in ("begin", "commit", "rollback", "rollback_savepoint"):
        event.listen(engine, name, _forget_write_lock)
    event.listen(engine, "before_cursor_execute", _share_write_lock_before_writing)


#: what a database URL looks like, for messages refusing one
URL_FORMS = "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/dbname"


class DatabaseUrlError(ValueError):
    """A database URL that cannot be used: malformed, or for a backend or driver medevac does
    not support. `url` is the URL as it may be shown (password hidden), `reason` says why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"database URL {url}: {reason}")
        self.url = url
        self.reason = reason


def shown_url(url: str) -> str:
    """`url` with any password hidden, also when it cannot be parsed as a URL."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return re.sub(r"^([^:/@]*://[^:/@]*:)[^@/]*@", r"\1***@", url)


def create_engine_for(url: str, lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS) -> Engine:
    """A new engine for `url` (SQLite file or memory, or PostgreSQL via psycopg 3), whose
    transactions wait for another's locks at most `lock_wait_seconds` (above 0).

    Raises DatabaseUrlError for a URL that is malformed or names another backend or driver."""
    wait_ms = _milliseconds(lock_wait_seconds)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        raise DatabaseUrlError(shown_url(url), f"not a database URL; {URL_FORMS}") from error
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")
        if in_memory:
            engine = create_engine(
                url,
                json_serializer=dumps_json,
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
        else:
            engine = create_engine(url, json_serializer=dumps_json)
        event.listen(engine, "connect", _sqlite_pragmas(lock_wait_seconds))
        _lock_waits[engine] = lock_wait_seconds
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() not in ("psycopg", ""):
            raise DatabaseUrlError(
                parsed.render_as_string(hide_password=True),
                "use the psycopg 3 driver, as in postgresql+psycopg://user@host:5432/dbname",
            )
        if parsed.get_driver_name() == "":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # No server-side prepared statements: psycopg prepares a query after 5 runs, and
        # PostgreSQL may then keep a generic plan made while a table was empty (a sequential
        # scan testing `id = ANY($1)` element by element). A re-import of 100,000 patients
        # spent minutes in such a plan; planning each query with its real ids takes ~1 ms.
        engine = create_engine(
            parsed,
            json_serializer=dumps_json,
            pool_pre_ping=True,
            connect_args={
                "prepare_threshold": None,
                "options": _with_lock_timeout(parsed, wait_ms),
            },
        )
        guard_writes(engine)
        _lock_waits[engine] = lock_wait_seconds
        return engine
    raise DatabaseUrlError(
        parsed.render_as_string(hide_password=True),
        f"unsupported backend {backend!r}; {URL_FORMS}",
    )


def engine_for(url: str, lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS) -> Engine:
    """The shared engine for `url` (and the lock wait), created on first use."""
    with _engines_lock:
        engine = _engines.get((url, lock_wait_seconds))
        if engine is None:
            engine = create_engine_for(url, lock_wait_seconds)
            _engines[(url, lock_wait_seconds)] = engine
        return engine


def lock_wait_of(engine: Engine) -> float:
    """How long the transactions of `engine` wait for another's locks, in seconds."""
    return _lock_waits.get(engine, DEFAULT_LOCK_WAIT_SECONDS)


def lock_wait_ran_out(error: BaseException) -> bool:
    """Whether `error` (SQLAlchemy's wrapper or the driver's own) says that a statement gave
    up waiting for another transaction's lock: SQLite's "database is locked" (SQLITE_BUSY)
    and PostgreSQL's lock_not_available (55P03, `lock_timeout`)."""
    driver_error = getattr(error, "orig", None) or error
    if isinstance(driver_error, sqlite3.OperationalError):
        code = getattr(driver_error, "sqlite_errorcode", None)
        # SQLITE_BUSY, extended codes included (pysqlite begins a transaction at its first
        # write, which then holds the write lock: no snapshot read earlier can be stale)
        return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY
    return getattr(driver_error, "sqlstate", None) == "55P03"


def dispose_engines() -> None:
    """Close every shared engine (tests call this before dropping a database)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


class MigrationRefused(DomainError, RuntimeError):
    """A migration found data it cannot carry over; the message names it and what to do."""


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _sqlite_driver_transactions_off(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling sends no BEGIN before DDL, so CREATE TABLE and
    # CREATE INDEX would commit at once; with it off, the "begin" listener below decides
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def create_migration_engine_for(url: str) -> Engine:
    """An engine for running migrations on `url`: as `create_engine_for`, and on SQLite every
    transaction starts with an explicit BEGIN, so that a migration run that fails or is
    refused rolls back its DDL too (as PostgreSQL does) and leaves the schema as it was. It
    waits for other transactions' locks as long as there is (`MAX_LOCK_WAIT_SECONDS`): a
    migration's exclusive locks wait for every reader, which a command's minute may not see
    end."""
    engine = create_engine_for(url, MAX_LOCK_WAIT_SECONDS)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_driver_transactions_off)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _run(url: str, action: str, revision: str) -> None:
    config = alembic_config()
    engine = create_migration_engine_for(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            if action == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision` (creating every table on an empty one)."""
    _run(url, "upgrade", revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at `url` down to `revision` ("base" removes every table)."""
    _run(url, "downgrade", revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision shipped with this version of medevac."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts found in {MIGRATIONS_DIR}")
    return head


def known_revisions() -> list[str]:
    """The revisions shipped with this version of medevac, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def missing_sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names when it does not exist (connecting would create it, empty);
    None for other URLs, in-memory databases and files that exist."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def unknown_revision(url: str) -> str | None:
    """The database's revision where it is none of this medevac's migrations (a newer medevac
    migrated it, say), else None."""
    current = current_revision(url)
    return current if current is not None and current not in known_revisions() else None


def newer_database(url: str, revision: str) -> str:
    """What to say of a database at ``revision``, which this medevac does not know."""
    return (
        f"the database at {shown_url(url)} is at revision {revision}, which this medevac "
        f"does not know (its newest is {head_revision()}): a newer medevac migrated it; use "
        "that one, or a copy of the database from before"
    )


def is_up_to_date(url: str) -> bool:
    """True when the database at `url` is migrated to the newest revision."""
    return current_revision(url) == head_revision()

"""Helpers for the tests of concurrent transactions: work run in a thread of its own, a check
that it waits for a lock, and an ordinary unit of work made SERIALIZABLE."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

import pytest
from sqlalchemy import Engine, text

from medevac.store.unit_of_work import SqlUnitOfWork

T = TypeVar("T")

#: How long the tests give a thread to show that it waits, or to finish once it may go on.
DEADLINE_SECONDS = 10.0
#: SQLite shows nobody's waits: a writer waiting for the write lock sits in its busy handler.
#: There the check is that the waiting side has not finished after this long (a lower bound
#: that passes whatever the machine's speed when the side really waits).
SQLITE_GRACE_SECONDS = 0.5

_WAITING_HERE = text(
    "SELECT count(*) FROM pg_locks WHERE NOT granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


class InThread(Generic[T]):
    """Runs `work` in a thread of its own; `finished` is set once it returned or raised."""

    def __init__(self, work: Callable[[], T]) -> None:
        self.finished = threading.Event()
        self._work = work
        self._outcome: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._outcome["value"] = self._work()
        except BaseException as error:
            self._outcome["error"] = error
        finally:
            self.finished.set()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def start(self) -> Self:
        self._thread.start()
        return self

    def result(self, timeout: float = DEADLINE_SECONDS) -> T:
        """What `work` returned (re-raising what it raised), waiting at most `timeout` s."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            pytest.fail(f"the work in the other thread did not finish within {timeout} s")
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["value"]  # type: ignore[no-any-return]


def waits(engine: Engine, finished: threading.Event, timeout: float = DEADLINE_SECONDS) -> bool:
    """True once a transaction on `engine`'s database waits for a lock (PostgreSQL: an
    ungranted lock in `pg_locks`), False when `finished` is set first: the other side went
    through instead of waiting. Fails when neither happens within `timeout` seconds."""
    if engine.dialect.name == "sqlite":
        return not finished.wait(SQLITE_GRACE_SECONDS)
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            if finished.is_set():
                return False
            if connection.execute(_WAITING_HERE).scalar():
                return True
            finished.wait(0.02)  # the polling interval, not a measure of anything
    pytest.fail(f"nobody waited for a lock and nothing finished within {timeout} s")


def wait_until_it_waits(
    engine: Engine, finished: threading.Event, who: str, timeout: float = DEADLINE_SECONDS
) -> None:
    """Return once `who` (whose end sets `finished`) waits for a lock; fail when it went
    through instead (`waits`)."""
    if not waits(engine, finished, timeout):
        pytest.fail(f"{who} went through instead of waiting")


def serializable(uow: SqlUnitOfWork) -> SqlUnitOfWork:
    """`uow`, open, with its transaction made SERIALIZABLE (before its first statement): to
    provoke PostgreSQL's own serialization failures, which serialized blocks no longer meet
    (they exclude each other and writers instead)."""
    uow.connection.execution_options(isolation_level="SERIALIZABLE")
    return uow

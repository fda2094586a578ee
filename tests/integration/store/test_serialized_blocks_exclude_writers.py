"""A serialized block (`SqlUnitOfWork.serialized`) runs as if alone on every backend: no other
transaction writes while it runs, and it starts only once the writers before it ended.
Readers go on meanwhile.

Each test holds one side open in the test's thread and runs the other in a thread of its own,
checking that it waits (`wait_until_it_waits`) rather than going through.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, text

from medevac.domain.audit import AuditRecord
from medevac.domain.errors import RegistryBusy
from medevac.store.bulk import BULK_THRESHOLD
from medevac.store.database import create_engine_for, statement_writes
from medevac.store.unit_of_work import SqlUnitOfWork
from tests.integration.concurrency import InThread, wait_until_it_waits
from tests.integration.store.builders import make_patient
from tests.integration.store.conftest import UowFactory

pytestmark = pytest.mark.storage

COMPANIONS = text("SELECT companions FROM patients WHERE id = 'P-1'")
PATIENT_COUNT = text("SELECT count(*) FROM patients")
AUDIT_COUNT = text("SELECT count(*) FROM audit_log")


def _patient_p1(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add(make_patient("P-1"))
        uow.commit()


def _set_companions(registry: UowFactory, companions: int) -> None:
    with registry() as uow:
        patient = uow.patients.get("P-1")
        patient.companions = companions
        uow.patients.update(patient)
        uow.commit()


def test_a_writer_waits_until_a_serialized_block_that_has_read_ends(
    registry: UowFactory, database_engine: Engine
) -> None:
    _patient_p1(registry)
    writer = InThread(lambda: _set_companions(registry, 3))
    with registry().serialized() as block:
        assert block.connection.execute(COMPANIONS).scalar() == 1
        writer.start()
        wait_until_it_waits(database_engine, writer.finished, "an ordinary writer")
        # what the block checked still holds when it writes
        assert block.connection.execute(COMPANIONS).scalar() == 1
        block.patients.add(make_patient("P-2"))
        block.commit()
    writer.result()
    with registry() as uow:
        assert uow.patients.get("P-1").companions == 3
        assert uow.patients.find("P-2") is not None


def test_a_serialized_block_waits_for_a_writer_and_reads_what_it_committed(
    registry: UowFactory, database_engine: Engine
) -> None:
    _patient_p1(registry)

    def read_in_a_block() -> int:
        with registry().serialized() as block:
            return int(block.connection.execute(COMPANIONS).scalar_one())

    reader = InThread(read_in_a_block)
    with registry() as writer:
        patient = writer.patients.get("P-1")
        patient.companions = 4
        writer.patients.update(patient)  # written, not yet committed
        reader.start()
        wait_until_it_waits(database_engine, reader.finished, "the serialized block")
        writer.commit()
    # it began after the writer's commit: a view taken before its wait would still show 1
    assert reader.result() == 4


def test_a_serialized_block_waits_for_another_one(
    registry: UowFactory, database_engine: Engine
) -> None:
    def add_p2() -> int:
        with registry().serialized() as block:
            seen = int(block.connection.execute(PATIENT_COUNT).scalar_one())
            block.patients.add(make_patient("P-2"))
            block.commit()
        return seen

    second = InThread(add_p2)
    with registry().serialized() as first:
        assert first.connection.execute(PATIENT_COUNT).scalar() == 0
        second.start()
        wait_until_it_waits(database_engine, second.finished, "a second serialized block")
        first.patients.add(make_patient("P-1"))
        first.commit()
    assert second.result() == 1  # it saw the first block's patient


def test_a_bulk_insert_waits_until_a_serialized_block_ends(
    registry: UowFactory, database_engine: Engine
) -> None:
    # from BULK_THRESHOLD rows on, PostgreSQL inserts with COPY on the driver's cursor
    at = datetime(2026, 12, 1, tzinfo=UTC)
    records = [
        AuditRecord("bulk", at, "patient", f"P-{i}", "create", None, {"i": i})
        for i in range(BULK_THRESHOLD)
    ]

    def append() -> None:
        with registry() as uow:
            uow.audit.add_many(records)
            uow.commit()

    writer = InThread(append)
    with registry().serialized() as block:
        assert block.connection.execute(AUDIT_COUNT).scalar() == 0
        writer.start()
        wait_until_it_waits(database_engine, writer.finished, "a bulk insert")
        assert block.connection.execute(AUDIT_COUNT).scalar() == 0
        block.commit()
    writer.result()
    with registry() as uow:
        assert uow.connection.execute(AUDIT_COUNT).scalar() == BULK_THRESHOLD


def test_readers_do_not_wait_for_a_serialized_block(registry: UowFactory) -> None:
    _patient_p1(registry)

    def read() -> list[tuple[str, int]]:
        with registry() as uow:
            return [(p.id, p.companions) for p in uow.patients.list()]

    with registry().serialized() as block:
        patient = block.patients.get("P-1")
        patient.companions = 5
        block.patients.update(patient)
        block.patients.add(make_patient("P-2"))
        # the reader sees the state before the block, without waiting for it
        assert InThread(read).start().result() == [("P-1", 1)]
        block.commit()
    assert InThread(read).start().result() == [("P-1", 5), ("P-2", 1)]


@pytest.fixture
def impatient(database_url: str) -> Iterator[Engine]:
    """An engine on the test database whose transactions wait 0.3 s for another's locks."""
    engine = create_engine_for(database_url, lock_wait_seconds=0.3)
    yield engine
    engine.dispose()


def test_a_writer_gives_up_after_its_lock_wait_and_writes_nothing(
    registry: UowFactory, impatient: Engine
) -> None:
    _patient_p1(registry)
    with registry().serialized() as block:
        block.connection.execute(COMPANIONS)
        with pytest.raises(RegistryBusy, match=r"registry is busy.* more than 0\.3 s"):
            _set_companions(lambda: SqlUnitOfWork(impatient), 7)
        block.commit()
    with registry() as uow:
        assert uow.patients.get("P-1").companions == 1


def _add_p2_in_a_block(uow: SqlUnitOfWork) -> None:
    with uow.serialized() as block:
        block.patients.add(make_patient("P-2"))
        block.commit()


def test_a_serialized_block_gives_up_after_its_lock_wait(
    registry: UowFactory, impatient: Engine
) -> None:
    _patient_p1(registry)
    with registry() as writer:
        patient = writer.patients.get("P-1")
        patient.companions = 2
        writer.patients.update(patient)  # written, not yet committed
        with pytest.raises(RegistryBusy, match=r"more than 0\.3 s"):
            _add_p2_in_a_block(SqlUnitOfWork(impatient))
        writer.commit()
    with registry() as uow:
        assert uow.patients.get("P-1").companions == 2
        assert uow.patients.find("P-2") is None


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT id FROM patients WHERE id = %(id)s", False),
        ("  (SELECT 1) UNION (SELECT 2)", False),
        ("WITH held AS (SELECT 1) SELECT * FROM held", False),
        ("SAVEPOINT sa_savepoint_1", False),
        ("ROLLBACK TO SAVEPOINT sa_savepoint_1", False),
        ("SELECT id, version FROM patients WHERE id = ANY(%(ids)s) FOR UPDATE", True),
        ("SELECT id FROM patients FOR NO KEY UPDATE", True),
        ("select id from patients for key share", True),
        ("SELECT * INTO copied FROM patients", True),
        ("WITH gone AS (DELETE FROM holds RETURNING id) SELECT count(*) FROM gone", True),
        ("INSERT INTO audit_log (actor) VALUES (%(actor)s)", True),
        ("update patients SET companions = 1", True),
        ("DELETE FROM patients", True),
        ("COPY audit_log (actor) FROM STDIN", True),
        ("CREATE TEMPORARY TABLE staging (id text)", True),
        ("/* a comment first */ SELECT 1", True),  # not known to be a read: counts as one
    ],
)
def test_what_counts_as_writing_for_the_write_lock(statement: str, writes: bool) -> None:
    assert statement_writes(statement) is writes


class _Captured(Exception):
    """Raised by a do_connect listener once it has seen the connection's parameters."""


def test_the_lock_timeout_keeps_the_options_a_postgresql_url_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # connect_args' options had replaced the URL's (a search_path set there was lost), and
    # PGOPTIONS, which an explicit options overrides
    seen: dict[str, object] = {}

    def capture(
        _dialect: object, _record: object, _args: object, params: dict[str, object]
    ) -> None:
        seen.update(params)
        raise _Captured

    for url, environment, expected in [
        (
            "postgresql+psycopg://u@localhost:1/db?options=-csearch_path%3Dmedevac",
            None,
            "-csearch_path=medevac -c lock_timeout=2000",
        ),
        (
            "postgresql+psycopg://u@localhost:1/db",
            "-c work_mem=64MB",
            "-c work_mem=64MB -c lock_timeout=2000",
        ),
        ("postgresql+psycopg://u@localhost:1/db", None, "-c lock_timeout=2000"),
    ]:
        if environment is None:
            monkeypatch.delenv("PGOPTIONS", raising=False)
        else:
            monkeypatch.setenv("PGOPTIONS", environment)
        engine = create_engine_for(url, lock_wait_seconds=2)
        event.listen(engine, "do_connect", capture)
        try:
            with pytest.raises(_Captured):
                engine.connect()
        finally:
            engine.dispose()
        assert seen["options"] == expected

"""Storage behaviour that must be the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from medevac.domain.audit import AuditRecord
from medevac.domain.errors import TransactionConflict
from medevac.store.bulk import BULK_THRESHOLD
from medevac.store.database import (
    MigrationRefused,
    create_engine_for,
    current_revision,
    head_revision,
    upgrade,
)
from medevac.store.unit_of_work import SqlUnitOfWork
from tests.integration.concurrency import serializable
from tests.integration.store.builders import make_organisation, make_patient, make_request
from tests.integration.store.conftest import UowFactory

pytestmark = pytest.mark.storage


def schema_of(url: str) -> dict[str, tuple[list[str], list[str]]]:
    """Each table's columns and index names."""
    engine = create_engine_for(url)
    try:
        inspector = inspect(engine)
        return {
            table: (
                sorted(column["name"] for column in inspector.get_columns(table)),
                sorted(str(index["name"]) for index in inspector.get_indexes(table)),
            )
            for table in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def test_a_refused_upgrade_leaves_the_schema_as_it_was_and_can_be_run_again(
    empty_database_url: str,
) -> None:
    url = empty_database_url
    upgrade(url, "0001")
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organisations (id, name, kind, country, contact, version) "
                    "VALUES ('ORG', 'Ministry', 'ministry_of_health', 'UA', '', 1)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO patients (id, organisation_id, precedence, mobility, triage, "
                    "name, sex, service_status, affiliation, conditions, special_needs, "
                    "companions, fit_to_transport, expected_length_of_stay_days, status, "
                    "version) VALUES ('P-TYPO', 'ORG', 'routine', 'litter', 'T2', '', "
                    "'unknown', 'civilian', '', '[]', '[]', 0, true, 200000, 'reported', 1)"
                )
            )
    finally:
        engine.dispose()
    before = schema_of(url)

    with pytest.raises(MigrationRefused, match="P-TYPO"):
        upgrade(url)
    assert current_revision(url) == "0001"
    assert schema_of(url) == before

    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE patients SET expected_length_of_stay_days = 20"))
    finally:
        engine.dispose()
    upgrade(url)
    assert current_revision(url) == head_revision()


def _records(count: int, actor: str) -> list[AuditRecord]:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    return [
        AuditRecord(actor, at, "patient", f"P-{i}", "create", None, {"i": i}) for i in range(count)
    ]


def _append_what_the_other_reads(registry: UowFactory, count: int) -> None:
    read = text("SELECT count(*) FROM audit_log")
    with registry() as first, registry() as second:
        # SERIALIZABLE by hand: serialized blocks exclude each other rather than conflict
        serializable(first)
        serializable(second)
        # each decides on what the other is about to change (write skew)
        assert first.connection.execute(read).scalar() == 0
        assert second.connection.execute(read).scalar() == 0
        first.audit.add_many(_records(count, "first"))
        first.commit()
        second.audit.add_many(_records(count, "second"))  # refused (COPY from 500 rows)
        second.commit()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")
@pytest.mark.parametrize("count", [BULK_THRESHOLD - 1, BULK_THRESHOLD])
def test_a_serialization_failure_in_a_bulk_insert_is_a_conflict(
    registry: UowFactory, count: int
) -> None:
    read = text("SELECT count(*) FROM audit_log")
    with pytest.raises(TransactionConflict, match="could not serialize"):
        _append_what_the_other_reads(registry, count)
    with registry() as uow:
        assert uow.connection.execute(read).scalar() == count


@pytest.fixture
def en_us_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A migrated database; on PostgreSQL one whose collation is ICU's en-US."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'order.db'}"
        upgrade(url)
        yield url
        return
    server = request.getfixturevalue("_postgres_server")
    name = f"medevac_order_{uuid.uuid4().hex[:12]}"
    with server.admin().connect() as connection:
        connection.execute(
            text(
                f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        )
    url = server.server_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        server.drop(url)


def test_listings_order_ids_by_code_point_whatever_the_database_collation(
    en_us_database_url: str,
) -> None:
    ids = ["PT-b", "PT-B", "PT-a-2", "PT-a1", "pt-c", "PT_0"]
    engine = create_engine_for(en_us_database_url)
    uow = SqlUnitOfWork(engine)
    try:
        with uow:
            uow.organisations.add(make_organisation("ORG-UA", "UA"))
            uow.patients.add_many([make_patient(i) for i in ids])
            uow.commit()
        with uow:
            assert [p.id for p in uow.patients.list()] == sorted(ids)
            assert [p.id for p in uow.patients.list(limit=2)] == sorted(ids)[:2]
            assert [o.id for o in uow.organisations.list()] == ["ORG-UA"]
    finally:
        engine.dispose()


def test_live_requests_for_many_patients_are_those_live_for_each_of_them(
    registry: UowFactory,
) -> None:
    with registry() as uow:
        uow.patients.add_many([make_patient(f"P-{i}") for i in range(1, 5)])
        live = make_request("REQ-LIVE", patient_ids=("P-1", "P-2"))
        other = make_request("REQ-OTHER", patient_ids=("P-3",))
        closed = make_request("REQ-CLOSED", patient_ids=("P-1", "P-4"))
        closed.close("flight cancelled")
        withdrawn = make_request("REQ-WITHDRAWN", patient_ids=("P-4",))
        withdrawn.withdraw_patient("P-4", "moved by another route")
        uow.requests.add_many([live, other, closed, withdrawn])
        uow.commit()
    with registry() as uow:
        requests = uow.requests
        for ids in (
            ["P-1", "P-2"],
            ["P-1", "P-3", "P-9"],
            ["P-4"],
            [],
            [f"P-{i}" for i in range(9)],
        ):
            each = {r.id: r for i in ids for r in requests.live_for_patient(i)}
            expected = sorted(each.values(), key=lambda r: (r.created_at, r.id))
            assert requests.live_for_patients(ids) == expected
        assert [r.id for r in requests.live_for_patients({"P-1", "P-2", "P-3"})] == [
            "REQ-LIVE",
            "REQ-OTHER",
        ]

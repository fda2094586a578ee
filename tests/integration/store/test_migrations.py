"""The packaged Alembic migrations build exactly the schema of tables.py, on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import TextClause, inspect, select, text

from medevac.store.database import (
    create_engine_for,
    current_revision,
    downgrade,
    head_revision,
    is_up_to_date,
    upgrade,
)
from medevac.store.tables import audit_log, metadata, request_patients

pytestmark = pytest.mark.storage

SCHEMA_TABLES = set(metadata.tables)


def table_names(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_differences(url: str) -> list[object]:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_an_empty_database_is_not_up_to_date(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None
    assert not is_up_to_date(empty_database_url)


def test_upgrade_builds_every_table_and_records_the_head_revision(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url)
    assert table_names(empty_database_url) == SCHEMA_TABLES | {"alembic_version"}
    assert current_revision(empty_database_url) == head_revision()
    assert is_up_to_date(empty_database_url)


def test_migrated_schema_matches_the_table_definitions(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    assert schema_differences(empty_database_url) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_works_again(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url)
    downgrade(empty_database_url, "base")
    assert table_names(empty_database_url) == {"alembic_version"}
    assert current_revision(empty_database_url) is None
    upgrade(empty_database_url)
    assert table_names(empty_database_url) == SCHEMA_TABLES | {"alembic_version"}


def test_upgrading_an_up_to_date_database_changes_nothing(database_url: str) -> None:
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()
    assert schema_differences(database_url) == []


def test_the_one_live_plan_index_is_refused_clearly_over_two_live_plans(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url, "0002")
    engine = create_engine_for(empty_database_url)
    try:
        with engine.begin() as connection:
            for plan_id in ("PLAN-A", "PLAN-B"):
                connection.execute(
                    text(
                        "INSERT INTO approved_plans (id, approved_at, approved_by, built_at, "
                        "objective, solver, solver_status, status, version) VALUES (:id, "
                        ":at, 'cell', :at, 1.0, 'exact', 'optimal', 'live', 1)"
                    ),
                    {"id": plan_id, "at": datetime(2026, 12, 1, tzinfo=UTC)},
                )
    finally:
        engine.dispose()
    with pytest.raises(RuntimeError, match=r"2 live plans \(PLAN-A, PLAN-B\)"):
        upgrade(empty_database_url)
    assert current_revision(empty_database_url) == "0002"


#: a row of each kind as the revisions from 0003 on store them
ORGANISATION = text(
    "INSERT INTO organisations (id, name, kind, country, contact, version) "
    "VALUES (:id, 'Ministry', 'ministry_of_health', 'UA', '', 1)"
)
PATIENT = text(
    "INSERT INTO patients (id, organisation_id, precedence, mobility, triage, name, sex, "
    "service_status, affiliation, conditions, special_needs, companions, fit_to_transport, "
    "expected_length_of_stay_days, status, version) VALUES (:id, :organisation, 'routine', "
    "'litter', 'T2', :name, 'unknown', 'civilian', '', '[]', '[]', 0, true, :days, :status, 1)"
)


def stored_at(url: str, revision: str, *writes: tuple[TextClause, Any]) -> None:
    """Upgrade an empty database to ``revision`` and run the writes there, in one transaction."""
    upgrade(url, revision)
    engine = create_engine_for(url)
    try:
        with engine.begin() as connection:
            for statement, values in writes:
                connection.execute(statement, values)
    finally:
        engine.dispose()


def test_upgrading_over_values_above_the_registrys_limits_stops_and_names_them(
    empty_database_url: str,
) -> None:
    patient = {"organisation": "ORG", "status": "reported"}
    long_name = (text("UPDATE organisations SET name = :name"), {"name": "M" * 201})
    stored_at(
        empty_database_url,
        "0003",
        (ORGANISATION, {"id": "ORG"}),
        (
            PATIENT,
            [
                {**patient, "id": "P-OK", "days": 100_000, "name": "N" * 200},
                {**patient, "id": "P-TYPO", "days": 200_000, "name": ""},
            ],
        ),
        # PostgreSQL refuses a name that long itself
        *([long_name] if empty_database_url.startswith("sqlite") else []),
    )
    with pytest.raises(RuntimeError) as refused:
        upgrade(empty_database_url)
    assert "patients P-TYPO: expected_length_of_stay_days 200,000" in str(refused.value)
    assert "P-OK" not in str(refused.value)
    if empty_database_url.startswith("sqlite"):
        assert "organisations ORG: name of 201 characters" in str(refused.value)
    assert current_revision(empty_database_url) == "0003"


def test_answers_given_before_revision_0005_keep_their_decision_with_no_admission(
    empty_database_url: str,
) -> None:
    stored_at(
        empty_database_url,
        "0004",
        (ORGANISATION, [{"id": "ORG-A"}, {"id": "ORG-B"}]),
        (
            PATIENT,
            {"id": "P1", "organisation": "ORG-A", "name": "", "days": None, "status": "accepted"},
        ),
        (
            text(
                "INSERT INTO treatment_requests (id, from_organisation_id, to_organisation_id, "
                "created_at, status, note, closed_reason, version) "
                "VALUES ('REQ-1', 'ORG-A', 'ORG-B', :at, 'accepted', '', '', 1)"
            ),
            {"at": datetime(2026, 12, 1, tzinfo=UTC)},
        ),
        (
            text(
                "INSERT INTO request_patients (request_id, patient_id, position, decision, "
                "reason) VALUES ('REQ-1', 'P1', 0, 'accepted', '')"
            ),
            {},
        ),
    )
    upgrade(empty_database_url)
    engine = create_engine_for(empty_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT decision, facility_id, admission_date, decided_at FROM request_patients"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [("accepted", None, None, None)]
    downgrade(empty_database_url, "0004")
    assert current_revision(empty_database_url) == "0004"
    assert schema_differences(empty_database_url) != []  # the two columns are gone again


def test_answers_given_before_revision_0005_get_their_time_from_the_audit_trail(
    empty_database_url: str,
) -> None:
    # REQ-1 was answered twice before 0005: P1 accepted at 10:00, P2 declined at 11:00; P3 is
    # still pending; P4's answer left no audit record (a trail cut short)
    first, second = datetime(2026, 12, 1, 10, tzinfo=UTC), datetime(2026, 12, 1, 11, tzinfo=UTC)
    lines = text(
        "INSERT INTO request_patients (request_id, patient_id, position, decision, reason) "
        "VALUES ('REQ-1', :id, :position, :decision, '')"
    )
    answers = {"P1": "accepted", "P2": "declined", "P3": "pending", "P4": "accepted"}
    stored_at(
        empty_database_url,
        "0004",
        (ORGANISATION, [{"id": "ORG-A"}, {"id": "ORG-B"}]),
        (
            PATIENT,
            [
                {"id": p, "organisation": "ORG-A", "name": "", "days": None, "status": "referred"}
                for p in answers
            ],
        ),
        (
            text(
                "INSERT INTO treatment_requests (id, from_organisation_id, to_organisation_id, "
                "created_at, status, note, closed_reason, version) "
                "VALUES ('REQ-1', 'ORG-A', 'ORG-B', :at, 'partially_accepted', '', '', 3)"
            ),
            {"at": datetime(2026, 11, 30, tzinfo=UTC)},
        ),
        (
            lines,
            [{"id": p, "position": n, "decision": d} for n, (p, d) in enumerate(answers.items())],
        ),
    )

    def image(decisions: dict[str, str]) -> dict[str, Any]:
        return {
            "id": "REQ-1",
            "patients": [{"patient_id": p, "decision": d} for p, d in decisions.items()],
        }

    record = {"actor": "partner", "entity_type": "treatment_request", "entity_id": "REQ-1",
              "before": None, "reason": ""}  # fmt: skip
    engine = create_engine_for(empty_database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                audit_log.insert(),
                [
                    record | {"at": second, "action": "respond:partially_accepted",
                              "after": image({"P1": "accepted", "P2": "declined",
                                              "P3": "pending", "P4": "pending"})},
                    record | {"at": first, "action": "respond:partially_accepted",
                              "after": image({"P1": "accepted", "P2": "pending",
                                              "P3": "pending", "P4": "pending"})},
                    record | {"at": first, "action": "close", "after": image({"P4": "accepted"})},
                ],
            )  # fmt: skip
    finally:
        engine.dispose()
    upgrade(empty_database_url)
    engine = create_engine_for(empty_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(request_patients.c.patient_id, request_patients.c.decided_at)
            ).all()
    finally:
        engine.dispose()
    assert dict(rows) == {"P1": first, "P2": second, "P3": None, "P4": None}


def test_lines_naming_a_facility_get_the_time_it_was_last_named_there(
    empty_database_url: str,
) -> None:
    # stored at 0006: P1 named at FAC-A by the answer; P2 accepted with no facility, named at
    # FAC-A later; P3 named at FAC-A, moved to FAC-B, then back to FAC-A; P4 named at FAC-A by
    # the answer, moved to another day there; P5 accepted with no facility; P6 named at FAC-A
    # later with no audit record (a trail cut short)
    answered, t1, t2, t3 = (datetime(2026, 12, 1, hour, tzinfo=UTC) for hour in (9, 10, 11, 12))
    named = {"P1": "FAC-A", "P2": "FAC-A", "P3": "FAC-A", "P4": "FAC-A", "P5": None, "P6": "FAC-A"}
    stored_at(
        empty_database_url,
        "0006",
        (ORGANISATION, [{"id": "ORG-A"}, {"id": "ORG-B"}]),
        (
            PATIENT,
            [
                {"id": p, "organisation": "ORG-A", "name": "", "days": None, "status": "accepted"}
                for p in named
            ],
        ),
        (
            text(
                "INSERT INTO facilities (id, name, kind, operator_id, country, lat, lon, "
                "specialties, capabilities, free_of_charge, city, version) VALUES (:id, 'H', "
                "'hospital', 'ORG-B', 'PL', 52.0, 19.0, '[]', '[]', true, '', 1)"
            ),
            [{"id": "FAC-A"}, {"id": "FAC-B"}],
        ),
        (
            text(
                "INSERT INTO treatment_requests (id, from_organisation_id, to_organisation_id, "
                "created_at, status, note, closed_reason, version) "
                "VALUES ('REQ-1', 'ORG-A', 'ORG-B', :at, 'accepted', '', '', 5)"
            ),
            {"at": datetime(2026, 11, 30, tzinfo=UTC)},
        ),
    )
    lines = [
        {
            "request_id": "REQ-1",
            "patient_id": p,
            "position": n,
            "decision": "accepted",
            "reason": "",
            "facility_id": f,
            "admission_date": None if f is None else date(2026, 12, 3),
            "decided_at": answered,
        }
        for n, (p, f) in enumerate(named.items())
    ]

    def image(facilities: dict[str, str | None]) -> dict[str, Any]:
        return {
            "id": "REQ-1",
            "patients": [{"patient_id": p, "facility_id": f} for p, f in facilities.items()],
        }

    answer = {"P1": "FAC-A", "P2": None, "P3": "FAC-A", "P4": "FAC-A"}
    record = {"actor": "partner", "entity_type": "treatment_request", "entity_id": "REQ-1",
              "action": "name_admission", "reason": ""}  # fmt: skip
    steps = [
        (t1, answer, answer | {"P2": "FAC-A"}),
        (t1, answer | {"P2": "FAC-A"}, answer | {"P2": "FAC-A", "P3": "FAC-B"}),
        (t2, answer | {"P2": "FAC-A", "P3": "FAC-B"}, answer | {"P2": "FAC-A"}),
        (t3, answer | {"P2": "FAC-A"}, answer | {"P2": "FAC-A"}),  # P4: another day
    ]
    engine = create_engine_for(empty_database_url)
    try:
        with engine.begin() as connection:
            # as medevac writes times (naive UTC text on SQLite); no named_at at 0006
            connection.execute(request_patients.insert(), lines)
            connection.execute(
                audit_log.insert(),
                [
                    record | {"at": at, "before": image(before), "after": image(after)}
                    for at, before, after in steps
                ],
            )
    finally:
        engine.dispose()
    upgrade(empty_database_url)
    engine = create_engine_for(empty_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(request_patients.c.patient_id, request_patients.c.named_at)
            ).all()
    finally:
        engine.dispose()
    assert dict(rows) == {
        "P1": answered,
        "P2": t1,
        "P3": t2,
        "P4": answered,
        "P5": None,
        "P6": answered,
    }
    assert schema_differences(empty_database_url) == []
    downgrade(empty_database_url, "0006")
    assert current_revision(empty_database_url) == "0006"
    engine = create_engine_for(empty_database_url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("request_patients")}
    finally:
        engine.dispose()
    assert "decided_at" in columns
    assert "named_at" not in columns


def test_upgrading_over_characters_the_registry_now_refuses_stops_and_names_them(
    empty_database_url: str,
) -> None:
    # a zero-width space in an id, a bidi override in a name, a NUL in a status change's
    # reason (SQLite only: PostgreSQL refuses it itself); a line break in a free text passes
    patient = {"organisation": "ORG", "status": "reported", "days": 7}
    change = text(
        "INSERT INTO patient_status_changes (patient_id, seq, at, from_status, to_status, "
        "actor, role, reason) VALUES (:id, 0, :at, 'reported', 'reported', 'clerk', "
        "'coordinator', :reason)"
    )
    at = datetime(2026, 12, 1, tzinfo=UTC)
    stored_at(
        empty_database_url,
        "0007",
        (ORGANISATION, {"id": "ORG"}),
        (
            PATIENT,
            [
                {**patient, "id": "PT-0001\u200b", "name": ""},
                {**patient, "id": "PT-0002", "name": "Evil\u202egnp.exe"},
                {**patient, "id": "PT-0003", "name": "plain"},
            ],
        ),
        (
            change,
            [
                {"id": "PT-0003", "at": at, "reason": "two\nlines"},
                *([{"id": "PT-0002", "at": at, "reason": "dup\x00"}]
                  if empty_database_url.startswith("sqlite") else []),
            ],
        ),
    )  # fmt: skip
    with pytest.raises(RuntimeError) as refused:
        upgrade(empty_database_url)
    said = str(refused.value)
    assert "patients PT-0001\\u200b: id holds U+200B at character 8" in said, said
    assert "patients PT-0002: name holds U+202E at character 5" in said, said
    assert "PT-0003" not in said, said
    if empty_database_url.startswith("sqlite"):
        assert "patient_status_changes PT-0002: reason holds U+0000" in said, said
    assert current_revision(empty_database_url) == "0007"

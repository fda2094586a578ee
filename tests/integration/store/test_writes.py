"""Updates, version checks, transactions and refused writes, on every backend."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from medevac.domain.errors import ConcurrentModification, NotFound
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.screening import ScreeningOutcome
from medevac.domain.vocabulary import Specialty
from medevac.store.repositories import StorageConflict
from medevac.store.unit_of_work import SqlUnitOfWork
from tests.integration.store.builders import (
    T0,
    decision,
    make_mission,
    make_organisation,
    make_patient,
    make_report,
    make_request,
)
from tests.integration.store.conftest import UowFactory

pytestmark = pytest.mark.storage


def test_update_bumps_the_version_and_stores_the_new_state(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add(make_patient(moves=1))
        uow.commit()
    with registry() as uow:
        patient = uow.patients.get("P-001")
        patient.location_id = "FAC-2"
        patient.companions = 2
        uow.patients.update(patient)
        uow.commit()
    assert patient.version == 2
    with registry() as uow:
        stored = uow.patients.get("P-001")
    assert stored == patient
    assert stored.version == 2


def test_second_writer_of_the_same_patient_gets_a_conflict_and_overwrites_nothing(
    registry: UowFactory,
) -> None:
    with registry() as uow:
        uow.patients.add(make_patient(moves=1))
        uow.commit()
    with registry() as first, registry() as second:
        mine = first.patients.get("P-001")
        theirs = second.patients.get("P-001")
        mine.transition_to(PatientStatus.SELECTED, actor="dr.a", at=T0 + timedelta(days=1))
        first.patients.update(mine)
        first.commit()
        theirs.transition_to(
            PatientStatus.DEFERRED, actor="dr.b", at=T0 + timedelta(days=1), reason="unstable"
        )
        with pytest.raises(ConcurrentModification, match="patient 'P-001'"):
            second.patients.update(theirs)
    with registry() as uow:
        stored = uow.patients.get("P-001")
    assert stored.status is PatientStatus.SELECTED
    assert [c.actor for c in stored.history] == ["dr.kovalenko", "dr.a"]
    assert stored.version == 2


def test_updating_a_patient_that_is_gone_raises_not_found(registry: UowFactory) -> None:
    ghost = make_patient("P-GHOST")
    ghost.version = 1
    with registry() as uow, pytest.raises(NotFound, match="P-GHOST"):
        uow.patients.update(ghost)


def test_leaving_without_commit_rolls_back(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add(make_patient())
        uow.audit.add_many([])
    with registry() as uow:
        assert uow.patients.find("P-001") is None


def test_an_exception_in_the_block_rolls_back_and_propagates(registry: UowFactory) -> None:
    def add_then_fail() -> None:
        with registry() as uow:
            uow.patients.add(make_patient())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        add_then_fail()
    with registry() as uow:
        assert uow.patients.list() == []


def test_explicit_rollback_discards_the_writes_so_far(registry: UowFactory) -> None:
    with registry() as uow:
        uow.organisations.add(make_organisation("ORG-PL", "PL"))
        uow.rollback()
        uow.organisations.add(make_organisation("ORG-CZ", "CZ"))
        uow.commit()
    with registry() as uow:
        assert uow.organisations.find("ORG-PL") is None
        assert uow.organisations.find("ORG-CZ") is not None


def test_history_appended_since_read_is_stored_once(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add(make_patient(moves=0))
        uow.commit()
    with registry() as uow:
        patient = uow.patients.get("P-001")
        patient.transition_to(PatientStatus.SCREENING, actor="a", at=T0)
        uow.patients.update(patient)
        patient.transition_to(PatientStatus.SELECTED, actor="b", at=T0 + timedelta(hours=1))
        uow.patients.update(patient)
        uow.commit()
    with registry() as uow:
        stored = uow.patients.get("P-001")
    assert [(c.from_status, c.to_status) for c in stored.history] == [
        (PatientStatus.REPORTED, PatientStatus.SCREENING),
        (PatientStatus.SCREENING, PatientStatus.SELECTED),
    ]


def test_update_of_a_patient_not_read_in_this_unit_of_work_adds_only_new_history(
    registry: UowFactory,
) -> None:
    with registry() as uow:
        uow.patients.add(make_patient(moves=1))
        uow.commit()
    with registry() as uow:
        copy = uow.patients.get("P-001")
    copy.transition_to(PatientStatus.SELECTED, actor="dr.b", at=T0 + timedelta(hours=3))
    copy.required_specialties = (Specialty.NEUROSURGERY,)
    with registry() as uow:
        uow.patients.update(copy)
        uow.commit()
    with registry() as uow:
        stored = uow.patients.get("P-001")
        by_specialty = uow.patients.list(specialty=Specialty.NEUROSURGERY)
        assert uow.patients.list(specialty=Specialty.ORTHOPAEDICS) == []
    assert stored == copy
    assert len(stored.history) == 2
    assert [p.id for p in by_specialty] == ["P-001"]


def test_request_update_rewrites_its_lines(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add_many([make_patient("P-001"), make_patient("P-002")])
        uow.requests.add(make_request(patient_ids=("P-001",)))
        uow.commit()
    with registry() as uow:
        request = uow.requests.get("REQ-1")
        request.add_patient("P-002")
        request.submit()
        request.respond(
            {"P-001": (False, "no bed"), "P-002": (True, "")},
            {Specialty.OPHTHALMOLOGY: (3, "")},
        )
        uow.requests.update(request)
        uow.commit()
    with registry() as uow:
        stored = uow.requests.get("REQ-1")
    assert stored == request
    assert stored.version == 2


def test_mission_update_rewrites_its_candidates(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add_many([make_patient("P-001"), make_patient("P-002")])
        mission = make_mission()
        mission.add_candidate("P-001")
        uow.screenings.add(mission)
        uow.commit()
    with registry() as uow:
        mission = uow.screenings.get("MIS-1")
        mission.add_candidate("P-002")
        mission.decide("P-001", decision(ScreeningOutcome.DECLINE, "needs no evacuation"))
        uow.screenings.update(mission)
        uow.commit()
    with registry() as uow:
        assert uow.screenings.get("MIS-1") == mission
        assert [m.id for m in uow.screenings.list()] == ["MIS-1"]


def test_every_versioned_repository_refuses_a_stale_update(registry: UowFactory) -> None:
    with registry() as uow:
        organisation = uow.organisations.get("ORG-UA")
        facility = uow.facilities.get("FAC-1")
    organisation.version = facility.version = 7
    with registry() as uow:
        with pytest.raises(ConcurrentModification, match="expected version 7"):
            uow.organisations.update(organisation)
        with pytest.raises(ConcurrentModification):
            uow.facilities.update_many([facility])


def test_adding_an_existing_id_is_refused_with_the_id_named(registry: UowFactory) -> None:
    with registry() as uow, pytest.raises(StorageConflict, match="organisation 'ORG-UA'"):
        uow.organisations.add(make_organisation("ORG-UA"))


def test_a_patient_of_an_unknown_organisation_is_refused(registry: UowFactory) -> None:
    with registry() as uow, pytest.raises(StorageConflict, match="patient 'P-001'"):
        uow.patients.add(make_patient(organisation_id="ORG-NOWHERE"))
    with registry() as uow:
        assert uow.patients.find("P-001") is None


def test_the_same_capacity_report_twice_is_refused(registry: UowFactory) -> None:
    with registry() as uow, pytest.raises(StorageConflict, match="FAC-1"):
        uow.capacity.add_many([make_report(), make_report()])


def test_a_datetime_without_time_zone_is_refused(registry: UowFactory) -> None:
    patient = make_patient(moves=0)
    patient.transition_to(PatientStatus.SCREENING, actor="a", at=datetime(2026, 11, 20, 8))
    with registry() as uow, pytest.raises(Exception, match="has no time zone"):
        uow.patients.add(patient)


def test_a_unit_of_work_used_outside_with_says_so(registry: UowFactory) -> None:
    uow = registry()
    with pytest.raises(RuntimeError, match="not open"):
        uow.patients.list()


def test_units_of_work_made_from_a_url_share_one_engine_and_see_committed_data(
    database_url: str, registry: UowFactory
) -> None:
    first, second = SqlUnitOfWork(database_url), SqlUnitOfWork(database_url)
    assert first.engine is second.engine
    with first as uow:
        assert uow.organisations.get("ORG-UA").country == "UA"


def _row_ids(registry: UowFactory, table: str) -> dict[str, str]:
    """Each row's physical id (PostgreSQL's ctid, SQLite's rowid) by patient: a row rewritten
    gets a new one."""
    with registry() as uow:
        connection = uow.connection
        physical = "ctid" if connection.dialect.name == "postgresql" else "rowid"
        rows = connection.execute(text(f"SELECT patient_id, {physical} FROM {table}"))
        return {row[0]: str(row[1]) for row in rows}


def test_a_decision_rewrites_only_its_candidate_s_row(registry: UowFactory) -> None:
    # each decision had rewritten every candidate of the mission: the square of its candidates
    ids = [f"P-{n:03d}" for n in range(1, 6)]
    with registry() as uow:
        uow.patients.add_many([make_patient(i) for i in ids])
        mission = make_mission()
        for patient_id in ids:
            mission.add_candidate(patient_id)
        uow.screenings.add(mission)
        uow.commit()
    before = _row_ids(registry, "screening_candidates")
    with registry() as uow:
        mission = uow.screenings.get("MIS-1")
        mission.decide("P-003", decision(ScreeningOutcome.DECLINE, "needs no evacuation"))
        uow.screenings.update(mission)
        uow.commit()
    after = _row_ids(registry, "screening_candidates")
    assert [i for i in ids if after[i] != before[i]] == ["P-003"]
    with registry() as uow:
        assert uow.screenings.get("MIS-1") == mission


def test_an_answer_for_one_patient_rewrites_only_its_line(registry: UowFactory) -> None:
    # each answer had rewritten every line of the request: the square of its patients
    ids = tuple(f"P-{n:03d}" for n in range(1, 6))
    with registry() as uow:
        uow.patients.add_many([make_patient(i) for i in ids])
        request = make_request(patient_ids=ids)
        request.submit()
        uow.requests.add(request)
        uow.commit()
    before = _row_ids(registry, "request_patients")
    with registry() as uow:
        request = uow.requests.get("REQ-1")
        request.answer_patient("P-002", False, "no bed", at=request.created_at)
        uow.requests.update(request)
        uow.commit()
    after = _row_ids(registry, "request_patients")
    assert [i for i in ids if after[i] != before[i]] == ["P-002"]
    with registry() as uow:
        assert uow.requests.get("REQ-1") == request

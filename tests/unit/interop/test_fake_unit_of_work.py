"""The in-memory unit of work behaves like the storage contract says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medevac.domain.audit import AuditRecord
from medevac.domain.errors import ConcurrentModification, NotFound
from medevac.domain.facilities import CapacityReport, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient
from medevac.domain.vocabulary import (
    FacilityKind,
    Mobility,
    OrganisationKind,
    Precedence,
    Specialty,
)
from tests.fakes import FakeDatabase, FakeStorageConflict

AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def organisation(id: str = "O1") -> Organisation:
    return Organisation(id, "Ministry", OrganisationKind.MINISTRY_OF_HEALTH, "UA")


def facility(id: str = "F1", operator: str = "O1") -> Facility:
    return Facility(
        id, "Hospital", FacilityKind.HOSPITAL, operator, "DE", Coordinates(52.5, 13.4),
        specialties=frozenset({Specialty.BURNS}),
    )  # fmt: skip


def patient(id: str = "P1") -> Patient:
    return Patient(id, "O1", (Specialty.BURNS,), Precedence.URGENT, Mobility.LITTER)


def test_add_sets_version_one_and_commit_publishes() -> None:
    database = FakeDatabase()
    with database.unit_of_work() as uow:
        item = organisation()
        uow.organisations.add(item)
        assert item.version == 1
        uow.commit()
    with database.unit_of_work() as uow:
        assert uow.organisations.get("O1").version == 1


def test_repositories_refuse_use_outside_the_with_block() -> None:
    uow = FakeDatabase().unit_of_work()
    with pytest.raises(RuntimeError, match="not open"):
        uow.organisations.list()
    with uow:
        uow.organisations.list()
    with pytest.raises(RuntimeError, match="not open"):
        uow.commit()


def test_leaving_without_commit_rolls_back() -> None:
    database = FakeDatabase()
    with database.unit_of_work() as uow:
        uow.organisations.add(organisation())
    with database.unit_of_work() as uow:
        assert uow.organisations.find("O1") is None
        with pytest.raises(NotFound):
            uow.organisations.get("O1")


def test_changing_a_read_entity_without_update_stores_nothing() -> None:
    database = FakeDatabase()
    with database.unit_of_work() as uow:
        uow.organisations.add(organisation())
        uow.commit()
    with database.unit_of_work() as uow:
        item = uow.organisations.get("O1")
        item.name = "Changed"
        assert uow.organisations.get("O1").name == "Ministry"
        uow.commit()
    assert database.state.organisations["O1"].name == "Ministry"


def test_update_of_a_stale_copy_is_a_concurrent_modification() -> None:
    database = FakeDatabase()
    with database.unit_of_work() as uow:
        uow.organisations.add(organisation())
        first, second = uow.organisations.get("O1"), uow.organisations.get("O1")
        first.name = "First"
        uow.organisations.update(first)
        assert first.version == 2
        second.name = "Second"
        with pytest.raises(ConcurrentModification):
            uow.organisations.update_many([second])


def test_duplicate_ids_and_dangling_references_are_refused() -> None:
    database = FakeDatabase()
    with database.unit_of_work() as uow:
        uow.organisations.add(organisation())
        with pytest.raises(FakeStorageConflict):
            uow.organisations.add_many([organisation("O2"), organisation("O2")])
        with pytest.raises(FakeStorageConflict):
            uow.facilities.add(facility(operator="GHOST"))
        with pytest.raises(FakeStorageConflict):
            uow.capacity.add(CapacityReport("F9", Specialty.BURNS, 1, 2, reported_at=AT))


def test_capacity_latest_history_and_exists() -> None:
    database = FakeDatabase()
    with database.unit_of_work() as uow:
        uow.organisations.add(organisation())
        uow.facilities.add(facility())
        older = CapacityReport("F1", Specialty.BURNS, 1, 5, reported_at=AT)
        newer = CapacityReport("F1", Specialty.BURNS, 3, 5, reported_at=AT.replace(hour=9))
        uow.capacity.add_many([newer, older])
        assert uow.capacity.latest() == [newer]
        assert uow.capacity.history("F1") == [older, newer]
        assert uow.capacity.exists("F1", Specialty.BURNS, AT)
        assert not uow.capacity.exists("F1", Specialty.BURNS, AT.replace(hour=7))


def test_patient_history_and_filters_survive_update() -> None:
    database = FakeDatabase()
    with database.unit_of_work() as uow:
        uow.organisations.add(organisation())
        uow.patients.add(patient())
        stored = uow.patients.get("P1")
        stored.transition_to(PatientStatus.SCREENING, actor="bob", at=AT)
        uow.patients.update(stored)
        uow.commit()
    with database.unit_of_work() as uow:
        found = uow.patients.list(status=PatientStatus.SCREENING, specialty=Specialty.BURNS)
        assert [p.id for p in found] == ["P1"]
        assert [c.to_status for c in found[0].history] == [PatientStatus.SCREENING]
        assert uow.patients.count_by_status() == {PatientStatus.SCREENING: 1}


def test_audit_list_gives_the_newest_first() -> None:
    database = FakeDatabase()
    with database.unit_of_work() as uow:
        records = [
            AuditRecord("a", AT.replace(hour=h), "patient", "P1", "create", None, {"n": h})
            for h in (8, 10, 9)
        ]
        uow.audit.add_many(records)
        assert [r.at.hour for r in uow.audit.list(entity_id="P1", limit=2)] == [10, 9]

"""Bulk reads and writes of a few thousand patients, on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medevac.domain.audit import AuditRecord, snapshot
from medevac.domain.errors import ConcurrentModification
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.vocabulary import Precedence, Specialty
from tests.integration.store.builders import (
    KYIV,
    T0,
    make_facility,
    make_organisation,
    make_patient,
    make_report,
)
from tests.integration.store.conftest import UowFactory

pytestmark = pytest.mark.storage

COUNT = 2000
SPECIALTIES = list(Specialty)


def ward(count: int = COUNT) -> list:  # type: ignore[type-arg]
    return [
        make_patient(
            f"P-{i:05d}",
            specialties=(SPECIALTIES[i % 15], SPECIALTIES[(i + 4) % 15]),
            moves=i % 4,
            location_id="FAC-1" if i % 3 == 0 else None,
        )
        for i in range(count)
    ]


def test_bulk_add_then_get_many_reads_every_patient_back_equal(registry: UowFactory) -> None:
    patients = ward()
    with registry() as uow:
        uow.patients.add_many(patients)
        uow.audit.add_many(
            [
                AuditRecord("import", T0, "patient", p.id, "create", None, snapshot(p))
                for p in patients
            ]
        )
        uow.commit()
    assert {p.version for p in patients} == {1}
    with registry() as uow:
        found = uow.patients.get_many([p.id for p in patients] + ["P-MISSING"])
        orthopaedic = uow.patients.list(specialty=Specialty.ORTHOPAEDICS)
        assert len(uow.audit.list(entity_type="patient")) == COUNT
    assert found == {p.id: p for p in patients}
    assert [p.id for p in orthopaedic] == [
        p.id for p in patients if Specialty.ORTHOPAEDICS in p.required_specialties
    ]


def test_bulk_update_writes_every_change_and_new_history(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add_many(ward())
        uow.commit()
    with registry() as uow:
        patients = list(uow.patients.get_many([f"P-{i:05d}" for i in range(COUNT)]).values())
        for patient in patients:
            patient.precedence = Precedence.URGENT
            if patient.status is PatientStatus.REPORTED:
                patient.transition_to(PatientStatus.SCREENING, actor="bulk", at=T0 + timedelta(1))
            if patient.id.endswith("7"):
                patient.required_specialties = (Specialty.PSYCHIATRY,)
        uow.patients.update_many(patients)
        uow.commit()
    assert {p.version for p in patients} == {2}
    with registry() as uow:
        stored = uow.patients.get_many([p.id for p in patients])
        counts = uow.patients.count_by_status()
        psychiatric = uow.patients.list(specialty=Specialty.PSYCHIATRY)
    assert stored == {p.id: p for p in patients}
    assert PatientStatus.REPORTED not in counts
    assert [p.id for p in psychiatric] == sorted(
        p.id for p in patients if Specialty.PSYCHIATRY in p.required_specialties
    )


def test_bulk_update_with_one_stale_patient_is_refused_as_a_whole(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add_many(ward(500))
        uow.commit()
    with registry() as uow:
        patients = list(uow.patients.get_many([f"P-{i:05d}" for i in range(500)]).values())
    with registry() as uow:
        other = uow.patients.get("P-00250")
        other.companions = 3
        uow.patients.update(other)
        uow.commit()
    for patient in patients:
        patient.companions = 0
    with registry() as uow, pytest.raises(ConcurrentModification, match="P-00250"):
        uow.patients.update_many(patients)
    with registry() as uow:
        assert uow.patients.get("P-00250").companions == 3
        assert uow.patients.get("P-00001").version == 1


def test_bulk_paths_keep_money_coordinates_sets_and_times_of_every_kind(
    registry: UowFactory,
) -> None:
    organisations = [make_organisation(f"ORG-{i:04d}", "PL") for i in range(600)]
    facilities = [
        make_facility(f"FAC-{i:04d}", f"ORG-{i:04d}", billed=i % 2 == 0) for i in range(600)
    ]
    reports = [
        make_report(f.id, Specialty.BURNS, i % 5, (T0 + timedelta(minutes=i)).astimezone(KYIV))
        for i, f in enumerate(facilities)
    ]
    with registry() as uow:
        uow.organisations.add_many(organisations)
        uow.facilities.add_many(facilities)
        uow.capacity.add_many(reports)
        uow.commit()
    with registry() as uow:
        stored_facilities = uow.facilities.get_many([f.id for f in facilities])
        assert stored_facilities == {f.id: f for f in facilities}
        stored_organisations = uow.organisations.get_many([o.id for o in organisations])
        latest = {r.facility_id: r for r in uow.capacity.latest()}
        for facility in stored_facilities.values():
            facility.city = "Warsaw"
        uow.facilities.update_many(list(stored_facilities.values()))
        uow.commit()
    assert stored_organisations == {o.id: o for o in organisations}
    assert all(latest[r.facility_id] == r for r in reports)
    with registry() as uow:
        again = uow.facilities.get_many([f.id for f in facilities])
    assert {f.city for f in again.values()} == {"Warsaw"}
    assert {f.version for f in again.values()} == {2}
    assert again["FAC-0000"].cost_policy == facilities[0].cost_policy
    assert again["FAC-0001"].cost_policy == facilities[1].cost_policy


def test_status_updates_write_the_status_version_and_history_alone(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add_many(ward())
        uow.commit()
    ids = [f"P-{i:05d}" for i in range(COUNT)]
    with registry() as uow:
        patients = list(uow.patients.get_many(ids).values())
        companions = {patient.id: patient.companions for patient in patients}
        for patient in patients:
            patient.transition_to(
                PatientStatus.CANCELLED, actor="bulk", at=T0 + timedelta(2), reason="r"
            )
            patient.companions = 9  # not a move: update_statuses must leave it as stored
        uow.patients.update_statuses(patients)
        uow.commit()
    with registry() as uow:
        stored = uow.patients.get_many(ids)
    for patient in patients:
        kept = stored[patient.id]
        assert (kept.status, kept.version) == (PatientStatus.CANCELLED, 2)
        assert kept.companions == companions[patient.id] != 9
        assert kept.history == patient.history
    # a stale version is refused as a whole, as by update_many
    for patient in patients:
        patient.version = 1
    with registry() as uow, pytest.raises(ConcurrentModification):
        uow.patients.update_statuses(patients)

"""Every aggregate reads back equal to what was written, on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.audit import AuditRecord, snapshot
from medevac.domain.errors import NotFound
from medevac.domain.facilities import CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient
from medevac.domain.plans import ApprovedPlan, PlannedAdmission
from medevac.domain.screening import ScreeningOutcome
from medevac.domain.vocabulary import FacilityKind, Mobility, Precedence, Specialty
from tests.integration.store.builders import (
    KYIV,
    T0,
    decision,
    make_agreement,
    make_facility,
    make_mission,
    make_organisation,
    make_patient,
    make_report,
    make_request,
)
from tests.integration.store.conftest import UowFactory

pytestmark = pytest.mark.storage


def test_organisation_reads_back_equal_with_version_one(uow_factory: UowFactory) -> None:
    organisation = make_organisation("ORG-UA")
    with uow_factory() as uow:
        uow.organisations.add(organisation)
        uow.commit()
    assert organisation.version == 1
    with uow_factory() as uow:
        stored = uow.organisations.get("ORG-UA")
    assert stored == organisation
    assert stored.version == 1


def test_billed_facility_keeps_tariff_coordinates_and_sets(registry: UowFactory) -> None:
    with registry() as uow:
        stored = uow.facilities.get("FAC-1")
    assert stored == make_facility("FAC-1")
    assert stored.cost_policy.tariff_per_bed_day == Decimal("612.35")
    assert stored.location == Coordinates(52.520008, 13.404954)


def test_free_field_hospital_with_outpatient_throughput_reads_back_equal(
    registry: UowFactory,
) -> None:
    field_hospital = Facility(
        id="EMT-2",
        name="Field hospital",
        kind=FacilityKind.EMT_TYPE_2,
        operator_id="ORG-DE",
        country="UA",
        location=Coordinates(-48.5, -179.25),
        daily_outpatient_throughput=420,
        cost_policy=CostPolicy.free(),
    )
    with registry() as uow:
        uow.facilities.add(field_hospital)
        uow.commit()
    with registry() as uow:
        assert uow.facilities.get("EMT-2") == field_hospital


def test_patient_with_identity_conditions_needs_and_history_reads_back_equal(
    registry: UowFactory,
) -> None:
    patient = make_patient("P-001", location_id="FAC-1", moves=3)
    with registry() as uow:
        uow.patients.add(patient)
        uow.commit()
    with registry() as uow:
        stored = uow.patients.get("P-001")
    assert stored == patient
    assert stored.required_specialties == (Specialty.ORTHOPAEDICS, Specialty.REHABILITATION)
    assert [c.at for c in stored.history] == [c.at for c in patient.history]
    assert all(c.at.tzinfo is not None for c in stored.history)


def test_minimal_patient_reads_back_equal(registry: UowFactory) -> None:
    patient = Patient(
        id="P-MIN",
        organisation_id="ORG-UA",
        required_specialties=(Specialty.NEUROLOGY,),
        precedence=Precedence.ROUTINE,
        mobility=Mobility.AMBULATORY,
    )
    with registry() as uow:
        uow.patients.add(patient)
        uow.commit()
    with registry() as uow:
        assert uow.patients.get("P-MIN") == patient


def test_capacity_report_reads_back_as_the_same_instant_in_utc(registry: UowFactory) -> None:
    report = make_report(at=datetime(2026, 11, 20, 10, 30, 15, 123456, tzinfo=KYIV))
    with registry() as uow:
        uow.capacity.add(report)
        uow.commit()
    with registry() as uow:
        (stored,) = uow.capacity.latest("FAC-1")
    assert stored == report
    assert stored.reported_at.utcoffset() == timedelta(0)


def test_answered_treatment_request_reads_back_equal(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add_many([make_patient("P-001"), make_patient("P-002")])
        request = make_request(patient_ids=("P-001", "P-002"))
        request.submit()
        request.respond(
            {"P-001": (True, ""), "P-002": (False, "no neurosurgery bed")},
            {Specialty.OPHTHALMOLOGY: (2, "one bed left only")},
        )
        request.patients[0].facility_id = "FAC-1"
        uow.requests.add(request)
        uow.commit()
    with registry() as uow:
        stored = uow.requests.get("REQ-1")
    assert stored == request
    assert [line.patient_id for line in stored.patients] == ["P-001", "P-002"]


def test_screening_mission_with_pending_and_decided_candidates_reads_back_equal(
    registry: UowFactory,
) -> None:
    mission = make_mission()
    with registry() as uow:
        uow.patients.add_many([make_patient(f"P-00{i}") for i in range(1, 4)])
        for patient_id in ("P-003", "P-001", "P-002"):
            mission.add_candidate(patient_id)
        mission.decide("P-001", decision(ScreeningOutcome.SELECT))
        mission.decide("P-002", decision(ScreeningOutcome.DEFER, "wound not yet stable"))
        uow.screenings.add(mission)
        uow.commit()
    with registry() as uow:
        stored = uow.screenings.get("MIS-1")
    assert stored == mission
    assert list(stored.candidates) == ["P-003", "P-001", "P-002"]
    assert stored.report() == mission.report()


def test_agreements_billed_and_open_ended_free_read_back_equal(registry: UowFactory) -> None:
    billed = make_agreement()
    free = Agreement(
        id="AGR-2",
        sending_organisation_id="ORG-UA",
        receiving_organisation_id="ORG-DE",
        specialties=frozenset({Specialty.BURNS}),
        quota=None,
        cost_policy=CostPolicy.free(),
        valid_from=date(2026, 3, 1),
    )
    with registry() as uow:
        uow.agreements.add_many([billed, free])
        uow.commit()
    with registry() as uow:
        assert uow.agreements.get("AGR-1") == billed
        assert uow.agreements.get("AGR-2") == free


def test_audit_record_keeps_before_and_after_snapshots(registry: UowFactory) -> None:
    patient = make_patient()
    record = AuditRecord(
        actor="coordinator.anna",
        at=T0,
        entity_type="patient",
        entity_id=patient.id,
        action="update",
        before={"status": "screening", "nested": {"ids": [1, 2]}, "none": None},
        after=snapshot(patient),
        reason="imported from patients.csv",
    )
    with registry() as uow:
        uow.audit.add(record)
        uow.commit()
    with registry() as uow:
        assert uow.audit.list(entity_type="patient") == [record]


def test_get_raises_not_found_and_find_returns_none(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        with pytest.raises(NotFound, match="patient 'P-404'"):
            uow.patients.get("P-404")
        assert uow.patients.find("P-404") is None
        assert uow.organisations.find("ORG-404") is None
        with pytest.raises(NotFound):
            uow.requests.get("REQ-404")
        with pytest.raises(NotFound):
            uow.screenings.get("MIS-404")
        with pytest.raises(NotFound):
            uow.agreements.get("AGR-404")
        with pytest.raises(NotFound):
            uow.facilities.get("FAC-404")


def test_get_many_returns_only_the_ids_that_exist(registry: UowFactory) -> None:
    with registry() as uow:
        found = uow.organisations.get_many(["ORG-UA", "ORG-XX", "ORG-DE", "ORG-UA"])
        facilities = uow.facilities.get_many([])
    assert sorted(found) == ["ORG-DE", "ORG-UA"]
    assert all(isinstance(o, Organisation) for o in found.values())
    assert facilities == {}


def test_datetimes_always_come_back_in_utc(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add(make_patient())
        uow.commit()
    with registry() as uow:
        history = uow.patients.get("P-001").history
    assert {c.at.tzinfo for c in history} == {UTC}


def test_approved_plan_with_open_and_withdrawn_admissions_reads_back_equal(
    registry: UowFactory,
) -> None:
    with registry() as uow:
        uow.patients.add_many([make_patient("P-001"), make_patient("P-002")])
        plan = ApprovedPlan(
            id="PLAN-1",
            approved_at=T0,
            approved_by="cell",
            built_at=T0 - timedelta(hours=1),
            objective=123.5,
            solver="highs 1.14.0",
            solver_status="optimal",
            admissions=[
                PlannedAdmission("P-001", "FAC-1", date(2026, 11, 21)),
                PlannedAdmission("P-002", "FAC-1", date(2026, 11, 22), "patient died"),
            ],
        )
        uow.plans.add(plan)
        uow.commit()
    with registry() as uow:
        stored = uow.plans.get("PLAN-1")
        holding_first = uow.plans.live_for_patient("P-001")
        holding_second = uow.plans.live_for_patient("P-002")
    assert stored == plan
    assert stored.version == 1
    assert [p.id for p in holding_first] == ["PLAN-1"]
    assert holding_second == []

"""List filters, counts and the capacity views, on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medevac.domain.audit import AuditRecord
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.patients import MoveTimes, PlanningPatient
from medevac.domain.plans import ApprovedPlan, PlannedAdmission, PlanStatus
from medevac.domain.requests import RequestStatus
from medevac.domain.vocabulary import FacilityKind, Precedence, SpecialNeed, Specialty
from tests.integration.store.builders import (
    KYIV,
    T0,
    make_agreement,
    make_organisation,
    make_patient,
    make_report,
    make_request,
)
from tests.integration.store.conftest import UowFactory

pytestmark = pytest.mark.storage

S = Specialty


@pytest.fixture
def ward(registry: UowFactory) -> UowFactory:
    """Six patients spread over statuses, specialties, precedences, places and organisations."""
    with registry() as uow:
        uow.organisations.add(make_organisation("ORG-PL", "PL"))
        uow.patients.add_many(
            [
                make_patient("P-1", specialties=(S.ORTHOPAEDICS,), moves=0),
                make_patient(
                    "P-2", specialties=(S.NEUROLOGY, S.ORTHOPAEDICS), location_id="FAC-1", moves=1
                ),
                make_patient(
                    "P-3",
                    specialties=(S.BURNS, S.REHABILITATION, S.OPHTHALMOLOGY),
                    precedence=Precedence.URGENT,
                    moves=2,
                ),
                make_patient("P-4", specialties=(S.OPHTHALMOLOGY,), location_id="FAC-2", moves=2),
                make_patient("P-5", "ORG-PL", specialties=(S.REHABILITATION, S.BURNS), moves=3),
                make_patient(
                    "P-6", "ORG-PL", specialties=(S.ORTHOPAEDICS,), location_id="FAC-1", moves=2
                ),
            ]
        )
        uow.commit()
    return registry


def ids(patients: list[object]) -> list[str]:
    return [p.id for p in patients]  # type: ignore[attr-defined]


def test_list_without_filters_returns_every_patient_by_id(ward: UowFactory) -> None:
    with ward() as uow:
        assert ids(uow.patients.list()) == ["P-1", "P-2", "P-3", "P-4", "P-5", "P-6"]


def test_list_by_specialty_matches_any_required_specialty_not_only_the_primary(
    ward: UowFactory,
) -> None:
    with ward() as uow:
        assert ids(uow.patients.list(specialty=S.ORTHOPAEDICS)) == ["P-1", "P-2", "P-6"]
        assert ids(uow.patients.list(specialty=S.OPHTHALMOLOGY)) == ["P-3", "P-4"]
        assert ids(uow.patients.list(specialty=S.PSYCHIATRY)) == []


def test_list_by_status_precedence_location_and_organisation(ward: UowFactory) -> None:
    with ward() as uow:
        assert ids(uow.patients.list(status=PatientStatus.SELECTED)) == ["P-3", "P-4", "P-6"]
        assert ids(uow.patients.list(precedence=Precedence.URGENT)) == ["P-3"]
        assert ids(uow.patients.list(location_id="FAC-1")) == ["P-2", "P-6"]
        assert ids(uow.patients.list(organisation_id="ORG-PL")) == ["P-5", "P-6"]


def test_list_combines_filters_and_applies_the_limit(ward: UowFactory) -> None:
    with ward() as uow:
        both = uow.patients.list(status=PatientStatus.SELECTED, specialty=S.ORTHOPAEDICS)
        assert ids(both) == ["P-6"]
        assert ids(uow.patients.list(organisation_id="ORG-UA", limit=2)) == ["P-1", "P-2"]
        listed = uow.patients.list(specialty=S.BURNS)
    assert listed[0].required_specialties == (S.BURNS, S.REHABILITATION, S.OPHTHALMOLOGY)
    assert len(listed[1].history) == 3


def test_count_by_status_counts_each_status_present(ward: UowFactory) -> None:
    with ward() as uow:
        counts = uow.patients.count_by_status()
    assert counts == {
        PatientStatus.REPORTED: 1,
        PatientStatus.SCREENING: 1,
        PatientStatus.SELECTED: 3,
        PatientStatus.REFERRED: 1,
    }


def test_for_planning_reads_what_the_engine_needs_of_the_patients_in_the_given_statuses(
    ward: UowFactory,
) -> None:
    plain = make_patient("P-7", specialties=(S.PSYCHIATRY,), location_id="FAC-2", moves=2)
    plain.special_needs = frozenset()
    plain.expected_length_of_stay_days = None
    with ward() as uow:
        uow.patients.add(plain)
        uow.commit()
    planned = (PatientStatus.SELECTED, PatientStatus.REFERRED)
    with ward() as uow:
        entries = uow.patients.for_planning(planned)
        full = [p for p in uow.patients.list() if p.status in planned]
        reported = uow.patients.for_planning([PatientStatus.REPORTED])
    assert ids(entries) == ["P-3", "P-4", "P-5", "P-6", "P-7"]
    assert entries == [PlanningPatient.of(p) for p in full]
    assert entries[0].primary_specialty is S.BURNS  # rank 0 of three
    assert entries[-1].special_needs == frozenset()
    assert entries[-1].expected_length_of_stay_days is None
    assert entries[0].special_needs == {SpecialNeed.OXYGEN, SpecialNeed.ISOLATION}
    assert ids(reported) == ["P-1"]


def test_latest_capacity_is_the_newest_report_per_facility_and_specialty(
    registry: UowFactory,
) -> None:
    hour = timedelta(hours=1)
    reports = [
        make_report("FAC-1", S.ORTHOPAEDICS, 5, T0),
        make_report("FAC-1", S.ORTHOPAEDICS, 3, T0 + 2 * hour),
        make_report("FAC-1", S.ORTHOPAEDICS, 9, T0 + hour),
        make_report("FAC-1", S.BURNS, 1, T0 - hour),
        make_report("FAC-2", S.ORTHOPAEDICS, 7, (T0 + 3 * hour).astimezone(KYIV)),
        make_report("FAC-2", S.ORTHOPAEDICS, 8, T0 + 2 * hour),
    ]
    with registry() as uow:
        uow.capacity.add_many(reports)
        uow.commit()
    with registry() as uow:
        latest = uow.capacity.latest()
        only_fac1 = uow.capacity.latest("FAC-1")
    assert [(r.facility_id, r.specialty, r.available) for r in latest] == [
        ("FAC-1", S.BURNS, 1),
        ("FAC-1", S.ORTHOPAEDICS, 3),
        ("FAC-2", S.ORTHOPAEDICS, 7),
    ]
    assert only_fac1 == latest[:2]


def test_capacity_history_is_oldest_first_and_exists_finds_exact_reports(
    registry: UowFactory,
) -> None:
    hour = timedelta(hours=1)
    with registry() as uow:
        uow.capacity.add(make_report("FAC-1", S.ORTHOPAEDICS, 5, T0 + hour))
        uow.capacity.add(make_report("FAC-1", S.ORTHOPAEDICS, 4, T0))
        uow.capacity.add(make_report("FAC-1", S.BURNS, 2, T0 + 2 * hour))
        uow.commit()
    with registry() as uow:
        history = uow.capacity.history("FAC-1", S.ORTHOPAEDICS)
        everything = uow.capacity.history("FAC-1")
        assert uow.capacity.exists("FAC-1", S.ORTHOPAEDICS, T0.astimezone(KYIV))
        assert not uow.capacity.exists("FAC-1", S.BURNS, T0)
        assert not uow.capacity.exists("FAC-2", S.ORTHOPAEDICS, T0)
    assert [r.available for r in history] == [4, 5]
    assert [r.available for r in everything] == [4, 5, 2]


def test_facility_list_filters_by_kind_and_operator(registry: UowFactory) -> None:
    with registry() as uow:
        rehab = uow.facilities.list(kind=FacilityKind.REHABILITATION_CENTRE)
        assert [f.id for f in rehab] == ["FAC-2"]
        assert [f.id for f in uow.facilities.list(operator_id="ORG-DE")] == ["FAC-1", "FAC-2"]
        assert uow.facilities.list(operator_id="ORG-UA") == []
        assert [o.id for o in uow.organisations.list()] == ["ORG-DE", "ORG-UA"]


def test_live_requests_for_a_patient_leave_out_closed_requests_and_withdrawn_lines(
    registry: UowFactory,
) -> None:
    with registry() as uow:
        uow.patients.add_many([make_patient("P-1"), make_patient("P-2")])
        live = make_request("REQ-LIVE", patient_ids=("P-1", "P-2"))
        closed = make_request("REQ-CLOSED", patient_ids=("P-1",))
        closed.close("flight cancelled")
        withdrawn = make_request("REQ-WITHDRAWN", patient_ids=("P-2",))
        withdrawn.withdraw_patient("P-2", "moved by another route")
        uow.requests.add(live)
        uow.requests.add(closed)
        uow.requests.add(withdrawn)
        uow.commit()
    with registry() as uow:
        assert [r.id for r in uow.requests.live_for_patient("P-1")] == ["REQ-LIVE"]
        assert [r.id for r in uow.requests.live_for_patient("P-2")] == ["REQ-LIVE"]
        assert uow.requests.live_for_patient("P-9") == []
        drafts = uow.requests.list(status=RequestStatus.DRAFT)
        assert [r.id for r in drafts] == ["REQ-LIVE", "REQ-WITHDRAWN"]
        assert [r.id for r in uow.requests.list(status=RequestStatus.CLOSED)] == ["REQ-CLOSED"]
        assert len(uow.requests.list(organisation_id="ORG-DE")) == 3
        assert uow.requests.list(organisation_id="ORG-PL") == []


def test_agreement_list_matches_either_party(registry: UowFactory) -> None:
    with registry() as uow:
        uow.organisations.add(make_organisation("ORG-PL", "PL"))
        uow.agreements.add(make_agreement("AGR-1", "ORG-UA", "ORG-DE"))
        uow.agreements.add(make_agreement("AGR-2", "ORG-PL", "ORG-UA"))
        uow.commit()
    with registry() as uow:
        assert [a.id for a in uow.agreements.list(organisation_id="ORG-UA")] == ["AGR-1", "AGR-2"]
        assert [a.id for a in uow.agreements.list(organisation_id="ORG-PL")] == ["AGR-2"]
        assert len(uow.agreements.list()) == 2


def test_audit_list_filters_by_entity_and_gives_newest_first(uow_factory: UowFactory) -> None:
    def record(entity_id: str, minutes: int, action: str) -> AuditRecord:
        return AuditRecord(
            "anna", T0 + timedelta(minutes=minutes), "patient", entity_id, action, None, None
        )

    with uow_factory() as uow:
        uow.audit.add_many(
            [record("P-1", 0, "create"), record("P-2", 1, "create"), record("P-1", 2, "update")]
        )
        uow.audit.add(AuditRecord("anna", T0, "facility", "P-1", "create", None, {"name": "x"}))
        uow.commit()
    with uow_factory() as uow:
        trail = uow.audit.list(entity_type="patient", entity_id="P-1")
        newest = uow.audit.list(limit=1)
        assert len(uow.audit.list()) == 4
    assert [r.action for r in trail] == ["update", "create"]
    assert [(r.entity_id, r.action) for r in newest] == [("P-1", "update")]


def test_latest_admissions_take_each_patient_from_the_last_plan_that_holds_it_open(
    registry: UowFactory,
) -> None:
    def plan(plan_id: str, hours: int, *admissions: PlannedAdmission) -> ApprovedPlan:
        return ApprovedPlan(
            id=plan_id,
            approved_at=T0 + timedelta(hours=hours),
            approved_by="cell",
            built_at=T0,
            objective=1.0,
            solver="test",
            solver_status="optimal",
            admissions=list(admissions),
            status=PlanStatus.SUPERSEDED if hours < 2 else PlanStatus.LIVE,
        )

    day = T0.date()
    with registry() as uow:
        uow.patients.add_many([make_patient(f"P-{n}") for n in range(1, 5)])
        # added out of order: the approval time decides, not the order of writing
        uow.plans.add(
            plan(
                "PLAN-B",
                2,
                PlannedAdmission("P-1", "FAC-2", day + timedelta(days=3)),
                PlannedAdmission("P-3", "FAC-2", day, "patient died"),
            )
        )
        uow.plans.add(
            plan(
                "PLAN-A",
                1,
                PlannedAdmission("P-1", "FAC-1", day),
                PlannedAdmission("P-2", "FAC-1", day + timedelta(days=1)),
                PlannedAdmission("P-3", "FAC-1", day + timedelta(days=2)),
            )
        )
        uow.commit()
    with registry() as uow:
        found = uow.plans.latest_admissions(["P-1", "P-2", "P-3", "P-4"])
    assert {p: (a.facility_id, a.admission_date) for p, a in found.items()} == {
        "P-1": ("FAC-2", day + timedelta(days=3)),  # the later plan
        "P-2": ("FAC-1", day + timedelta(days=1)),  # only in the superseded one
        "P-3": ("FAC-1", day + timedelta(days=2)),  # withdrawn from the later one
    }


def test_move_times_give_the_last_departure_from_referred_admission_and_move(
    registry: UowFactory,
) -> None:
    # one patient referred, accepted, withdrawn, referred and accepted again, then admitted;
    # one only referred; one with no move after its creation
    travelled = make_patient("P-A", moves=3)
    steps = [
        PatientStatus.ACCEPTED,
        PatientStatus.SELECTED,
        PatientStatus.REFERRED,
        PatientStatus.ACCEPTED,
        PatientStatus.SCHEDULED,
        PatientStatus.IN_TRANSIT,
        PatientStatus.ADMITTED,
        PatientStatus.IN_TREATMENT,
    ]
    for hour, target in enumerate(steps, start=10):
        travelled.transition_to(
            target, actor="t", at=(T0 + timedelta(hours=hour)).astimezone(KYIV), reason="r"
        )
    patients = [travelled, make_patient("P-B", moves=3), make_patient("P-C", moves=0)]
    with registry() as uow:
        uow.patients.add_many(patients)
        uow.commit()
    with registry() as uow:
        times = uow.patients.move_times(["P-A", "P-B", "P-C", "P-NONE"])
    assert times["P-A"] == MoveTimes(
        T0 + timedelta(hours=13), T0 + timedelta(hours=16), T0 + timedelta(hours=17)
    )
    assert times["P-A"].left_referred is not None
    assert times["P-A"].left_referred.tzinfo is not None
    assert times["P-B"] == MoveTimes(None, None, T0 + timedelta(hours=2))
    assert "P-C" not in times
    assert "P-NONE" not in times
    assert times == {p.id: MoveTimes.of(p) for p in patients if p.history}


def test_the_requests_a_patient_is_on_are_found_whatever_their_state(
    registry: UowFactory,
) -> None:
    # `patients show` lists them; it read every request of the registry to find them
    with registry() as uow:
        uow.patients.add_many([make_patient(f"P-{i}") for i in range(1, 4)])
        later = make_request("REQ-A", patient_ids=("P-1", "P-2"))
        later.created_at += timedelta(hours=1)
        closed = make_request("REQ-B", patient_ids=("P-1",))
        closed.close("flight cancelled")
        withdrawn = make_request("REQ-C", patient_ids=("P-1", "P-3"))
        withdrawn.withdraw_patient("P-1", "moved by another route")
        uow.requests.add_many(
            [later, closed, withdrawn, make_request("REQ-D", patient_ids=("P-3",))]
        )
        uow.commit()
    with registry() as uow:
        assert [r.id for r in uow.requests.with_patient("P-1")] == ["REQ-B", "REQ-C", "REQ-A"]
        assert [r.id for r in uow.requests.with_patient("P-2")] == ["REQ-A"]
        assert [r.id for r in uow.requests.with_patient("P-9")] == []
        [found] = [r for r in uow.requests.with_patient("P-1") if r.id == "REQ-C"]
        assert found == withdrawn

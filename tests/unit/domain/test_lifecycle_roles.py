"""Who may make which move: each role is allowed (from, to) pairs, not any move into a status.

A screening clinician decides screening; a receiving facility answers referrals and admits
arrivals; a coordinator (and the system) make every move the lifecycle allows. A role must not
undo another role's decision by moving into a status it may reach from elsewhere.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from medevac.domain.errors import IllegalTransition
from medevac.domain.lifecycle import ALLOWED_TRANSITIONS, ActorRole, PatientStatus
from medevac.domain.requests import RequestStatus
from medevac.domain.screening import ScreeningOutcome
from medevac.services.auditing import utc_now
from medevac.services.patients import move_patient, register_patient
from medevac.services.requests import get_request
from medevac.services.screening import add_candidates, create_mission, record_decision
from tests.fakes import FakeDatabase
from tests.integration.services.builders import (
    ACTOR,
    accepted_request,
    registry,
    selected_patients,
)
from tests.unit.domain.factories import T0, make_patient

S = PatientStatus
R = ActorRole

# Written out here independently of the implementation.
SCREENING_MOVES = {
    (S.REPORTED, S.SCREENING),
    (S.DEFERRED, S.SCREENING),
    (S.DECLINED, S.SCREENING),
    (S.SCREENING, S.SELECTED),
    (S.SCREENING, S.DEFERRED),
    (S.SCREENING, S.DECLINED),
}
RECEIVING_MOVES = {(S.REFERRED, S.ACCEPTED), (S.REFERRED, S.DECLINED), (S.IN_TRANSIT, S.ADMITTED)}
ALLOWED = sorted((a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets)


def move(current: PatientStatus, target: PatientStatus, role: ActorRole) -> PatientStatus:
    patient = make_patient(current)
    patient.transition_to(target, actor="someone", at=T0, reason="why", role=role)
    return patient.status


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_a_screening_clinician_may_only_take_into_and_decide_screening(
    current: PatientStatus, target: PatientStatus
) -> None:
    if (current, target) in SCREENING_MOVES:
        assert move(current, target, R.SCREENING_CLINICIAN) is target
    else:
        with pytest.raises(IllegalTransition, match="a screening clinician may not move"):
            move(current, target, R.SCREENING_CLINICIAN)


@pytest.mark.parametrize(("current", "target"), ALLOWED)
@pytest.mark.parametrize("role", [R.COORDINATOR, R.SYSTEM])
def test_a_coordinator_and_the_system_may_make_every_allowed_move(
    current: PatientStatus, target: PatientStatus, role: ActorRole
) -> None:
    assert move(current, target, role) is target


@pytest.mark.parametrize(
    ("role", "current", "target", "message"),
    [
        (
            R.SCREENING_CLINICIAN,
            S.ACCEPTED,
            S.SELECTED,
            "a screening clinician may not move a patient from accepted to selected; "
            "a coordinator makes this move",
        ),
        (
            R.SCREENING_CLINICIAN,
            S.REFERRED,
            S.SELECTED,
            "a screening clinician may not move a patient from referred to selected; "
            "a coordinator makes this move",
        ),
        (
            R.SCREENING_CLINICIAN,
            S.REFERRED,
            S.DECLINED,
            "a screening clinician may not move a patient from referred to declined; "
            "the receiving facility answers referrals and admits arriving patients",
        ),
        (
            R.RECEIVING_FACILITY,
            S.SCREENING,
            S.DECLINED,
            "a receiving facility may not move a patient from screening to declined; "
            "the screening clinician decides screening",
        ),
        (
            R.RECEIVING_FACILITY,
            S.SCHEDULED,
            S.ACCEPTED,
            "a receiving facility may not move a patient from scheduled to accepted; "
            "a coordinator makes this move",
        ),
    ],
)
def test_a_refused_move_says_which_role_makes_it_and_changes_nothing(
    role: ActorRole, current: PatientStatus, target: PatientStatus, message: str
) -> None:
    patient = make_patient(current)
    with pytest.raises(IllegalTransition) as refused:
        patient.transition_to(target, actor="someone", at=T0, reason="why", role=role)
    assert refused.value.reason == message
    assert str(refused.value) == f"patient P-001: cannot move from {current} to {target}: {message}"
    assert (patient.status, patient.history) == (current, [])
    assert not patient.can_move_to(target, role)


def test_a_screening_clinician_cannot_withdraw_an_accepted_patient_from_its_request() -> None:
    database = FakeDatabase()
    uow_factory = database.unit_of_work
    registry(uow_factory)
    [patient_id] = selected_patients(uow_factory, 1)
    request_id = accepted_request(uow_factory, "ORG-A", "ORG-B", [patient_id])
    with pytest.raises(IllegalTransition, match="a coordinator makes this move"):
        move_patient(
            uow_factory(),
            patient_id,
            S.SELECTED,
            actor="dr.nowak",
            reason="changed my mind",
            role=R.SCREENING_CLINICIAN,
        )
    request = get_request(uow_factory(), request_id)
    assert request.status is RequestStatus.ACCEPTED
    assert [line.patient_id for line in request.patients] == [patient_id]
    with uow_factory() as uow:
        assert uow.patients.get(patient_id).status is S.ACCEPTED
    # the coordinator may still withdraw the acceptance
    move_patient(uow_factory(), patient_id, S.SELECTED, actor=ACTOR, reason="partner withdrew")
    assert get_request(uow_factory(), request_id).status is RequestStatus.CLOSED


def test_a_receiving_facility_cannot_decide_screening() -> None:
    database = FakeDatabase()
    uow_factory = database.unit_of_work
    registry(uow_factory)
    register_patient(uow_factory(), make_patient(S.REPORTED, "P-9"), actor=ACTOR)
    today = utc_now().date()
    mission = create_mission(
        uow_factory(),
        team_organisation_id="ORG-B",
        place="Kyiv",
        starts_on=today - timedelta(days=1),
        ends_on=today + timedelta(days=1),
        actor=ACTOR,
    )
    add_candidates(uow_factory(), mission.id, ["P-9"], actor=ACTOR)
    with pytest.raises(IllegalTransition, match="the screening clinician decides screening"):
        move_patient(
            uow_factory(),
            "P-9",
            S.DECLINED,
            actor="lodz-admissions",
            reason="we would not take him",
            role=R.RECEIVING_FACILITY,
        )
    with uow_factory() as uow:
        assert uow.patients.get("P-9").status is S.SCREENING
        assert uow.screenings.get(mission.id).candidates == {"P-9": None}
    # the screening clinician decides it, through the mission
    record_decision(
        uow_factory(),
        mission.id,
        "P-9",
        ScreeningOutcome.DECLINE,
        clinician="dr.nowak",
        criteria_notes="treatable at home",
    )
    with uow_factory() as uow:
        [change] = uow.patients.get("P-9").history[-1:]
    assert (change.to_status, change.role) == (S.DECLINED, R.SCREENING_CLINICIAN)

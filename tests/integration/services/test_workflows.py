"""Use cases on a real database (SQLite and PostgreSQL): requests, deaths, screening, audit."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from medevac.domain.errors import (
    ConcurrentModification,
    IllegalTransition,
    InvalidValue,
    LiveRequestConflict,
)
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.patients import Patient
from medevac.domain.requests import PatientDecision, RequestStatus
from medevac.domain.screening import ScreeningOutcome
from medevac.domain.vocabulary import Mobility, Precedence, Specialty
from medevac.services.auditing import utc_now
from medevac.services.demo import build_demo
from medevac.services.patients import move_patient, patient_file, register_patient
from medevac.services.requests import (
    close_request,
    create_request,
    respond_to_request,
    submit_request,
)
from medevac.services.screening import (
    add_candidates,
    create_mission,
    mission_report,
    record_decision,
)
from tests.integration.services.builders import (
    ACTOR,
    UowFactory,
    mission_of_org_b,
    registry,
    reported_patients,
    selected_patients,
)

pytestmark = pytest.mark.storage


def referred(uow_factory: UowFactory, count: int) -> tuple[str, list[str]]:
    registry(uow_factory)
    ids = selected_patients(uow_factory, count)
    request = create_request(
        uow_factory(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        patient_ids=ids,
        actor=ACTOR,
    )
    submit_request(uow_factory(), request.id, actor=ACTOR)
    return request.id, ids


@pytest.mark.parametrize("final", [PatientStatus.DIED, PatientStatus.CANCELLED])
def test_death_or_cancellation_closes_a_request_left_without_patients(
    uow_factory: UowFactory, final: PatientStatus
) -> None:
    request_id, (patient_id,) = referred(uow_factory, 1)
    move_patient(uow_factory(), patient_id, final, actor=ACTOR, reason="reported by ward")
    uow = uow_factory()
    with uow:
        request = uow.requests.get(request_id)
        assert uow.requests.live_for_patient(patient_id) == []
    assert request.status is RequestStatus.CLOSED
    assert request.line(patient_id).decision is PatientDecision.WITHDRAWN
    assert f"patient {final}" in request.line(patient_id).reason


def test_death_withdraws_only_that_patient_from_a_shared_request(
    uow_factory: UowFactory,
) -> None:
    request_id, (dead, alive) = referred(uow_factory, 2)
    move_patient(uow_factory(), dead, PatientStatus.DIED, actor=ACTOR, reason="sepsis")
    uow = uow_factory()
    with uow:
        request = uow.requests.get(request_id)
    assert request.status is RequestStatus.SUBMITTED
    assert request.open_patient_ids() == [alive]


def test_a_patient_can_be_on_only_one_live_request(uow_factory: UowFactory) -> None:
    registry(uow_factory)
    (patient_id,) = selected_patients(uow_factory, 1)
    first = create_request(
        uow_factory(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        patient_ids=[patient_id],
        actor=ACTOR,
    )
    with pytest.raises(LiveRequestConflict, match=first.id):
        create_request(
            uow_factory(),
            from_organisation_id="ORG-A",
            to_organisation_id="ORG-B",
            patient_ids=[patient_id],
            actor=ACTOR,
        )
    close_request(uow_factory(), first.id, reason="wrong partner", actor=ACTOR)
    second = create_request(
        uow_factory(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        patient_ids=[patient_id],
        actor=ACTOR,
    )
    assert second.open_patient_ids() == [patient_id]


def test_answer_moves_accepted_and_declined_patients(uow_factory: UowFactory) -> None:
    request_id, (yes, no) = referred(uow_factory, 2)
    with pytest.raises(InvalidValue, match="declined without a reason"):
        respond_to_request(
            uow_factory(), request_id, patient_answers={yes: (True, ""), no: (False, "")}, actor="h"
        )
    answered = respond_to_request(
        uow_factory(),
        request_id,
        patient_answers={yes: (True, ""), no: (False, "no neurosurgeon until March")},
        actor="receiving-hospital",
    )
    assert answered.status is RequestStatus.PARTIALLY_ACCEPTED
    accepted, declined = patient_file(uow_factory(), yes), patient_file(uow_factory(), no)
    assert accepted.patient.status is PatientStatus.ACCEPTED
    assert declined.patient.status is PatientStatus.DECLINED
    last = declined.patient.history[-1]
    assert (last.reason, last.role) == ("no neurosurgeon until March", ActorRole.RECEIVING_FACILITY)


def test_closing_an_unanswered_request_returns_patients_to_selected(
    uow_factory: UowFactory,
) -> None:
    request_id, (patient_id,) = referred(uow_factory, 1)
    close_request(uow_factory(), request_id, reason="sent via another route", actor=ACTOR)
    record = patient_file(uow_factory(), patient_id)
    assert record.patient.status is PatientStatus.SELECTED
    assert "sent via another route" in record.patient.history[-1].reason


def test_only_selected_patients_of_the_sender_can_be_requested(uow_factory: UowFactory) -> None:
    _, (patient_id,) = referred(uow_factory, 1)
    with pytest.raises(InvalidValue, match="only selected patients"):
        create_request(
            uow_factory(),
            from_organisation_id="ORG-A",
            to_organisation_id="ORG-B",
            patient_ids=[patient_id],
            actor=ACTOR,
        )


def test_screening_decisions_move_patients_and_are_counted(uow_factory: UowFactory) -> None:
    registry(uow_factory)
    ids = selected_patients(uow_factory, 1)  # one selected through a first mission
    for n in range(2, 5):
        patient = Patient(
            f"Q-{n}", "ORG-A", (Specialty.ORTHOPAEDICS,), Precedence.ROUTINE, Mobility.AMBULATORY
        )
        register_patient(uow_factory(), patient, actor=ACTOR)
    mission = mission_of_org_b(
        uow_factory, "Dnipro", back=0, ahead=2, candidates=["Q-2", "Q-3", "Q-4"]
    )
    with pytest.raises(InvalidValue, match="only reported, deferred or declined"):
        add_candidates(uow_factory(), mission.id, ids, actor=ACTOR)
    record_decision(
        uow_factory(),
        mission.id,
        "Q-2",
        ScreeningOutcome.SELECT,
        clinician="dr.a",
        criteria_notes="",
    )
    record_decision(
        uow_factory(),
        mission.id,
        "Q-3",
        ScreeningOutcome.DEFER,
        clinician="dr.a",
        criteria_notes="unstable",
    )
    uow = uow_factory()
    with uow:
        report = uow.screenings.get(mission.id).report()
        statuses = {p: uow.patients.get(p).status for p in ("Q-2", "Q-3", "Q-4")}
    assert (report.examined, report.selected, report.deferred, report.pending) == (2, 1, 1, 1)
    assert statuses == {
        "Q-2": PatientStatus.SELECTED,
        "Q-3": PatientStatus.DEFERRED,
        "Q-4": PatientStatus.SCREENING,
    }


def test_every_write_leaves_an_audit_record_with_before_and_after(
    uow_factory: UowFactory,
) -> None:
    request_id, (patient_id,) = referred(uow_factory, 1)
    move_patient(
        uow_factory(), patient_id, PatientStatus.CANCELLED, actor="dr.x", reason="family refused"
    )
    uow = uow_factory()
    with uow:
        trail = uow.audit.list(entity_type="patient", entity_id=patient_id)
        request_trail = uow.audit.list(entity_type="treatment_request", entity_id=request_id)
    actions = [r.action for r in trail]
    assert "create" in actions
    assert "move:referred->cancelled" in actions
    cancel = next(r for r in trail if r.action == "move:referred->cancelled")
    assert cancel.actor == "dr.x"
    assert cancel.reason == "family refused"
    assert cancel.before is not None
    assert cancel.before["status"] == "referred"
    assert cancel.after is not None
    assert cancel.after["status"] == "cancelled"
    assert {r.action for r in request_trail} >= {"create", "submit", "close"}


def test_a_stale_version_is_refused_and_nothing_is_overwritten(uow_factory: UowFactory) -> None:
    _, (patient_id,) = referred(uow_factory, 1)
    seen = patient_file(uow_factory(), patient_id).patient.version
    move_patient(uow_factory(), patient_id, PatientStatus.DIED, actor="a", reason="r1")
    with pytest.raises(ConcurrentModification, match="changed by someone else"):
        move_patient(
            uow_factory(),
            patient_id,
            PatientStatus.CANCELLED,
            actor="b",
            reason="r2",
            expected_version=seen,
        )
    assert patient_file(uow_factory(), patient_id).patient.status is PatientStatus.DIED


def test_two_editors_of_one_patient_cannot_silently_overwrite_each_other(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory)
    (patient_id,) = selected_patients(uow_factory, 1)
    first, second = uow_factory(), uow_factory()
    with first:
        mine = first.patients.get(patient_id)
    with second:
        theirs = second.patients.get(patient_id)
    now = utc_now()
    with first:
        mine.transition_to(PatientStatus.DIED, actor="a", at=now, reason="r")
        first.patients.update(mine)
        first.commit()
    theirs.transition_to(PatientStatus.CANCELLED, actor="b", at=now, reason="r")
    with second, pytest.raises(ConcurrentModification):
        second.patients.update(theirs)
    assert patient_file(uow_factory(), patient_id).patient.status is PatientStatus.DIED


def test_a_refused_move_writes_nothing(uow_factory: UowFactory) -> None:
    registry(uow_factory)
    (patient_id,) = selected_patients(uow_factory, 1)
    before = patient_file(uow_factory(), patient_id)
    with pytest.raises(IllegalTransition):
        move_patient(uow_factory(), patient_id, PatientStatus.ADMITTED, actor="a")
    after = patient_file(uow_factory(), patient_id)
    assert after.patient.version == before.patient.version
    assert len(after.audit) == len(before.audit)


def test_an_actor_name_too_long_to_store_is_refused_alike_on_every_backend(
    uow_factory: UowFactory,
) -> None:
    # PostgreSQL had refused it as "value too long for type character varying(200)" without
    # naming the field, and SQLite had stored it
    registry(uow_factory)
    (patient_id,) = selected_patients(uow_factory, 1)
    before = patient_file(uow_factory(), patient_id)
    with pytest.raises(InvalidValue, match=r"^actor: is 201 characters long; at most 200"):
        move_patient(
            uow_factory(), patient_id, PatientStatus.CANCELLED, actor="a" * 201, reason="r"
        )
    after = patient_file(uow_factory(), patient_id)
    assert (after.patient.version, len(after.audit)) == (before.patient.version, len(before.audit))
    move_patient(uow_factory(), patient_id, PatientStatus.CANCELLED, actor="a" * 200, reason="r")


def test_demo_builds_the_scenario_once(uow_factory: UowFactory) -> None:
    summary = build_demo(uow_factory(), actor="demo")
    assert not summary.already_present
    assert summary.screening.candidates == summary.screening.examined == 110
    assert summary.screening.selected == 24
    assert summary.patients_by_status["referred"] == 24
    assert sum(summary.patients_by_status.values()) == 110
    assert summary.request.status is RequestStatus.SUBMITTED
    assert len(summary.request.patients) == 24
    assert summary.facilities_by_kind == {
        "emt_type_2": 2,
        "hospital": 3,
        "military_medical_academy": 1,
        "rehabilitation_centre": 2,
    }
    assert len(summary.agreements) == 2
    assert all(a.cost_policy.free_of_charge for a in summary.agreements)
    # the demo ends regulated: every referred patient has a facility and a day in a live plan
    plan = summary.plan
    assert plan is not None
    assert plan.solver_status == "optimal"
    assert sorted(a.patient_id for a in plan.admissions) == sorted(
        p.patient_id for p in summary.request.patients
    )
    with uow_factory() as uow:
        assert [p.id for p in uow.plans.live()] == [plan.id]
        referred = {p.id for p in uow.patients.list(status=PatientStatus.REFERRED)}
    assert referred == {a.patient_id for a in plan.admissions}
    again = build_demo(uow_factory(), actor="demo")
    assert again.already_present
    assert sum(again.patients_by_status.values()) == 110
    assert again.plan == plan


def test_the_demo_without_a_plan_leaves_regulating_to_the_user(uow_factory: UowFactory) -> None:
    summary = build_demo(uow_factory(), actor="demo", regulate=False)
    assert summary.plan is None
    assert summary.patients_by_status["referred"] == 24
    with uow_factory() as uow:
        assert uow.plans.live() == []


def test_new_ids_not_in_composed_unicode_are_refused_alike_on_every_backend(
    uow_factory: UowFactory,
) -> None:
    # "REQ-Jose\u0301" (a combining accent) looks like "REQ-José" and would be another record
    registry(uow_factory)
    ids = selected_patients(uow_factory, 1)
    composed = re.escape("at character 9 (U+0301)") + ".*write it as 'REQ-Jos\u00e9'"
    with pytest.raises(InvalidValue, match=f"^id: is not in Unicode's composed form.*{composed}"):
        create_request(
            uow_factory(),
            from_organisation_id="ORG-A",
            to_organisation_id="ORG-B",
            patient_ids=ids,
            actor=ACTOR,
            request_id="REQ-Jose\u0301",
        )
    today = utc_now().date()
    with pytest.raises(InvalidValue, match=r"^id: is not in Unicode's composed form"):
        create_mission(
            uow_factory(),
            team_organisation_id="ORG-B",
            place="Kyiv",
            starts_on=today,
            ends_on=today,
            actor=ACTOR,
            mission_id="SCR-Jose\u0301",
        )
    with pytest.raises(InvalidValue, match=r"^id: is not in Unicode's composed form"):
        register_patient(
            uow_factory(),
            replace(patient_file(uow_factory(), ids[0]).patient, id="P-Jose\u0301", history=[]),
            actor=ACTOR,
        )
    # a line separator, which editors and JSON tools take for a line break (found by a review)
    with pytest.raises(
        InvalidValue, match=r"^id: holds a line separator \(U\+2028, character 6\)$"
    ):
        register_patient(
            uow_factory(),
            replace(patient_file(uow_factory(), ids[0]).patient, id="P-Jos\u2028", history=[]),
            actor=ACTOR,
        )
    request = create_request(
        uow_factory(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        patient_ids=ids,
        actor=ACTOR,
        request_id="REQ-Jos\u00e9",
    )
    assert request.id == "REQ-Jos\u00e9"


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        (("Dr A", "Dr \udcff"), "member 2 is not valid Unicode text (a lone surrogate)"),
        (("Dr \x1b[2JA",), "member 1 holds a control character (U+001B, character 4)"),
        (("Dr A", "  "), "member 2 is empty"),
        (("x" * 201,), "member 1 is 201 characters long; at most 200 are allowed"),
    ],
)
def test_a_missions_team_members_are_checked_alike_on_every_backend(
    uow_factory: UowFactory, members: tuple[str, ...], reason: str
) -> None:
    # a lone surrogate had failed at the database write with a traceback; an ESC sequence,
    # an empty name and any length had been stored
    registry(uow_factory)
    today = utc_now().date()
    with pytest.raises(InvalidValue) as refused:
        create_mission(
            uow_factory(),
            team_organisation_id="ORG-B",
            place="Kyiv",
            starts_on=today,
            ends_on=today,
            team_members=members,
            actor=ACTOR,
        )
    assert (refused.value.field, refused.value.reason) == ("team_members", reason)
    with uow_factory() as uow:
        assert uow.screenings.list() == []


def test_a_mission_report_counts_candidates_who_left_without_a_decision_apart(
    uow_factory: UowFactory,
) -> None:
    # a candidate who died (or was moved on by hand) had stayed pending for ever
    registry(uow_factory)
    reported_patients(uow_factory, ["Q-1", "Q-2", "Q-3"])
    mission = mission_of_org_b(uow_factory, candidates=["Q-1", "Q-2", "Q-3"])
    record_decision(
        uow_factory(), mission.id, "Q-1", ScreeningOutcome.SELECT, clinician="dr", criteria_notes=""
    )
    move_patient(uow_factory(), "Q-2", PatientStatus.DIED, actor=ACTOR, reason="sepsis")
    found = mission_report(uow_factory(), mission.id)
    counts = found.counts
    assert (counts.candidates, counts.examined, counts.left, counts.pending) == (3, 1, 1, 1)
    assert found.left == {"Q-2": "now died"}

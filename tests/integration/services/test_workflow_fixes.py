"""Requests, screening, quotas and the audit trail where the workflow had gone wrong: answers
given by moving the patient, decisions of the wrong mission or at impossible times, drafts a
plan overtook, concurrent drafts, stale acceptances, long ids, and records of nothing
(SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.errors import IllegalTransition, InvalidValue, LiveRequestConflict
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.patients import Patient
from medevac.domain.requests import PatientDecision, RequestStatus
from medevac.domain.screening import CLOCK_SKEW, ScreeningMission, ScreeningOutcome
from medevac.domain.vocabulary import FacilityKind, Mobility, Precedence, Specialty
from medevac.planning import solve_exact
from medevac.services.auditing import utc_now
from medevac.services.demo import ORIGIN_MINISTRY, PARTNER_DEFENCE, REQUEST_ID, build_demo
from medevac.services.patients import move_patient, register_patient
from medevac.services.quota_count import sent_book
from medevac.services.registry import (
    register_agreement,
    register_facility,
    report_capacity,
)
from medevac.services.regulating import approve_plan, build_problem
from medevac.services.requests import (
    close_request,
    create_request,
    name_admission,
    respond_to_request,
    submit_request,
)
from medevac.services.screening import add_candidates, create_mission, record_decision
from medevac.store.repositories import SqlTreatmentRequestRepository
from tests.integration.services.builders import (
    ACTOR,
    UowFactory,
    accepted_request,
    mission_of_org_b,
    partner_hospital,
    registry,
    selected_patients,
    submitted_request,
)

pytestmark = pytest.mark.storage


def candidate_p1(uow_factory: UowFactory, *, days: int, back: int = 0) -> ScreeningMission:
    """The registry with patient P-1, a candidate of a mission of ORG-B from ``back`` days
    ago to ``days`` days ahead; the mission."""
    registry(uow_factory)
    register_patient(
        uow_factory(),
        Patient("P-1", "ORG-A", (Specialty.ORTHOPAEDICS,), Precedence.ROUTINE, Mobility.LITTER),
        actor=ACTOR,
    )
    return mission_of_org_b(uow_factory, back=back, ahead=days, candidates=["P-1"])


def trail_size(uow_factory: UowFactory) -> int:
    with uow_factory() as uow:
        return len(uow.audit.list())


def agreement_with_b(uow_factory: UowFactory, quota: int = 5) -> None:
    """ORG-B treats ORG-A's orthopaedic patients, up to ``quota`` of them."""
    today = utc_now().date()
    register_agreement(
        uow_factory(),
        Agreement(
            "AGR-B",
            "ORG-A",
            "ORG-B",
            frozenset({Specialty.ORTHOPAEDICS}),
            quota,
            CostPolicy.free(),
            today - timedelta(days=10),
            today + timedelta(days=100),
        ),
        actor=ACTOR,
    )


def moved_by_lodz(
    uow_factory: UowFactory, patient_id: str, status: PatientStatus, reason: str = ""
) -> None:
    """The receiving facility (actor "lodz") moves the patient, as its answer to a referral."""
    move_patient(
        uow_factory(),
        patient_id,
        status,
        actor="lodz",
        reason=reason,
        role=ActorRole.RECEIVING_FACILITY,
    )


def used_quota(uow_factory: UowFactory) -> dict[str, int]:
    """What the patients sent earlier use of the agreements' quotas, as plans count it."""
    with uow_factory() as uow:
        book = sent_book(uow, {"patients": []}, utc_now())
    assert book is not None
    return {k: v for k, v in book.used.items() if v}


# -- accepting or declining a referral by moving the patient answers the request -------------


def test_a_referral_accepted_by_a_move_is_the_request_s_answer_for_that_patient(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory)
    agreement_with_b(uow_factory)
    first, second = selected_patients(uow_factory, 2)
    request_id = submitted_request(uow_factory, "ORG-A", "ORG-B", [first, second])

    moved_by_lodz(uow_factory, first, PatientStatus.ACCEPTED)
    with uow_factory() as uow:
        request = uow.requests.get(request_id)
        patient = uow.patients.get(first)
        [record] = [
            r
            for r in uow.audit.list(entity_type="treatment_request", entity_id=request_id)
            if r.action == "answer_patient"
        ]
    line = request.line(first)
    assert (line.decision, line.decided_at) == (PatientDecision.ACCEPTED, patient.history[-1].at)
    assert patient.history[-1].reason == f"accepted on {request_id}"
    assert request.status is RequestStatus.SUBMITTED  # the other patient still waits
    assert request.line(second).decision is PatientDecision.PENDING
    assert record.actor == "lodz"
    assert record.reason == f"{first} accepted: accepted on {request_id}"
    # the acceptance counts against the agreement it comes under, as an answer's does
    assert used_quota(uow_factory) == {"AGR-B": 1}

    # the request can still be answered for the other patient (an answer for the first, as
    # `--accept-all` gives, changes nothing of it)
    answered = respond_to_request(
        uow_factory(),
        request_id,
        patient_answers={first: (True, ""), second: (False, "no bed")},
        actor="lodz",
    )
    assert answered.status is RequestStatus.PARTIALLY_ACCEPTED
    assert answered.line(first).decided_at == line.decided_at
    with uow_factory() as uow:
        statuses = {p: uow.patients.get(p).status for p in (first, second)}
    assert statuses == {first: PatientStatus.ACCEPTED, second: PatientStatus.DECLINED}


def test_the_last_answer_given_by_a_move_answers_the_request(uow_factory: UowFactory) -> None:
    registry(uow_factory)
    first, second = selected_patients(uow_factory, 2)
    request_id = submitted_request(uow_factory, "ORG-A", "ORG-B", [first, second])
    moved_by_lodz(uow_factory, first, PatientStatus.ACCEPTED)
    moved_by_lodz(uow_factory, second, PatientStatus.DECLINED, reason="no ophthalmology bed")
    with uow_factory() as uow:
        request = uow.requests.get(request_id)
        actions = [
            r.action for r in uow.audit.list(entity_type="treatment_request", entity_id=request_id)
        ]
    assert request.status is RequestStatus.PARTIALLY_ACCEPTED
    line = request.line(second)
    assert (line.decision, line.reason) == (PatientDecision.DECLINED, "no ophthalmology bed")
    assert "respond:partially_accepted" in actions
    assert actions.count("answer_patient") == 1
    # closing it leaves nothing pending behind
    close_request(uow_factory(), request_id, reason="answered", actor=ACTOR)
    with uow_factory() as uow:
        closed = uow.requests.get(request_id)
    assert PatientDecision.PENDING not in {p.decision for p in closed.patients}


def test_a_patient_declined_by_a_move_can_be_screened_and_requested_again(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory)
    (patient_id,) = selected_patients(uow_factory, 1)
    request_id = submitted_request(uow_factory, "ORG-A", "ORG-B", [patient_id])
    moved_by_lodz(uow_factory, patient_id, PatientStatus.DECLINED, reason="no bed until March")
    with uow_factory() as uow:
        assert uow.requests.get(request_id).status is RequestStatus.DECLINED
        assert uow.requests.live_for_patient(patient_id) == []
    mission = mission_of_org_b(uow_factory, "Lviv", back=0, candidates=[patient_id])
    record_decision(
        uow_factory(),
        mission.id,
        patient_id,
        ScreeningOutcome.SELECT,
        clinician="dr.b",
        criteria_notes="",
    )
    again = create_request(
        uow_factory(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        patient_ids=[patient_id],
        actor=ACTOR,
    )
    assert again.open_patient_ids() == [patient_id]


def test_a_refused_answer_by_a_move_writes_nothing(uow_factory: UowFactory) -> None:
    registry(uow_factory)
    (patient_id,) = selected_patients(uow_factory, 1)
    request_id = submitted_request(uow_factory, "ORG-A", "ORG-B", [patient_id])
    records = trail_size(uow_factory)
    with pytest.raises(IllegalTransition, match="this move needs a reason"):
        moved_by_lodz(uow_factory, patient_id, PatientStatus.DECLINED)
    with uow_factory() as uow:
        request = uow.requests.get(request_id)
        status = uow.patients.get(patient_id).status
    assert (request.line(patient_id).decision, status) == (
        PatientDecision.PENDING,
        PatientStatus.REFERRED,
    )
    assert trail_size(uow_factory) == records


def test_an_answer_by_request_is_recorded_once(uow_factory: UowFactory) -> None:
    # `respond` moves its patients itself: those moves must not answer the request again
    registry(uow_factory)
    ids = selected_patients(uow_factory, 2)
    request_id = accepted_request(uow_factory, "ORG-A", "ORG-B", ids)
    with uow_factory() as uow:
        request = uow.requests.get(request_id)
        actions = [
            r.action for r in uow.audit.list(entity_type="treatment_request", entity_id=request_id)
        ]
    assert request.status is RequestStatus.ACCEPTED
    assert sorted(actions) == ["create", "respond:accepted", "submit"]
    assert request.version == 3


# -- only the mission a patient is now a candidate of decides it ------------------------------


def two_missions(uow_factory: UowFactory) -> tuple[str, str, str]:
    """P-1 deferred by a first mission, then put before a second; the two missions' ids and
    the patient's."""
    registry(uow_factory)
    register_patient(
        uow_factory(),
        Patient("P-1", "ORG-A", (Specialty.ORTHOPAEDICS,), Precedence.ROUTINE, Mobility.LITTER),
        actor=ACTOR,
    )
    today = utc_now().date()
    first, second = (
        create_mission(
            uow_factory(),
            mission_id=mission_id,
            team_organisation_id="ORG-B",
            place="Kyiv",
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=1),
            actor=ACTOR,
        ).id
        for mission_id in ("SCR-A", "SCR-B")
    )
    add_candidates(uow_factory(), first, ["P-1"], actor=ACTOR)
    record_decision(
        uow_factory(),
        first,
        "P-1",
        ScreeningOutcome.DEFER,
        clinician="dr.a",
        criteria_notes="unstable",
    )
    add_candidates(uow_factory(), second, ["P-1"], actor=ACTOR)
    return first, second, "P-1"


def test_a_move_by_hand_cannot_word_itself_as_a_missions_candidacy(
    uow_factory: UowFactory,
) -> None:
    # the reason names the mission whose candidate the patient is: written by hand, it took
    # the decision from the mission that had put the patient before its team
    first, _, patient_id = two_missions(uow_factory)
    records = trail_size(uow_factory)
    # out of screening (second's candidate), then back in by hand naming the first mission
    move_patient(uow_factory(), patient_id, PatientStatus.DEFERRED, actor=ACTOR, reason="later")
    forged = f"candidate of screening mission {first}"
    with pytest.raises(
        InvalidValue, match=r"^reason: .* is how a screening mission .*`medevac screening add`"
    ):
        move_patient(uow_factory(), patient_id, PatientStatus.SCREENING, actor=ACTOR, reason=forged)
    assert trail_size(uow_factory) == records + 1  # the move out alone
    with uow_factory() as uow:
        assert uow.patients.get(patient_id).status is PatientStatus.DEFERRED


def test_a_mission_cannot_decide_another_mission_s_candidate(uow_factory: UowFactory) -> None:
    first, second, patient_id = two_missions(uow_factory)
    with uow_factory() as uow:
        before = (uow.screenings.get(first), uow.screenings.get(second))
    records = trail_size(uow_factory)
    with pytest.raises(InvalidValue, match=rf"candidate of screening mission {second}.*{first}"):
        record_decision(
            uow_factory(),
            first,
            patient_id,
            ScreeningOutcome.SELECT,
            clinician="dr.a",
            criteria_notes="",
        )
    with uow_factory() as uow:
        after = (uow.screenings.get(first), uow.screenings.get(second))
        status = uow.patients.get(patient_id).status
    assert after == before
    assert [m.version for m in after] == [m.version for m in before]
    assert status is PatientStatus.SCREENING
    assert trail_size(uow_factory) == records
    assert after[0].report().deferred == 1  # the first mission's deferral stands
    record_decision(
        uow_factory(),
        second,
        patient_id,
        ScreeningOutcome.SELECT,
        clinician="dr.b",
        criteria_notes="",
    )
    with uow_factory() as uow:
        assert uow.screenings.get(second).report().pending == 0


def test_a_mission_may_examine_its_own_candidate_again(uow_factory: UowFactory) -> None:
    # deferred, then back in screening by hand (no other mission): the same mission decides
    mission = candidate_p1(uow_factory, days=1)
    decide = record_decision
    decide(
        uow_factory(),
        mission.id,
        "P-1",
        ScreeningOutcome.DEFER,
        clinician="dr.a",
        criteria_notes="unstable",
    )
    move_patient(uow_factory(), "P-1", PatientStatus.SCREENING, actor=ACTOR, reason="stable now")
    decide(
        uow_factory(),
        mission.id,
        "P-1",
        ScreeningOutcome.SELECT,
        clinician="dr.a",
        criteria_notes="",
    )
    with uow_factory() as uow:
        assert uow.screenings.get(mission.id).report().selected == 1


# -- a screening decision is dated after the patient's latest move and not ahead of now -------


@pytest.mark.parametrize(
    ("shift", "message"),
    [
        (timedelta(days=-400), "is before P-1's latest move, into screening"),
        (CLOCK_SKEW + timedelta(minutes=1), "is in the future"),
        (timedelta(days=300), "is in the future"),
    ],
)
def test_a_decision_dated_before_the_candidate_or_ahead_of_now_is_refused(
    uow_factory: UowFactory, shift: timedelta, message: str
) -> None:
    mission = candidate_p1(uow_factory, days=1000, back=1000)
    records = trail_size(uow_factory)
    with pytest.raises(InvalidValue, match=rf"^decided_at: .*{message}"):
        record_decision(
            uow_factory(),
            mission.id,
            "P-1",
            ScreeningOutcome.SELECT,
            clinician="dr.a",
            criteria_notes="",
            decided_at=utc_now() + shift,
        )
    with uow_factory() as uow:
        assert uow.patients.get("P-1").status is PatientStatus.SCREENING
        assert uow.screenings.get(mission.id).report().examined == 0
    assert trail_size(uow_factory) == records
    with pytest.raises(InvalidValue, match=r"^decided_at: needs a time zone"):
        record_decision(
            uow_factory(),
            mission.id,
            "P-1",
            ScreeningOutcome.SELECT,
            clinician="dr.a",
            criteria_notes="",
            decided_at=datetime(2026, 6, 1, 10, 0),
        )
    # a clock a little behind is allowed
    record_decision(
        uow_factory(),
        mission.id,
        "P-1",
        ScreeningOutcome.SELECT,
        clinician="dr.a",
        criteria_notes="",
        decided_at=utc_now() - timedelta(minutes=1),
    )


# -- a draft a plan overtook ------------------------------------------------------------------


def test_a_draft_whose_patient_a_plan_referred_can_be_submitted(uow_factory: UowFactory) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    close_request(uow_factory(), REQUEST_ID, reason="regulate centrally", actor="cell")
    with uow_factory() as uow:
        chosen = sorted(p.id for p in uow.patients.list(status=PatientStatus.SELECTED))[:2]
    draft = create_request(
        uow_factory(),
        from_organisation_id=ORIGIN_MINISTRY,
        to_organisation_id=PARTNER_DEFENCE,
        patient_ids=chosen,
        actor="cell",
    )
    problem = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    plan = solve_exact(problem.for_engines(), time_limit=30)
    approved = approve_plan(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="cell"
    )
    assert set(chosen) <= set(approved.open_patient_ids())

    submitted = submit_request(uow_factory(), draft.id, actor="cell")
    assert submitted.status is RequestStatus.SUBMITTED
    assert submitted.open_patient_ids() == chosen
    with uow_factory() as uow:
        patients = uow.patients.get_many(chosen)
        [record] = [
            r
            for r in uow.audit.list(entity_type="treatment_request", entity_id=draft.id)
            if r.action == "submit"
        ]
    assert {p.status for p in patients.values()} == {PatientStatus.REFERRED}
    # referred once, by the plan
    assert all(p.history[-2].to_status is PatientStatus.SELECTED for p in patients.values())
    assert record.reason == "; ".join(f"{p} already referred by plan {approved.id}" for p in chosen)
    # the academy answers one of them by moving it: the request records it
    moved_by_lodz(uow_factory, chosen[0], PatientStatus.ACCEPTED)
    with uow_factory() as uow:
        assert uow.requests.get(draft.id).line(chosen[0]).decision is PatientDecision.ACCEPTED


def test_a_draft_whose_patient_was_answered_meanwhile_is_refused_naming_it(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory)
    first, second = selected_patients(uow_factory, 2)
    draft = create_request(
        uow_factory(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        patient_ids=[first, second],
        actor=ACTOR,
    )
    # referred another way and accepted, while the draft waited
    move_patient(uow_factory(), second, PatientStatus.REFERRED, actor=ACTOR, reason="by phone")
    moved_by_lodz(uow_factory, second, PatientStatus.ACCEPTED)
    records = trail_size(uow_factory)
    with pytest.raises(
        InvalidValue,
        match=rf"^patient: request {draft.id} cannot be submitted: {second} is accepted .*"
        rf"medevac requests close {draft.id}",
    ):
        submit_request(uow_factory(), draft.id, actor=ACTOR)
    with uow_factory() as uow:
        stored = uow.requests.get(draft.id)
        status = uow.patients.get(first).status
    assert (stored.status, stored.version, status) == (
        RequestStatus.DRAFT,
        draft.version,
        PatientStatus.SELECTED,
    )
    assert trail_size(uow_factory) == records


# -- two drafts for the same patient at the same moment -------------------------------------


def test_two_drafts_for_one_patient_at_the_same_moment_store_one(
    uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first draft's check has found no live request when a second coordinator drafts one
    # for the same patient in their own transaction. Both databases make the second wait for
    # the first, which then sees it stored (until 2026-12-06 PostgreSQL let the second
    # commit first and refused the first, which checked again). One draft is stored and the
    # other refused.
    registry(uow_factory)
    (patient_id,) = selected_patients(uow_factory, 1)
    outcome: dict[str, Any] = {}

    def draft(label: str) -> None:
        try:
            outcome[label] = create_request(
                uow_factory(),
                from_organisation_id="ORG-A",
                to_organisation_id="ORG-B",
                patient_ids=[patient_id],
                actor=label,
            ).id
        except BaseException as error:
            outcome[label] = error

    other = threading.Thread(target=draft, args=("second",))
    checks = SqlTreatmentRequestRepository.live_for_patient

    def checked_then_concurrent_draft(self: SqlTreatmentRequestRepository, pid: str) -> Any:
        found = checks(self, pid)
        if threading.current_thread() is not other and not other.is_alive() and not outcome:
            other.start()
            other.join(timeout=2)  # SQLite: still waiting for the first draft's lock
        return found

    monkeypatch.setattr(
        SqlTreatmentRequestRepository, "live_for_patient", checked_then_concurrent_draft
    )
    draft("first")
    other.join(timeout=60)
    assert not other.is_alive()
    monkeypatch.undo()
    stored = [v for v in outcome.values() if isinstance(v, str)]
    refused = [v for v in outcome.values() if isinstance(v, BaseException)]
    assert len(stored) == 1, outcome
    assert len(refused) == 1, outcome
    assert isinstance(refused[0], LiveRequestConflict), outcome
    assert stored[0] in str(refused[0])
    with uow_factory() as uow:
        assert [r.id for r in uow.requests.live_for_patient(patient_id)] == stored
        assert len(uow.audit.list(entity_type="treatment_request")) == 1


# -- an acceptance the patient no longer has counts against no quota ------------------------


def test_a_withdrawn_acceptance_no_longer_counts_against_the_quota(uow_factory: UowFactory) -> None:
    registry(uow_factory)
    agreement_with_b(uow_factory, quota=1)
    (patient_id,) = selected_patients(uow_factory, 1)
    request_id = accepted_request(uow_factory, "ORG-A", "ORG-B", [patient_id])
    assert used_quota(uow_factory) == {"AGR-B": 1}
    close_request(uow_factory(), request_id, reason="transport being arranged", actor=ACTOR)
    move_patient(
        uow_factory(), patient_id, PatientStatus.SELECTED, actor=ACTOR, reason="B withdrew"
    )
    assert used_quota(uow_factory) == {}
    # accepted again, not by ORG-B's request (no request awaits an answer for it)
    move_patient(uow_factory(), patient_id, PatientStatus.REFERRED, actor=ACTOR, reason="by phone")
    move_patient(
        uow_factory(),
        patient_id,
        PatientStatus.ACCEPTED,
        actor="other-hospital",
        role=ActorRole.RECEIVING_FACILITY,
    )
    assert used_quota(uow_factory) == {}


# -- a facility with a long id reports capacity ---------------------------------------------


def test_a_facility_whose_id_takes_most_of_an_id_can_report_capacity(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory)
    facility_id = "F" * 90
    register_facility(
        uow_factory(),
        Facility(
            facility_id,
            "Long-named hospital",
            FacilityKind.HOSPITAL,
            "ORG-B",
            "PL",
            Coordinates(51.76, 19.46),
            frozenset({Specialty.ORTHOPAEDICS}),
        ),
        actor=ACTOR,
    )
    now = utc_now()
    for facility, specialty in (
        (facility_id, Specialty.ORTHOPAEDICS),
        ("H-1", Specialty.ORTHOPAEDICS),
    ):
        report_capacity(
            uow_factory(),
            CapacityReport(facility, specialty, 3, 10, 1, 2, now),
            actor=ACTOR,
        )
    with uow_factory() as uow:
        ids = [r.entity_id for r in uow.audit.list(entity_type="capacity_report")]
        assert len(uow.capacity.latest(facility_id)) == 1
    assert sorted(ids) == sorted([facility_id, "H-1/orthopaedics"])


# -- no change, no record -------------------------------------------------------------------


def test_naming_the_same_admission_again_writes_nothing(uow_factory: UowFactory) -> None:
    registry(uow_factory)
    partner_hospital(uow_factory, Coordinates(51.76, 19.46))
    (patient_id,) = selected_patients(uow_factory, 1)
    request_id = accepted_request(uow_factory, "ORG-A", "ORG-B", [patient_id])
    day = utc_now().date() + timedelta(days=2)
    named = name_admission(
        uow_factory(), request_id, patient_id, facility_id="H-B", day=day, actor=ACTOR
    )
    records = trail_size(uow_factory)
    again = name_admission(
        uow_factory(), request_id, patient_id, facility_id="H-B", day=day, actor=ACTOR
    )
    assert again.version == named.version
    with uow_factory() as uow:
        assert uow.requests.get(request_id).version == named.version
    assert trail_size(uow_factory) == records
    # a change is still written
    name_admission(
        uow_factory(),
        request_id,
        patient_id,
        facility_id="H-B",
        day=day + timedelta(days=1),
        actor=ACTOR,
    )
    assert trail_size(uow_factory) == records + 1


def test_adding_no_candidates_writes_nothing(uow_factory: UowFactory) -> None:
    registry(uow_factory)
    mission = mission_of_org_b(uow_factory, back=0, ahead=0)
    records = trail_size(uow_factory)
    unchanged = add_candidates(uow_factory(), mission.id, [], actor=ACTOR)
    assert unchanged.version == mission.version
    with uow_factory() as uow:
        assert uow.screenings.get(mission.id).version == mission.version
    assert trail_size(uow_factory) == records


# -- audit actions fit their column -----------------------------------------------------------


def test_a_decision_on_a_patient_with_a_long_id_fits_the_audit_log(uow_factory: UowFactory) -> None:
    # the action had been "decide:<patient id>:<outcome>": 75 characters for a patient id of
    # 60, which PostgreSQL refused (VARCHAR(64))
    registry(uow_factory)
    patient_id = "P" * 60
    register_patient(
        uow_factory(),
        Patient(
            patient_id, "ORG-A", (Specialty.ORTHOPAEDICS,), Precedence.ROUTINE, Mobility.LITTER
        ),
        actor=ACTOR,
    )
    mission = mission_of_org_b(uow_factory, candidates=[patient_id])
    record_decision(
        uow_factory(),
        mission.id,
        patient_id,
        ScreeningOutcome.DEFER,
        clinician="dr.a",
        criteria_notes="unstable",
    )
    with uow_factory() as uow:
        [record] = [
            r
            for r in uow.audit.list(entity_type="screening_mission", entity_id=mission.id)
            if r.action.startswith("decide")
        ]
        assert uow.patients.get(patient_id).status is PatientStatus.DEFERRED
    assert (record.action, record.reason) == ("decide:defer", f"{patient_id}: unstable")

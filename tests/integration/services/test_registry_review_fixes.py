"""The registry workflow where a review found it wrong (SQLite and PostgreSQL): a request left
submitted with nobody pending, answers that contradicted answers given and were dropped,
candidates put before a mission that had ended, screening decisions audited in the cell's
zone, free texts with control characters, and deaths abroad that rewrote acceptances and
freed quota."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from medevac.config import get_settings
from medevac.domain.agreements import Agreement
from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CostPolicy
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.patients import Patient
from medevac.domain.requests import PatientDecision, RequestStatus
from medevac.domain.screening import ScreeningOutcome
from medevac.domain.vocabulary import Mobility, Precedence, Specialty
from medevac.services.auditing import utc_now
from medevac.services.demo import ACADEMY_AGREEMENT_ID
from medevac.services.patients import move_patient, register_patient
from medevac.services.quota_count import sent_book
from medevac.services.registry import register_agreement
from medevac.services.requests import (
    close_request,
    create_request,
    get_request,
    respond_to_request,
    submit_request,
)
from medevac.services.screening import add_candidates, create_mission, record_decision
from tests.integration.services.builders import (
    ACTOR,
    UowFactory,
    accepted_request,
    mission_of_org_b,
    partner_hospital,
    registry,
    reported_patients,
    selected_patients,
    submitted_request,
)
from tests.integration.services.test_plan_approval import (
    accepted_at_the_academy,
    change_academy_agreement,
)
from tests.integration.services.test_time_zone import cell_day, zone_off_utc

pytestmark = pytest.mark.storage

__all__ = ["cell_day"]  # the fixture, used below by name


def by_lodz(
    uow_factory: UowFactory, patient_id: str, status: PatientStatus, reason: str = ""
) -> None:
    move_patient(
        uow_factory(),
        patient_id,
        status,
        actor="lodz",
        reason=reason,
        role=ActorRole.RECEIVING_FACILITY,
    )


def lines(uow_factory: UowFactory, request_id: str) -> list[tuple[str, str]]:
    return [
        (line.patient_id, line.decision.value)
        for line in get_request(uow_factory(), request_id).patients
    ]


def request_audit(uow_factory: UowFactory, request_id: str) -> list[str]:
    with uow_factory() as uow:
        return [
            r.action for r in uow.audit.list(entity_type="treatment_request", entity_id=request_id)
        ]


# -- 1. a death that leaves nobody pending answers the request ---------------------------------


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (PatientStatus.ACCEPTED, RequestStatus.ACCEPTED),
        (PatientStatus.DECLINED, RequestStatus.DECLINED),
    ],
)
def test_a_death_that_leaves_nobody_pending_answers_the_request_by_the_answers_given(
    uow_factory: UowFactory, answer: PatientStatus, outcome: RequestStatus
) -> None:
    registry(uow_factory)
    first, second = selected_patients(uow_factory, 2)
    request_id = submitted_request(uow_factory, "ORG-A", "ORG-B", [first, second])
    by_lodz(uow_factory, second, answer, "no bed" if answer is PatientStatus.DECLINED else "")
    move_patient(uow_factory(), first, PatientStatus.DIED, actor="ward", reason="sepsis")
    request = get_request(uow_factory(), request_id)
    # it had stayed submitted, waiting for an answer nobody could give
    assert request.status is outcome
    assert lines(uow_factory, request_id) == [(first, "withdrawn"), (second, answer.value)]
    with uow_factory() as uow:
        [record] = [
            r
            for r in uow.audit.list(entity_type="treatment_request", entity_id=request_id)
            if r.action == "withdraw_patient"
        ]
    assert (record.before["status"], record.after["status"]) == ("submitted", outcome.value)


def test_a_death_that_leaves_places_pending_keeps_the_request_submitted(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory)
    first, second = selected_patients(uow_factory, 2)
    request = create_request(
        uow_factory(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        patient_ids=[first, second],
        places={Specialty.ORTHOPAEDICS: 2},
        actor=ACTOR,
    )
    submit_request(uow_factory(), request.id, actor=ACTOR)
    by_lodz(uow_factory, second, PatientStatus.ACCEPTED)
    move_patient(uow_factory(), first, PatientStatus.DIED, actor="ward", reason="sepsis")
    # the places still wait for `requests respond`
    assert get_request(uow_factory(), request.id).status is RequestStatus.SUBMITTED


# -- 2. an answer contradicting one given is refused --------------------------------------------


def test_an_answer_that_contradicts_one_given_is_refused_and_nothing_is_written(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory)
    first, second = selected_patients(uow_factory, 2)
    request_id = submitted_request(uow_factory, "ORG-A", "ORG-B", [first, second])
    by_lodz(uow_factory, first, PatientStatus.ACCEPTED)
    before = get_request(uow_factory(), request_id)
    with pytest.raises(
        InvalidValue, match=f"'{first}' is already accepted on request {request_id}"
    ):
        respond_to_request(
            uow_factory(),
            request_id,
            patient_answers={first: (False, "no bed after all"), second: (True, "")},
            actor="lodz",
        )
    after = get_request(uow_factory(), request_id)
    assert (after.status, after.version) == (RequestStatus.SUBMITTED, before.version)
    assert lines(uow_factory, request_id) == [(first, "accepted"), (second, "pending")]
    with uow_factory() as uow:
        assert uow.patients.get(second).status is PatientStatus.REFERRED
        assert uow.patients.get(first).status is PatientStatus.ACCEPTED
    # the answer already given, given again, passes
    answered = respond_to_request(
        uow_factory(),
        request_id,
        patient_answers={first: (True, ""), second: (True, "")},
        actor="lodz",
    )
    assert answered.status is RequestStatus.ACCEPTED


# -- 3. no candidates for a mission that has ended -----------------------------------------------


def test_no_candidates_are_put_before_a_mission_that_ended_in_the_cells_calendar(
    uow_factory: UowFactory, cell_day: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry(uow_factory)
    reported_patients(uow_factory, ["P-1", "P-2"])

    def mission(ends_on: date) -> str:
        return create_mission(
            uow_factory(),
            team_organisation_id="ORG-B",
            place="Kyiv",
            starts_on=ends_on - timedelta(days=5),
            ends_on=ends_on,
            actor=ACTOR,
        ).id

    # one that has ended already is not planned: it could take no candidates
    with pytest.raises(InvalidValue, match=f"^ends_on: .* is before today \\({cell_day}\\)"):
        mission(cell_day - timedelta(days=1))
    # one planned that has ended since takes none
    ended = mission(cell_day)
    later = utc_now() + timedelta(days=2)
    with monkeypatch.context() as clock:
        clock.setattr("medevac.services.screening.utc_now", lambda: later)
        with pytest.raises(InvalidValue, match=f"mission {ended} .* ended before") as refused:
            add_candidates(uow_factory(), ended, ["P-1"], actor=ACTOR)
    assert f"{cell_day - timedelta(days=5)}..{cell_day}" in str(refused.value)
    with uow_factory() as uow:
        assert uow.patients.get("P-1").status is PatientStatus.REPORTED
        assert uow.screenings.get(ended).candidates == {}
    # a mission whose last day is the cell's today still takes candidates, and decides them
    today = mission(cell_day)
    add_candidates(uow_factory(), today, ["P-2"], actor=ACTOR)
    record_decision(
        uow_factory(), today, "P-2", ScreeningOutcome.SELECT, clinician="dr", criteria_notes=""
    )


# -- 4. a screening decision is kept and audited in UTC ----------------------------------------


@pytest.fixture
def off_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The cell's zone set off UTC (UTC+14 or UTC-11); its name."""
    zone = zone_off_utc(utc_now())
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", zone)
    get_settings.cache_clear()
    yield zone
    get_settings.cache_clear()


def test_a_screening_decision_is_kept_and_audited_as_an_instant_in_utc(
    uow_factory: UowFactory, off_utc: str
) -> None:
    registry(uow_factory)
    reported_patients(uow_factory, ["P-1", "P-2"])
    mission = mission_of_org_b(uow_factory, candidates=["P-1", "P-2"], back=2, ahead=2)
    select = ScreeningOutcome.SELECT
    decision = record_decision(
        uow_factory(), mission.id, "P-1", select, clinician="dr", criteria_notes="x"
    )
    assert decision.decided_at.utcoffset() == timedelta(0)
    record_decision(uow_factory(), mission.id, "P-2", select, clinician="dr", criteria_notes="x")
    with uow_factory() as uow:
        records = [
            r
            for r in uow.audit.list(entity_type="screening_mission", entity_id=mission.id)
            if r.action.startswith("decide")
        ]
        stored = uow.screenings.get(mission.id).candidates["P-1"]
    [first] = [r for r in records if r.reason.startswith("P-1")]
    [second] = [r for r in records if r.reason.startswith("P-2")]
    after = first.after["candidates"]["P-1"]["decided_at"]
    # the first record's after had the cell's offset, the next record's before UTC's
    assert after == second.before["candidates"]["P-1"]["decided_at"]
    assert after.endswith("+00:00")
    assert stored is not None
    assert stored.decided_at == decision.decided_at
    # the day it falls on is still the cell's
    assert decision.decided_at.astimezone(ZoneInfo(off_utc)).date() != utc_now().date()


# -- 5. free texts with control characters or lone surrogates -----------------------------------


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("duplicate\x00record", re.escape("control character (U+0000")),
        ("dup\udcff", "lone surrogate"),
        ("red\x1b[31m", re.escape("control character (U+001B")),
    ],
)
def test_a_reason_with_a_control_character_is_refused_naming_it_on_both_backends(
    uow_factory: UowFactory, text: str, fault: str
) -> None:
    registry(uow_factory)
    first, second = selected_patients(uow_factory, 2)
    with pytest.raises(InvalidValue, match=f"^reason: .*{fault}"):
        move_patient(uow_factory(), first, PatientStatus.CANCELLED, actor=ACTOR, reason=text)
    with uow_factory() as uow:
        assert uow.patients.get(first).status is PatientStatus.SELECTED
    with pytest.raises(InvalidValue, match=f"^note: .*{fault}"):
        create_request(
            uow_factory(),
            from_organisation_id="ORG-A",
            to_organisation_id="ORG-B",
            patient_ids=[first],
            note=text,
            actor=ACTOR,
        )
    request_id = submitted_request(uow_factory, "ORG-A", "ORG-B", [first, second])
    with pytest.raises(InvalidValue, match=f"'{second}': its reason .*{fault}"):
        respond_to_request(
            uow_factory(),
            request_id,
            patient_answers={first: (True, ""), second: (False, text)},
            actor="lodz",
        )
    with pytest.raises(InvalidValue, match=f"^reason: .*{fault}"):
        by_lodz(uow_factory, second, PatientStatus.DECLINED, text)
    with pytest.raises(InvalidValue, match=f"^reason: .*{fault}"):
        close_request(uow_factory(), request_id, reason=text, actor=ACTOR)
    assert get_request(uow_factory(), request_id).status is RequestStatus.SUBMITTED
    assert lines(uow_factory, request_id) == [(first, "pending"), (second, "pending")]


def test_criteria_notes_with_a_control_character_are_refused(uow_factory: UowFactory) -> None:
    registry(uow_factory)
    register_patient(
        uow_factory(),
        Patient("P-1", "ORG-A", (Specialty.ORTHOPAEDICS,), Precedence.PRIORITY, Mobility.LITTER),
        actor=ACTOR,
    )
    mission = mission_of_org_b(uow_factory, candidates=["P-1"])
    with pytest.raises(InvalidValue, match=r"^criteria_notes: .*U\+0000"):
        record_decision(
            uow_factory(),
            mission.id,
            "P-1",
            ScreeningOutcome.DEFER,
            clinician="dr",
            criteria_notes="recheck\x00",
        )
    with uow_factory() as uow:
        assert uow.patients.get("P-1").status is PatientStatus.SCREENING


def test_line_breaks_and_tabs_in_free_text_are_kept_alike_on_both_backends(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory)
    (patient_id,) = selected_patients(uow_factory, 1)
    reason = "duplicate record\nsee PT-0110\tand PT-0111"
    move_patient(uow_factory(), patient_id, PatientStatus.CANCELLED, actor=ACTOR, reason=reason)
    with uow_factory() as uow:
        assert uow.patients.get(patient_id).history[-1].reason == reason


# -- 6. death after admission abroad -------------------------------------------------------------


def test_a_death_abroad_keeps_the_acceptance_and_counts_against_the_quota(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory)
    partner_hospital(uow_factory, Coordinates(52.2, 21.0))
    register_agreement(
        uow_factory(),
        Agreement(
            "AGR-1",
            "ORG-A",
            "ORG-B",
            frozenset({Specialty.ORTHOPAEDICS}),
            2,
            CostPolicy.free(),
            utc_now().date() - timedelta(days=30),
        ),
        actor=ACTOR,
    )
    abroad, waiting = selected_patients(uow_factory, 2)
    request_id = accepted_request(
        uow_factory, "ORG-A", "ORG-B", [abroad, waiting], admissions={abroad: ("H-B", None)}
    )
    for step in (PatientStatus.SCHEDULED, PatientStatus.IN_TRANSIT, PatientStatus.ADMITTED):
        move_patient(uow_factory(), abroad, step, actor=ACTOR)

    def used() -> dict[str, int]:
        with uow_factory() as uow:
            book = sent_book(uow, {"patients": []}, utc_now())
        assert book is not None
        return {k: v for k, v in book.used.items() if v}

    assert used() == {"AGR-1": 2}
    move_patient(uow_factory(), abroad, PatientStatus.DIED, actor="ward", reason="died in ICU")
    # the receiver's acceptance had been rewritten "withdrawn", and the place freed
    assert lines(uow_factory, request_id) == [(abroad, "accepted"), (waiting, "accepted")]
    assert get_request(uow_factory(), request_id).status is RequestStatus.ACCEPTED
    assert used() == {"AGR-1": 2}
    # one who dies before it leaves did not use its place; its acceptance stays as given,
    # and the request, with nobody left on it, closes itself
    move_patient(uow_factory(), waiting, PatientStatus.DIED, actor="ward", reason="sepsis")
    assert used() == {"AGR-1": 1}
    request = get_request(uow_factory(), request_id)
    assert request.status is RequestStatus.CLOSED
    assert "no patients left" in request.closed_reason
    assert [line.decision for line in request.patients] == [PatientDecision.ACCEPTED] * 2
    assert request_audit(uow_factory, request_id).count("close") == 1


def test_a_patient_a_plan_sent_who_dies_abroad_keeps_counting_against_the_quota(
    uow_factory: UowFactory,
) -> None:
    plan, (abroad, waiting) = accepted_at_the_academy(uow_factory, 2)
    change_academy_agreement(uow_factory, quota=24)
    for step in (PatientStatus.SCHEDULED, PatientStatus.IN_TRANSIT):
        move_patient(uow_factory(), abroad, step, actor=ACTOR)

    def used() -> int:
        with uow_factory() as uow:
            book = sent_book(uow, {"patients": []}, utc_now())
        assert book is not None
        return book.used[ACADEMY_AGREEMENT_ID]

    assert used() == 2
    move_patient(uow_factory(), abroad, PatientStatus.DIED, actor="ward", reason="died on the way")
    move_patient(uow_factory(), waiting, PatientStatus.DIED, actor="ward", reason="sepsis")
    assert used() == 1  # the plan's admission of the one that left stays: it was used
    with uow_factory() as uow:
        admissions = {a.patient_id: a for a in uow.plans.get(plan.id).admissions}
    assert admissions[abroad].is_open
    assert not admissions[waiting].is_open

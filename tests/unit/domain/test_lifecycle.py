"""The patient lifecycle, checked exhaustively over every pair of statuses."""

from __future__ import annotations

import itertools

import pytest

from medevac.domain.errors import IllegalTransition, InvalidValue
from medevac.domain.lifecycle import ActorRole, PatientStatus
from tests.unit.domain.factories import T0, make_patient

S = PatientStatus

# The lifecycle as DOMAIN.md states it, written out here independently of the implementation:
# the chain, the sanctioned steps back, and died / cancelled from every live status.
CHAIN = {
    (S.REPORTED, S.SCREENING),
    (S.SCREENING, S.SELECTED),
    (S.SCREENING, S.DEFERRED),
    (S.SCREENING, S.DECLINED),
    (S.DEFERRED, S.SCREENING),
    (S.DECLINED, S.SCREENING),
    (S.SELECTED, S.REFERRED),
    (S.REFERRED, S.ACCEPTED),
    (S.REFERRED, S.DECLINED),
    (S.REFERRED, S.SELECTED),
    (S.ACCEPTED, S.SCHEDULED),
    (S.ACCEPTED, S.SELECTED),
    (S.SCHEDULED, S.IN_TRANSIT),
    (S.SCHEDULED, S.ACCEPTED),
    (S.IN_TRANSIT, S.ADMITTED),
    (S.ADMITTED, S.IN_TREATMENT),
    (S.ADMITTED, S.DISCHARGED),
    (S.IN_TREATMENT, S.REHABILITATION),
    (S.IN_TREATMENT, S.DISCHARGED),
    (S.REHABILITATION, S.DISCHARGED),
    (S.DISCHARGED, S.REPATRIATED),
}
FINAL = {S.REPATRIATED, S.DIED, S.CANCELLED}
LIVE = set(S) - FINAL
ALLOWED = CHAIN | {(a, b) for a in LIVE for b in (S.DIED, S.CANCELLED)}
ALL_PAIRS = list(itertools.product(S, S))


def test_the_state_table_has_every_status() -> None:
    assert {a for a, _ in ALLOWED} == LIVE
    assert {b for _, b in ALLOWED} >= set(S) - {S.REPORTED}


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transition_moves_and_records_who_when_why(
    current: PatientStatus, target: PatientStatus
) -> None:
    patient = make_patient(current)
    change = patient.transition_to(target, actor="dr.ivanova", at=T0, reason="clinical review")
    assert patient.status is target
    assert patient.history == [change]
    assert (change.from_status, change.to_status) == (current, target)
    assert (change.actor, change.at, change.reason) == ("dr.ivanova", T0, "clinical review")


@pytest.mark.parametrize(("current", "target"), [pair for pair in ALL_PAIRS if pair not in ALLOWED])
def test_every_other_transition_is_refused_with_a_clear_message(
    current: PatientStatus, target: PatientStatus
) -> None:
    patient = make_patient(current)
    with pytest.raises(IllegalTransition) as refused:
        patient.transition_to(target, actor="dr.ivanova", at=T0, reason="clinical review")
    message = str(refused.value)
    assert f"cannot move from {current} to {target}" in message
    assert message.split(": ", 2)[2]  # and says why
    assert patient.status is current
    assert patient.history == []


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_statuses_say_they_are_final(final: PatientStatus) -> None:
    with pytest.raises(IllegalTransition, match="is final"):
        make_patient(final).transition_to(S.SCREENING, actor="x", at=T0, reason="r")


@pytest.mark.parametrize(
    ("current", "target"),
    sorted(
        pair
        for pair in ALLOWED
        if pair[1] in (S.DECLINED, S.DEFERRED, S.DIED, S.CANCELLED)
        or pair
        in {
            (S.DECLINED, S.SCREENING),
            (S.REFERRED, S.SELECTED),
            (S.ACCEPTED, S.SELECTED),
            (S.SCHEDULED, S.ACCEPTED),
        }
    ),
)
def test_declines_deaths_cancellations_and_steps_back_need_a_reason(
    current: PatientStatus, target: PatientStatus
) -> None:
    with pytest.raises(IllegalTransition, match="needs a reason"):
        make_patient(current).transition_to(target, actor="x", at=T0, reason="  ")


def test_forward_moves_do_not_need_a_reason() -> None:
    patient = make_patient(S.REPORTED)
    patient.transition_to(S.SCREENING, actor="x", at=T0)
    assert patient.history[0].reason == ""


def test_every_move_names_who_made_it() -> None:
    with pytest.raises(InvalidValue, match="actor"):
        make_patient(S.REPORTED).transition_to(S.SCREENING, actor=" ", at=T0)


# Accepting or declining a referral and admitting an arrival; nothing else (a decline in the
# middle of screening is the screening clinician's decision).
RECEIVING_MOVES = {(S.REFERRED, S.ACCEPTED), (S.REFERRED, S.DECLINED), (S.IN_TRANSIT, S.ADMITTED)}


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_a_receiving_facility_may_only_accept_decline_or_admit(
    current: PatientStatus, target: PatientStatus
) -> None:
    patient = make_patient(current)
    if (current, target) in RECEIVING_MOVES:
        patient.transition_to(
            target, actor="hosp", at=T0, reason="r", role=ActorRole.RECEIVING_FACILITY
        )
        assert patient.status is target
    else:
        with pytest.raises(IllegalTransition, match="a receiving facility may not move"):
            patient.transition_to(
                target, actor="hosp", at=T0, reason="r", role=ActorRole.RECEIVING_FACILITY
            )


def test_cannot_admit_patient_who_was_never_accepted() -> None:
    patient = make_patient(S.REFERRED)
    with pytest.raises(IllegalTransition, match="cannot move from referred to admitted"):
        patient.transition_to(S.ADMITTED, actor="hosp", at=T0, role=ActorRole.RECEIVING_FACILITY)


def test_a_screening_clinician_cannot_schedule_a_flight() -> None:
    with pytest.raises(IllegalTransition, match="a screening clinician may not move"):
        make_patient(S.ACCEPTED).transition_to(
            S.SCHEDULED, actor="dr", at=T0, role=ActorRole.SCREENING_CLINICIAN
        )


def test_a_full_journey_leaves_a_complete_timeline() -> None:
    patient = make_patient(S.REPORTED)
    journey = [
        S.SCREENING,
        S.SELECTED,
        S.REFERRED,
        S.ACCEPTED,
        S.SCHEDULED,
        S.IN_TRANSIT,
        S.ADMITTED,
        S.IN_TREATMENT,
        S.REHABILITATION,
        S.DISCHARGED,
        S.REPATRIATED,
    ]
    for step in journey:
        patient.transition_to(step, actor="coord", at=T0)
    assert [c.to_status for c in patient.history] == journey
    assert patient.status.is_terminal
    assert not patient.can_move_to(S.DIED)

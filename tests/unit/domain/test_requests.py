"""Treatment requests: statuses, answers with reasons, one live request per patient."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from medevac.domain.errors import IllegalTransition, InvalidValue, LiveRequestConflict
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.requests import PatientDecision, RequestStatus, TreatmentRequest
from medevac.domain.vocabulary import Specialty
from tests.unit.domain.factories import T0, make_patient


def draft(*patients: str) -> TreatmentRequest:
    request = TreatmentRequest("REQ-1", "ORG-A", "ORG-B", T0)
    for p in patients:
        request.add_patient(p)
    return request


def submitted(*patients: str) -> TreatmentRequest:
    request = draft(*patients)
    request.submit()
    return request


def test_all_patients_accepted_makes_the_request_accepted() -> None:
    request = submitted("P1", "P2")
    assert request.respond({"P1": (True, ""), "P2": (True, "")}) is RequestStatus.ACCEPTED
    assert [p.decision for p in request.patients] == [PatientDecision.ACCEPTED] * 2


def test_some_declined_makes_it_partially_accepted_with_a_reason_per_patient() -> None:
    request = submitted("P1", "P2")
    outcome = request.respond({"P1": (True, ""), "P2": (False, "no neurosurgery bed")})
    assert outcome is RequestStatus.PARTIALLY_ACCEPTED
    assert request.line("P2").reason == "no neurosurgery bed"


def test_a_decline_without_a_reason_is_refused_and_changes_nothing() -> None:
    request = submitted("P1", "P2")
    with pytest.raises(InvalidValue, match="'P2' is declined without a reason"):
        request.respond({"P1": (False, "full"), "P2": (False, " ")})
    assert request.status is RequestStatus.SUBMITTED
    assert all(p.decision is PatientDecision.PENDING for p in request.patients)


def test_every_pending_patient_needs_an_answer() -> None:
    with pytest.raises(InvalidValue, match="'P2' has no answer"):
        submitted("P1", "P2").respond({"P1": (True, "")})


def test_all_declined_makes_it_declined_and_final() -> None:
    request = submitted("P1")
    assert request.respond({"P1": (False, "outside agreement")}) is RequestStatus.DECLINED
    with pytest.raises(IllegalTransition):
        request.close("done")


def test_places_shortfall_needs_a_reason() -> None:
    request = draft()
    request.ask_for_places(Specialty.OPHTHALMOLOGY, 5)
    request.submit()
    with pytest.raises(InvalidValue, match="3 of 5 without a reason"):
        request.respond(place_answers={Specialty.OPHTHALMOLOGY: (3, "")})
    outcome = request.respond(place_answers={Specialty.OPHTHALMOLOGY: (3, "two surgeons away")})
    assert outcome is RequestStatus.PARTIALLY_ACCEPTED


def test_cannot_submit_an_empty_request() -> None:
    request = draft()
    with pytest.raises(IllegalTransition, match="no patients and no places"):
        request.submit()
    assert request.status is RequestStatus.DRAFT


def test_only_a_submitted_request_is_answered() -> None:
    with pytest.raises(IllegalTransition, match="only a submitted request"):
        draft("P1").respond({"P1": (True, "")})


def test_a_patient_on_another_live_request_cannot_be_added() -> None:
    request = draft()
    with pytest.raises(LiveRequestConflict, match="already on live request REQ-9"):
        request.add_patient("P1", live_elsewhere=["REQ-9"])


def test_withdrawing_the_last_patient_closes_the_request() -> None:
    request = submitted("P1", "P2")
    assert request.withdraw_patient("P1", "patient died") is False
    assert request.withdraw_patient("P2", "patient cancelled") is True
    assert request.status is RequestStatus.CLOSED
    assert "no patients left" in request.closed_reason
    assert request.open_patient_ids() == []


def test_a_request_cannot_go_to_its_own_sender() -> None:
    with pytest.raises(InvalidValue, match="another organisation"):
        TreatmentRequest("R", "ORG-A", "ORG-A", T0)


def test_closed_requests_hold_no_patients() -> None:
    request = submitted("P1")
    request.respond({"P1": (True, "")})
    assert request.open_patient_ids() == ["P1"]
    request.close("all admitted")
    assert request.open_patient_ids() == []


def test_an_acceptance_records_when_and_where_the_patient_is_to_be_admitted() -> None:
    request = submitted("P1", "P2", "P3")
    day = T0.date() + timedelta(days=2)
    at = T0 + timedelta(hours=5)
    request.respond(
        {"P1": (True, ""), "P2": (True, ""), "P3": (False, "no bed")},
        destinations={"P1": ("FAC-B", day)},
        at=at,
    )
    assert (request.line("P1").facility_id, request.line("P1").admission_date) == ("FAC-B", day)
    assert (request.line("P2").facility_id, request.line("P2").admission_date) == (None, None)
    assert [line.decided_at for line in request.patients] == [at, at, at]


@pytest.mark.parametrize(
    ("answers", "destinations", "message"),
    [
        ({"P1": (False, "full")}, {"P1": "FAC-B"}, "'P1' has an admission but is not accepted"),
        ({"P1": (True, "")}, {"P9": "FAC-B"}, "'P9' has an admission but is not listed"),
    ],
)
def test_an_admission_for_a_patient_not_accepted_is_refused_and_changes_nothing(
    answers: dict[str, tuple[bool, str]], destinations: dict[str, str], message: str
) -> None:
    request = submitted("P1")
    with pytest.raises(InvalidValue, match=message):
        request.respond(
            answers, destinations={p: (f, T0.date()) for p, f in destinations.items()}, at=T0
        )
    assert request.status is RequestStatus.SUBMITTED
    assert request.line("P1").decision is PatientDecision.PENDING
    assert request.line("P1").decided_at is None


def test_an_admission_for_a_patient_withdrawn_before_the_answer_is_refused() -> None:
    request = submitted("P1", "P2")
    request.withdraw_patient("P2", "died")
    with pytest.raises(InvalidValue, match="'P2' has an admission but was withdrawn before"):
        request.respond({"P1": (True, "")}, destinations={"P2": ("FAC-B", T0.date())}, at=T0)


def test_an_admission_is_named_later_only_for_an_accepted_patient() -> None:
    request = submitted("P1", "P2")
    request.respond({"P1": (True, ""), "P2": (False, "no bed")}, at=T0)
    day = T0.date() + timedelta(days=3)
    request.name_admission("P1", "FAC-B", day)
    assert (request.line("P1").facility_id, request.line("P1").admission_date) == ("FAC-B", day)
    assert request.line("P1").decided_at == T0  # still the answer's time
    with pytest.raises(InvalidValue, match="'P2' is declined on request REQ-1"):
        request.name_admission("P2", "FAC-B", day)
    # closing leaves accepted patients accepted: their admission can still be named
    request.close("done")
    request.name_admission("P1", "FAC-C", day)
    assert request.line("P1").facility_id == "FAC-C"


def test_an_admission_is_not_named_on_an_answer_recorded_without_its_time() -> None:
    request = submitted("P1")
    request.respond({"P1": (True, "")})  # as answers stored before revision 0005
    with pytest.raises(InvalidValue, match="before answers recorded their time"):
        request.name_admission("P1", "FAC-B", T0.date())
    assert request.line("P1").facility_id is None


# -- answers already given, deaths after the answer, free texts ---------------------------------


def test_a_withdrawal_that_leaves_nobody_pending_answers_the_request() -> None:
    request = submitted("P1", "P2", "P3")
    request.answer_patient("P2", True, "", at=T0)
    request.answer_patient("P3", False, "no bed", at=T0)
    # P1 dies: the answers given answer the request (it had stayed submitted)
    assert request.withdraw_patient("P1", "patient died") is False
    assert request.status is RequestStatus.PARTIALLY_ACCEPTED
    assert request.line("P1").decision is PatientDecision.WITHDRAWN


def test_a_withdrawal_leaving_only_declines_declines_the_request() -> None:
    request = submitted("P1", "P2")
    request.answer_patient("P2", False, "no bed", at=T0)
    assert request.withdraw_patient("P1", "patient died") is False
    assert request.status is RequestStatus.DECLINED


def test_a_withdrawal_with_places_pending_leaves_the_request_submitted() -> None:
    request = draft("P1", "P2")
    request.ask_for_places(Specialty.NEUROLOGY, 2)
    request.submit()
    request.answer_patient("P2", True, "", at=T0)
    assert request.withdraw_patient("P1", "patient died") is False
    assert request.status is RequestStatus.SUBMITTED


def test_a_death_after_the_answer_keeps_the_acceptance() -> None:
    request = submitted("P1", "P2")
    request.respond({"P1": (True, ""), "P2": (True, "")}, at=T0)
    assert request.withdraw_patient("P1", "patient died", keep_answer=True) is False
    assert request.line("P1").decision is PatientDecision.ACCEPTED
    assert request.line("P1").reason == ""
    assert request.status is RequestStatus.ACCEPTED
    # P2 dies too: nobody is left, the request closes and both acceptances stay
    assert request.withdraw_patient("P2", "patient died", keep_answer=True, gone=["P1"]) is True
    assert request.status is RequestStatus.CLOSED
    assert [p.decision for p in request.patients] == [PatientDecision.ACCEPTED] * 2


def test_an_acceptance_withdrawn_itself_is_withdrawn_on_the_request() -> None:
    request = submitted("P1")
    request.respond({"P1": (True, "")}, at=T0)
    assert request.withdraw_patient("P1", "patient selected: B withdrew") is True
    assert request.line("P1").decision is PatientDecision.WITHDRAWN


@pytest.mark.parametrize(
    ("given", "answer", "refused"),
    [
        (True, (False, "no bed after all"), "'P1' is already accepted on request REQ-1; this "),
        (False, (True, ""), "'P1' is already declined on request REQ-1 (no bed)"),
        (True, (True, ""), None),
        (False, (False, "still no bed"), None),
    ],
)
def test_an_answer_for_a_patient_answered_before_must_agree_with_it(
    given: bool, answer: tuple[bool, str], refused: str | None
) -> None:
    request = submitted("P1", "P2")
    request.answer_patient("P1", given, "" if given else "no bed", at=T0)
    if refused is None:
        request.respond({"P1": answer, "P2": (True, "")}, at=T0)
        assert request.line("P1").reason == ("" if given else "no bed")
        return
    with pytest.raises(InvalidValue, match=re.escape(refused)):
        request.respond({"P1": answer, "P2": (True, "")}, at=T0)
    assert request.status is RequestStatus.SUBMITTED
    assert request.line("P2").decision is PatientDecision.PENDING


def test_an_answer_for_a_withdrawn_patient_is_refused() -> None:
    request = submitted("P1", "P2")
    request.withdraw_patient("P1", "patient died")
    with pytest.raises(InvalidValue, match=r"'P1' is already withdrawn .* cannot accept it"):
        request.respond({"P1": (True, ""), "P2": (True, "")}, at=T0)


@pytest.mark.parametrize("text", ["dup\x00", "dup\udcff", "dup\x1b[0m", "dup\r"])
def test_free_texts_with_control_characters_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidValue, match=r"^note: "):
        TreatmentRequest("REQ-1", "ORG-A", "ORG-B", T0, note=text)
    request = submitted("P1", "P2")
    with pytest.raises(InvalidValue, match="'P2': its reason"):
        request.respond({"P1": (True, ""), "P2": (False, text)}, at=T0)
    with pytest.raises(InvalidValue, match=r"^reason: "):
        request.answer_patient("P2", False, text, at=T0)
    with pytest.raises(InvalidValue, match=r"^reason: "):
        request.withdraw_patient("P2", text)
    with pytest.raises(InvalidValue, match=r"^reason: "):
        request.close(text)
    assert request.status is RequestStatus.SUBMITTED
    assert [p.decision for p in request.patients] == [PatientDecision.PENDING] * 2
    places = draft()
    places.ask_for_places(Specialty.NEUROLOGY, 2)
    places.submit()
    with pytest.raises(InvalidValue, match="neurology: its reason"):
        places.respond(place_answers={Specialty.NEUROLOGY: (1, text)})


def test_free_texts_may_hold_line_breaks_and_tabs() -> None:
    text = "first line\n\tsecond line"
    request = TreatmentRequest("REQ-1", "ORG-A", "ORG-B", T0, note=text)
    request.add_patient("P1")
    request.submit()
    request.respond({"P1": (False, text)}, at=T0)
    assert (request.note, request.line("P1").reason) == (text, text.strip())


def test_a_move_s_reason_with_a_control_character_is_refused() -> None:
    patient = make_patient(PatientStatus.SELECTED)
    with pytest.raises(InvalidValue, match=r"^reason: .*U\+0000"):
        patient.transition_to(PatientStatus.CANCELLED, actor="c", at=T0, reason="dup\x00")
    assert (patient.status, patient.history) == (PatientStatus.SELECTED, [])

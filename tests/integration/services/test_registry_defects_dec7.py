"""Defects a review suspected in the registry (SQLite and PostgreSQL): closing a request sent
back to selected patients an approved plan places (withdrawing the plan's admission), and an
acceptance by `patients move` was credited to a pending request's receiver while the live plan
had placed the patient at another organisation's facility. Imports of patients in any status
are kept as they are: the tests pin how the registry handles such a patient."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from medevac.domain.errors import InvalidValue
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.requests import PatientDecision, RequestStatus
from medevac.interop.records import RecordKind
from medevac.planning import solve_exact
from medevac.services.auditing import utc_now
from medevac.services.demo import (
    ACADEMY_AGREEMENT_ID,
    ORIGIN_MINISTRY,
    PARTNER_DEFENCE,
    PARTNER_MINISTRY,
    REQUEST_ID,
    build_demo,
)
from medevac.services.imports import import_file
from medevac.services.patients import move_patient, patient_file
from medevac.services.quota_count import QuotaBook, sent_under_agreements
from medevac.services.regulating import approve_plan, build_problem
from medevac.services.requests import (
    close_request,
    create_request,
    get_request,
    submit_request,
)
from tests.integration.services.builders import UowFactory, submitted_request

pytestmark = pytest.mark.storage

ACADEMY = "FAC-LODZ-MMA"  # PARTNER_DEFENCE's, where the demo's plan admits everyone


def selected_demo(uow_factory: UowFactory, count: int) -> list[str]:
    """The demo, unregulated, with its request closed; the first ``count`` selected patients."""
    build_demo(uow_factory(), actor="demo", regulate=False)
    close_request(uow_factory(), REQUEST_ID, reason="regulate centrally", actor="cell")
    with uow_factory() as uow:
        return sorted(p.id for p in uow.patients.list(status=PatientStatus.SELECTED))[:count]


def approved_plan(uow_factory: UowFactory) -> str:
    """Build, solve and approve the registry's plan (the demo's: everyone at the academy)."""
    problem = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    plan = solve_exact(problem.for_engines(), time_limit=30)
    assert {a.facility for a in plan.assignments} == {ACADEMY}
    return approve_plan(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="cell"
    ).id


def planned(uow_factory: UowFactory, ids: list[str]) -> dict[str, str]:
    """Each patient's facility in the live plan (those it does not place left out)."""
    with uow_factory() as uow:
        return {p: a.facility_id for p, (_, a) in uow.plans.live_admissions(ids).items()}


def statuses(uow_factory: UowFactory, ids: list[str]) -> dict[str, PatientStatus]:
    with uow_factory() as uow:
        return {p.id: p.status for p in uow.patients.get_many(ids).values()}


def counted(uow_factory: UowFactory) -> dict[str, int]:
    """Patients sent earlier counted against each agreement (`sent_under_agreements`)."""
    with uow_factory() as uow:
        book = QuotaBook(uow.agreements.list(), utc_now().date())
        sent_under_agreements(uow, book, set())
    return {a: n for a, n in book.used.items() if n}


# -- 1. closing a request leaves a plan's referral standing -----------------------------------


@pytest.mark.parametrize("receiver", [PARTNER_MINISTRY, PARTNER_DEFENCE])
def test_closing_a_request_keeps_referred_the_patients_a_plan_referred_after_the_draft(
    uow_factory: UowFactory, receiver: str
) -> None:
    chosen = selected_demo(uow_factory, 2)
    draft = create_request(
        uow_factory(),
        from_organisation_id=ORIGIN_MINISTRY,
        to_organisation_id=receiver,
        patient_ids=chosen,
        actor="cell",
    )
    plan_id = approved_plan(uow_factory)  # refers them, to the academy
    submit_request(uow_factory(), draft.id, actor="cell")  # "already referred by plan ..."
    close_request(uow_factory(), draft.id, reason="asked in error", actor="cell")
    # they had gone back to selected, and the plan's admissions had been withdrawn
    assert statuses(uow_factory, chosen) == dict.fromkeys(chosen, PatientStatus.REFERRED)
    assert planned(uow_factory, chosen) == dict.fromkeys(chosen, ACADEMY)
    for patient_id in chosen:
        history = patient_file(uow_factory(), patient_id).patient.history
        assert history[-1].to_status is PatientStatus.REFERRED
        assert plan_id in history[-1].reason
    assert get_request(uow_factory(), draft.id).status is RequestStatus.CLOSED


def test_closing_a_request_whose_patients_a_plan_placed_elsewhere_keeps_the_plans_place(
    uow_factory: UowFactory,
) -> None:
    # referred by the request to the ministry, then placed by a plan at the academy (another
    # organisation's): the approval names the request, and README says to answer, close or
    # withdraw the patients there; closing had taken them off the plan too
    chosen = selected_demo(uow_factory, 2)
    request_id = submitted_request(uow_factory, ORIGIN_MINISTRY, PARTNER_MINISTRY, chosen)
    approved_plan(uow_factory)
    close_request(uow_factory(), request_id, reason="the academy takes them", actor="cell")
    assert statuses(uow_factory, chosen) == dict.fromkeys(chosen, PatientStatus.REFERRED)
    assert planned(uow_factory, chosen) == dict.fromkeys(chosen, ACADEMY)


def test_closing_a_request_returns_to_selected_the_patients_no_plan_places(
    uow_factory: UowFactory,
) -> None:
    first, second = selected_demo(uow_factory, 2)
    request_id = submitted_request(uow_factory, ORIGIN_MINISTRY, PARTNER_MINISTRY, [first, second])
    with uow_factory() as uow:  # found unfit since: no plan places it
        patient = uow.patients.get(second)
        patient.fit_to_transport = False
        uow.patients.update(patient)
        uow.commit()
    approved_plan(uow_factory)
    assert planned(uow_factory, [first, second]) == {first: ACADEMY}
    close_request(uow_factory(), request_id, reason="asked in error", actor="cell")
    assert statuses(uow_factory, [first, second]) == {
        first: PatientStatus.REFERRED,
        second: PatientStatus.SELECTED,
    }
    last = patient_file(uow_factory(), second).patient.history[-1]
    assert last.reason == f"request {request_id} closed: asked in error"


# -- 2. an acceptance by move is not credited to a request's receiver the plan did not choose --


def test_an_acceptance_by_move_is_refused_when_the_plan_placed_the_patient_at_another_receiver(
    uow_factory: UowFactory,
) -> None:
    chosen, other = selected_demo(uow_factory, 2)
    request_id = submitted_request(uow_factory, ORIGIN_MINISTRY, PARTNER_MINISTRY, [chosen, other])
    plan_id = approved_plan(uow_factory)  # at the academy, PARTNER_DEFENCE's
    before = counted(uow_factory)
    # the academy accepts: the move had answered the ministry's request for it, so the patient
    # lost its destination and counted against the ministry's agreement
    with pytest.raises(InvalidValue) as refused:
        move_patient(
            uow_factory(),
            chosen,
            PatientStatus.ACCEPTED,
            actor="academy",
            role=ActorRole.RECEIVING_FACILITY,
        )
    message = str(refused.value)
    for named in (request_id, PARTNER_MINISTRY, plan_id, ACADEMY, PARTNER_DEFENCE):
        assert named in message
    assert statuses(uow_factory, [chosen]) == {chosen: PatientStatus.REFERRED}
    request = get_request(uow_factory(), request_id)
    assert request.line(chosen).decision is PatientDecision.PENDING
    assert counted(uow_factory) == before
    # closed, the request no longer stands for the answer: the plan's referral does
    close_request(uow_factory(), request_id, reason="the academy takes them", actor="cell")
    move_patient(
        uow_factory(), chosen, PatientStatus.ACCEPTED, actor="academy",
        role=ActorRole.RECEIVING_FACILITY,
    )  # fmt: skip
    destination = patient_file(uow_factory(), chosen).destination
    assert destination is not None
    assert (destination.facility_id, destination.plan_id) == (ACADEMY, plan_id)
    assert counted(uow_factory) == {ACADEMY_AGREEMENT_ID: before.get(ACADEMY_AGREEMENT_ID, 0) + 1}


def test_an_acceptance_by_move_answers_a_request_whose_receiver_the_plan_chose(
    uow_factory: UowFactory,
) -> None:
    chosen = selected_demo(uow_factory, 1)
    request_id = submitted_request(uow_factory, ORIGIN_MINISTRY, PARTNER_DEFENCE, chosen)
    approved_plan(uow_factory)
    move_patient(
        uow_factory(), chosen[0], PatientStatus.ACCEPTED, actor="academy",
        role=ActorRole.RECEIVING_FACILITY,
    )  # fmt: skip
    request = get_request(uow_factory(), request_id)
    assert request.line(chosen[0]).decision is PatientDecision.ACCEPTED
    assert request.status is RequestStatus.ACCEPTED
    assert counted(uow_factory) == {ACADEMY_AGREEMENT_ID: 1}


# -- 3. imports of patients in later statuses --------------------------------------------------


def test_an_imported_accepted_patient_is_named_without_destination_and_moves_on(
    uow_factory: UowFactory, tmp_path: Path
) -> None:
    # The model keeps no facility, destination or date of death on a patient: a destination
    # lives on a request's answer or a plan's admission, which `patients move` need not leave
    # either (selected -> referred -> accepted by hand). The import makes such a patient.
    build_demo(uow_factory(), actor="demo", regulate=False)
    rows = [
        {
            "id": f"IMP-{status.value}",
            "organisation_id": ORIGIN_MINISTRY,
            "required_specialties": ["orthopaedics"],
            "precedence": "priority",
            "mobility": "litter",
            "status": status.value,
        }
        for status in PatientStatus
    ]
    path = tmp_path / "patients.json"
    path.write_text(json.dumps({"patients": rows}), encoding="utf-8")
    import_file(uow_factory(), RecordKind.PATIENTS, path, actor="importer")
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    on_their_way = ("accepted", "scheduled", "in_transit")
    assert [p for p in built.without_destination if p.startswith("IMP-")] == sorted(
        f"IMP-{s}" for s in on_their_way
    )
    for status in PatientStatus:
        record = patient_file(uow_factory(), f"IMP-{status.value}")
        assert (record.patient.status, record.destination) == (status, None)
    for step in (PatientStatus.SCHEDULED, PatientStatus.IN_TRANSIT, PatientStatus.ADMITTED):
        move_patient(uow_factory(), "IMP-accepted", step, actor="cell")
    move_patient(uow_factory(), "IMP-admitted", PatientStatus.DIED, actor="ward", reason="sepsis")
    assert counted(uow_factory) == {}  # no receiver is known: nobody's quota is charged


def test_a_decline_by_move_is_refused_when_the_plan_placed_the_patient_at_another_receiver(
    uow_factory: UowFactory,
) -> None:
    # declined as the ministry's answer, it had withdrawn the academy's place as well
    chosen = selected_demo(uow_factory, 1)
    request_id = submitted_request(uow_factory, ORIGIN_MINISTRY, PARTNER_MINISTRY, chosen)
    approved_plan(uow_factory)
    with pytest.raises(InvalidValue, match=f"close the request .*{request_id}"):
        move_patient(
            uow_factory(), chosen[0], PatientStatus.DECLINED, actor="academy",
            reason="no bed", role=ActorRole.RECEIVING_FACILITY,
        )  # fmt: skip
    assert get_request(uow_factory(), request_id).line(chosen[0]).decision is (
        PatientDecision.PENDING
    )
    assert planned(uow_factory, chosen) == {chosen[0]: ACADEMY}

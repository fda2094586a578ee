"""A re-plan's approval and the admissions approved before it (SQLite and PostgreSQL): one
after the new problem's horizon is kept and carried into the new plan, and a referred patient
the new plan gives no place goes back to selected, not left referred with a superseded place."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient
from medevac.domain.vocabulary import (
    FacilityKind,
    Mobility,
    OrganisationKind,
    Precedence,
    Specialty,
)
from medevac.planning import solve_exact
from medevac.services import regulating
from medevac.services.auditing import utc_now
from medevac.services.holds import sent_destinations
from medevac.services.regulating import BuiltProblem, build_problem
from medevac.services.requests import close_request, respond_to_request
from tests.integration.services.builders import UowFactory, submitted_request

pytestmark = pytest.mark.storage


def registry(uow_factory: UowFactory, beds: int) -> None:
    """A sender A with an origin hospital, a partner B with one orthopaedic hospital of
    ``beds`` free beds, and two selected patients of A: P1 urgent for 20 days, P2 routine."""
    with uow_factory() as uow:
        uow.organisations.add_many(
            [Organisation(o, o, OrganisationKind.MINISTRY_OF_HEALTH, "PL") for o in "AB"]
        )
        uow.facilities.add_many(
            [
                Facility(
                    h,
                    h,
                    FacilityKind.HOSPITAL,
                    o,
                    "PL",
                    Coordinates(52.0, 19.0),
                    frozenset({Specialty.ORTHOPAEDICS}),
                )
                for h, o in (("H-A", "A"), ("H-B", "B"))
            ]
        )
        uow.capacity.add_many([report(beds, hours_ago=3)])
        uow.patients.add_many(
            [
                Patient(p, "A", (Specialty.ORTHOPAEDICS,), precedence, Mobility.LITTER,
                        fit_to_transport=True, expected_length_of_stay_days=stay,
                        location_id="H-A", status=PatientStatus.SELECTED)
                for p, precedence, stay in (
                    ("P1", Precedence.URGENT, 20),
                    ("P2", Precedence.ROUTINE, 10),
                )
            ]
        )  # fmt: skip
        uow.commit()


def report(beds: int, hours_ago: int) -> CapacityReport:
    return CapacityReport(
        "H-B",
        Specialty.ORTHOPAEDICS,
        beds,
        max(beds, 1),
        reported_at=utc_now() - timedelta(hours=hours_ago),
    )


def approved(uow_factory: UowFactory, **options: int) -> tuple[BuiltProblem, regulating.Approval]:
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24), **options)
    plan = solve_exact(built.for_engines(), time_limit=30)
    approval = regulating.approve(
        uow_factory(), problem=built.problem, manifest=built.manifest, plan=plan, actor="cell"
    )
    return built, approval


def live_admissions(uow_factory: UowFactory) -> dict[str, tuple[str, int]]:
    today = utc_now().date()
    with uow_factory() as uow:
        [plan] = uow.plans.live()
        return {
            a.patient_id: (a.facility_id, (a.admission_date - today).days)
            for a in plan.admissions
            if a.is_open
        }


def withdrawal_records(uow_factory: UowFactory, plan_id: str) -> list[tuple[str, str]]:
    """The patients withdrawn from the plan according to the audit trail, with the reasons."""
    with uow_factory() as uow:
        records = uow.audit.list(entity_type="approved_plan", entity_id=plan_id)
    return [
        (r.after["admissions"][0]["patient_id"], r.reason)
        for r in records
        if r.action == "withdraw_patient" and r.after is not None
    ]


def status(uow_factory: UowFactory, patient_id: str) -> PatientStatus:
    with uow_factory() as uow:
        return uow.patients.get(patient_id).status


def test_an_admission_after_the_new_horizon_is_kept_and_carried_into_the_new_plan(
    uow_factory: UowFactory,
) -> None:
    # one bed: over 30 days P1 takes it first and P2 follows on day 20. Built again over 14
    # days, P2 had no current place: left out at no cost, and the approval dropped its
    # admission unsaid, P2 still referred
    registry(uow_factory, beds=1)
    approved(uow_factory, horizon_days=30)
    assert live_admissions(uow_factory) == {"P1": ("H-B", 0), "P2": ("H-B", 20)}
    built, approval = approved(uow_factory, horizon_days=14)
    assert [p["id"] for p in built.problem["patients"]] == ["P1"]
    assert built.manifest["kept"] == {"P2": f"H-B@{utc_now().date() + timedelta(days=20)}"}
    assert built.uncarried == {}  # P1 is at its place, P2 kept
    [skipped] = [s for s in built.skipped if s.kind == "patient"]
    assert skipped.id == "P2"
    assert "after the horizon's last day: kept as approved" in skipped.reason
    assert approval.kept == ["P2"]
    assert approval.unreferred == {}
    assert live_admissions(uow_factory) == {"P1": ("H-B", 0), "P2": ("H-B", 20)}
    assert status(uow_factory, "P2") is PatientStatus.REFERRED


def test_a_referred_patient_the_re_plan_gives_no_place_goes_back_to_selected(
    uow_factory: UowFactory,
) -> None:
    # the partner reports its bed taken: the re-plan leaves P1 (and P2) out. P1 stayed
    # referred with no place in the live plan, the partner could still accept it, and the
    # next build took the superseded admission for its destination
    registry(uow_factory, beds=1)
    approved(uow_factory)
    assert live_admissions(uow_factory) == {"P1": ("H-B", 0)}
    assert status(uow_factory, "P1") is PatientStatus.REFERRED
    with uow_factory() as uow:
        uow.capacity.add_many([report(0, hours_ago=1)])
        uow.commit()
    _, approval = approved(uow_factory)
    assert live_admissions(uow_factory) == {}
    today = utc_now().date()
    assert approval.unreferred == {"P1": f"H-B on {today}"}
    assert status(uow_factory, "P1") is PatientStatus.SELECTED
    assert status(uow_factory, "P2") is PatientStatus.SELECTED  # never referred
    with uow_factory() as uow:
        last = uow.patients.get("P1").history[-1]
    assert last.reason == (
        f"no place in plan {approval.plan.id}, which supersedes the admission at H-B on {today}"
    )
    # the next build sees two selected patients and no current place
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    assert [p.get("current") for p in built.problem["patients"]] == [None, None]


def test_the_build_names_referred_patients_left_out_or_at_a_facility_it_leaves_out(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory, beds=2)
    approved(uow_factory)
    assert live_admissions(uow_factory) == {"P1": ("H-B", 0), "P2": ("H-B", 0)}
    with uow_factory() as uow:
        unfit = uow.patients.get("P1")
        unfit.fit_to_transport = False
        uow.patients.update(unfit)
        field = uow.facilities.get("H-B")
        field.kind = FacilityKind.EMT_TYPE_2
        uow.facilities.update(field)
        uow.commit()
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    today = utc_now().date()
    assert built.uncarried == {
        "P1": f"H-B on {today}, left out: not fit to transport",
        "P2": f"H-B on {today}, a facility not in the problem",
    }


def test_a_referred_patient_the_re_plan_places_again_stays_referred(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory, beds=2)
    approved(uow_factory)
    _, approval = approved(uow_factory)
    assert approval.unreferred == {}
    assert approval.kept == []
    assert {status(uow_factory, p) for p in ("P1", "P2")} == {PatientStatus.REFERRED}


def agreement(uow_factory: UowFactory, quota: int | None, until_day: int | None) -> None:
    """A's agreement with B for orthopaedics, from 30 days ago, with ``quota`` and ending on
    day ``until_day`` (None: no end)."""
    today = utc_now().date()
    with uow_factory() as uow:
        uow.agreements.add(
            Agreement(
                "AGR-AB",
                "A",
                "B",
                frozenset({Specialty.ORTHOPAEDICS}),
                quota,
                CostPolicy.free(),
                today - timedelta(days=30),
                None if until_day is None else today + timedelta(days=until_day),
            )
        )
        uow.commit()


def test_an_admission_under_a_quota_is_not_kept_but_planned_again(
    uow_factory: UowFactory,
) -> None:
    # kept, P2 had taken the quota's room ahead of the patients planned, however urgent: an
    # urgent P3 due today was left out for a routine P2 due in 20 days
    registry(uow_factory, beds=1)
    agreement(uow_factory, quota=2, until_day=None)
    approved(uow_factory, horizon_days=30)
    assert live_admissions(uow_factory) == {"P1": ("H-B", 0), "P2": ("H-B", 20)}
    with uow_factory() as uow:
        uow.capacity.add_many([report(2, hours_ago=1)])
        uow.patients.add_many(
            [
                Patient(
                    "P3",
                    "A",
                    (Specialty.ORTHOPAEDICS,),
                    Precedence.URGENT,
                    Mobility.LITTER,
                    fit_to_transport=True,
                    expected_length_of_stay_days=5,
                    location_id="H-A",
                    status=PatientStatus.SELECTED,
                )
            ]
        )
        uow.commit()
    built, approval = approved(uow_factory, horizon_days=14)
    assert [p["id"] for p in built.problem["patients"]] == ["P1", "P2", "P3"]
    assert built.manifest["kept"] == {}
    # the build says P2 comes in without its place (`plan show` cannot count it as losing
    # one, and it had gone unsaid until the approval)
    day_20 = utc_now().date() + timedelta(days=20)
    assert built.uncarried == {
        "P2": f"H-B on {day_20}, after the horizon, not kept: it comes under AGR-AB, an "
        "agreement with a quota"
    }
    assert built.manifest["not_carried"] == built.uncarried
    assert approval.kept == []
    # the quota's room goes to P1, kept where it was, and the urgent P3; P2 is selected again
    assert live_admissions(uow_factory) == {"P1": ("H-B", 0), "P3": ("H-B", 0)}
    assert approval.unreferred == {"P2": f"H-B on {utc_now().date() + timedelta(days=20)}"}
    assert status(uow_factory, "P2") is PatientStatus.SELECTED
    with uow_factory() as uow:  # its admission in the superseded plan is withdrawn
        assert uow.plans.latest_admissions(["P2"]) == {}


def test_an_admission_after_its_agreement_ends_is_not_kept(uow_factory: UowFactory) -> None:
    # the agreement, shortened since, ends on day 10: P2's admission on day 20 had been
    # carried into the new plan all the same
    registry(uow_factory, beds=1)
    agreement(uow_factory, quota=None, until_day=None)
    approved(uow_factory, horizon_days=30)
    with uow_factory() as uow:
        shortened = uow.agreements.get("AGR-AB")
        shortened.valid_to = utc_now().date() + timedelta(days=10)
        uow.agreements.update(shortened)
        uow.commit()
    built, approval = approved(uow_factory, horizon_days=14)
    assert built.manifest["kept"] == {}
    day_20 = utc_now().date() + timedelta(days=20)
    assert built.manifest["not_carried"] == {
        "P2": f"H-B on {day_20}, after the horizon, not kept: no agreement admits its "
        "organisation's patients at H-B that day"
    }
    assert approval.kept == []
    assert "P2" not in live_admissions(uow_factory)
    assert status(uow_factory, "P2") is PatientStatus.SELECTED


def test_a_patient_a_live_request_holds_stays_referred_and_is_named(
    uow_factory: UowFactory,
) -> None:
    registry(uow_factory, beds=1)
    request_id = submitted_request(uow_factory, "A", "B", ["P1"])
    assert status(uow_factory, "P1") is PatientStatus.REFERRED
    _, first = approved(uow_factory)
    assert live_admissions(uow_factory) == {"P1": ("H-B", 0)}
    with uow_factory() as uow:
        uow.capacity.add_many([report(0, hours_ago=1)])
        uow.commit()
    _, approval = approved(uow_factory)
    assert approval.unreferred == {}
    assert approval.on_request_unplaced == {"P1": f"H-B on {utc_now().date()}"}
    assert status(uow_factory, "P1") is PatientStatus.REFERRED
    # the superseded plan's admission is withdrawn with a record (it had been unrecorded)
    assert withdrawal_records(uow_factory, first.plan.id) == [
        ("P1", f"no place in plan {approval.plan.id}, which supersedes it")
    ]
    # accepted later with no facility named, P1 had taken the superseded admission (H-B, day 0,
    # a bed the new plan may give to another) for its destination; its place is not known
    respond_to_request(
        uow_factory(),
        request_id,
        patient_answers={"P1": (True, "")},
        actor="receiving desk",
    )
    assert status(uow_factory, "P1") is PatientStatus.ACCEPTED
    with uow_factory() as uow:
        assert sent_destinations(uow, ["P1"]) == {}
        assert uow.plans.latest_admissions(["P1"]) == {}


def test_a_patient_a_closed_request_sends_back_keeps_no_superseded_admission(
    uow_factory: UowFactory,
) -> None:
    # P1 on a request, placed by a plan and again by the re-plan that supersedes it; the
    # request closed sent it back to selected with the first plan's admission still open, and
    # accepted again with no facility named it took that admission for its destination
    registry(uow_factory, beds=1)
    request_id = submitted_request(uow_factory, "A", "B", ["P1"])
    _, first = approved(uow_factory)
    _, second = approved(uow_factory)
    assert live_admissions(uow_factory) == {"P1": ("H-B", 0)}
    close_request(uow_factory(), request_id, reason="regulate centrally", actor="cell")
    assert status(uow_factory, "P1") is PatientStatus.SELECTED
    # both withdrawals are on record, the superseded plan's too (it had been unrecorded)
    [(_, why)] = withdrawal_records(uow_factory, second.plan.id)
    assert withdrawal_records(uow_factory, first.plan.id) == [("P1", why)]
    again = submitted_request(uow_factory, "A", "B", ["P1"])
    respond_to_request(
        uow_factory(), again, patient_answers={"P1": (True, "")}, actor="receiving desk"
    )
    assert status(uow_factory, "P1") is PatientStatus.ACCEPTED
    with uow_factory() as uow:
        assert uow.plans.latest_admissions(["P1"]) == {}
        assert sent_destinations(uow, ["P1"]) == {}


def test_an_answer_naming_a_day_after_the_agreement_ends_is_refused(
    uow_factory: UowFactory,
) -> None:
    # `plan approve` refuses such an admission; an answer's --admit had taken it unsaid
    registry(uow_factory, beds=1)
    agreement(uow_factory, quota=None, until_day=10)
    request_id = submitted_request(uow_factory, "A", "B", ["P1"])
    today = utc_now().date()
    with pytest.raises(InvalidValue) as refused:
        respond_to_request(
            uow_factory(),
            request_id,
            patient_answers={"P1": (True, "")},
            admissions={"P1": ("H-B", today + timedelta(days=11))},
            actor="receiving desk",
        )
    assert refused.value.reason == (
        f"patient 'P1': admission on {today + timedelta(days=11)} is after the agreements "
        f"admitting A's orthopaedics patients at B end ({today + timedelta(days=10)})"
    )
    assert status(uow_factory, "P1") is PatientStatus.REFERRED  # nothing written
    respond_to_request(  # the agreement's last day is taken
        uow_factory(),
        request_id,
        patient_answers={"P1": (True, "")},
        admissions={"P1": ("H-B", today + timedelta(days=10))},
        actor="receiving desk",
    )
    assert status(uow_factory, "P1") is PatientStatus.ACCEPTED

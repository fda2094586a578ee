"""Agreements that begin or end within a problem's horizon, on SQLite and PostgreSQL (a review
of 2026-12-07): each admission counts against the agreements in force on its admission day,
not on the day of the build or of the approval (a renewal without a quota was lost, and a plan
admitting everyone under it refused); and an agreement that begins within the horizon opens
its receiver's facilities from that day, though the receiver is bound by another agreement
already (its patients were left out for the whole horizon)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import CostPolicy
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.vocabulary import Specialty
from medevac.planning import (
    Breakdown,
    Plan,
    check_plan,
    parse_problem,
    solve_exact,
    solve_greedy,
)
from medevac.services import regulating
from medevac.services.agreement_terms import admissions_after_agreement_ends
from medevac.services.auditing import utc_now
from medevac.services.demo import (
    ACADEMY_AGREEMENT_ID,
    ORIGIN_MINISTRY,
    PARTNER_DEFENCE,
    REQUEST_ID,
    build_demo,
)
from medevac.services.quota_count import quota_overruns
from medevac.services.registry import register_agreement
from medevac.services.regulating import BuiltProblem, QuotaExceeded, build_problem
from medevac.services.requests import close_request
from tests.integration.services.builders import UowFactory

pytestmark = pytest.mark.storage

ACADEMY = "FAC-LODZ-MMA"  # PARTNER_DEFENCE's: it admits 8 a day
RENEWAL_ID = "AGR-DEMO-RENEWAL"
ICU_AGREEMENT_ID = "AGR-IC"


def selected_demo(uow_factory: UowFactory) -> None:
    """The demo, unregulated, with its request closed: its 24 patients selected."""
    build_demo(uow_factory(), actor="demo", regulate=False)
    close_request(uow_factory(), REQUEST_ID, reason="regulate centrally", actor="cell")


def built(uow_factory: UowFactory, **options: Any) -> BuiltProblem:
    return build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24), **options)


def approve(problem: BuiltProblem, plan: Plan, uow_factory: UowFactory, **options: Any) -> Any:
    return regulating.approve(
        uow_factory(),
        problem=problem.problem,
        manifest=problem.manifest,
        plan=plan,
        actor="cell",
        **options,
    )


def moved(problem: BuiltProblem, plan: Plan, days: dict[str, int]) -> Plan:
    """``plan`` with the patients of ``days`` admitted on those days instead, its objective and
    breakdown the checker's."""
    assignments = tuple(a._replace(day=days.get(a.patient, a.day)) for a in plan.assignments)
    changed = replace(plan, assignments=assignments)
    report = check_plan(parse_problem(problem.problem), changed)
    assert report.feasible, report.violations
    return replace(
        changed, objective=report.objective, breakdown=Breakdown(**report.terms), gap=0.0
    )


# -- 1. a renewal without a quota ---------------------------------------------------------------


def renewed_academy(uow_factory: UowFactory) -> Agreement:
    """The selected demo, whose 24 patients all go to the academy: its agreement with a quota
    of 2 ending on day 2, and a renewal without a quota from day 3."""
    selected_demo(uow_factory)
    today = utc_now().date()
    with uow_factory() as uow:
        academy = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        academy.quota, academy.valid_to = 2, today + timedelta(days=2)
        uow.agreements.update(academy)
        uow.commit()
    renewal = replace(
        academy,
        id=RENEWAL_ID,
        quota=None,
        valid_from=today + timedelta(days=3),
        valid_to=None,
        version=0,
    )
    register_agreement(uow_factory(), renewal, actor="cell")
    return renewal


def test_a_plan_admitting_patients_under_a_renewal_without_a_quota_is_approved(
    uow_factory: UowFactory,
) -> None:
    renewed_academy(uow_factory)
    problem = built(uow_factory, respect_quotas=False)
    free = solve_exact(parse_problem(problem.problem), time_limit=30)
    assert len(free.assignments) == 24
    assert {a.facility for a in free.assignments} == {ACADEMY}
    assert {a.day for a in free.assignments} == {0, 1, 2}  # 8 a day, under the old agreement
    expected = (
        f"{ACADEMY_AGREEMENT_ID} allows 2 patients of {ORIGIN_MINISTRY} at {PARTNER_DEFENCE}; "
        "this plan places 24 there"
    )
    on = utc_now()
    assert quota_overruns(uow_factory(), problem.problem, free, on=on) == [expected]
    with pytest.raises(QuotaExceeded) as refused:
        approve(problem, free, uow_factory)
    assert refused.value.overruns == [expected]
    # two stay on their days, the other 22 come three days later, under the renewal: it was
    # refused all the same, "AGR-DEMO-002 allows 2 ...; this plan places 24 there"
    kept = sorted(a.patient for a in free.assignments)[:2]
    late = moved(problem, free, {a.patient: a.day + 3 for a in free.assignments
                                 if a.patient not in kept})  # fmt: skip
    assert quota_overruns(uow_factory(), problem.problem, late, on=on) == []
    approval = approve(problem, late, uow_factory)
    assert approval.over_quota == []
    assert len(approval.plan.admissions) == 24


def test_within_quotas_leaves_out_only_those_admitted_beyond_the_old_agreement_s_room(
    uow_factory: UowFactory,
) -> None:
    renewed_academy(uow_factory)
    problem = built(uow_factory, respect_quotas=False)
    free = solve_exact(parse_problem(problem.problem), time_limit=30)
    # the eight of day 2 come on day 5 instead: 16 remain on days 0 and 1, 14 beyond the room
    late = moved(problem, free, {a.patient: 5 for a in free.assignments if a.day == 2})
    approval = approve(problem, late, uow_factory, within_quotas=True)
    assert set(approval.left_out.values()) == {ACADEMY_AGREEMENT_ID}
    assert len(approval.left_out) == 14
    days = [a.day for a in approval.solved.assignments]
    assert (sorted(set(days) - {0, 1}), len([d for d in days if d < 2])) == ([5], 2)
    assert len(approval.plan.admissions) == 10


def test_a_quota_of_an_agreement_ending_within_the_horizon_holds_on_its_days(
    uow_factory: UowFactory,
) -> None:
    # the old agreement's room (2) holds on its days (0-2) only: the renewal takes the rest
    # from day 3 (until quotas had days, the room held on every day and 2 of 24 were placed)
    renewed_academy(uow_factory)
    problem = built(uow_factory)
    assert problem.quotas_held == [ACADEMY_AGREEMENT_ID]
    [line] = problem.quotas_tight
    assert line.startswith(
        f"{ACADEMY_AGREEMENT_ID} has room for 2 more patient(s) of {ORIGIN_MINISTRY} at "
        f"{PARTNER_DEFENCE} (quota 2, 0 sent), and 24 in this problem could go there under it: "
        "the plan keeps to it, and the optimiser chooses who uses the room; its patients come "
        f"under {ACADEMY_AGREEMENT_ID} on day(s) 0-2 only, and the quota holds on those days"
    )
    [quota] = problem.manifest["quotas"]
    assert (quota["room"], quota["days"]) == (2, [0, 1, 2])
    assert problem.manifest["acceptance_ends"] == []  # the renewal carries acceptance on
    plan = solve_exact(problem.for_engines(), time_limit=30)
    days = [a.day for a in plan.assignments]
    assert (len(days), len([d for d in days if d <= 2])) == (24, 2)
    assert approve(problem, plan, uow_factory).over_quota == []


def test_a_renewal_with_a_quota_of_its_own_is_carried_as_well(uow_factory: UowFactory) -> None:
    # the renewal's quota (3) was not carried (not in force on the build's day): a plan kept
    # to the old agreement's room of 2 placed 2 + 22 later, beyond the renewal's 3. Each holds
    # on its own days: 2 by day 2 and 3 from day 3
    renewed_academy(uow_factory)
    with uow_factory() as uow:
        renewal = uow.agreements.get(RENEWAL_ID)
        renewal.quota = 3
        uow.agreements.update(renewal)
        uow.commit()
    problem = built(uow_factory)
    rooms = {q["id"]: (q["room"], q["days"][0]) for q in problem.manifest["quotas"]}
    assert rooms == {ACADEMY_AGREEMENT_ID: (2, 0), RENEWAL_ID: (3, 3)}
    plan = solve_exact(problem.for_engines(), time_limit=30)
    days = [a.day for a in plan.assignments]
    assert (len([d for d in days if d <= 2]), len([d for d in days if d > 2])) == (2, 3)
    assert quota_overruns(uow_factory(), problem.problem, plan, on=utc_now()) == []
    assert approve(problem, plan, uow_factory).over_quota == []


@pytest.mark.parametrize("quota", [2, 0])
def test_a_first_agreement_with_a_quota_binds_from_its_first_day_only(
    uow_factory: UowFactory, quota: int
) -> None:
    # the academy's operator is bound by no agreement until day 2, when its first one, with a
    # quota of 2, begins: the academy admits everyone on days 0-1 (8 a day) and 2 from day 2.
    # Until quotas had days, acceptance ended on day 1 and 16 were placed. With a quota of 0
    # (used up) it covers nobody: acceptance ends on day 1 (a review found 8 admitted from
    # day 2 and the approval refusing them)
    selected_demo(uow_factory)
    today = utc_now().date()
    with uow_factory() as uow:
        academy = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        academy.quota, academy.valid_from = quota, today + timedelta(days=2)
        uow.agreements.update(academy)
        uow.commit()
    problem = built(uow_factory)
    if quota:
        [carried] = problem.manifest["quotas"]
        assert (carried["room"], carried["days"]) == (2, list(range(2, 14)))
        assert problem.manifest["acceptance_ends"] == []
    else:
        assert problem.manifest["quotas"] == []
        assert [e["last_day"] for e in problem.manifest["acceptance_ends"]] == [1]
    for plan in (solve_greedy(problem.for_engines()), solve_exact(problem.for_engines(), 30)):
        days = [a.day for a in plan.assignments if a.facility == ACADEMY]
        assert (len([d for d in days if d < 2]), len([d for d in days if d >= 2])) == (16, quota)
        assert quota_overruns(uow_factory(), problem.problem, plan, on=utc_now()) == []
    assert approve(problem, plan, uow_factory).over_quota == []


# -- 2. an agreement beginning within the horizon, its receiver bound already -------------------


def intensive_care_from_day_2(
    uow_factory: UowFactory, count: int = 1, quota: int | None = None, ends: int | None = None
) -> list[str]:
    """The selected demo, ``count`` of its patients needing intensive care (the academy
    offers it, the academy's agreement does not cover it) and an agreement of their ministry
    with the academy's operator for intensive care beginning on day 2 (with ``quota``, ending
    on day ``ends``); their ids."""
    selected_demo(uow_factory)
    today = utc_now().date()
    with uow_factory() as uow:
        chosen = sorted(p.id for p in uow.patients.list(status=PatientStatus.SELECTED))[:count]
        patients = [uow.patients.get(patient_id) for patient_id in chosen]
        for patient in patients:
            patient.required_specialties = (Specialty.INTENSIVE_CARE,)
            uow.patients.update(patient)
        uow.commit()
    agreement = Agreement(
        ICU_AGREEMENT_ID,
        ORIGIN_MINISTRY,
        PARTNER_DEFENCE,
        frozenset({Specialty.INTENSIVE_CARE}),
        quota=quota,
        cost_policy=CostPolicy.free(),
        valid_from=today + timedelta(days=2),
        valid_to=None if ends is None else today + timedelta(days=ends),
    )
    register_agreement(uow_factory(), agreement, actor="cell")
    return [p.id for p in patients]


def entry(problem: BuiltProblem, patient_id: str) -> dict[str, Any]:
    [found] = [p for p in problem.problem["patients"] if p["id"] == patient_id]
    return found


def test_an_agreement_beginning_within_the_horizon_admits_its_patients_from_its_first_day(
    uow_factory: UowFactory,
) -> None:
    [patient] = intensive_care_from_day_2(uow_factory)
    problem = built(uow_factory)
    written = f"{ORIGIN_MINISTRY}/intensive_care"
    assert entry(problem, patient)["organisation"] == written
    assert entry(problem, patient)["earliest_day"] == 2
    [academy] = [f for f in problem.problem["facilities"] if f["id"] == ACADEMY]
    assert written in academy["accepts_from"]
    # it said "FAC-LODZ-MMA offers intensive_care, which no agreement in force covers"
    assert not [line for line in problem.uncovered if "intensive_care" in line]
    begins = (utc_now().date() + timedelta(days=2)).isoformat()
    assert problem.beginning == [
        f"{ICU_AGREEMENT_ID} ({ORIGIN_MINISTRY} at {PARTNER_DEFENCE}) begins on {begins}, day 2 "
        "of this problem: no agreement covers its patients in intensive_care there before, so "
        "plans admit them there from day 2 on"
    ]
    plan = solve_exact(problem.for_engines(), time_limit=30)
    place = plan.assignment_of(patient)
    assert place is not None
    assert (place.facility, place.day) == (ACADEMY, 2)
    assert check_plan(problem.for_engines(), plan).feasible
    assert len(plan.assignments) == 24


def test_the_end_of_a_beginning_agreement_is_carried_and_checked(uow_factory: UowFactory) -> None:
    [patient] = intensive_care_from_day_2(uow_factory, ends=4)
    problem = built(uow_factory)
    written = f"{ORIGIN_MINISTRY}/intensive_care"
    assert {"facility": ACADEMY, "organisation": written, "last_day": 4} in problem.manifest[
        "acceptance_ends"
    ]
    plan = solve_exact(problem.for_engines(), time_limit=30)
    place = plan.assignment_of(patient)
    assert place is not None
    assert 2 <= place.day <= 4
    # a plan solved without the manifest may admit it after the end: the approval's check
    late = moved(problem, plan, {patient: 6})
    today = utc_now().date()
    assert admissions_after_agreement_ends(
        uow_factory(), problem.problem, late, built_on=today
    ) == [
        f"patient {patient} is admitted at {ACADEMY} on day 6 "
        f"({(today + timedelta(days=6)).isoformat()}), after {ICU_AGREEMENT_ID} "
        f"({ORIGIN_MINISTRY} at {PARTNER_DEFENCE}) ends on "
        f"{(today + timedelta(days=4)).isoformat()}, day 4 of the problem"
    ]


def test_a_beginning_agreement_s_quota_is_carried_for_its_days(uow_factory: UowFactory) -> None:
    # its patients come in from its first day only, so its quota (1) holds exactly
    patients = intensive_care_from_day_2(uow_factory, count=3, quota=1)
    problem = built(uow_factory)
    assert problem.quotas_held == [ICU_AGREEMENT_ID]
    assert [q["room"] for q in problem.manifest["quotas"]] == [1]
    plan = solve_exact(problem.for_engines(), time_limit=30)
    placed = [p for p in patients if plan.assignment_of(p) is not None]
    assert len(placed) == 1
    assert quota_overruns(uow_factory(), problem.problem, plan, on=utc_now()) == []


def test_a_plan_admitting_patients_under_a_beginning_agreement_is_approved(
    uow_factory: UowFactory,
) -> None:
    [patient] = intensive_care_from_day_2(uow_factory)
    problem = built(uow_factory)
    plan = solve_exact(problem.for_engines(), time_limit=30)
    approval = approve(problem, plan, uow_factory)
    assert patient in {a.patient_id for a in approval.plan.admissions}

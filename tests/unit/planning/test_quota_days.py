"""Quotas that hold on some admission days only (`Quota.days`): an agreement that ends within
the horizon while a renewal takes over, or one that begins within it. The checker, the
unplaced reasons and `explain` count and close only the quota's days."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import numpy as np
import pytest

from medevac.planning import (
    Assignment,
    Blocker,
    Breakdown,
    Plan,
    PlanStatus,
    Problem,
    Quota,
    UnplacedReason,
    check_plan,
    explain,
    parse_problem,
    with_acceptance_ends,
    with_quotas,
)
from medevac.planning.model import ProblemView, placement_arrays, quota_counts, unplaced_reasons
from tests.unit.planning.builders import (
    engines_agree,
    facility,
    partner_quota,
    patient,
    problem_dict,
    random_problems,
    random_quota_problem,
    renewal_problem,
)

#: room for one patient of ORG-A at PARTNER, admitted on days 0-1 only
EARLY = partner_quota(1, days=frozenset({0, 1}))


def plan_of(problem: Problem, placed: dict[str, int]) -> Plan:
    """A plan admitting the patients of ``placed`` at PARTNER on their days, the rest left
    out, with the checker's objective."""
    assignments = tuple(Assignment(p, "PARTNER", d) for p, d in placed.items())
    draft = Plan(PlanStatus.FEASIBLE, 0.0, 0.0, 0.0, "hand", 0.0, Breakdown(), assignments, ())
    report = check_plan(problem, draft)
    return replace(draft, objective=report.objective, breakdown=Breakdown(**report.terms))


def test_the_checker_counts_only_admissions_on_the_quota_s_days() -> None:
    problem = renewal_problem(patients=3, quota=EARLY)
    later = check_plan(problem, plan_of(problem, {"P0": 0, "P1": 2, "P2": 4}))
    assert later.feasible, later.violations
    both_early = check_plan(problem, plan_of(problem, {"P0": 0, "P1": 1, "P2": 3}))
    assert both_early.violations == (
        "quota AGR-A: 2 patients placed under it on day(s) 0-1, room 1",
    )
    view = ProblemView(problem)
    facility_of, day = placement_arrays(problem, {"P0": ("PARTNER", 0), "P1": ("PARTNER", 3)})
    assert quota_counts(view, facility_of, day).tolist() == [1]


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (frozenset({0, 5}), "quota AGR-A: day 5 is outside the horizon (days 0-4)"),
        (frozenset({-1}), "quota AGR-A: day -1 is outside the horizon (days 0-4)"),
    ],
)
def test_a_quota_s_days_must_lie_in_the_horizon(days: frozenset[int], message: str) -> None:
    quota = partner_quota(1, days=days)
    with pytest.raises(ValueError, match=re.escape(message)):
        with_quotas(renewal_problem(patients=3), [quota])


def test_a_quota_holding_on_no_day_is_dropped() -> None:
    quota = partner_quota(0, days=frozenset())
    assert with_quotas(renewal_problem(patients=3), [quota]).quotas == ()


def unplaced_beside(problem: Problem, placed: dict[str, int]) -> dict[str, object]:
    view = ProblemView(problem)
    facility_of, day = placement_arrays(problem, {p: ("PARTNER", d) for p, d in placed.items()})
    left = [i for i, p in enumerate(problem.patients) if p.id not in placed]
    return {u.patient: u for u in unplaced_reasons(view, facility_of, day, left)}


def test_an_unplaced_patient_is_told_the_days_a_quota_closes() -> None:
    # beds on days 0-1 only: the quota closes them, and nothing is left on days 2-4
    problem = renewal_problem(patients=2, beds=[10, 10, 0, 0, 0], quota=EARLY)
    reasons = unplaced_beside(problem, {"P0": 0})
    [left] = reasons.values()
    assert left.code is UnplacedReason.BEDS_FULL  # type: ignore[attr-defined]
    assert left.reason == (  # type: ignore[attr-defined]
        "every feasible place is taken in the horizon: where beds are free for the stay, a "
        "quota is used up (1 eligible facility); 1 of them closed to the patient on day(s) "
        "0-1 by the quota of AGR-A (room 1), used by other patients"
    )


def test_a_quota_closing_every_day_the_patient_may_come_leaves_no_agreement() -> None:
    # PARTNER admits ORG-A until day 1: the quota's days are every day it may come
    problem = with_acceptance_ends(renewal_problem(patients=2), [("PARTNER", "ORG-A", 1)])
    problem = with_quotas(problem, [EARLY])
    [left] = unplaced_beside(problem, {"P0": 1}).values()
    assert left.code is UnplacedReason.NO_AGREEMENT  # type: ignore[attr-defined]
    assert left.reason == (  # type: ignore[attr-defined]
        "the quota of AGR-A (room 1) is used by other patients at every eligible facility on "
        "day(s) 0-1"
    )


def test_a_quota_on_every_day_is_said_as_before() -> None:
    every_day = renewal_problem(patients=2, quota=partner_quota(1))
    [left] = unplaced_beside(every_day, {"P0": 3}).values()
    assert left.reason == (  # type: ignore[attr-defined]
        "the quota of AGR-A (room 1) is used by other patients at every eligible facility"
    )


def test_explain_closes_only_the_quota_s_days() -> None:
    # P0 uses the room on day 0; P1 was admitted on day 3: days 0-1 are closed to it by the
    # quota, the others are free
    problem = renewal_problem(patients=2, quota=EARLY)
    plan = plan_of(problem, {"P0": 0, "P1": 3})
    why = explain(problem, plan, "P1")
    blockers = {(a.first_day, a.last_day): a.blocker for a in why.alternatives}
    assert blockers[(0, 1)] is Blocker.QUOTA_FULL
    assert Blocker.QUOTA_FULL not in {b for (first, _), b in blockers.items() if first >= 2}
    [closed] = [a for a in why.alternatives if a.blocker is Blocker.QUOTA_FULL]
    assert closed.detail == "quota AGR-A used up (1 of its room 1 by other patients)"
    # admitted on day 1, its place breaks the quota; on day 3 it breaks nothing
    assert why.place_breaks == ""
    early = plan_of(problem, {"P0": 0, "P1": 1})
    assert explain(problem, early, "P1").place_breaks == (
        "PARTNER is under quota AGR-A, used up (1 of its room 1 by other patients)"
    )
    assert np.all([a.facility == "PARTNER" for a in why.alternatives])


@random_problems(40)
def test_with_quotas_of_some_days_every_engine_agrees_and_exact_is_optimal(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    # every engine's plan passes the checker, no bound goes above the per-patient MIP's
    # optimum, the exact engine proves it and greedy costs no more (`engines_agree`)
    engines_agree(random_quota_problem(rng, n_patients, n_facilities, days=True))


def test_patients_of_one_kind_with_other_earliest_days_get_their_own_quota_reason() -> None:
    # F's one bed is taken to the end; a quota without room closes days 2-5 to ORG-A. A may
    # come from day 2 only (every day closed by the quota: no agreement); B from day 0 (the
    # beds' reason). B had been given A's reason when A came first
    data = problem_dict(
        [facility("F", 50.1, 30.0, beds={"orthopaedics": 1})],
        [
            patient("P0", organisation="ORG-B", length_of_stay_days=6),
            patient("A", organisation="ORG-A", length_of_stay_days=1, earliest_day=2),
            patient("B", organisation="ORG-A", length_of_stay_days=1),
        ],
        horizon_days=6,
    )
    days = frozenset(range(2, 6))
    quota = Quota("Q", 0, frozenset({"ORG-A"}), frozenset({"F"}), days=days)
    problem = with_quotas(parse_problem(data), [quota])
    facility_of, day = np.array([0, -1, -1]), np.array([0, 0, 0])
    for order in ([1, 2], [2, 1]):
        reasons = {
            u.patient: u.code
            for u in unplaced_reasons(ProblemView(problem), facility_of, day, order)
        }
        assert reasons == {"A": UnplacedReason.NO_AGREEMENT, "B": UnplacedReason.BEDS_FULL}

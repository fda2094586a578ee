"""The reasons of the unplaced are true of the plan: tried against the checker, place by place."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from medevac.planning import (
    Assignment,
    Plan,
    PlanStatus,
    Problem,
    UnplacedReason,
    check_plan,
    explain,
    parse_problem,
    solve_exact,
    solve_greedy,
)
from medevac.planning.explain import Blocker
from medevac.planning.model import ProblemView, assemble_plan, placement_arrays, unplaced_reasons
from tests.unit.planning.builders import facility, patient, problem_dict, random_problem_data

CAPACITY = {
    UnplacedReason.BEDS_FULL,
    UnplacedReason.CHEAPER_LEFT_OUT,
    UnplacedReason.FREE_PLACE_UNUSED,
}


def best_addition(problem: Problem, plan: Plan, patient_id: str) -> float | None:
    """The least change of the checker's objective from admitting ``patient_id`` (unplaced in
    ``plan``) at any facility on any day beside the others; None where no such plan is
    feasible."""
    before = check_plan(problem, plan).objective
    rest = tuple(u for u in plan.unplaced if u.patient != patient_id)
    best = None
    for f in problem.facilities:
        for day in range(problem.horizon_days):
            trial = replace(
                plan, assignments=(*plan.assignments, Assignment(patient_id, f.id, day)),
                unplaced=rest,
            )  # fmt: skip
            report = check_plan(problem, trial)
            if report.feasible and (best is None or report.objective - before < best):
                best = report.objective - before
    return best


def random_problem(seed: int) -> Problem:
    rng = random.Random(seed)
    data = random_problem_data(rng, rng.randint(8, 30), rng.randint(2, 5))
    # from leaving out dear (the default) to cheap, so that some free places cost more
    data["weights"]["unplaced"] = rng.choice([1000, 10, 2, 0])
    return parse_problem(data)


@pytest.mark.parametrize("seed", range(40))
def test_each_capacity_reason_says_what_a_place_by_place_trial_finds(seed: int) -> None:
    problem = random_problem(seed)
    for plan in (solve_greedy(problem), solve_exact(problem, time_limit=10)):
        for u in plan.unplaced:
            if u.code not in CAPACITY:
                continue
            added = best_addition(problem, plan, u.patient)
            tolerance = 1e-9 * max(1.0, check_plan(problem, plan).objective)
            if u.code is UnplacedReason.BEDS_FULL:
                assert added is None, (seed, plan.solver, u)
            elif u.code is UnplacedReason.CHEAPER_LEFT_OUT:
                assert added is not None, (seed, plan.solver, u)
                assert added >= -tolerance, (seed, plan.solver, u, added)
            else:
                assert added is not None, (seed, plan.solver, u)
                assert added < -tolerance, (seed, plan.solver, u, added)
                assert plan.status.value != "optimal", (seed, u)


def test_a_free_place_dearer_than_leaving_out_is_said_so_in_the_reason_and_the_explanation() -> (
    None
):
    # leaving a routine patient out costs 1,000; the only facility is 445 km away at 10 a km
    data = problem_dict(
        [facility("F1", 54.0, 30.0, beds={"orthopaedics": 5})], [patient("P1")], horizon_days=3
    )
    data["weights"]["travel_per_km"] = 10
    problem = parse_problem(data)
    plan = solve_exact(problem, time_limit=10)
    [u] = plan.unplaced
    assert u.code is UnplacedReason.CHEAPER_LEFT_OUT
    assert u.reason.startswith("leaving the patient out costs less than its cheapest free place")
    assert "(F1 on day 0: 4,447.80 against 1,000.00)" in u.reason
    explanation = explain(problem, plan, "P1")
    assert {a.blocker for a in explanation.alternatives} == {Blocker.COSTS_MORE}
    assert explanation.alternatives[0].detail == (
        "free, but costs 4,447.80 to 4,449.80 against 1,000.00 for leaving the patient out"
    )


def test_days_closed_by_the_admission_limit_are_not_called_full_beds() -> None:
    data = problem_dict(
        [facility("F1", 50.0, 30.0, beds={"orthopaedics": 5}, daily_admission_limit=0)],
        [patient("P1")],
        horizon_days=3,
    )
    plan = solve_exact(parse_problem(data), time_limit=10)
    [u] = plan.unplaced
    assert u.code is UnplacedReason.BEDS_FULL
    # no quota in the problem: none is named (the reason said "... or a quota is used up")
    assert u.reason == (
        "every feasible place is taken in the horizon: where beds are free for the stay, the "
        "daily admission limit is reached (1 eligible facility)"
    )


def test_a_plan_that_leaves_a_cheaper_place_free_says_so() -> None:
    # a plan from elsewhere (or a heuristic's) that leaves P2 out beside a free bed
    data = problem_dict(
        [facility("F1", 50.1, 30.0, beds={"orthopaedics": 2})],
        [patient("P1"), patient("P2")],
        horizon_days=3,
    )
    problem = parse_problem(data)
    view = ProblemView(problem)
    plan = assemble_plan(
        problem, view, {"P1": ("F1", 0)}, status=PlanStatus.FEASIBLE, bound=None, solver="hand",
        started=0.0,
    )  # fmt: skip
    [u] = plan.unplaced
    assert u.code is UnplacedReason.FREE_PLACE_UNUSED
    assert u.reason == (
        "a free place costs less than leaving the patient out (F1 on day 0: 0.11 against "
        "1,000.00); the plan is not optimal for this patient"
    )
    assert best_addition(problem, plan, "P2") == pytest.approx(0.11 - 1000.0, abs=0.01)
    explanation = explain(problem, plan, "P2")
    assert explanation.unplaced == u
    assert explanation.alternatives[0].blocker is Blocker.FREE


def test_leaving_out_that_costs_as_much_as_a_free_place_is_not_called_cheaper() -> None:
    # leaving out costs 0 (an `unplaced` weight of 0) and so does the bed at the patient's own
    # place on day 0: a tie, which the reason called "costs less" (found by a review)
    data = problem_dict([facility("F1", 50.0, 30.0)], [patient("P1")], horizon_days=3)
    data["weights"]["unplaced"] = 0
    problem = parse_problem(data)
    at, days = placement_arrays(problem, {})
    [u] = unplaced_reasons(ProblemView(problem), at, days, [0])
    assert u.code is UnplacedReason.CHEAPER_LEFT_OUT
    assert u.reason.startswith("leaving the patient out costs as much as its cheapest free place")

"""Findings of a review of the engines' status and bound (2026-12-07): a plan whose bound
proves it optimal called feasible where many patients keep a current place, and a bound above
the plan returned where the Lagrangian engine's plan beat the LP master's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medevac.planning import (
    PlanStatus,
    check_plan,
    parse_problem,
    solve_exact,
    solve_greedy,
    solve_patient_mip,
)
from medevac.planning.exact import _better_of
from tests.unit.planning.builders import facility, patient, problem_dict


def everyone_at_home(count: int) -> dict[str, object]:
    """``count`` patients kept at their current place, at their own facility on day 0: no
    plan costs less than nothing."""
    return problem_dict(
        [facility("F1", 50.0, 30.0, beds={"orthopaedics": count})],
        [
            patient(f"P{k:02d}", 50.0, 30.0, current={"facility": "F1", "day": 0})
            for k in range(count)
        ],
    )


@pytest.mark.parametrize("engine", [solve_exact, solve_patient_mip])
@pytest.mark.parametrize("count", [3, 40])
def test_a_plan_whose_bound_equals_its_cost_is_optimal_whatever_it_keeps(
    engine: object, count: int
) -> None:
    # three patients kept at no cost: "feasible", objective 0, bound 0 (the MIP's bound was
    # -1.2e-6); above about 25 the exact engine searched on to its limit for nothing
    problem = parse_problem(everyone_at_home(count))
    plan = engine(problem, time_limit=20)  # type: ignore[operator]
    assert check_plan(problem, plan).feasible
    assert plan.objective == 0.0
    assert plan.status is PlanStatus.OPTIMAL
    assert plan.bound == 0.0
    assert plan.gap == 0.0


def test_the_better_of_two_plans_has_no_bound_above_its_objective() -> None:
    # the LP master's plan, optimal up to the bonuses of kept places, gave its objective as
    # its bound; the Lagrangian engine's plan was cheaper by 4e-5 and kept that bound
    problem = parse_problem(everyone_at_home(3))
    base = solve_greedy(problem)
    optimal_up_to_bonuses = replace(
        base, status=PlanStatus.OPTIMAL, objective=100.00004, bound=100.00004, gap=0.0
    )
    cheaper = replace(base, status=PlanStatus.FEASIBLE, objective=100.0, bound=99.0, gap=0.01)
    best = _better_of(optimal_up_to_bonuses, cheaper, started=0.0)
    assert best.objective == 100.0
    assert best.bound <= best.objective
    assert best.bound == 100.0
    assert best.status is PlanStatus.OPTIMAL

"""Invariants on small random problems: feasible plans, exact <= greedy, exact == MIP."""

from __future__ import annotations

import random

from medevac.planning import PlanStatus, check_plan, solve_exact, solve_greedy, solve_patient_mip
from tests.unit.planning.builders import random_problem, random_problems


@random_problems(60)
def test_engines_agree_with_the_checker_and_exact_is_optimal(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    problem = random_problem(rng, n_patients, n_facilities)
    greedy = solve_greedy(problem)
    exact = solve_exact(problem, time_limit=30)
    mip = solve_patient_mip(problem, time_limit=30)
    for plan in (greedy, exact, mip):
        report = check_plan(problem, plan)
        assert report.feasible, report.violations
        assert report.objective_matches(plan.objective)
        assert plan.bound <= plan.objective
    assert exact.status is PlanStatus.OPTIMAL
    assert mip.status is PlanStatus.OPTIMAL
    tolerance = 1e-6 * max(1.0, abs(mip.objective))
    assert exact.objective <= greedy.objective + tolerance
    assert abs(exact.objective - mip.objective) <= tolerance

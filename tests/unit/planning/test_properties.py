"""Invariants on small random problems: feasible plans, exact <= greedy, exact == MIP."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from medevac.planning import (
    PlanStatus,
    check_plan,
    parse_problem,
    solve_exact,
    solve_greedy,
    solve_patient_mip,
)
from tests.unit.planning.builders import (
    placement,
    random_problem,
    random_problems,
    wide_random_problem_data,
    with_current,
)


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
        assert report.terms_apart(plan.breakdown) == []
        assert plan.bound <= plan.objective
    assert exact.status is PlanStatus.OPTIMAL
    assert mip.status is PlanStatus.OPTIMAL
    tolerance = 1e-6 * max(1.0, abs(mip.objective))
    assert exact.objective <= greedy.objective + tolerance
    assert abs(exact.objective - mip.objective) <= tolerance


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_on_wider_problems_every_bound_holds_and_an_optimal_re_plan_moves_nobody(
    rng: random.Random,
) -> None:
    data = wide_random_problem_data(rng)
    problem = parse_problem(data)
    mip = solve_patient_mip(problem, time_limit=30)
    assert mip.status is PlanStatus.OPTIMAL
    tolerance = 1e-6 * max(1.0, abs(mip.objective))
    plans = {
        "greedy": solve_greedy(problem),
        "exact": solve_exact(problem, time_limit=30),
        "large": solve_exact(problem, time_limit=2, large_units=0),
    }
    for name, plan in plans.items():
        report = check_plan(problem, plan)
        assert report.feasible, (name, report.violations)
        assert report.objective_matches(plan.objective), name
        assert report.terms_apart(plan.breakdown) == [], name
        assert plan.bound <= mip.objective + tolerance, name
        if plan.status is PlanStatus.OPTIMAL:
            assert abs(plan.objective - mip.objective) <= tolerance, name
    exact = plans["exact"]
    assert exact.status is PlanStatus.OPTIMAL
    again = parse_problem(with_current(data, exact))
    assert placement(solve_exact(again, time_limit=30)) == placement(exact)

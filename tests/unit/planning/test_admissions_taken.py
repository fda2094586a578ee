"""Admissions already due (patients sent earlier arriving) count against daily admission limits
in every engine, the checker and the explanations."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from medevac.planning import (
    Blocker,
    Plan,
    Problem,
    check_plan,
    explain,
    parse_problem,
    solve_exact,
    with_admissions_taken,
)
from tests.unit.planning.builders import (
    ENGINES,
    engines_agree,
    facility,
    patient,
    problem_dict,
    random_admissions_due,
    random_problem,
    random_problems,
)


def near_and_limited() -> Problem:
    """Three urgent patients; the near facility admits two a day, the far one any number."""
    return parse_problem(
        problem_dict(
            [
                facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 10}, daily_admission_limit=2),
                facility("FAR", 52.0, 21.0, beds={"orthopaedics": 10}),
            ],
            [patient(f"P{k}", precedence="urgent") for k in range(3)],
        )
    )


def admissions(plan: Plan) -> Counter[tuple[str, int]]:
    return Counter((a.facility, a.day) for a in plan.assignments)


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_every_engine_leaves_the_admissions_already_due_their_slots(engine: str) -> None:
    free = near_and_limited()
    assert admissions(ENGINES[engine](free))[("NEAR", 0)] == 2
    due = with_admissions_taken(free, [("NEAR", 0, 1), ("FAR", 0, 5)])
    plan = ENGINES[engine](due)
    report = check_plan(due, plan)
    assert report.feasible, report.violations
    assert report.objective_matches(plan.objective)
    assert admissions(plan)[("NEAR", 0)] == 1
    assert len(plan.assignments) == 3


def test_the_checker_counts_the_admissions_already_due() -> None:
    free = near_and_limited()
    plan = solve_exact(free, time_limit=30)
    assert check_plan(free, plan).feasible
    due = with_admissions_taken(free, [("NEAR", 0, 1)])
    assert check_plan(due, plan).violations == (
        "'NEAR' day 0: 2 admissions and 1 already due, limit 2",
    )


def test_explain_names_a_slot_taken_by_admissions_already_due() -> None:
    due = with_admissions_taken(near_and_limited(), [("NEAR", 0, 2)])
    plan = solve_exact(due, time_limit=30)
    assert admissions(plan) == {("FAR", 0): 3}  # a day late at NEAR costs more than the way
    why = explain(due, plan, "P0")
    blocked = [a for a in why.alternatives if a.facility == "NEAR" and a.first_day == 0]
    assert [a.blocker for a in blocked] == [Blocker.ADMISSION_LIMIT]
    assert "(2 of it already due)" in blocked[0].detail


def test_admissions_due_add_up_and_leave_unlimited_facilities_alone() -> None:
    free = near_and_limited()
    due = with_admissions_taken(free, [("NEAR", 1, 1), ("NEAR", 1, 2), ("FAR", 0, 4)])
    again = with_admissions_taken(due, [("NEAR", 0, 1)])
    assert again.facility("NEAR").admissions_taken == (1, 3, 0, 0, 0)
    assert again.facility("FAR").admissions_taken == ()
    assert with_admissions_taken(free, [("FAR", 2, 3)]) is free


@pytest.mark.parametrize(
    ("arrival", "message"),
    [
        (("NOWHERE", 0, 1), "admissions taken at 'NOWHERE': not a facility of the problem"),
        (("NEAR", 5, 1), "admissions taken at NEAR on day 5: outside the horizon 0..4"),
        (("NEAR", -1, 1), "on day -1: outside the horizon"),
        (("NEAR", 0, -2), "admissions taken at NEAR on day 0: -2 < 0"),
    ],
)
def test_admissions_due_outside_the_problem_are_refused(
    arrival: tuple[str, int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        with_admissions_taken(near_and_limited(), [arrival])


@random_problems(30)
def test_with_admissions_due_the_engines_still_agree_and_exact_is_optimal(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    free = random_problem(rng, n_patients, n_facilities)
    problem = with_admissions_taken(free, random_admissions_due(rng, free))
    plans = engines_agree(problem)
    # every engine's plan also fits the limits once the admissions due are added by hand
    for plan in plans.values():
        for (facility_id, day), count in admissions(plan).items():
            limit = problem.facility(facility_id).daily_admission_limit
            due = problem.facility(facility_id).taken_on(day)
            assert limit is None or count + due <= limit

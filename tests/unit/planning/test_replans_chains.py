"""Re-plans: a patient moved at no gain whose current place another holds, that one unable to
make way but by going back to its own current place, which a third patient holds: the three
move together (`replans._chain_back`) where that costs the plan no more."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from medevac.planning import check_plan, parse_problem
from medevac.planning.model import ProblemView, breakdown_of_arrays, placement_arrays
from medevac.planning.problem import Problem
from tests.unit.planning.builders import facility, patient, problem_dict


def chained(**c: Any) -> dict[str, Any]:
    """F0 admits one patient a day over three days, F1 (as near) has one orthopaedic bed on
    day 2 only. A (orthopaedics, current F0 day 0) was moved to day 2; B (neurology, current
    F0 day 1; F0 has no neurology bed on day 2) took A's day 0; C (orthopaedics, new, not
    before day 1) took B's day 1. A can go back only where B goes back to its day 1 and C
    leaves it for A's day 2: a chain of two. No waiting costs and moves free: every place
    costs the same. ``c`` replaces C's fields."""
    data = problem_dict(
        [
            facility("F0", 50.0, 30.0, daily_admission_limit=1,
                     beds={"orthopaedics": 5, "neurology": [1, 1, 0]}),
            facility("F1", 50.0, 30.0, beds={"orthopaedics": [0, 0, 1]}),
        ],
        [
            patient("A", length_of_stay_days=1, current={"facility": "F0", "day": 0}),
            patient("B", specialty="neurology", length_of_stay_days=1,
                    current={"facility": "F0", "day": 1}),
            patient("C", length_of_stay_days=1, earliest_day=1) | c,
        ],
        horizon_days=3,
    )  # fmt: skip
    data["weights"] |= {"wait_per_day": 0.0, "late_per_day": 0.0, "change": 0.0}
    return data


PLACED = {"A": ("F0", 2), "B": ("F0", 0), "C": ("F0", 1)}


def put_back_of(
    problem: Problem, placed: dict[str, tuple[str, int]]
) -> tuple[float, tuple[Any, ...] | None]:
    """The objective of the placement ``placed`` (patient id -> (facility id, day)), and
    `replans.put_back`'s answer on it (checked by the checker: None where nobody went back)."""
    from medevac.planning.replans import put_back

    view = ProblemView(problem)
    facility_of, day_of = placement_arrays(problem, placed)
    objective = breakdown_of_arrays(problem, view, facility_of, day_of).total
    return objective, put_back(problem, view, facility_of, day_of, objective)


def step_of(
    problem: Problem, placed: dict[str, tuple[str, int]]
) -> tuple[dict[str, tuple[str, int]], tuple[int, ...]]:
    """`replans._put_back` (the step before the checker, whose safeguard would hide a dearer
    plan) of the placement ``placed``: its placement and its counts."""
    from medevac.planning.replans import _put_back

    facility_of, day_of = placement_arrays(problem, placed)
    found = _put_back(problem, ProblemView(problem), facility_of, day_of, math.inf)
    return places(problem, found), tuple(found[2:])


def places(problem: Problem, back: tuple[Any, ...]) -> dict[str, tuple[str, int]]:
    ids = [f.id for f in problem.facilities]
    return {
        p.id: (ids[int(f)], int(d))
        for p, f, d in zip(problem.patients, back[0], back[1], strict=True)
        if f >= 0
    }


def assert_checked(problem: Problem, back: tuple[Any, ...], objective: float) -> None:
    """``back``'s placement passes the checker at its cost, no more than ``objective``."""
    from medevac.planning.model import assemble_plan_arrays
    from medevac.planning.plan import PlanStatus

    plan = assemble_plan_arrays(
        problem, ProblemView(problem), np.asarray(back[0]), np.asarray(back[1]),
        status=PlanStatus.FEASIBLE, bound=None, solver="test", started=0.0,
    )  # fmt: skip
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
    assert report.objective == pytest.approx(back[2])
    assert back[2] <= objective + 1e-9 * max(1.0, objective)


def test_a_chain_of_two_makes_way_for_a_patient_to_go_back() -> None:
    # neither A nor B can go back alone or in place of one other: B cannot take A's day 2,
    # C cannot take B's day 0; B back on its day 1 and C on A's day 2 let A back on day 0
    problem = parse_problem(chained())
    objective, back = put_back_of(problem, PLACED)
    assert back is not None
    assert places(problem, back) == {"A": ("F0", 0), "B": ("F0", 1), "C": ("F0", 2)}
    assert back[3:] == (0, 0, 0, 2)  # A and B each back in place of another
    assert_checked(problem, back, objective)


def test_the_third_patient_of_a_chain_goes_back_to_its_own_current_place() -> None:
    # C's current place is F1 day 2, a day's wait more than its day 1 at F0 (so it does not
    # go back alone), B's day 1 a day more than its day 0, and A's day 0 two days less: the
    # three move at no cost, C back to its own place rather than to A's day 2
    data = chained(current={"facility": "F1", "day": 2})
    data["weights"]["wait_per_day"] = 1.0
    problem = parse_problem(data)
    objective, back = put_back_of(problem, PLACED)
    assert back is not None
    assert places(problem, back) == {"A": ("F0", 0), "B": ("F0", 1), "C": ("F1", 2)}
    assert back[2] == pytest.approx(objective)
    assert_checked(problem, back, objective)


@pytest.mark.parametrize("precedence", ["priority", "urgent"])
def test_a_chain_that_costs_the_plan_more_is_not_done(precedence: str) -> None:
    # with a day's wait costing 1 a day of the precedence's weight, A's two days back gain 2,
    # B loses 1 and C, of more weight, loses more than 1 a day later: nobody moves
    data = chained(precedence=precedence)
    data["weights"]["wait_per_day"] = 1.0
    problem = parse_problem(data)
    assert step_of(problem, PLACED) == (PLACED, (0, 0, 0, 0))
    _, back = put_back_of(problem, PLACED)
    assert back is None
    # routine, C's day later costs 1: the chain costs nothing, and is done
    data = chained()
    data["weights"]["wait_per_day"] = 1.0
    problem = parse_problem(data)
    objective, back = put_back_of(problem, PLACED)
    assert back is not None
    assert places(problem, back) == {"A": ("F0", 0), "B": ("F0", 1), "C": ("F0", 2)}
    assert back[2] == pytest.approx(objective)

"""Costs in explanations keep the figures that tell them apart: weights of 1e-9 (the problem
format allows them) had every cost read 0.000000, the cheaper place as dear as the plan's;
ordinary weights read as before."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from medevac.planning import Assignment, Plan, Problem, parse_problem
from medevac.planning.checker import check_plan
from medevac.planning.explain import Blocker, Explanation, explain
from medevac.planning.plan import PlanStatus, Unplaced
from tests.unit.planning.builders import facility, patient, problem_dict
from tests.unit.planning.test_explain_review_fixes import hand_plan

COST = r"(-?[\d,]+(?:\.\d+)?(?:e[-+]\d+)?)"


def weights(scale: float, **more: float) -> dict[str, float]:
    """The tests' default weights times ``scale``, with ``more`` as given."""
    ordinary = {
        "unplaced": 1000,
        "wait_per_day": 1,
        "late_per_day": 20,
        "travel_per_km": 0.01,
        "group_split": 50,
        "change": 20,
    }
    return {key: value * scale for key, value in ordinary.items()} | more


def nearer_and_earlier(weights: dict[str, Any]) -> Problem:
    """A (priority: late after day 1) placed by hand at F0 on day 2, moved from its current
    place at F1, which is nearer (36 km against 71) and free on every day."""
    return parse_problem(
        problem_dict(
            [
                facility("F0", 50.0, 30.0, beds={"orthopaedics": 2}),
                facility("F1", 50.0, 29.5, beds={"orthopaedics": 2}),
            ],
            [
                patient(
                    "A",
                    50.0,
                    29.0,
                    precedence="priority",
                    length_of_stay_days=1,
                    current={"facility": "F1", "day": 0},
                )
            ],
            weights=weights,
        )
    )


def at_f0_on_day_2(problem: Problem) -> Explanation:
    return explain(problem, hand_plan(Assignment("A", "F0", 2)), "A")


def costs_said(why: Explanation, facility_id: str, first_day: int) -> tuple[float, ...]:
    """The costs an alternative's detail gives: its own (one, or the two ends of a range),
    then the plan's choice."""
    [alt] = [a for a in why.alternatives if (a.facility, a.first_day) == (facility_id, first_day)]
    found = re.search(rf"{COST}(?: to {COST})? against {COST} for ", alt.detail)
    assert found is not None, alt.detail
    return tuple(float(text.replace(",", "")) for text in found.groups() if text is not None)


def test_costs_of_weights_of_1e_9_keep_six_significant_figures_in_their_order() -> None:
    why = at_f0_on_day_2(nearer_and_earlier(weights(1e-9)))
    blockers = {(a.facility, a.first_day, a.last_day): a.blocker for a in why.alternatives}
    assert blockers == {
        ("F1", 0, 2): Blocker.FREE,
        ("F1", 3, 4): Blocker.COSTS_MORE_THAN_PLACE,
        ("F0", 0, 1): Blocker.FREE,
    }
    # the nearer facility on days 0-2 and its own on days 0-1 are cheaper, the nearer one the
    # cheaper of the two; days 3-4 at the nearer one dearer (each had read 0.000000)
    near_low, near_high, place = costs_said(why, "F1", 0)
    own_low, own_high, same = costs_said(why, "F0", 0)
    late_low, late_high, again = costs_said(why, "F1", 3)
    assert place == same == again > 0
    assert 0 < near_low < own_low < own_high < place
    assert near_low < near_high < place < late_low < late_high
    [near] = [a.detail for a in why.alternatives if (a.facility, a.first_day) == ("F1", 0)]
    assert near.startswith(
        "free and cheaper (3.57373e-10 to 2.20357e-07 against 2.40715e-07 for its place in the "
        "plan)"
    )
    assert why.current == "F1 on day 0; moved from there (the change costs 2e-08)"
    assert not [line for line in why.lines() if "0.00" in line]


def test_the_gap_of_an_optimal_plan_with_weights_of_1e_9_is_read_as_a_figure() -> None:
    # the plan's proof leaves 5e-08 open, more than the nearer place saves on day 0: that
    # figure had read 0.000000, as had the costs
    problem = nearer_and_earlier(weights(1e-9))
    plan = hand_plan(Assignment("A", "F0", 0))
    objective = check_plan(problem, plan).objective
    proven = replace(plan, status=PlanStatus.OPTIMAL, objective=objective, bound=objective - 5e-8)
    why = explain(problem, proven, "A")
    [alt] = [a for a in why.alternatives if a.first_day == 0]
    assert alt.blocker is Blocker.FREE
    low, high, place = costs_said(why, "F1", 0)
    assert 0 < low < high < place < 5e-8
    assert "(objective less bound, 5e-08): optimal to its tolerance" in alt.detail


def test_ordinary_weights_keep_todays_figures_and_costs_a_millionth_apart_read_apart() -> None:
    why = at_f0_on_day_2(nearer_and_earlier(weights(1.0)))
    assert why.lines()[1:] == [
        "  current place: F1 on day 0; moved from there (the change costs 20.00)",
        "  F1 days 0-2 (36 km): free and cheaper (0.36 to 220.36 against 240.71 for its place in "
        "the plan): the plan is not optimal for this patient",
        "  F1 days 3-4 (36 km): free, but costs 430.36 to 640.36 against 240.71 for its place in "
        "the plan",
        "  F0 days 0-1 (71 km): free and cheaper (20.71 to 30.71 against 240.71 for its place in "
        "the plan): the plan is not optimal for this patient",
    ]
    # F1 is 1.4e-7 cheaper than F0 (14 mm nearer), more than the tolerance of 1e-9 that tells
    # costs apart: six decimals had read "0.714743 against 0.714743"
    problem = parse_problem(
        problem_dict(
            [
                facility("F0", 50.0, 30.0, beds={"orthopaedics": 1}),
                facility("F1", 50.0, 30.0 - 2e-7, beds={"orthopaedics": 1}),
            ],
            [patient("A", 50.0, 29.0, length_of_stay_days=1)],
        )
    )
    alternatives = explain(problem, hand_plan(Assignment("A", "F0", 0)), "A").alternatives
    cheaper, later = (a.detail for a in alternatives)
    assert cheaper.startswith("free and cheaper (0.7147427 against 0.7147429 for its place")
    assert later == "free, but costs 1.71 to 24.71 against 0.71 for its place in the plan"


def test_a_weight_written_minus_zero_never_reads_minus_zero() -> None:
    # the format takes -0 as a weight of zero: it had read "the change costs -0.00", and
    # "against -0.00 for leaving the patient out"
    problem = nearer_and_earlier(weights(1.0, change=-0.0, unplaced=-0.0))
    placed = at_f0_on_day_2(problem)
    assert placed.current == "F1 on day 0; moved from there (the change costs 0.00)"
    left_out = explain(problem, hand_plan(unplaced=(Unplaced("A", "left out"),)), "A")
    assert left_out.current == "F1 on day 0, given up (the change costs 0.00)"
    details = [a.detail for a in left_out.alternatives]
    assert details == [
        "free, but costs 0.36 to 640.36 against 0.00 for leaving the patient out",
        "free, but costs 0.71 to 640.71 against 0.00 for leaving the patient out",
    ]


def test_a_difference_that_is_zero_reads_as_zero() -> None:
    # zero, negative zero among them, is "0.00" beside ordinary costs and "0" beside costs
    # written by their figures; a bound that differs from the objective by their rounding
    # leaves nothing open
    from medevac.planning.explain import _proven_slack
    from medevac.planning.plan import cost_writer

    ordinary = cost_writer((1.5,), 2.25)
    assert [ordinary(v) for v in (-0.0, 0.0, 1.5, 1234.5)] == ["0.00", "0.00", "1.50", "1,234.50"]
    small = cost_writer((2e-8,), 3e-8)
    assert [small(v) for v in (-0.0, 2e-8, 3e-8)] == ["0", "2e-08", "3e-08"]
    plan: Plan = replace(
        hand_plan(), status=PlanStatus.OPTIMAL, objective=240.71, bound=240.71 + 3e-14
    )
    assert _proven_slack(plan) == 0.0
    assert _proven_slack(replace(plan, bound=240.0)) == 240.71 - 240.0
    assert _proven_slack(replace(plan, status=PlanStatus.FEASIBLE)) is None

"""Costs in the reasons of the unplaced read as explanations write them: weights of 1e-9 (the
problem format allows them) had the reason set 0.000000 against 0.000000, and a weight written
-0 (the loader takes it) had it read "against -0.00"; ordinary weights read as before."""

from __future__ import annotations

import importlib
import re

import pytest

from medevac.planning import (
    Assignment,
    PlanStatus,
    UnplacedReason,
    explain,
    parse_problem,
    solve_exact,
)
from medevac.planning.model import ProblemView, assemble_plan
from medevac.planning.plan import Unplaced
from tests.unit.planning.builders import facility, patient, problem_dict
from tests.unit.planning.test_explain_review_fixes import hand_plan
from tests.unit.planning.test_explain_small_costs import COST, nearer_and_earlier, weights


def costs_said(reason: str) -> tuple[float, float]:
    """The cost of the cheapest free place and the cost of leaving the patient out, as a
    reason's sentence gives them."""
    found = re.search(rf" on day \d+: {COST} against {COST}\)", reason)
    assert found is not None, reason
    place, left = (float(text.replace(",", "")) for text in found.groups())
    return place, left


def test_leaving_out_at_weights_of_1e_9_gives_the_costs_by_their_figures() -> None:
    # every weight 1e-9: leaving the routine patient out costs 1e-09, its only place 445 km
    # away 4.4478e-07; both had read 0.000000
    data = problem_dict(
        [facility("F1", 54.0, 30.0, beds={"orthopaedics": 5})],
        [patient("P1")],
        horizon_days=3,
        weights=dict.fromkeys(weights(1.0), 1e-9),
    )
    problem = parse_problem(data)
    plan = solve_exact(problem, time_limit=10)
    [u] = plan.unplaced
    assert u.code is UnplacedReason.CHEAPER_LEFT_OUT
    assert u.reason == (
        "leaving the patient out costs less than its cheapest free place "
        "(F1 on day 0: 4.4478e-07 against 1e-09)"
    )
    place, left = costs_said(u.reason)
    assert place > left > 0
    first = explain(problem, plan, "P1").lines()[0]
    assert first == f"P1 is unplaced: {u.reason}."


def test_a_free_place_left_unused_at_weights_of_1e_9_gives_the_costs_by_their_figures() -> None:
    # the ordinary weights' "F1 on day 0: 0.11 against 1,000.00", a billionth of each: it had
    # read "0.000000 against 0.000001", the place at no cost
    problem = parse_problem(
        problem_dict(
            [facility("F1", 50.1, 30.0, beds={"orthopaedics": 2})],
            [patient("P1"), patient("P2")],
            horizon_days=3,
            weights=weights(1e-9),
        )
    )
    plan = assemble_plan(
        problem, ProblemView(problem), {"P1": ("F1", 0)}, status=PlanStatus.FEASIBLE,
        bound=None, solver="hand", started=0.0,
    )  # fmt: skip
    [u] = plan.unplaced
    assert u.code is UnplacedReason.FREE_PLACE_UNUSED
    assert u.reason == (
        "a free place costs less than leaving the patient out (F1 on day 0: 1.11195e-10 against "
        "1e-06); the plan is not optimal for this patient"
    )
    place, left = costs_said(u.reason)
    assert 0 < place < left
    assert place * 1e9 == pytest.approx(0.11, abs=0.005)
    assert left * 1e9 == pytest.approx(1000.0)
    # a plan read from its file, without the reasons' codes: `explain` works the reason out
    # again beside the others' places, and says the same
    read = hand_plan(Assignment("P1", "F1", 0), unplaced=(Unplaced("P2", "left out"),))
    assert explain(problem, read, "P2").lines()[0] == f"P2 is unplaced: {u.reason}."


def test_a_weight_written_minus_zero_never_reads_minus_zero_in_the_reason() -> None:
    # leaving out costs -0 (the weights of leaving out and of a change written -0): the reason
    # had read "0.36 against -0.00", and "0.00 against -0.00" at weights of 1e-9
    ordinary = nearer_and_earlier(weights(1.0, change=-0.0, unplaced=-0.0))
    [u] = solve_exact(ordinary, time_limit=10).unplaced
    said = "leaving the patient out costs less than its cheapest free place"
    assert u.reason == f"{said} (F1 on day 0: 0.36 against 0.00)"
    left_out = hand_plan(unplaced=(Unplaced("A", "left out"),))
    assert explain(ordinary, left_out, "A").lines()[0] == f"A is unplaced: {u.reason}."
    # within the tolerance of 1e-9 that tells costs apart the two are a tie, its figures given
    small = nearer_and_earlier(weights(1e-9, change=-0.0, unplaced=-0.0))
    assert explain(small, left_out, "A").lines()[0] == (
        "A is unplaced: leaving the patient out costs as much as its cheapest free place "
        "(F1 on day 0: 3.57373e-10 against 0)."
    )
    for problem in (ordinary, small):
        lines = explain(problem, left_out, "A").lines()
        assert not [line for line in lines if re.search(r"(?<![e\d])-0", line)]


def test_reasons_and_explanations_write_costs_alike() -> None:
    # one writer of costs, in `plan` beside `decimals_apart`, for the reasons (`model`) and
    # the explanations (`explain`) alike; the modules are taken by name, as the package's
    # `explain` is the function
    explanations = importlib.import_module("medevac.planning.explain")
    model = importlib.import_module("medevac.planning.model")
    plan = importlib.import_module("medevac.planning.plan")
    assert model.cost_writer is plan.cost_writer
    assert explanations.cost_writer is plan.cost_writer
    write = plan.cost_writer((0.36,), -0.0)
    assert [write(v) for v in (0.36, -0.0, 10_020.0)] == ["0.36", "0.00", "10,020.00"]
    small = plan.cost_writer((3.57373e-10,), -0.0)
    assert [small(v) for v in (3.57373e-10, -0.0)] == ["3.57373e-10", "0"]

"""The collector keeps off the objects a solve starts with, and only while solves run."""

from __future__ import annotations

import gc

import pytest

from medevac.planning import heap, parse_problem, solve_exact, solve_greedy
from tests.unit.planning.builders import facility, patient, problem_dict


@pytest.fixture(autouse=True)
def _thawed() -> None:
    gc.unfreeze()


def test_objects_made_before_a_solve_are_frozen_during_it_and_thawed_after() -> None:
    seen: list[int] = []

    @heap.frozen
    def solve() -> str:
        seen.append(gc.get_freeze_count())
        return "plan"

    assert gc.get_freeze_count() == 0
    assert solve() == "plan"
    assert seen[0] > 0
    assert gc.get_freeze_count() == 0


def test_an_inner_solve_does_not_thaw_the_outer_ones_objects() -> None:
    counts: list[int] = []

    @heap.frozen
    def inner() -> None:
        counts.append(gc.get_freeze_count())

    @heap.frozen
    def outer() -> None:
        inner()
        counts.append(gc.get_freeze_count())  # after the inner solve, still frozen

    outer()
    assert all(count > 0 for count in counts)
    assert gc.get_freeze_count() == 0


def test_a_solve_that_fails_thaws_the_objects_too() -> None:
    @heap.frozen
    def failing() -> None:
        raise ValueError("bad problem")

    with pytest.raises(ValueError, match="bad problem"):
        failing()
    assert gc.get_freeze_count() == 0


def test_the_engines_thaw_after_solving() -> None:
    problem = parse_problem(
        problem_dict(
            [facility("F1", 50.5, 30.5, beds={"orthopaedics": 2})],
            [patient("P1"), patient("P2")],
        )
    )
    assert solve_greedy(problem).assignments
    assert solve_exact(problem, time_limit=5).assignments
    assert gc.get_freeze_count() == 0

"""A plan against the current places of its problem's patients."""

from __future__ import annotations

import dataclasses

from medevac.planning import (
    Assignment,
    ChangeKind,
    CurrentPlacement,
    parse_problem,
    plan_changes,
    solve_exact,
)
from tests.unit.planning.builders import facility, patient, problem_dict


def test_each_current_place_is_kept_moved_shifted_or_lost() -> None:
    problem = parse_problem(
        problem_dict(
            [facility("F1", 50.0, 30.0, beds={"orthopaedics": 5}), facility("F2", 50.1, 30.0)],
            [
                patient("KEEP", current={"facility": "F1", "day": 0}),
                patient("SHIFT", current={"facility": "F1", "day": 0}),
                patient("MOVE", current={"facility": "F1", "day": 1}),
                patient("LOSE", current={"facility": "F2", "day": 2}),
                patient("NEW"),
                patient("OUT"),
            ],
        )
    )
    plan = dataclasses.replace(
        solve_exact(problem),
        assignments=(
            Assignment("KEEP", "F1", 0),
            Assignment("SHIFT", "F1", 3),
            Assignment("MOVE", "F2", 1),
            Assignment("NEW", "F1", 0),
        ),
    )
    changes = plan_changes(problem, plan)
    assert (changes.kept, changes.newly_placed, changes.still_unplaced) == (1, 1, 1)
    assert [(c.patient, c.kind) for c in changes.changes] == [
        ("LOSE", ChangeKind.DROPPED),
        ("MOVE", ChangeKind.MOVED),
        ("SHIFT", ChangeKind.DAY),
    ]
    assert changes.with_current == 4
    assert changes.count(ChangeKind.MOVED) == 1
    assert [c.line() for c in changes.changes] == [
        "LOSE: F2 day 2 -> no place",
        "MOVE: F1 day 1 -> F2 day 1",
        "SHIFT: F1 day 0 -> F1 day 3",
    ]
    assert changes.changes[0].before == CurrentPlacement("F2", 2)


def test_solving_again_with_the_plan_as_current_changes_nothing() -> None:
    data = problem_dict(
        [facility("F1", 50.0, 30.0, beds={"orthopaedics": 2}), facility("F2", 51.0, 30.0)],
        [patient(f"P{n}", precedence="urgent" if n % 2 else "routine") for n in range(4)],
    )
    first = solve_exact(parse_problem(data))
    for entry in data["patients"]:
        placed = first.assignment_of(entry["id"])
        if placed is not None:
            entry["current"] = {"facility": placed.facility, "day": placed.day}
    again = parse_problem(data)
    changes = plan_changes(again, solve_exact(again))
    assert changes.changes == ()
    assert changes.kept == len(first.assignments) > 0
    assert changes.newly_placed == 0

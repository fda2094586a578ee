"""Ids of 100,000 characters in plans and problems: the checker, `plan_mismatch` and the
warnings quote them cut, as the loader does (each had made a line as long, found by a review
of 2026-12-08)."""

from __future__ import annotations

from medevac.planning import check_plan, parse_problem
from medevac.planning.explain import plan_mismatch
from medevac.planning.lint import problem_warnings
from tests.unit.planning.builders import facility, hand_plan, patient, problem_dict

LONG = "Z" * 100_000


def test_the_checker_and_plan_mismatch_cut_a_long_id_of_the_plan() -> None:
    problem = parse_problem(problem_dict([facility("F1", 50.0, 30.0)], [patient("P1")]))
    plan = hand_plan((LONG, "F1", 0), ("P1", LONG, 0))
    violations = check_plan(problem, plan).violations
    assert violations
    assert all(len(line) < 200 for line in violations), [line[:200] for line in violations]
    assert f"assignment of unknown patient '{'Z' * 36}..." in violations
    wrong = plan_mismatch(problem, plan)
    assert wrong is not None
    assert len(wrong) < 300
    assert wrong.startswith(f"patient {'Z' * 37}... is not in the problem")


def test_look_alike_warnings_cut_long_ids() -> None:
    patients = [patient("A" * 100_000), patient("a" * 100_000)]
    problem = parse_problem(problem_dict([facility("F1", 50.0, 30.0)], patients))
    [warning] = problem_warnings(problem)
    assert len(warning) < 300
    assert warning.startswith(f'patients[1].id "{"a" * 55}..." looks like patients[0].id')

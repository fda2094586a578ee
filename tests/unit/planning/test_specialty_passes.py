"""Specialty passes: one specialty's patients solved again, everyone else held in place."""

from __future__ import annotations

import random
import time
from dataclasses import replace

import pytest

from medevac.planning import (
    Engine,
    Plan,
    PlanStatus,
    Problem,
    check_plan,
    exact,
    parse_problem,
    solve,
    solve_greedy,
    solve_patient_mip,
    with_admissions_taken,
    with_quotas,
)
from medevac.planning.model import ProblemView, assemble_plan, breakdown_of
from medevac.planning.specialty_passes import specialty_passes, specialty_problem
from tests.unit.planning.builders import (
    placement,
    random_admissions_due,
    random_problem_dict,
    random_quotas,
    wide_random_problem_data,
)

SEEDS = [430011, 430023, 430041, 430047, 430063, 430083]


def tangled(seed: int) -> Problem:
    """A random problem with groups, current places, admissions already due and quotas."""
    rng = random.Random(seed)
    data = wide_random_problem_data(rng)
    problem = with_admissions_taken(
        parse_problem(data), random_admissions_due(rng, parse_problem(data))
    )
    return with_quotas(problem, random_quotas(rng, problem))


def as_plan(problem: Problem, placed: dict[str, tuple[str, int]]) -> Plan:
    return assemble_plan(
        problem, ProblemView(problem), placed, status=PlanStatus.FEASIBLE, bound=None,
        solver="test", started=time.perf_counter(),
    )  # fmt: skip


@pytest.mark.parametrize("seed", SEEDS)
def test_a_specialty_solved_again_beside_the_others_makes_a_feasible_plan_of_the_whole(
    seed: int,
) -> None:
    problem = tangled(seed)
    view = ProblemView(problem)
    placed = placement(solve_greedy(problem))
    total = breakdown_of(problem, view, placed).total
    for specialty in sorted(problem.offered_specialties()):
        sub = specialty_problem(problem, placed, specialty)
        if sub is None:
            continue
        assert all(p.specialty == specialty and p.group is None for p in sub.patients)
        ids = {p.id for p in sub.patients}
        # the patients' places in the whole plan are a feasible plan of their problem, at
        # their share of the cost: the beds, admissions and rooms the others use are taken off
        theirs = {i: where for i, where in placed.items() if i in ids}
        report = check_plan(sub, as_plan(sub, theirs))
        assert report.feasible, (specialty, report.violations)
        held = total - report.objective
        # and its optimum, put back beside the others, is a feasible plan of the whole
        optimum = solve_patient_mip(sub, 60)
        assert optimum.status is PlanStatus.OPTIMAL
        merged = {i: where for i, where in placed.items() if i not in ids} | placement(optimum)
        whole = check_plan(problem, as_plan(problem, merged))
        assert whole.feasible, (specialty, whole.violations)
        assert whole.objective == pytest.approx(held + optimum.objective, rel=1e-9)
        assert optimum.objective <= report.objective + 1e-6 * max(1.0, report.objective)


def test_a_specialty_with_no_patient_outside_groups_or_no_beds_has_no_problem() -> None:
    problem = tangled(SEEDS[0])
    assert specialty_problem(problem, {}, "no such specialty") is None


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_passes_never_make_the_plan_worse_and_end_where_no_specialty_gains(seed: int) -> None:
    problem = tangled(seed)
    view = ProblemView(problem)
    greedy = placement(solve_greedy(problem))
    start = breakdown_of(problem, view, greedy).total
    said: list[str] = []

    def by_mip(sub: Problem, until: float) -> Plan:
        return solve_patient_mip(sub, 60)

    placed, objective = specialty_passes(
        problem, view, greedy, time.perf_counter() + 120, by_mip, said.append
    )
    assert objective == pytest.approx(breakdown_of(problem, view, placed).total, rel=1e-12)
    assert objective <= start
    assert check_plan(problem, as_plan(problem, placed)).feasible
    # at the end every specialty is optimal beside the others: one more pass finds nothing
    said_before = len(said)
    again, value = specialty_passes(
        problem, view, placed, time.perf_counter() + 120, by_mip, said.append
    )
    assert value == pytest.approx(objective, rel=1e-9)
    assert len(said) == said_before
    assert again == placed


def test_a_large_engine_at_rest_gives_the_time_left_to_specialty_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the problem is made large and its rest is the greedy plan; the LP master after the rest
    # is left out, so the time left goes to the specialty passes (no groups here: their
    # members are held in place, and half of this problem's patients are in one)
    data = random_problem_dict(seed=3, n_patients=30, n_facilities=5)
    for entry in data["patients"]:
        entry.pop("group", None)
    problem = parse_problem(data)
    optimum = solve(problem, Engine.MIP, 60)
    greedy = solve_greedy(problem)
    assert greedy.objective > optimum.objective
    rest = replace(greedy, bound=optimum.objective - 100.0)
    monkeypatch.setattr(exact, "LARGE_UNITS", 5)
    monkeypatch.setattr(exact, "LP_MASTER_MAX_UNITS", 0)
    monkeypatch.setattr(exact, "_solve_large", lambda *args, **kwargs: rest)
    messages: list[str] = []
    plan = solve(problem, Engine.EXACT, 30.0, progress=messages.append)
    report = check_plan(problem, plan)
    assert report.feasible
    assert report.objective_matches(plan.objective)
    assert any("left for specialty passes" in m for m in messages)
    assert plan.objective < greedy.objective
    assert plan.bound == rest.bound
    assert plan.status is PlanStatus.FEASIBLE
    # with no time left after the rest, the rest comes back
    messages.clear()
    monkeypatch.setattr(exact.specialty_passes, "MIN_SECONDS", 1e6)
    plan = solve(problem, Engine.EXACT, 30.0, progress=messages.append)
    assert plan.objective == greedy.objective
    assert not any("specialty passes" in m for m in messages)

"""The independent checker recomputes feasibility and every objective term."""

from __future__ import annotations

import random
import time

import pytest

from medevac.domain.geography import haversine_km
from medevac.planning import (
    Assignment,
    Breakdown,
    Plan,
    PlanStatus,
    Unplaced,
    UnplacedReason,
    check_plan,
    parse_problem,
    solve_exact,
)
from medevac.planning.checker import without_patients
from medevac.planning.model import ProblemView, assemble_plan
from medevac.planning.plan import relative_gap
from tests.unit.planning.builders import (
    facility,
    patient,
    problem_dict,
    random_problem,
    random_problems,
)


def plan_of(assignments: list[tuple[str, str, int]], unplaced: tuple[str, ...] = ()) -> Plan:
    return Plan(
        PlanStatus.FEASIBLE, 0.0, 0.0, 0.0, "hand", 0.0, Breakdown(),
        tuple(Assignment(p, f, d) for p, f, d in assignments),
        tuple(Unplaced(p, "hand") for p in unplaced),
    )  # fmt: skip


PROBLEM = parse_problem(
    problem_dict(
        [
            facility(
                "F1",
                52.0,
                21.0,
                beds={"orthopaedics": [1, 1, 1, 2, 2]},
                daily_admission_limit=1,
                capabilities=["paediatric"],
            ),
            facility("F2", 48.0, 11.0, beds={"neurology": 3}, accepts_from=["ORG-A"]),
        ],
        [
            patient("P1", precedence="priority", length_of_stay_days=2, group="G"),
            patient("P2", length_of_stay_days=9, needs=["paediatric"], group="G"),
            patient(
                "P3",
                specialty="neurology",
                organisation="ORG-B",
                current={"facility": "F2", "day": 0},
            ),
            patient("P4", max_distance_km=100),
        ],
    )
)


def test_objective_terms_match_a_hand_computation() -> None:
    report = check_plan(PROBLEM, plan_of([("P1", "F1", 3), ("P2", "F1", 0)], ("P3", "P4")))
    d = haversine_km(50.0, 30.0, 52.0, 21.0)
    assert report.feasible, report.violations
    assert report.terms["wait"] == pytest.approx(10 * 3)  # priority weight 10, day 3
    assert report.terms["late"] == pytest.approx(10 * 20 * (3 - 1))  # deadline day 1
    assert report.terms["travel"] == pytest.approx(0.01 * 2 * d)
    assert report.terms["unplaced"] == pytest.approx(1000 * 1 * 2)
    assert report.terms["change"] == pytest.approx(20)  # P3 lost its current place
    assert report.terms["group_split"] == 0
    assert report.objective == pytest.approx(sum(report.terms.values()))


def test_a_group_on_two_facilities_pays_one_split() -> None:
    data = problem_dict(
        [facility("F1", 52.0, 21.0), facility("F3", 52.0, 22.0)],
        [patient("A", group="G"), patient("B", group="G")],
    )
    report = check_plan(parse_problem(data), plan_of([("A", "F1", 0), ("B", "F3", 0)]))
    assert report.terms["group_split"] == 50


def test_over_capacity_and_admission_limit_are_violations() -> None:
    report = check_plan(PROBLEM, plan_of([("P1", "F1", 0), ("P2", "F1", 0)], ("P3", "P4")))
    assert "'F1' day 0: 2 'orthopaedics' beds used, 1 free" in report.violations
    assert "'F1' day 0: 2 admissions, limit 1" in report.violations


def test_specialty_needs_agreement_and_distance_are_checked() -> None:
    report = check_plan(
        PROBLEM, plan_of([("P1", "F2", 0), ("P3", "F2", 0), ("P4", "F1", 4)], ("P2",))
    )
    assert "patient 'P1': 'F2' has no 'orthopaedics' beds" in report.violations
    assert "patient 'P3': 'F2' does not accept 'ORG-B'" in report.violations
    assert any(v.startswith("patient 'P4': 'F1' is") for v in report.violations)


def test_missing_duplicate_and_unknown_patients_are_violations() -> None:
    report = check_plan(PROBLEM, plan_of([("P1", "F1", 0), ("P1", "F1", 1), ("X", "F1", 0)]))
    assert "patient 'P1' appears more than once" in report.violations
    assert "assignment of unknown patient 'X'" in report.violations
    assert "patient 'P4' is neither assigned nor listed as unplaced" in report.violations


def test_days_outside_the_horizon_or_before_earliest_day_are_violations() -> None:
    data = problem_dict([facility("F1", 52.0, 21.0)], [patient("A", earliest_day=2)])
    report = check_plan(parse_problem(data), plan_of([("A", "F1", 1)]))
    assert report.violations == ("patient 'A' admitted on day 1, outside 2..4",)


def test_a_reported_objective_is_compared_to_one_millionth() -> None:
    report = check_plan(PROBLEM, plan_of([], ("P1", "P2", "P3", "P4")))
    assert report.objective_matches(report.objective * (1 + 5e-7))
    assert not report.objective_matches(report.objective * (1 + 5e-6))


@random_problems(80)
def test_the_engines_objective_terms_match_the_checker_on_any_placement(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    # assemble_plan computes the terms on arrays; the checker by its own loop. Placements here
    # may break beds, limits and eligibility: the terms must agree regardless.
    problem = random_problem(rng, n_patients, n_facilities)
    view = ProblemView(problem)
    placed = {
        p.id: (
            rng.choice(problem.facilities).id,
            rng.randrange(p.earliest_day, problem.horizon_days),
        )
        for p in problem.patients
        if rng.random() < 0.7
    }
    plan = assemble_plan(
        problem, view, placed, status=PlanStatus.FEASIBLE, bound=None, solver="test",
        started=time.perf_counter(),
    )  # fmt: skip
    assert {(a.patient, a.facility, a.day) for a in plan.assignments} == {
        (p, f, d) for p, (f, d) in placed.items()
    }
    assert [u.patient for u in plan.unplaced] == [
        p.id for p in problem.patients if p.id not in placed
    ]
    report = check_plan(problem, plan)
    for term, value in plan.breakdown.as_dict().items():
        assert value == pytest.approx(report.terms[term], rel=1e-9, abs=1e-9), term


def test_a_plan_without_some_patients_is_recomputed_and_no_longer_optimal() -> None:
    problem = parse_problem(
        problem_dict(
            [facility("F1", 50.1, 30.0, beds={"orthopaedics": 5})],
            [patient("A", precedence="urgent"), patient("B"), patient("C")],
        )
    )
    plan = solve_exact(problem, time_limit=30)
    assert plan.status is PlanStatus.OPTIMAL
    assert without_patients(problem, plan, {}, UnplacedReason.NO_AGREEMENT) is plan
    fewer = without_patients(problem, plan, {"B": "quota used up"}, UnplacedReason.NO_AGREEMENT)
    report = check_plan(problem, fewer)
    assert report.feasible
    assert fewer.objective == report.objective == fewer.breakdown.total
    assert fewer.objective > plan.objective
    assert (fewer.status, fewer.bound) == (PlanStatus.FEASIBLE, plan.bound)
    assert fewer.gap == relative_gap(fewer.objective, plan.bound)
    assert [a.patient for a in fewer.assignments] == ["A", "C"]
    assert [(u.patient, u.reason, u.code) for u in fewer.unplaced] == [
        ("B", "quota used up", UnplacedReason.NO_AGREEMENT)
    ]

"""Subgradient steps on the Lagrangian multipliers of the exact engine give valid, better bounds."""

from __future__ import annotations

import time

import pytest

from medevac.planning import Engine, parse_problem, solve
from medevac.planning.exact import _build_units, _improve_multipliers, _multipliers, _price
from medevac.planning.model import ProblemView
from tests.unit.planning.builders import facility, patient, problem_dict, random_problem_dict


def _zero_and_improved_bounds(data: dict[str, object]) -> tuple[float, float, float]:
    problem = parse_problem(data)
    view = ProblemView(problem)
    units, hopeless = _build_units(problem, view)
    hopeless_cost = sum(view.unplaced_cost(problem.patients[i]) for i in hopeless)
    gs = problem.weights.group_split
    rho, mu = _multipliers(view, None, None)
    start = _price(view, units, rho, mu, gs)
    optimum = solve(problem, Engine.MIP).objective
    _, _, improved = _improve_multipliers(
        view, units, gs, (rho, mu, start), optimum - hopeless_cost, until=time.perf_counter() + 5
    )
    return start.lagrangian + hopeless_cost, improved.lagrangian + hopeless_cost, optimum


def test_subgradient_steps_raise_the_bound_when_patients_compete_for_one_near_bed() -> None:
    near_bed = problem_dict(
        [
            facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 1}),
            facility("FAR", 50.0, 10.0, beds={"orthopaedics": 3}),
        ],
        [patient(f"P{k}", length_of_stay_days=5) for k in range(3)],
    )
    zero, improved, optimum = _zero_and_improved_bounds(near_bed)
    assert zero < improved <= optimum + 1e-6 * optimum


@pytest.mark.parametrize("seed", range(6))
def test_subgradient_bounds_never_exceed_the_optimum(seed: int) -> None:
    zero, improved, optimum = _zero_and_improved_bounds(
        random_problem_dict(seed=seed, n_patients=25, n_facilities=4)
    )
    assert zero <= improved <= optimum + 1e-6 * max(1.0, optimum)

"""Deployment planning: the exact model matches brute force; every plan passes the checker."""

from __future__ import annotations

import itertools
import json
import math
from importlib import resources

import numpy as np
import pytest
from scipy.optimize import linprog

from medevac.simulation.deployment import (
    CandidateSite,
    DemandPoint,
    DeploymentPlan,
    DeploymentProblem,
    HospitalUnit,
    Placement,
    _best_flows,
    _hospital_groups,
    _Reach,
    _search_sites,
    check_deployment,
    deployment_problem_from_dict,
    plan_deployment,
)
from medevac.simulation.plain_data import ParameterError


def random_problem(
    seed: int, points: int, sites: int, capacities: list[float]
) -> DeploymentProblem:
    rng = np.random.default_rng(seed)
    # About 1 degree square near the equator: ~110 km side, radius 35 km.
    demand_points = tuple(
        DemandPoint(f"d{i}", float(rng.uniform(0, 1)), float(rng.uniform(0, 1)), low, low)
        for i, low in enumerate(rng.integers(5, 120, size=points).astype(float))
    )
    candidate_sites = tuple(
        CandidateSite(f"s{j}", float(rng.uniform(0, 1)), float(rng.uniform(0, 1)))
        for j in range(sites)
    )
    hospitals = tuple(
        HospitalUnit(f"h{k}", capacity, "field-hospital-50-beds")
        for k, capacity in enumerate(capacities)
    )
    return DeploymentProblem(demand_points, candidate_sites, hospitals, radius_km=35.0)


def served_by(problem: DeploymentProblem, chosen: tuple[int, ...]) -> float:
    """The most a placement serves: hospital k at site chosen[k], the flow an LP."""
    demand = problem.demands()
    within = problem.distances_km() <= problem.radius_km
    capacities = [h.patients_per_day for h in problem.hospitals]
    pairs = [(i, k) for k, j in enumerate(chosen) for i in range(len(demand)) if within[i, j]]
    if not pairs:
        return 0.0
    a_ub = np.zeros((len(demand) + len(capacities), len(pairs)))
    for column, (i, k) in enumerate(pairs):
        a_ub[i, column] = 1.0
        a_ub[len(demand) + k, column] = 1.0
    b_ub = np.concatenate([demand, capacities])
    result = linprog(-np.ones(len(pairs)), A_ub=a_ub, b_ub=b_ub, bounds=(0, None))
    return -float(result.fun)


def best_by_enumeration(problem: DeploymentProblem) -> float:
    """Try every way to put the hospitals on distinct sites; the flow is an LP for each."""
    n_hospitals = len(problem.hospitals)
    return max(
        served_by(problem, chosen)
        for chosen in itertools.permutations(range(len(problem.sites)), n_hospitals)
    )


@pytest.mark.parametrize(
    ("seed", "points", "sites", "capacities"),
    [
        (1, 8, 5, [150.0, 100.0]),
        (2, 10, 6, [200.0, 90.0, 90.0]),
        (3, 12, 5, [120.0, 120.0, 60.0]),
        (4, 6, 7, [400.0]),
        (5, 9, 4, [80.0, 80.0, 80.0, 80.0]),
    ],
)
def test_exact_plan_equals_brute_force_on_small_instances(
    seed: int, points: int, sites: int, capacities: list[float]
) -> None:
    problem = random_problem(seed, points, sites, capacities)
    plan = plan_deployment(problem, time_limit_seconds=30)
    assert plan.status == "optimal"
    assert plan.served_per_day == pytest.approx(best_by_enumeration(problem), abs=1e-6)
    assert check_deployment(problem, plan) == []


def test_plan_reports_unserved_demand_when_capacity_is_short() -> None:
    problem = random_problem(7, 10, 5, [50.0])
    plan = plan_deployment(problem)
    assert plan.served_per_day <= 50.0 + 1e-9
    unserved = sum(plan.unserved.values())
    assert unserved == pytest.approx(plan.total_demand_per_day - plan.served_per_day)


def test_checker_catches_overloaded_and_doubly_used_sites() -> None:
    problem = random_problem(1, 8, 5, [150.0, 100.0])
    plan = plan_deployment(problem)
    site = plan.placements[0].site_id
    broken = DeploymentPlan(
        status=plan.status,
        served_per_day=plan.served_per_day,
        bound_per_day=plan.bound_per_day,
        gap=plan.gap,
        total_demand_per_day=plan.total_demand_per_day,
        wall_seconds=plan.wall_seconds,
        placements=(Placement("h0", site, 0.0), Placement("h1", site, 0.0)),
        assignments=plan.assignments,
    )
    assert any("holds two hospitals" in message for message in check_deployment(problem, broken))


def test_demand_ranges_are_planned_at_the_chosen_end() -> None:
    data = {
        "radius_km": 50,
        "demand_basis": "high",
        "demand_points": [
            {"id": "a", "lat": 0.0, "lon": 0.0, "patients_per_day_range": [5, 200]},
        ],
        "candidate_sites": [{"id": "s", "lat": 0.1, "lon": 0.1}],
        "hospitals": [{"id": "h", "patients_per_day": 500, "scenario": "field-hospital-50-beds"}],
    }
    plan = plan_deployment(deployment_problem_from_dict(data))
    assert plan.served_per_day == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"radius_km": -1}, r"^radius_km: must be > 0"),
        ({"demand_basis": "most"}, r"^demand_basis: must be low, middle or high"),
        ({"hospitals": []}, r"^hospitals: needs at least one entry"),
        (
            {"hospitals": [{"id": "h", "patients_per_day": 10, "scenario": "nowhere"}]},
            r"^hospitals\[0\]\.scenario: unknown scenario 'nowhere'",
        ),
        (
            {"candidate_sites": [{"id": "s", "lat": 95, "lon": 0}]},
            r"^candidate_sites\[0\]\.lat: 95.0 is outside",
        ),
        ({"colour": "red"}, r"^colour: unknown key"),
        (
            # 1e308 overflowed the LP's totals ("b_ub must not contain values inf")
            {"demand_points": [{"id": "a", "lat": 0.0, "lon": 0.0, "patients_per_day": 1e308}]},
            r"^demand_points\[0\]\.patients_per_day: 1e\+308 is more than 100,000",
        ),
        # a range's faults had been said of patients_per_day, a key the file did not have,
        # and without the values
        (
            {
                "demand_points": [
                    {"id": "a", "lat": 0, "lon": 0, "patients_per_day_range": [94, 28]}
                ]
            },
            r"^demand_points\[0\]\.patients_per_day_range: low 94 is above high 28$",
        ),
        (
            {
                "demand_points": [
                    {"id": "a", "lat": 0, "lon": 0, "patients_per_day_range": [1, 1e6]}
                ]
            },
            r"^demand_points\[0\]\.patients_per_day_range\[1\]: 1,000,000 is more than 100,000$",
        ),
        (
            {"demand_points": [{"id": "a", "lat": 0, "lon": 0, "patients_per_day_range": [-1, 5]}]},
            r"^demand_points\[0\]\.patients_per_day_range\[0\]: -1 is below 0$",
        ),
    ],
)
def test_bad_problem_files_are_refused_with_their_path(
    patch: dict[str, object], message: str
) -> None:
    data: dict[str, object] = {
        "radius_km": 50,
        "demand_points": [{"id": "a", "lat": 0.0, "lon": 0.0, "patients_per_day": 10}],
        "candidate_sites": [{"id": "s", "lat": 0.1, "lon": 0.1}],
        "hospitals": [{"id": "h", "patients_per_day": 500, "scenario": "field-hospital-50-beds"}],
    }
    data.update(patch)
    with pytest.raises(ParameterError, match=message):
        deployment_problem_from_dict(data)


def test_shipped_example_problem_solves_to_a_valid_plan() -> None:
    text = resources.files("medevac.data.scenarios").joinpath("deployment-example.json")
    problem = deployment_problem_from_dict(json.loads(text.read_text(encoding="utf-8")))
    plan = plan_deployment(problem)
    assert plan.status == "optimal"
    assert {p.hospital_id for p in plan.placements} == {h.id for h in problem.hospitals}
    assert check_deployment(problem, plan) == []


def two_towns(capacity: float = 100.0) -> DeploymentProblem:
    """Two towns of 100 patients a day 1 degree apart, a site beside each, and a hamlet of 5
    a day far away with a site of its own. Each site reaches only its own place."""
    towns = [
        DemandPoint(f"{town}{k}", lat + 0.01 * k, lon, 25.0, 25.0)
        for town, lat, lon in (("a", 0.0, 0.0), ("b", 0.0, 1.0))
        for k in range(4)
    ]
    points = (*towns, DemandPoint("hamlet", 5.0, 5.0, 5.0, 5.0))
    sites = (
        CandidateSite("near-a", 0.015, 0.03),
        CandidateSite("near-b", 0.015, 1.03),
        CandidateSite("far", 5.01, 5.0),
    )
    hospitals = tuple(HospitalUnit(f"h{k}", capacity, "field-hospital-50-beds") for k in range(2))
    return DeploymentProblem(points, sites, hospitals, radius_km=20.0)


def test_a_plan_serving_the_total_capacity_is_optimal_without_a_mip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_mip() -> None:
        raise AssertionError("the MIP was solved although the placement search met the bound")

    monkeypatch.setattr("medevac.simulation.deployment.highspy.Highs", no_mip)
    problem = two_towns(capacity=80.0)
    plan = plan_deployment(problem)
    assert plan.status == "optimal"
    assert plan.served_per_day == pytest.approx(160.0)
    assert plan.bound_per_day == pytest.approx(160.0)
    assert {p.site_id for p in plan.placements} == {"near-a", "near-b"}
    assert check_deployment(problem, plan) == []


def test_the_placement_search_moves_a_hospital_to_where_it_serves_more() -> None:
    problem = two_towns()
    reach = _Reach.of(problem, _hospital_groups(problem.hospitals))
    near_a, near_b, far = 0, 1, 2
    first = _best_flows({near_a: 0, far: 0}, reach)
    assert first is not None
    assert first[0] == pytest.approx(105.0)
    no_flows = np.zeros(reach.point_index.shape[0])
    placed, served, flows = _search_sites(
        {near_a: 0, far: 0}, no_flows, reach, math.inf, math.inf, math.inf
    )
    assert placed == {near_a: 0, near_b: 0}
    assert served == pytest.approx(200.0)
    assert flows.sum() == pytest.approx(200.0)
    # the search stops at its deadline, before any move (the first placement's flows are
    # still computed: they have the whole time limit)
    placed, served, _ = _search_sites({near_a: 0, far: 0}, no_flows, reach, math.inf, 0.0, math.inf)
    assert placed == {near_a: 0, far: 0}
    assert served == pytest.approx(105.0)


@pytest.mark.parametrize("seed", range(6))
def test_the_flows_of_a_placement_are_the_best_the_placement_allows(seed: int) -> None:
    problem = random_problem(seed, 9, 5, [120.0, 70.0])
    reach = _Reach.of(problem, _hospital_groups(problem.hospitals))
    capacities = reach.capacities
    assert capacities.tolist() == [120.0, 70.0]
    rng = np.random.default_rng(seed)
    chosen = rng.choice(
        len(reach.useful_sites), size=min(2, len(reach.useful_sites)), replace=False
    )
    placed = {int(site): group for group, site in enumerate(chosen)}
    best = _best_flows(placed, reach)
    assert best is not None
    served, flows = best
    # hospital g (of capacity capacities[g]) at the site placed holds for it
    at = {group: int(reach.useful_sites[site]) for site, group in placed.items()}
    alone = DeploymentProblem(
        problem.demand_points,
        problem.sites,
        tuple(
            HospitalUnit(f"h{g}", float(capacities[g]), "field-hospital-50-beds")
            for g in sorted(at)
        ),
        radius_km=problem.radius_km,
    )
    assert served == pytest.approx(served_by(alone, tuple(at[g] for g in sorted(at))), abs=1e-6)
    by_point = np.bincount(reach.point_index, weights=flows, minlength=len(reach.demand))
    assert np.all(by_point <= reach.demand + 1e-9)
    assert np.all(flows[~np.isin(reach.local_site, list(placed))] == 0.0)

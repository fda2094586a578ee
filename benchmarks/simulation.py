"""Benchmark of the field-hospital simulation and of deployment planning; prints tables.

    .venv/bin/python benchmarks/simulation.py                      # everything (5-12 min)
    .venv/bin/python benchmarks/simulation.py --simpy-replications 100   # SimPy subset, scaled

1. 1,000 replications of 30 days of the 100-bed / 420-a-day field hospital with
   ``medevac.simulation`` (compiled kernel, both cores), and the same model written plainly with
   SimPy (``benchmarks/simpy_reference.py``) on the same replication seeds, also on both cores
   (one process per core). If SimPy runs fewer replications, its time is scaled up linearly and
   the row is labelled as extrapolated. The second table checks that both models agree: the
   difference of the means must lie within the combined 95 % confidence half-widths.
2. Deployment: a seeded instance with 2,000 demand points, 300 candidate sites and 10 hospitals,
   solved by HiGHS under a time limit; prints status, objective, bound, gap and time.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from medevac.simulation.deployment import (
    CandidateSite,
    DemandPoint,
    DeploymentProblem,
    HospitalUnit,
    check_deployment,
    plan_deployment,
)
from medevac.simulation.params import Scenario
from medevac.simulation.presets import field_hospital_100_beds
from medevac.simulation.results import estimate
from medevac.simulation.runner import replication_generators, run_replications
from simpy_reference import run_reference

COMPARED = (
    "arrived",
    "seen",
    "left_unseen",
    "referred_on",
    "operated",
    "admitted",
    "consultation_wait_mean_hours",
    "theatre_wait_mean_hours",
    "bed_wait_mean_hours",
    "beds_occupied_mean",
)


def _simpy_batch(args: tuple[Scenario, int, list[int]]) -> list[dict[str, float]]:
    scenario, seed, indices = args
    generators = replication_generators(seed, max(indices) + 1)
    return [run_reference(scenario, generators[i]).metrics() for i in indices]


def run_simpy(
    scenario: Scenario, seed: int, replications: int, workers: int
) -> tuple[float, dict[str, np.ndarray]]:
    batches = [list(range(w, replications, workers)) for w in range(workers)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_simpy_batch, [(scenario, seed, b) for b in batches if b]))
    wall = time.perf_counter() - started
    rows = [row for part in parts for row in part]
    return wall, {name: np.array([row[name] for row in rows]) for name in COMPARED}


def simulation_benchmark(args: argparse.Namespace) -> None:
    scenario = field_hospital_100_beds()
    load = os.getloadavg()
    print(f"## Simulation: {scenario.name}, {scenario.days} days, seed {args.seed}")
    print(f"machine: {os.cpu_count()} cores, load average before start {load[0]:.2f}\n")

    started = time.perf_counter()
    run_replications(scenario, 2, seed=args.seed, workers=1)
    first_call = time.perf_counter() - started

    walls = []
    result = None
    for _ in range(args.repeats):
        started = time.perf_counter()
        result = run_replications(scenario, args.replications, seed=args.seed, workers=args.workers)
        walls.append(time.perf_counter() - started)
    assert result is not None
    fast_wall = min(walls)
    patients = float(result.metric_values()["arrived"].sum())

    simpy_wall, simpy_values = run_simpy(scenario, args.seed, args.simpy_replications, args.workers)
    scaled = simpy_wall * args.replications / args.simpy_replications
    extrapolated = args.simpy_replications != args.replications

    print("| model | reps run | workers | wall (s) | wall for 1,000 reps (s) | patients/s |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| medevac.simulation (numba kernel) | {args.replications} | {args.workers} | "
        f"{fast_wall:.2f} (best of {args.repeats}; all: {', '.join(f'{w:.2f}' for w in walls)}) "
        f"| {fast_wall * 1000 / args.replications:.2f} | {patients / fast_wall:,.0f} |"
    )
    label = " (extrapolated linearly)" if extrapolated else ""
    print(
        f"| SimPy reference | {args.simpy_replications} | {args.workers} | {simpy_wall:.2f} | "
        f"{scaled * 1000 / args.replications:.2f}{label} | "
        f"{patients / args.replications * args.simpy_replications / simpy_wall:,.0f} |"
    )
    print(f"\nspeed-up (SimPy / medevac, same replication count): {scaled / fast_wall:.0f}x")
    print(f"first call in this process (loads or compiles the kernel): {first_call:.2f} s\n")

    fast_values = result.metric_values()
    print(
        "| metric | medevac mean ± 95 % CI | SimPy mean ± 95 % CI | difference "
        "| CIs overlap | difference within combined CI |"
    )
    print("|---|---:|---:|---:|---|---|")
    all_overlap = True
    all_agree = True
    for name in COMPARED:
        a = estimate(fast_values[name])
        b = estimate(simpy_values[name])
        difference = a.mean - b.mean
        allowed = math.hypot(a.half_width, b.half_width)
        agree = abs(difference) <= allowed
        overlap = abs(difference) <= a.half_width + b.half_width
        all_agree &= agree
        all_overlap &= overlap
        print(
            f"| {name} | {a.mean:.4f} ± {a.half_width:.4f} | {b.mean:.4f} ± {b.half_width:.4f} "
            f"| {difference:+.4f} | {'yes' if overlap else 'NO'} | {'yes' if agree else 'NO'} |"
        )
    print(f"\nthe two models' 95 % CIs overlap on every metric: {'yes' if all_overlap else 'NO'}")
    print(
        "every difference lies within the combined 95 % half-width sqrt(h1^2 + h2^2): "
        f"{'yes' if all_agree else 'NO'} (a 5 % test per metric: with 10 metrics a chance NO "
        "is expected in up to 4 runs out of 10 even when the models agree)\n"
    )


def deployment_instance(
    seed: int, points: int, sites: int, hospitals: int, radius_km: float
) -> DeploymentProblem:
    """Clustered demand over a ~300 x 300 km region; a mix of 420- and 200-a-day hospitals."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform([47.0, 33.0], [49.7, 37.0], size=(12, 2))
    which = rng.integers(0, len(centres), size=points)
    spread = rng.normal(0.0, 0.4, size=(points, 2))
    coords = np.clip(centres[which] + spread, [46.5, 32.5], [50.2, 37.5])
    demand = rng.gamma(2.0, 0.75, size=points)
    demand_points = tuple(
        DemandPoint(f"d{i}", float(lat), float(lon), float(d), float(d * 1.5))
        for i, ((lat, lon), d) in enumerate(zip(coords, demand, strict=True))
    )
    site_coords = rng.uniform([46.5, 32.5], [50.2, 37.5], size=(sites, 2))
    candidate_sites = tuple(
        CandidateSite(f"s{j}", float(lat), float(lon)) for j, (lat, lon) in enumerate(site_coords)
    )
    units = tuple(
        HospitalUnit(f"h{k}", 420.0, "field-hospital-100-beds")
        if k % 3 == 0
        else HospitalUnit(f"h{k}", 200.0, "field-hospital-50-beds")
        for k in range(hospitals)
    )
    return DeploymentProblem(demand_points, candidate_sites, units, radius_km=radius_km)


def deployment_benchmark(args: argparse.Namespace) -> None:
    print("## Deployment: capacitated maximal covering, HiGHS")
    print(f"time limit {args.deploy_time_limit:.0f} s\n")
    print(
        "| demand points | sites | hospitals | radius (km) | pairs in radius | demand/day "
        "| capacity/day "
        "| status | served/day | bound/day | gap | wall (s) | checker |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|")
    cases = (
        (200, 40, 3, 60.0),
        (2000, 300, 10, args.radius_km),
        (2000, 300, 10, 40.0),
        (2000, 300, 10, 50.0),
    )
    for points, sites, hospitals, radius in cases:
        problem = deployment_instance(args.seed, points, sites, hospitals, radius)
        pairs = int((problem.distances_km() <= radius).sum())
        plan = plan_deployment(problem, time_limit_seconds=args.deploy_time_limit)
        violations = check_deployment(problem, plan)
        capacity = sum(h.patients_per_day for h in problem.hospitals)
        print(
            f"| {points} | {sites} | {hospitals} | {radius:.0f} | {pairs} | "
            f"{plan.total_demand_per_day:.1f} | "
            f"{capacity:.0f} | {plan.status} | "
            f"{plan.served_per_day:.1f} | {plan.bound_per_day:.1f} | {plan.gap:.4%} | "
            f"{plan.wall_seconds:.2f} | {'ok' if not violations else violations[0]} |"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--simpy-replications", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--deploy-time-limit", type=float, default=60.0)
    parser.add_argument("--radius-km", type=float, default=30.0)
    parser.add_argument("--skip-simulation", action="store_true")
    parser.add_argument("--skip-deployment", action="store_true")
    args = parser.parse_args()
    if not args.skip_simulation:
        simulation_benchmark(args)
    if not args.skip_deployment:
        deployment_benchmark(args)


if __name__ == "__main__":
    main()

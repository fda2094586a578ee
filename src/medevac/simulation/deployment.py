"""Where should the field hospitals stand? Capacitated maximal covering, solved exactly.

Given demand points (patients a day, or a range), candidate sites and the hospitals to deploy
(each with a daily capacity), choose at most one site per hospital and at most one hospital per
site, and send demand to open sites within ``radius_km``, to maximise the patients a day served
without exceeding any hospital's capacity. A placement search (flows by LP) comes first; when
it meets a bound valid for any plan it is optimal, otherwise the mixed-integer model is solved
by HiGHS from it with the time left. The plan reports the status, objective, proven bound, gap
and wall time.

Identical hospitals (same capacity and scenario) are grouped so the solver does not explore
permutations of interchangeable units.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import highspy
import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from medevac.domain.geography import EARTH_RADIUS_KM
from medevac.highs import new_highs
from medevac.simulation.params import MAX_PATIENTS_PER_DAY, Scenario
from medevac.simulation.plain_data import (
    ObjectReader,
    ParameterError,
    is_finite_number,
    read_number,
    read_string,
    shown_number,
)
from medevac.simulation.presets import PRESETS, preset
from medevac.simulation.results import SimulationResult
from medevac.simulation.runner import ProgressCallback, run_replications


class DemandBasis(StrEnum):
    """Which end of a demand range to plan for."""

    LOW = "low"
    MIDDLE = "middle"
    HIGH = "high"


@dataclass(frozen=True)
class DemandPoint:
    """A place where patients come from, with expected patients a day (``low``..``high``)."""

    id: str
    lat: float
    lon: float
    low: float
    high: float
    source: str = ""

    def __post_init__(self) -> None:
        _check_coordinates(self.lat, self.lon)
        if not 0 <= self.low <= self.high:
            raise ParameterError("patients_per_day", "need 0 <= low <= high")
        _check_patients_per_day(self.high)

    def demand(self, basis: DemandBasis) -> float:
        if basis is DemandBasis.LOW:
            return self.low
        if basis is DemandBasis.HIGH:
            return self.high
        return (self.low + self.high) / 2.0


@dataclass(frozen=True)
class CandidateSite:
    """A place where a field hospital could stand."""

    id: str
    lat: float
    lon: float

    def __post_init__(self) -> None:
        _check_coordinates(self.lat, self.lon)


@dataclass(frozen=True)
class HospitalUnit:
    """A hospital to deploy: its daily capacity and the scenario that describes it."""

    id: str
    patients_per_day: float
    scenario: str

    def __post_init__(self) -> None:
        if not is_finite_number(self.patients_per_day) or self.patients_per_day <= 0:
            raise ParameterError("patients_per_day", "must be > 0")
        _check_patients_per_day(self.patients_per_day)
        if self.scenario not in PRESETS:
            raise ParameterError(
                "scenario", f"unknown scenario {self.scenario!r} (known: {', '.join(PRESETS)})"
            )


@dataclass(frozen=True)
class DeploymentProblem:
    """Demand points, candidate sites, hospitals and the travel radius."""

    demand_points: tuple[DemandPoint, ...]
    sites: tuple[CandidateSite, ...]
    hospitals: tuple[HospitalUnit, ...]
    radius_km: float
    demand_basis: DemandBasis = DemandBasis.MIDDLE
    name: str = "deployment"

    def __post_init__(self) -> None:
        if not is_finite_number(self.radius_km) or self.radius_km <= 0:
            raise ParameterError("radius_km", "must be > 0")
        id_lists: tuple[tuple[str, list[str]], ...] = (
            ("demand_points", [p.id for p in self.demand_points]),
            ("candidate_sites", [s.id for s in self.sites]),
            ("hospitals", [h.id for h in self.hospitals]),
        )
        for label, ids in id_lists:
            if not ids:
                raise ParameterError(label, "needs at least one entry")
            seen: set[str] = set()
            for index, item_id in enumerate(ids):
                if item_id in seen:
                    raise ParameterError(f"{label}[{index}].id", f"duplicate id {item_id!r}")
                seen.add(item_id)

    def demands(self) -> np.ndarray:
        return np.array([p.demand(self.demand_basis) for p in self.demand_points])

    def distances_km(self) -> np.ndarray:
        """Great-circle distance from every demand point (rows) to every site (columns)."""
        points = np.array([[p.lat, p.lon] for p in self.demand_points])
        sites = np.array([[s.lat, s.lon] for s in self.sites])
        return pairwise_haversine_km(points, sites)


def pairwise_haversine_km(points: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Haversine distances between two arrays of (lat, lon) degrees.

    Vectorised over all pairs (2,000 x 300 in the benchmark); the scalar function in
    ``medevac.domain.geography`` would need a Python call per pair.
    """
    lat1 = np.radians(points[:, 0])[:, None]
    lat2 = np.radians(sites[:, 0])[None, :]
    dlat = lat2 - lat1
    dlon = np.radians(sites[:, 1])[None, :] - np.radians(points[:, 1])[:, None]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h))))


@dataclass(frozen=True)
class Placement:
    """A hospital put at a site, with the patients a day sent to it."""

    hospital_id: str
    site_id: str
    patients_per_day: float


@dataclass(frozen=True)
class Assignment:
    """Patients a day sent from a demand point to a site."""

    demand_id: str
    site_id: str
    patients_per_day: float
    distance_km: float


@dataclass(frozen=True)
class DeploymentPlan:
    """The chosen sites and flows, with how good the solver proved them to be.

    ``status`` is ``optimal`` (proven within the gap tolerance), ``time_limit`` (best plan
    found, ``gap`` says how far from proven), ``no_solution``, or another HiGHS model status
    in snake case. ``bound_per_day`` is an upper bound on what any plan could serve.
    """

    status: str
    served_per_day: float
    bound_per_day: float
    gap: float
    total_demand_per_day: float
    wall_seconds: float
    placements: tuple[Placement, ...] = ()
    assignments: tuple[Assignment, ...] = ()
    unserved: Mapping[str, float] = field(default_factory=dict)

    def to_json_data(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "served_patients_per_day": round(self.served_per_day, 6),
            "bound_patients_per_day": round(self.bound_per_day, 6),
            "gap": round(self.gap, 9) if math.isfinite(self.gap) else None,
            "total_demand_per_day": round(self.total_demand_per_day, 6),
            "unserved_patients_per_day": round(self.total_demand_per_day - self.served_per_day, 6),
            "wall_seconds": round(self.wall_seconds, 3),
            "placements": [
                {
                    "hospital": p.hospital_id,
                    "site": p.site_id,
                    "patients_per_day": round(p.patients_per_day, 6),
                }
                for p in self.placements
            ],
            "assignments": [
                {
                    "demand_point": a.demand_id,
                    "site": a.site_id,
                    "patients_per_day": round(a.patients_per_day, 6),
                    "distance_km": round(a.distance_km, 3),
                }
                for a in self.assignments
            ],
            "unserved_by_demand_point": {k: round(v, 6) for k, v in self.unserved.items()},
        }


#: Share of the time limit the placement search may use; HiGHS gets the rest. On the
#: benchmark's 2,000 points x 300 sites x 10 hospitals a round of moves takes about 2 s.
SITE_SEARCH_SHARE = 0.1
#: Sites a hospital is tried at in a move round: those reaching the most demand that the
#: other hospitals do not reach.
SITE_CANDIDATES = 25
#: A move must serve this many more patients a day to be taken.
IMPROVEMENT = 1e-7
#: Time kept back from the limit to turn the flows into a plan (on the benchmark's largest
#: problem, 5,000 points x 1,000 sites, that takes well under this).
ASSEMBLY_SECONDS = 0.05
#: HiGHS is not started on the MIP with less time left than this: it could not improve on the
#: search's plan, and its set-up alone would overrun the limit.
MIN_MIP_SECONDS = 0.2
#: Time HiGHS may run past its limit on the MIP, per nonzero of the matrix: it does not look
#: at its time limit in parts of presolve and of the root solve. On 5,000 points x 1,000
#: sites x 10 hospitals (3.8 million nonzeros) it ran 11 s with 5 s left and 49 s with 26 s
#: left (2-core machine, 2026-12); the benchmark's models have 0.1 million. The MIP is
#: skipped when this estimate does not fit in the time left, and the search's plan is
#: returned with status ``time_limit``.
MIP_SETUP_SECONDS_PER_NONZERO = 13e-6


def plan_deployment(
    problem: DeploymentProblem, time_limit_seconds: float = 60.0, relative_gap: float = 1e-6
) -> DeploymentPlan:
    """Solve the capacitated maximal covering problem under a time limit.

    A placement search comes first (greedy sites, then single moves, flows by LP). When its
    plan serves as much as a bound that holds for any plan (the total capacity, or the demand
    within reach of some site), it is optimal and no MIP is solved. Otherwise HiGHS solves the
    MIP from that plan with the time left.

    Every LP and the MIP get only the time left, so the limit holds (within the time of a
    step that cannot be cut short: finding the pairs within reach, one greedy placement).
    When the flows of the first placement cannot be computed in time, the greedy plan is
    returned with status ``time_limit`` and its gap against the bound.
    """
    started = time.perf_counter()
    deadline = started + time_limit_seconds - ASSEMBLY_SECONDS
    groups = _hospital_groups(problem.hospitals)
    reach = _Reach.of(problem, groups)
    demand, point_index, local_site = reach.demand, reach.point_index, reach.local_site
    capacities = reach.capacities
    n_pairs = point_index.shape[0]
    n_sites = reach.useful_sites.shape[0]
    n_groups = len(groups)
    if n_pairs == 0:
        return _empty_plan(problem, demand, time.perf_counter() - started)

    counts = np.array([len(units) for _, units in groups], dtype=np.float64)
    pair_demand = demand[point_index]
    # Two bounds that hold for any plan: the hospitals' total capacity and the demand within
    # reach of some site.
    ceiling = min(float(capacities @ counts), float(demand[np.unique(point_index)].sum()))
    enough = ceiling - relative_gap * max(1.0, ceiling)
    # HiGHS overruns its limit on a MIP too large to set up in the time: then the search
    # gets all the time.
    nonzeros = 3 * n_sites * n_groups + n_pairs * (3 + n_groups)
    setup = max(MIN_MIP_SECONDS, MIP_SETUP_SECONDS_PER_NONZERO * nonzeros)
    search_deadline = started + SITE_SEARCH_SHARE * time_limit_seconds
    if deadline - time.perf_counter() < setup:
        search_deadline = deadline
    greedy_placed, greedy_flows = _greedy_sites(reach, counts, deadline)
    placed, served, flows = _search_sites(
        greedy_placed,
        greedy_flows,
        reach,
        enough,
        min(deadline, search_deadline),
        deadline,
    )
    opened = np.zeros((n_sites, n_groups))
    for site, group in placed.items():
        opened[site, group] = 1.0
    if served >= enough:
        wall = time.perf_counter() - started
        return _assemble(problem, reach, groups, "optimal", flows, opened, ceiling, wall)
    if deadline - time.perf_counter() < setup:
        wall = time.perf_counter() - started
        return _assemble(problem, reach, groups, "time_limit", flows, opened, ceiling, wall)

    # The MIP. Columns: the share f of a point's demand sent to a site, one per (point, site)
    # pair within the radius, then y[site, group]. Shares rather than flows keep the linking
    # rows f <= open free of demand coefficients, which the simplex handles much better.
    n_y = n_sites * n_groups
    y_site = np.repeat(np.arange(n_sites), n_groups)
    y_group = np.tile(np.arange(n_groups), n_sites)
    y_columns = n_pairs + np.arange(n_y)

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lower: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    row = 0

    def add_block(
        r: np.ndarray, c: np.ndarray, v: np.ndarray, lo: np.ndarray, up: np.ndarray
    ) -> None:
        nonlocal row
        rows.append(r + row)
        cols.append(c)
        vals.append(v)
        lower.append(lo)
        upper.append(up)
        row += lo.shape[0]

    inf = highspy.kHighsInf
    # At most one hospital per site.
    add_block(y_site, y_columns, np.ones(n_y), np.full(n_sites, -inf), np.ones(n_sites))
    # At most as many sites per group as the group has hospitals.
    add_block(y_group, y_columns, np.ones(n_y), np.full(n_groups, -inf), counts)
    # A demand point sends no more than all of its demand.
    n_points = len(demand)
    add_block(
        point_index,
        np.arange(n_pairs),
        np.ones(n_pairs),
        np.full(n_points, -inf),
        np.ones(n_points),
    )
    # A site receives no more than the capacity of the hospital put there.
    add_block(
        np.concatenate([local_site, y_site]),
        np.concatenate([np.arange(n_pairs), y_columns]),
        np.concatenate([pair_demand, -capacities[y_group]]),
        np.full(n_sites, -inf),
        np.zeros(n_sites),
    )
    # Send only to an open site (tightens the relaxation): f[i, j] <= open_j.
    pair_rows = np.arange(n_pairs)
    y_of_pair = n_pairs + local_site[:, None] * n_groups + np.arange(n_groups)[None, :]
    add_block(
        np.concatenate([pair_rows, np.repeat(pair_rows, n_groups)]),
        np.concatenate([np.arange(n_pairs), y_of_pair.ravel()]),
        np.concatenate([np.ones(n_pairs), -np.ones(n_pairs * n_groups)]),
        np.full(n_pairs, -inf),
        np.zeros(n_pairs),
    )

    n_cols = n_pairs + n_y
    matrix = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(row, n_cols)
    )
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = row
    lp.col_cost_ = np.concatenate([pair_demand, np.zeros(n_y)])
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_ = np.concatenate(lower)
    lp.row_upper_ = np.concatenate(upper)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    lp.a_matrix_.num_col_ = n_cols
    lp.a_matrix_.num_row_ = row
    lp.integrality_ = [highspy.HighsVarType.kContinuous] * n_pairs + [
        highspy.HighsVarType.kInteger
    ] * n_y

    time_left = deadline - time.perf_counter()
    if time_left < MIN_MIP_SECONDS:  # building the model took the time
        wall = time.perf_counter() - started
        return _assemble(problem, reach, groups, "time_limit", flows, opened, ceiling, wall)
    solver = new_highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("time_limit", time_left)
    solver.setOptionValue("mip_rel_gap", float(relative_gap))
    solver.setOptionValue("random_seed", 0)
    solver.passModel(lp)
    start = np.concatenate(
        [
            np.divide(flows, pair_demand, out=np.zeros(n_pairs), where=pair_demand > 0),
            opened.ravel(),
        ]
    )
    start_solution = highspy.HighsSolution()
    start_solution.col_value = list(start)
    start_solution.value_valid = True
    solver.setSolution(start_solution)
    solver.run()
    model_status = solver.getModelStatus()
    info = solver.getInfo()
    if info.primal_solution_status != highspy.kSolutionStatusFeasible:
        # HiGHS had the search's plan as its start; keep it
        status = "time_limit"
    else:
        if model_status == highspy.HighsModelStatus.kOptimal:
            status = "optimal"
        elif model_status == highspy.HighsModelStatus.kTimeLimit:
            status = "time_limit"
        else:
            status = solver.modelStatusToString(model_status).lower().replace(" ", "_")
        values = np.asarray(solver.getSolution().col_value)
        mip_flows = np.clip(values[:n_pairs], 0.0, 1.0) * pair_demand
        if mip_flows.sum() >= served:
            flows = mip_flows
            opened = np.rint(values[n_pairs:]).reshape(n_sites, n_groups)
    bound = ceiling
    dual_bound = float(info.mip_dual_bound)
    if math.isfinite(dual_bound):
        bound = min(bound, dual_bound)
    wall = time.perf_counter() - started
    return _assemble(problem, reach, groups, status, flows, opened, bound, wall)


def _assemble(
    problem: DeploymentProblem,
    reach: _Reach,
    groups: list[tuple[float, list[HospitalUnit]]],
    status: str,
    flows: np.ndarray,
    opened: np.ndarray,
    bound: float,
    wall: float,
) -> DeploymentPlan:
    """The plan of the flows of every (point, site) pair and the hospitals opened per site and
    group; ``bound`` is an upper bound on what any plan could serve."""
    demand, point_index, site_index = reach.demand, reach.point_index, reach.site_index
    placements: list[Placement] = []
    for group_number, (_, units) in enumerate(groups):
        chosen = np.nonzero(opened[:, group_number] > 0.5)[0]
        for unit, local in zip(units, chosen, strict=False):
            served = float(flows[reach.local_site == local].sum())
            site = problem.sites[int(reach.useful_sites[local])]
            placements.append(Placement(unit.id, site.id, served))
    assignments = [
        Assignment(
            demand_id=problem.demand_points[int(point_index[k])].id,
            site_id=problem.sites[int(site_index[k])].id,
            patients_per_day=float(flows[k]),
            distance_km=float(reach.distances[point_index[k], site_index[k]]),
        )
        for k in np.nonzero(flows > 1e-9)[0]
    ]
    served_by_point = np.bincount(point_index, weights=flows, minlength=len(demand))
    unserved = {
        point.id: float(demand[i] - served_by_point[i])
        for i, point in enumerate(problem.demand_points)
        if demand[i] - served_by_point[i] > 1e-9
    }
    total = float(flows.sum())
    bound = max(bound, total)
    gap = 0.0 if bound <= 0 else (bound - total) / bound
    return DeploymentPlan(
        status=status,
        served_per_day=total,
        bound_per_day=bound,
        gap=gap,
        total_demand_per_day=float(demand.sum()),
        wall_seconds=wall,
        placements=tuple(placements),
        assignments=tuple(assignments),
        unserved=unserved,
    )


@dataclass(frozen=True)
class _Reach:
    """The (point, site) pairs within the radius, one entry per pair in the arrays below.

    ``local_site`` numbers the sites that reach some point (``useful_sites``, indices into
    problem.sites), which are the sites the model and the search work with.
    """

    demand: np.ndarray  # per demand point
    distances: np.ndarray  # points x sites
    point_index: np.ndarray
    site_index: np.ndarray
    local_site: np.ndarray
    useful_sites: np.ndarray
    capacities: np.ndarray  # per hospital group

    @classmethod
    def of(
        cls, problem: DeploymentProblem, groups: list[tuple[float, list[HospitalUnit]]]
    ) -> _Reach:
        distances = problem.distances_km()
        point_index, site_index = np.nonzero(distances <= problem.radius_km)
        useful_sites = np.unique(site_index)
        return cls(
            demand=problem.demands(),
            distances=distances,
            point_index=point_index,
            site_index=site_index,
            local_site=np.searchsorted(useful_sites, site_index),
            useful_sites=useful_sites,
            capacities=np.array([capacity for capacity, _ in groups], dtype=np.float64),
        )


def _greedy_sites(
    reach: _Reach, counts: np.ndarray, deadline: float = math.inf
) -> tuple[dict[int, int], np.ndarray]:
    """A first placement (site -> group) and flows that it can serve: the largest hospitals
    first, each where it serves the most demand the hospitals placed before it have not
    taken. Past ``deadline`` no more hospitals are placed."""
    demand, point_index, local_site = reach.demand, reach.point_index, reach.local_site
    capacities = reach.capacities
    n_sites = reach.useful_sites.shape[0]
    n_groups = capacities.shape[0]
    residual = demand.astype(np.float64).copy()
    flows = np.zeros(point_index.shape[0])
    placed: dict[int, int] = {}
    pairs_of_site = [np.nonzero(local_site == j)[0] for j in range(n_sites)]
    units = sorted(
        (g for g in range(n_groups) for _ in range(int(counts[g]))),
        key=lambda g: -capacities[g],
    )
    for group in units:
        if placed and time.perf_counter() >= deadline:
            break
        within = np.bincount(local_site, weights=residual[point_index], minlength=n_sites)
        value = np.minimum(within, capacities[group])
        value[list(placed)] = -1.0
        site = int(np.argmax(value))
        if value[site] <= 0:
            break
        placed[site] = group
        room = float(capacities[group])
        for pair in pairs_of_site[site]:
            if room <= 0:
                break
            sent = min(room, residual[point_index[pair]])
            residual[point_index[pair]] -= sent
            flows[pair] = sent
            room -= sent
    return placed, flows


def _best_flows(
    placed: Mapping[int, int], reach: _Reach, deadline: float = math.inf
) -> tuple[float, np.ndarray] | None:
    """The most patients a day the hospitals placed (site -> group) can serve, and the flow of
    every (point, site) pair: a transportation LP, solved by HiGHS. ``None`` when the LP
    cannot be solved before ``deadline``."""
    point_index, local_site = reach.point_index, reach.local_site
    flows = np.zeros(point_index.shape[0])
    if not placed:
        return 0.0, flows
    sites = np.array(sorted(placed))
    pairs = np.nonzero(np.isin(local_site, sites))[0]
    if pairs.size == 0:
        return 0.0, flows
    points, point_row = np.unique(point_index[pairs], return_inverse=True)
    site_row = points.size + np.searchsorted(sites, local_site[pairs])
    columns = np.arange(pairs.size)
    a_ub = sparse.csr_matrix(
        (np.ones(2 * pairs.size), (np.concatenate([point_row, site_row]), np.tile(columns, 2))),
        shape=(points.size + sites.size, pairs.size),
    )
    room = np.array([reach.capacities[placed[int(site)]] for site in sites])
    time_left = deadline - time.perf_counter()
    if time_left <= 0:
        return None
    result = linprog(
        -np.ones(pairs.size),
        A_ub=a_ub,
        b_ub=np.concatenate([reach.demand[points], room]),
        bounds=(0.0, None),
        method="highs",
        options={"time_limit": min(time_left, 1e9)},
    )
    if result.status == 1:  # the time limit (or HiGHS's iteration limit) was reached
        return None
    if result.status != 0:
        raise RuntimeError(f"the flow LP of a placement failed: {result.message}")
    flows[pairs] = np.clip(result.x, 0.0, None)
    return float(flows.sum()), flows


def _search_sites(
    placed: dict[int, int],
    start_flows: np.ndarray,
    reach: _Reach,
    enough: float,
    deadline: float,
    first_deadline: float,
) -> tuple[dict[int, int], float, np.ndarray]:
    """Move one hospital at a time to the site where the placement serves most (flows by LP),
    until no move helps, the plan serves ``enough`` or the deadline passes.

    ``start_flows`` are flows the first placement can serve (the greedy ones); its best flows
    are computed by LP if that ends before ``first_deadline`` (the whole time limit), else the
    start is returned as it is. A hospital is tried at the SITE_CANDIDATES free sites that
    reach the most demand the other hospitals do not reach; a move whose LP does not end by
    ``deadline`` is not taken.
    """
    demand, point_index, local_site = reach.demand, reach.point_index, reach.local_site
    n_sites = reach.useful_sites.shape[0]
    served, flows = float(start_flows.sum()), start_flows
    if served >= enough:
        return placed, served, flows
    first = _best_flows(placed, reach, first_deadline)
    if first is None:
        return placed, served, flows
    if first[0] >= served:
        served, flows = first
    improved = True
    while improved and served < enough:
        improved = False
        for site, group in list(placed.items()):
            if time.perf_counter() >= deadline:
                return placed, served, flows
            others = {s: g for s, g in placed.items() if s != site}
            reached = np.zeros(demand.shape[0], dtype=bool)
            reached[point_index[np.isin(local_site, list(others))]] = True
            untouched = np.where(reached[point_index], 0.0, demand[point_index])
            free = np.bincount(local_site, weights=untouched, minlength=n_sites)
            free[list(placed)] = -1.0
            best: tuple[float, int, np.ndarray] | None = None
            for candidate in np.argsort(-free)[:SITE_CANDIDATES]:
                if free[candidate] <= 0 or time.perf_counter() >= deadline:
                    break
                trial = {**others, int(candidate): group}
                trial_result = _best_flows(trial, reach, deadline)
                if trial_result is None:
                    break
                value, trial_flows = trial_result
                if value > served + IMPROVEMENT and (best is None or value > best[0]):
                    best = (value, int(candidate), trial_flows)
            if best is not None:
                served, flows = best[0], best[2]
                placed = {**others, best[1]: group}
                improved = True
                if served >= enough:
                    break
    return placed, served, flows


def _hospital_groups(
    hospitals: Sequence[HospitalUnit],
) -> list[tuple[float, list[HospitalUnit]]]:
    groups: dict[tuple[float, str], list[HospitalUnit]] = {}
    for unit in hospitals:
        groups.setdefault((unit.patients_per_day, unit.scenario), []).append(unit)
    return [(key[0], units) for key, units in groups.items()]


def _empty_plan(problem: DeploymentProblem, demand: np.ndarray, wall: float) -> DeploymentPlan:
    return DeploymentPlan(
        status="optimal",
        served_per_day=0.0,
        bound_per_day=0.0,
        gap=0.0,
        total_demand_per_day=float(demand.sum()),
        wall_seconds=wall,
        unserved={p.id: float(d) for p, d in zip(problem.demand_points, demand, strict=True) if d},
    )


def check_deployment(problem: DeploymentProblem, plan: DeploymentPlan) -> list[str]:
    """Independent check of a plan; returns the violations found (empty when the plan is valid)."""
    problems: list[str] = []
    tolerance = 1e-6
    sites = {s.id: s for s in problem.sites}
    points = {p.id: i for i, p in enumerate(problem.demand_points)}
    hospitals = {h.id: h for h in problem.hospitals}
    demand = problem.demands()
    site_of_hospital: dict[str, str] = {}
    hospital_at_site: dict[str, str] = {}
    for placement in plan.placements:
        if placement.hospital_id not in hospitals:
            problems.append(f"unknown hospital {placement.hospital_id!r}")
            continue
        if placement.site_id not in sites:
            problems.append(f"unknown site {placement.site_id!r}")
            continue
        if placement.hospital_id in site_of_hospital:
            problems.append(f"hospital {placement.hospital_id!r} placed twice")
        if placement.site_id in hospital_at_site:
            problems.append(f"site {placement.site_id!r} holds two hospitals")
        site_of_hospital[placement.hospital_id] = placement.site_id
        hospital_at_site[placement.site_id] = placement.hospital_id
    received: dict[str, float] = {}
    sent = np.zeros(len(demand))
    for a in plan.assignments:
        if a.site_id not in hospital_at_site:
            problems.append(f"demand {a.demand_id!r} sent to site {a.site_id!r} with no hospital")
            continue
        if a.demand_id not in points:
            problems.append(f"unknown demand point {a.demand_id!r}")
            continue
        if a.patients_per_day < -tolerance:
            problems.append(f"negative flow from {a.demand_id!r}")
        point = problem.demand_points[points[a.demand_id]]
        site = sites[a.site_id]
        distance = float(
            pairwise_haversine_km(
                np.array([[point.lat, point.lon]]), np.array([[site.lat, site.lon]])
            )[0, 0]
        )
        if distance > problem.radius_km + 1e-9:
            problems.append(f"demand {a.demand_id!r} sent {distance:.1f} km, beyond the radius")
        received[a.site_id] = received.get(a.site_id, 0.0) + a.patients_per_day
        sent[points[a.demand_id]] += a.patients_per_day
    for site_id, load in received.items():
        capacity = hospitals[hospital_at_site[site_id]].patients_per_day
        if load > capacity * (1 + tolerance) + tolerance:
            problems.append(f"site {site_id!r} receives {load:.3f} a day, capacity {capacity}")
    for index in np.nonzero(sent > demand * (1 + tolerance) + tolerance)[0]:
        problems.append(f"demand point {problem.demand_points[index].id!r} sends more than it has")
    total = float(sent.sum())
    if abs(total - plan.served_per_day) > tolerance * max(1.0, total):
        problems.append(f"served {plan.served_per_day} does not match the flows ({total})")
    return problems


# --- reading plain data ---------------------------------------------------------------------

#: Most (demand point, candidate site) pairs a problem may have: the planner builds the dense
#: points x sites distance matrix, about 48 bytes a pair with its temporaries (measured), so
#: this is about 1 GB. 20,000 x 20,000 had ended in a MemoryError.
MAX_POINT_SITE_PAIRS = 20_000_000


def deployment_problem_from_dict(data: object) -> DeploymentProblem:
    """Build a validated problem from JSON-like data; raise ``ParameterError`` naming the path."""
    reader = ObjectReader(data, "")
    obj = reader.object(
        required=("radius_km", "demand_points", "candidate_sites", "hospitals"),
        optional=("name", "demand_basis", "$schema"),
    )
    point_list = _list(obj["demand_points"], "demand_points")
    site_list = _list(obj["candidate_sites"], "candidate_sites")
    if len(point_list) * len(site_list) > MAX_POINT_SITE_PAIRS:
        raise ParameterError(
            "demand_points x candidate_sites",
            f"{len(point_list):,} x {len(site_list):,} = {len(point_list) * len(site_list):,} "
            f"pairs, more than the {MAX_POINT_SITE_PAIRS:,} allowed (their distance matrix "
            "would need over 1 GB); merge nearby demand points or drop candidate sites",
        )
    basis_text = read_string(obj.get("demand_basis", "middle"), "demand_basis")
    try:
        basis = DemandBasis(basis_text)
    except ValueError:
        raise ParameterError("demand_basis", "must be low, middle or high") from None
    points = tuple(_demand_point(item, f"demand_points[{i}]") for i, item in enumerate(point_list))
    sites = tuple(_site(item, f"candidate_sites[{i}]") for i, item in enumerate(site_list))
    hospitals = tuple(
        _hospital(item, f"hospitals[{i}]")
        for i, item in enumerate(_list(obj["hospitals"], "hospitals"))
    )
    return reader.build(
        DeploymentProblem,
        demand_points=points,
        sites=sites,
        hospitals=hospitals,
        radius_km=read_number(obj["radius_km"], "radius_km"),
        demand_basis=basis,
        name=read_string(obj.get("name", "deployment"), "name"),
    )


def _list(value: object, path: str) -> list[object]:
    if not isinstance(value, list):
        raise ParameterError(path, "must be a list")
    return value


def _demand_point(data: object, path: str) -> DemandPoint:
    reader = ObjectReader(data, path)
    obj = reader.object(
        required=("id", "lat", "lon"),
        optional=("patients_per_day", "patients_per_day_range", "source"),
    )
    if ("patients_per_day" in obj) == ("patients_per_day_range" in obj):
        raise ParameterError(
            f"{path}.patients_per_day", "give either patients_per_day or patients_per_day_range"
        )
    if "patients_per_day" in obj:
        low = high = read_number(obj["patients_per_day"], f"{path}.patients_per_day")
    else:
        bounds = obj["patients_per_day_range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise ParameterError(f"{path}.patients_per_day_range", "must be [low, high]")
        low = read_number(bounds[0], f"{path}.patients_per_day_range[0]")
        high = read_number(bounds[1], f"{path}.patients_per_day_range[1]")
        # said of the range as written (the point's checks name patients_per_day, a key the
        # file does not have, and did not show the values)
        where = f"{path}.patients_per_day_range"
        if low < 0:
            raise ParameterError(f"{where}[0]", f"{shown_number(low)} is below 0")
        if low > high:
            raise ParameterError(
                where, f"low {shown_number(low)} is above high {shown_number(high)}"
            )
        if high > MAX_PATIENTS_PER_DAY:
            raise ParameterError(
                f"{where}[1]",
                f"{shown_number(high)} is more than {shown_number(MAX_PATIENTS_PER_DAY)}",
            )
    return reader.build(
        DemandPoint,
        id=read_string(obj["id"], f"{path}.id"),
        lat=read_number(obj["lat"], f"{path}.lat"),
        lon=read_number(obj["lon"], f"{path}.lon"),
        low=low,
        high=high,
        source=read_string(obj.get("source", ""), f"{path}.source"),
    )


def _site(data: object, path: str) -> CandidateSite:
    reader = ObjectReader(data, path)
    obj = reader.object(required=("id", "lat", "lon"), optional=())
    return reader.build(
        CandidateSite,
        id=read_string(obj["id"], f"{path}.id"),
        lat=read_number(obj["lat"], f"{path}.lat"),
        lon=read_number(obj["lon"], f"{path}.lon"),
    )


def _hospital(data: object, path: str) -> HospitalUnit:
    reader = ObjectReader(data, path)
    obj = reader.object(required=("id", "patients_per_day", "scenario"), optional=())
    return reader.build(
        HospitalUnit,
        id=read_string(obj["id"], f"{path}.id"),
        patients_per_day=read_number(obj["patients_per_day"], f"{path}.patients_per_day"),
        scenario=read_string(obj["scenario"], f"{path}.scenario"),
    )


def _check_patients_per_day(value: float) -> None:
    """A demand or a hospital's capacity above the scenarios' limit is refused: 1e308 had
    overflowed the totals and made the LP refuse its own bounds."""
    if value > MAX_PATIENTS_PER_DAY:
        raise ParameterError(
            "patients_per_day",
            f"{shown_number(value)} is more than {shown_number(MAX_PATIENTS_PER_DAY)}",
        )


def _check_coordinates(lat: float, lon: float) -> None:
    if not -90.0 <= lat <= 90.0:
        raise ParameterError("lat", f"{lat} is outside -90..90")
    if not -180.0 <= lon <= 180.0:
        raise ParameterError("lon", f"{lon} is outside -180..180")


def deployment_scenarios(
    problem: DeploymentProblem, plan: DeploymentPlan, days: int | None = None
) -> list[tuple[Placement, Scenario]]:
    """The scenario of each placed hospital, fed with the patients a day the plan sends it."""
    units = {h.id: h for h in problem.hospitals}
    scenarios: list[tuple[Placement, Scenario]] = []
    for placement in plan.placements:
        base = preset(units[placement.hospital_id].scenario)
        scenario = dataclasses.replace(
            base,
            name=f"{placement.hospital_id} at {placement.site_id}",
            days=days if days is not None else base.days,
            arrivals=dataclasses.replace(
                base.arrivals, patients_per_day=placement.patients_per_day
            ),
        )
        scenarios.append((placement, scenario))
    return scenarios


def simulate_deployment(
    problem: DeploymentProblem,
    plan: DeploymentPlan,
    replications: int,
    seed: int = 0,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, SimulationResult]:
    """Simulate every placed hospital under its planned load; one seed stream per hospital."""
    scenarios = deployment_scenarios(problem, plan)
    children = np.random.SeedSequence(seed).spawn(max(1, len(scenarios)))
    results: dict[str, SimulationResult] = {}
    total = replications * len(scenarios)
    for number, ((placement, scenario), child) in enumerate(zip(scenarios, children, strict=False)):
        offset = number * replications

        def report(done: int, _: int, offset: int = offset) -> None:
            if progress is not None:
                progress(offset + done, total)

        hospital_seed = int(child.generate_state(1)[0])
        results[placement.hospital_id] = run_replications(
            scenario, replications, seed=hospital_seed, workers=workers, progress=report
        )
    return results

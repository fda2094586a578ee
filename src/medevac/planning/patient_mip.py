"""Per-patient MIP baseline: one binary per (patient, eligible facility, admission day), by HiGHS.

The textbook model, with no aggregation and no column generation; meant for small instances and
as the reference optimum the exact engine is compared with.
"""

from __future__ import annotations

import time

import numpy as np

from medevac.planning import heap
from medevac.planning.engines import ModelTooLarge, checked_time_limit
from medevac.planning.exact import OPTIMAL_GAP, bonus_within_tolerance, keep_bonus_for
from medevac.planning.highs_model import SOLVER_NAME, LinearModel
from medevac.planning.mip_process import solve_mip
from medevac.planning.model import (
    BoolArray,
    FloatArray,
    IntArray,
    Placement,
    ProblemView,
    ProgressCallback,
    assemble_plan,
    assemble_plan_arrays,
    breakdown_of,
    placement_arrays,
)
from medevac.planning.plan import Plan, PlanStatus, relative_gap
from medevac.planning.problem import Problem
from medevac.planning.replans import back_to_current

# HiGHS stops within about a second of its limit on these models; the worker is stopped from
# outside only after this much more
KILL_GRACE_SECONDS = 2.0
# The model is built whole in memory before HiGHS starts, at about 1.1 KB a binary at the
# peak, and the building cannot stop at the time limit. Measured on the benchmark's generator
# (2026-12-05): 1,000 x 50 (S) 252,718 binaries; 3,000 x 100 1.58 million, 1.76 GB, 22.1 s
# for a 20-s limit and no plan; 10,000 x 200 (M) 10.4 million, 11.2 GB, 51 s for a 30-s limit
# and no plan; 100,000 x 1,000 (L) would have 510 million (some 560 GB). Larger models are
# refused before anything is built.
MAX_BINARIES = 2_000_000
# HiGHS's relative gap for this model (`solve_mip`'s default)
MIP_REL_GAP = 1e-9


def binaries(problem: Problem, view: ProblemView) -> int:
    """How many binaries the per-patient model of ``problem`` has (one per patient, eligible
    facility and admission day)."""
    horizon = view.horizon
    return sum(
        int(view.screen(i).eligible.sum()) * (horizon - p.earliest_day)
        for i, p in enumerate(problem.patients)
    )


@heap.frozen
def solve_patient_mip(
    problem: Problem,
    time_limit: float = 60.0,
    progress: ProgressCallback | None = None,
    *,
    max_binaries: int | None = None,
) -> Plan:
    """Solve the full per-patient model; status optimal or feasible (time limit) with the bound.

    Raises ModelTooLarge, before building anything, when the model would have more than
    ``max_binaries`` binaries (MAX_BINARIES unless given).
    """
    started = time.perf_counter()
    time_limit = checked_time_limit(time_limit)
    view = ProblemView(problem)
    size = binaries(problem, view)
    if max_binaries is None:
        max_binaries = MAX_BINARIES
    if size > max_binaries:
        raise ModelTooLarge(
            f"the per-patient MIP of these {len(problem.patients):,} patients would have "
            f"{size:,} binaries, more than its limit of {max_binaries:,} (about 1.1 KB of "
            "memory each while it is built): it is a baseline for small problems; the exact "
            "engine plans problems of any size"
        )
    horizon = view.horizon
    w = problem.weights
    patient_of: list[IntArray] = []
    facility_of: list[IntArray] = []
    day_of: list[IntArray] = []
    costs: list[FloatArray] = []
    offset = 0.0
    constant = 0.0  # the part of ``offset`` of patients with no column: left out whatever
    lower = 0.0  # each patient at its cheapest place or left out, less ``offset``
    kept_of: list[BoolArray] = []  # the current place's column
    for i, p in enumerate(problem.patients):
        unplaced = view.unplaced_cost(p)
        offset += unplaced
        eligible = np.flatnonzero(view.screen(i).eligible)
        if eligible.size == 0:
            constant += unplaced
            continue
        days = np.arange(p.earliest_day, horizon)
        f_grid, d_grid = np.meshgrid(eligible, days, indexing="ij")
        if view.has_acceptance_ends:  # no column after a facility stops admitting them
            open_ = d_grid <= view.last_days(p.organisation)[f_grid]
            f_grid, d_grid = f_grid[open_], d_grid[open_]
            if not f_grid.size:
                constant += unplaced
                continue
        travel = w.travel_per_km * view.distance[view.origin_of[i], f_grid]
        cost = view.day_cost(p)[d_grid] + travel
        if p.current is not None:
            moved = f_grid != problem.facility_index[p.current.facility]
            cost = cost + w.change * moved
            # a re-plan of unchanged input keeps the current place where another costs the
            # same, as the exact engine does (its `KEEP_BONUS`; two identical patients had
            # their admission days swapped): the place kept costs the solver a little less
            kept_of.append((~moved & (d_grid == p.current.day)).ravel())
        else:
            kept_of.append(np.zeros(f_grid.size, dtype=bool))
        lower += min(0.0, float(cost.min()) - unplaced)
        patient_of.append(np.full(f_grid.size, i, dtype=np.int64))
        facility_of.append(f_grid.ravel())
        day_of.append(d_grid.ravel())
        costs.append((cost - unplaced).ravel())
    model = LinearModel()
    # HiGHS's relative gap, and so the bonus below, is of what it sees: not of the patients
    # with no place to go (ten urgent ones had made the bonus outweigh a cheaper move)
    model.offset = offset - constant
    if not costs:
        return assemble_plan(
            problem, view, {}, status=PlanStatus.OPTIMAL, bound=offset,
            solver=SOLVER_NAME, started=started,
        )  # fmt: skip
    pat = np.concatenate(patient_of)
    fac = np.concatenate(facility_of)
    day = np.concatenate(day_of)
    # each column's cost less its patient's unplaced cost, less the bonus of a kept place: far
    # below any real cost, and above what HiGHS's gap lets it leave (the exact engine's rule,
    # for this model's gap); "optimal" is then up to it per patient with a current place, as
    # for the exact engine
    bonus = keep_bonus_for(offset - constant, offset - constant + lower, MIP_REL_GAP)
    true_cost = np.concatenate(costs)
    column_cost = true_cost - bonus * np.concatenate(kept_of)
    x = model.add_columns(column_cost, 0.0, 1.0, integer=True)
    if progress is not None:
        progress(f"per-patient MIP: {len(x)} binaries")

    once = model.add_rows(np.full(len(problem.patients), -np.inf), 1.0)
    model.add_entries(once[pat], x, 1.0)

    spec = np.array([view.specialty_index[problem.patients[i].specialty] for i in pat])
    stay = np.array([problem.patients[i].length_of_stay_days for i in pat])
    n_spec = view.beds.shape[1]
    rows_r: list[IntArray] = []
    cols_r: list[IntArray] = []
    for offset_day in range(horizon):
        covered = day + offset_day
        hit = (offset_day < stay) & (covered < horizon)
        rows_r.append((fac[hit] * n_spec + spec[hit]) * horizon + covered[hit])
        cols_r.append(x[hit])
    bed_key = np.concatenate(rows_r)
    used_keys, bed_local = np.unique(bed_key, return_inverse=True)
    fi, rest = np.divmod(used_keys, n_spec * horizon)
    si, di = np.divmod(rest, horizon)
    bed_rows = model.add_rows(np.full(len(used_keys), -np.inf), view.beds[fi, si, di].astype(float))
    model.add_entries(bed_rows[bed_local], np.concatenate(cols_r), 1.0)

    limited = view.admission_limit[fac, day] >= 0
    if limited.any():
        adm_key = fac[limited] * horizon + day[limited]
        keys, local = np.unique(adm_key, return_inverse=True)
        room = view.admission_limit[keys // horizon, keys % horizon]
        rows = model.add_rows(np.full(len(keys), -np.inf), room.astype(float))
        model.add_entries(rows[local], x[limited], 1.0)

    _add_quotas(view, model, pat, fac, day, x)
    _add_groups(problem, model, pat, fac, x)
    # in the worker process of the exact engine's MIPs: the same threads, and stopped from
    # outside if HiGHS runs past its limit
    outcome = solve_mip(
        model.arrays(integer=True),
        time_limit=started + time_limit - time.perf_counter(),
        kill_at=started + time_limit + KILL_GRACE_SECONDS,
    )
    result = outcome.result
    placed: dict[str, Placement] = {}
    if result.values is not None:
        chosen = np.flatnonzero(result.values[x] > 0.5)
        for j in chosen:
            placed[problem.patients[pat[j]].id] = (problem.facilities[fac[j]].id, int(day[j]))
    # every patient at its own cheapest place or left out, beds ignored: a lower bound that
    # holds when HiGHS was stopped before it had one of its own
    # (of true costs: of the solver's, less the bonuses, it had fallen below 0 for a plan of
    # three patients kept at no cost, found by a review)
    cheapest = np.zeros(len(problem.patients))
    np.minimum.at(cheapest, pat, true_cost)
    alone = offset + float(cheapest.sum())
    bound = max(result.dual_bound + constant, alone)  # of solver costs: of true costs too
    objective = breakdown_of(problem, view, placed).total
    # optimal where HiGHS proved it up to the bonuses and they are small enough, or where the
    # bound (which holds for true costs) proves it outright
    optimal = (result.optimal and bonus_within_tolerance(problem, objective, bonus)) or (
        result.values is not None and relative_gap(objective, bound) <= OPTIMAL_GAP
    )
    status = PlanStatus.OPTIMAL if optimal else PlanStatus.FEASIBLE
    solver = f"per-patient MIP, {SOLVER_NAME}"
    # moves at no gain, below what HiGHS resolves of the bonus, undone
    facility, day, _ = back_to_current(
        problem, view, *placement_arrays(problem, placed), objective, lambda _: None
    )
    return assemble_plan_arrays(
        problem, view, facility, day, status=status, bound=bound, solver=solver, started=started
    )


def _add_quotas(
    view: ProblemView,
    model: LinearModel,
    pat: IntArray,
    fac: IntArray,
    day: IntArray,
    x: IntArray,
) -> None:
    """One row per quota: the placements that count against it (at its facilities, on its
    days) are at most its room."""
    if not view.n_quotas:
        return
    rows = model.add_rows(np.full(view.n_quotas, -np.inf), view.quota_room.astype(float))
    start, quota = view.quota_lists()
    first = np.searchsorted(pat, np.arange(len(start)))  # pat runs in patient order
    for i in np.unique(pat).tolist():
        mine = quota[start[i] : start[i + 1]]
        if not len(mine):
            continue
        columns = np.arange(first[i], first[i + 1])
        for qi in mine.tolist():
            at = view.quota_facility[qi, fac[columns]] & view.quota_days[qi, day[columns]]
            counted = columns[at]
            model.add_entries(np.full(len(counted), rows[qi]), x[counted], 1.0)


def _add_groups(
    problem: Problem, model: LinearModel, pat: IntArray, fac: IntArray, x: IntArray
) -> None:
    """Group split cost: y[g, f] = group g uses f; z[g] = group has a placed member."""
    gs = problem.weights.group_split
    group_of = np.array([problem.patients[i].group or "" for i in pat])
    in_group = group_of != ""
    if not in_group.any():
        return
    groups = sorted(set(group_of[in_group].tolist()))
    gindex = {g: k for k, g in enumerate(groups)}
    g_of = np.array([gindex[g] for g in group_of[in_group]])
    f_of = fac[in_group]
    n_fac = len(problem.facilities)
    yg_keys, y_local = np.unique(g_of * n_fac + f_of, return_inverse=True)
    y = model.add_columns(np.full(len(yg_keys), gs), 0.0, 1.0, integer=True)
    z = model.add_columns(np.full(len(groups), -gs), 0.0, 1.0, integer=False)
    # link: sum over days of x[p, f, .] - y[g, f] <= 0, one row per (patient, facility)
    link_keys, link_local = np.unique(pat[in_group] * n_fac + f_of, return_inverse=True)
    link = model.add_rows(np.full(len(link_keys), -np.inf), 0.0)
    model.add_entries(link[link_local], x[in_group], 1.0)
    first_y = np.zeros(len(link_keys), dtype=np.int64)
    first_y[link_local] = y[y_local]
    model.add_entries(link, first_y, -1.0)
    # z[g] <= sum_f y[g, f]
    zrow = model.add_rows(np.full(len(groups), -np.inf), 0.0)
    model.add_entries(zrow, z, 1.0)
    model.add_entries(zrow[yg_keys // n_fac], y, -1.0)

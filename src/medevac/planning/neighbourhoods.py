"""Neighbourhood search by MIP: re-place one slice of the patients optimally, the rest held fixed.

A neighbourhood is a set of units (usually every unit of one specialty, together with every
member of the groups they belong to). Their patients are taken out of the plan; everyone else
keeps their place and the beds and admission slots they use. HiGHS then solves the MIP of the
freed patients over their cheapest columns by priced cost (plus the columns they held; in a
slice with a patient left unplaced, every unit also gets its cheapest column of each admission
day, since making room may take later admissions), within
the capacity left by the others: beds per (facility, specialty, day), admissions per
(facility, day), the room under each quota (`Problem.quotas`) its columns fall under (a column
of an admission day outside a quota's days, `Quota.days`, does not count against it), and the
group-split cost of the groups inside. The plan they held is handed to
HiGHS as its starting solution, so the result is never worse; it is kept when it is better.
The first sweep solves each slice's LP instead and rounds it (down, then the fractions largest
first, then the fill kernels for whoever is left); these LPs are nearly integral and solve in a
fraction of the MIP's time.

Why specialties: beds of different specialties are separate rows, so a specialty is the largest
slice whose patients compete only with each other (and, through admission limits, weakly with the
rest). Slices with unplaced patients go first: placing one saves its whole unplaced cost, which
the price-guided fill and the one-patient moves of the local search often cannot do because
several patients must move at once. Measured on the benchmark's M instance (10,000 patients):
with the LP's optimal prices choosing the candidates, one sweep took a price-guided plan from
216,751 to 204,158 and a second to 204,036; see docs/planning.md for the engine's own figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from medevac.planning import kernels
from medevac.planning.compact import NO_LIMIT, Compact, stay_days
from medevac.planning.highs_model import LinearModel
from medevac.planning.mip_process import solve_mip
from medevac.planning.model import occupancy

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

COLUMNS_PER_UNIT = 40
MAX_UNITS = 400  # a specialty with more units is searched in slices of about this many
# A slice whose MIP would have more rows than this is not solved: the slices are cut smaller
# (in proportion, down to MIN_UNITS) and the sweep starts again. Slices of 400 units have
# 8,000-15,500 rows on M and solve in 1-3 s; on L (1,000 facilities) the first slice of 400
# units had 23,600-27,200 rows, and in 60 s the search finished 2 slices and gained nothing,
# while slices of 100-250 units (9,500-17,500 rows) gained 12,000-17,000.
MAX_ROWS = 18_000
MIN_UNITS = 60
MIN_SECONDS = 0.2  # a neighbourhood is not started with less time than this left
LIMIT_SHARE = 0.9
MIP_GAP = 1e-3  # relative gap at which a neighbourhood's MIP stops
ROUNDING_TOLERANCE = 1e-6  # an LP value within this of an integer counts as that integer
RELOCATE_PASSES = 10  # one-patient moves among a rounded slice's patients
# HiGHS threads of a neighbourhood's MIP or LP: the price ascent runs on the other core
THREADS = 1


@dataclass(slots=True)
class Slots:
    """A plan as one slot per patient of each unit (facility -1 when unplaced)."""

    unit: IntArray
    facility: IntArray
    day: IntArray
    group: IntArray  # group of the slot's unit, -1 outside groups


def slot_costs(c: Compact, slots: Slots) -> FloatArray:
    """Each slot's own cost: travel, day and change when placed, else its unplaced cost."""
    placed = slots.facility >= 0
    own = c.column_costs(slots.unit, np.where(placed, slots.facility, 0), slots.day)
    return np.where(placed, own, c.unit_unplaced[slots.unit])


def slot_objective(c: Compact, slots: Slots) -> float:
    """True objective of the slots (patients without any eligible facility not included)."""
    total = float(slot_costs(c, slots).sum())
    grouped = (slots.facility >= 0) & (slots.group >= 0)
    if grouped.any():
        pairs = np.unique(np.stack([slots.group[grouped], slots.facility[grouped]], axis=1), axis=0)
        total += c.group_split * float(np.sum(np.maximum(np.bincount(pairs[:, 0]) - 1, 0)))
    return total


def neighbourhoods(
    c: Compact, slots: Slots, excess: FloatArray, max_units: int = MAX_UNITS
) -> list[IntArray]:
    """Unit sets to search, most promising first.

    One per specialty (sliced by origin when larger than ``max_units``), each completed with the
    members of its groups. Slices holding unplaced patients come first (most first): placing one
    saves far more than any move of a placed patient. Then the slices whose patients cost most
    above their cheapest priced column (``excess``, per unit), on average.
    """
    group_units = [c.group_unit[c.group_start[g] : c.group_start[g + 1]] for g in range(c.n_groups)]
    unplaced = np.bincount(slots.unit[slots.facility < 0], minlength=c.n_units)
    found: list[tuple[int, float, IntArray]] = []
    for s in np.unique(c.unit_specialty):
        units = np.flatnonzero(c.unit_specialty == s)
        slices = max(1, -(-len(units) // max_units))
        if slices > 1:
            units = units[np.argsort(c.unit_origin[units], kind="stable")]
        for part in np.array_split(units, slices):
            groups = np.unique(c.unit_group[part])
            members = [group_units[g] for g in groups if g >= 0]
            chosen = np.unique(np.concatenate([part, *members])) if members else part
            found.append(
                (int(unplaced[chosen].sum()), float(excess[chosen].mean()), chosen.astype(np.int64))
            )
    found.sort(key=lambda item: (-item[0], -item[1]))
    return [units for _, _, units in found]


def _capacity_left(
    c: Compact, slots: Slots, free: npt.NDArray[np.bool_]
) -> tuple[IntArray, IntArray]:
    """Beds [f, s, d] and admission slots [f, d] left by the slots not in ``free``."""
    used, admitted = _in_use(c, slots, ~free)
    return c.beds - used, c.limit - admitted


def _in_use(c: Compact, slots: Slots, which: npt.NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """Beds [f, s, d] and admissions [f, d] taken by the placed slots among ``which``."""
    held = which & (slots.facility >= 0)
    u = slots.unit[held]
    a = slots.day[held]
    end = np.minimum(a + c.unit_stay[u], c.horizon)
    ones = np.ones(len(u), dtype=np.int64)
    return occupancy(c.beds.shape, slots.facility[held], c.unit_specialty[u], a, end, ones)


def _solve_one(
    c: Compact,
    slots: Slots,
    units: IntArray,
    problem: tuple[object, ...],
    lam_cum: FloatArray,
    mu: FloatArray,
    deadline: float,
    repair: Repair | None = None,
) -> tuple[float, int]:
    """Re-place the patients of ``units`` by ``deadline``; apply the gain (0: none) and return
    it with the model's number of rows. A model of more than MAX_ROWS rows is not solved.

    With ``repair`` the model is solved as an LP and rounded (`_rounded`) instead of as a MIP.
    """
    horizon = c.horizon
    n_spec = c.beds.shape[1]
    inside = np.zeros(c.n_units, dtype=bool)
    inside[units] = True
    free = inside[slots.unit]
    beds_left, admissions_left = _capacity_left(c, slots, free)
    held = np.flatnonzero(free & (slots.facility >= 0))
    # with a patient left out, everyone may have to move to a later day to make room
    every_day = np.full(len(units), bool(np.any(free & (slots.facility < 0))))
    cu, cf, ca = kernels.cheapest_columns(units, COLUMNS_PER_UNIT, every_day, lam_cum, mu, problem)
    key = np.unique(
        np.stack(
            [
                np.concatenate([cu, slots.unit[held]]),
                np.concatenate([cf, slots.facility[held]]),
                np.concatenate([ca, slots.day[held]]),
            ],
            axis=1,
        ),
        axis=0,
    )
    cu, cf, ca = key[:, 0], key[:, 1], key[:, 2]
    n = len(cu)
    if n == 0:
        return 0.0, 0
    s = c.unit_specialty[cu]
    end = np.minimum(ca + c.unit_stay[cu], horizon)
    cost = c.column_costs(cu, cf, ca)
    local = np.full(c.n_units, -1, dtype=np.int64)
    local[units] = np.arange(len(units))

    # beds: one row per (facility, specialty, day) some column covers; admissions likewise
    column, day = stay_days(ca, end - ca)
    bed_key = (cf[column] * n_spec + s[column]) * horizon + day
    bed_keys, bed_of = np.unique(bed_key, return_inverse=True)
    limited = np.flatnonzero(c.limit[cf, ca] < NO_LIMIT)
    adm_keys, adm_of = np.unique(cf[limited] * horizon + ca[limited], return_inverse=True)
    # quotas: the columns that count against each (at its facilities, admitted on its days),
    # and the room the others leave it
    under = c.quota_row_member[c.unit_quota_row[cu]] & c.quota_facility[:, cf].T  # [column, q]
    if len(c.quota_room):
        under &= c.quota_days[:, ca].T
    quota_cols, quota_of = np.nonzero(under)
    quota_keys, quota_row_of = np.unique(quota_of, return_inverse=True)
    rows = len(bed_keys) + len(adm_keys) + len(quota_keys)
    if rows > MAX_ROWS:  # known before any of the model is built
        return 0.0, rows

    model = LinearModel()
    count = c.unit_count[units].astype(float)
    x = model.add_columns(cost, 0.0, c.unit_count[cu].astype(float), True)
    out = model.add_columns(c.unit_unplaced[units].astype(float), 0.0, count, True)
    unit_rows = model.add_rows(count, count)
    model.add_entries(unit_rows[local[cu]], x, 1.0)
    model.add_entries(unit_rows, out, 1.0)
    bf, rest = np.divmod(bed_keys, n_spec * horizon)
    bs, bd = np.divmod(rest, horizon)
    bed_rows = model.add_rows(np.full(len(bed_keys), -np.inf), beds_left[bf, bs, bd].astype(float))
    model.add_entries(bed_rows[bed_of], x[column], 1.0)
    af, ad = np.divmod(adm_keys, horizon)
    adm_rows = model.add_rows(
        np.full(len(adm_keys), -np.inf), admissions_left[af, ad].astype(float)
    )
    model.add_entries(adm_rows[adm_of], x[limited], 1.0)
    # the plan held so far is HiGHS's starting solution
    starting: list[tuple[IntArray, FloatArray]] = []
    column_of = {(int(cu[j]), int(cf[j]), int(ca[j])): j for j in range(n)}
    x_start = np.zeros(n)
    for k in held:
        x_start[column_of[(int(slots.unit[k]), int(slots.facility[k]), int(slots.day[k]))]] += 1
    if len(quota_keys):
        # a quota the plan already goes beyond keeps what the slice holds under it (the
        # slice's own plan stays a solution), so no slice takes it further
        outside = c.quota_use(slots.unit[~free], slots.facility[~free], slots.day[~free])
        outside = outside[quota_keys]
        inside = np.bincount(quota_row_of, weights=x_start[quota_cols], minlength=len(quota_keys))
        room = np.maximum(c.quota_room[quota_keys] - outside, inside)
        quota_rows = model.add_rows(np.full(len(quota_keys), -np.inf), room.astype(float))
        model.add_entries(quota_rows[quota_row_of], x[quota_cols], 1.0)
    starting.append((x, x_start))
    starting.append((out, count - np.bincount(local[cu], weights=x_start, minlength=len(units))))
    # groups inside: y[g, f] = group g uses f; w[g] = 1 if it uses any; split = gs (sum y - w)
    n_fac = c.beds.shape[0]
    for g in np.unique(c.unit_group[units]):
        if g < 0:
            continue
        members = c.group_unit[c.group_start[g] : c.group_start[g + 1]]
        mine = np.flatnonzero(np.isin(cu, members))
        facilities = np.unique(cf[mine])
        y = model.add_columns(np.full(len(facilities), c.group_split), 0.0, 1.0, True)
        w = model.add_columns(np.array([-c.group_split]), 0.0, 1.0, False)
        link_key, link_of = np.unique(cu[mine] * n_fac + cf[mine], return_inverse=True)
        links = model.add_rows(np.full(len(link_key), -np.inf), 0.0)
        model.add_entries(links[link_of], x[mine], 1.0)
        model.add_entries(links, y[np.searchsorted(facilities, link_key % n_fac)], -1.0)
        use = model.add_rows(np.array([-np.inf]), 0.0)
        model.add_entries(use, w, 1.0)
        model.add_entries(np.repeat(use, len(y)), y, -1.0)
        used = np.unique(cf[mine][x_start[mine] > 0])
        starting.append((y, np.isin(facilities, used).astype(float)))
        starting.append((w, np.array([1.0 if len(used) else 0.0])))
    relaxed = repair is not None
    start = None
    if not relaxed:
        start = np.zeros(model.n_cols)
        for cols, vals in starting:
            start[cols] = vals
    arrays = model.arrays(integer=not relaxed)
    before = slot_objective(c, slots)
    # handing the model over took time too: the limit counts from here. HiGHS checks its clock
    # between steps and stopped up to 0.25 s after its limit on M (3 s slices), so it gets
    # LIMIT_SHARE of what is left, less the time to read its answer; the worker running it
    # (mip_process.py) is stopped at the deadline if it has not answered by then
    left = LIMIT_SHARE * (deadline - time.perf_counter()) - MIN_SECONDS / 2
    if left <= 0.0:
        return 0.0, rows
    outcome = solve_mip(
        arrays,
        time_limit=left,
        kill_at=deadline,
        mip_rel_gap=MIP_GAP,
        threads=THREADS,
        start=start,
    )
    result = outcome.result
    if result.values is None:
        return 0.0, rows
    # rounded down, an LP point keeps every bed and admission row (all coefficients are >= 0)
    values = result.values[x]
    counts = np.floor(values + ROUNDING_TOLERANCE) if relaxed else np.rint(values)
    counts = counts.astype(np.int64)
    trial = Slots(slots.unit, slots.facility.copy(), slots.day.copy(), slots.group)
    trial.facility[free] = -1
    # the freed slots of each unit, in turn, take that unit's columns' counts
    freed = np.flatnonzero(free)
    freed = freed[np.argsort(slots.unit[freed], kind="stable")]
    first = np.searchsorted(slots.unit[freed], units)
    taken = np.zeros(len(units), dtype=np.int64)
    for j in np.flatnonzero(counts > 0):
        i = local[cu[j]]
        chosen = freed[first[i] + taken[i] : first[i] + taken[i] + counts[j]]
        trial.facility[chosen] = cf[j]
        trial.day[chosen] = ca[j]
        taken[i] += counts[j]
    if repair is not None:
        after = _rounded(c, trial, freed, (cu, cf, ca, values - counts), problem, repair)
    else:
        after = slot_objective(c, trial)
    gain = before - after
    if gain <= 1e-9:
        return 0.0, rows
    slots.facility[:] = trial.facility
    slots.day[:] = trial.day
    return gain, rows


@dataclass(frozen=True, slots=True)
class Repair:
    """What `_rounded` needs to place the patients an LP rounded down left out: the group
    arrays of the fill kernels (slot group, group start, group slots, split cost) and
    ``no_prices`` (zero bed prices, zero admission prices, cheapest day cost per combo and
    facility, combo of each unit, quota row of each unit, no quota prices), so that they go to
    their cheapest feasible place by true cost."""

    groups: tuple[Any, ...]
    no_prices: tuple[Any, ...]


def _rounded(
    c: Compact,
    trial: Slots,
    freed: IntArray,
    fractions: tuple[IntArray, IntArray, IntArray, FloatArray],
    problem: tuple[object, ...],
    repair: Repair,
) -> float:
    """Complete ``trial``, an LP point rounded down, in place, and return its objective: first
    the columns' fractional parts give one patient each while beds and admissions allow; then
    every freed slot still out goes to its cheapest feasible place, and one-patient moves among
    the freed follow.

    The fractions are taken in two orders, largest first and most urgent unit first, and the
    better completion is kept. Measured on the first slices of M in 10 s: urgent first lifted
    the one case where largest first left a priority patient out (a gain of 237 instead of
    10,878), but was 800 worse on another of eight.
    """
    cu, cf, ca, fraction = fractions
    used, admitted = _in_use(c, trial, np.ones(len(trial.unit), dtype=bool))
    under = c.quota_use(trial.unit, trial.facility, trial.day)
    waiting = freed[trial.facility[freed] < 0]  # freed is sorted by unit
    waiting_start = np.searchsorted(trial.unit[waiting], np.arange(c.n_units + 1)).astype(np.int64)
    rounded = np.flatnonzero(fraction > ROUNDING_TOLERANCE)
    urgent_first = freed[np.argsort(-c.unit_unplaced[trial.unit[freed]], kind="stable")]
    lam_cum, mu, low, unit_combo, unit_qrow, qcost = repair.no_prices
    best: tuple[float, IntArray, IntArray] | None = None
    for keys in ((-fraction[rounded],), (-fraction[rounded], -c.unit_unplaced[cu[rounded]])):
        order = rounded[np.lexsort(keys)]
        facility, day = trial.facility.copy(), trial.day.copy()
        capacity = kernels.capacity_of(
            used.copy(), c.beds, admitted.copy(), c.limit, c.rooms(under)
        )
        kernels.round_up(
            order, cu, cf, ca, waiting, waiting_start, facility, day, c.unit_specialty,
            c.unit_stay, capacity,
        )  # fmt: skip
        kernels.fill(
            urgent_first, trial.unit, repair.groups, facility, day, lam_cum, mu, problem,
            capacity, low, unit_combo, unit_qrow, qcost,
        )  # fmt: skip
        kernels.relocate(
            urgent_first, trial.unit, repair.groups, facility, day, problem, capacity,
            RELOCATE_PASSES, repair.no_prices,
        )  # fmt: skip
        value = slot_objective(c, Slots(trial.unit, facility, day, trial.group))
        if best is None or value < best[0]:
            best = (value, facility, day)
    assert best is not None
    trial.facility[:] = best[1]
    trial.day[:] = best[2]
    return best[0]


def improve(
    c: Compact,
    slots: Slots,
    problem: tuple[object, ...],
    lam_cum: FloatArray,
    mu: FloatArray,
    excess: FloatArray,
    deadline: float,
    say: Callable[[str], None],
    repair: Repair | None = None,
) -> float:
    """Search the neighbourhoods in turn, sweeping again while any helps; return the total gain.

    ``lam_cum`` and ``mu`` are the prices that choose each unit's candidate columns (cumulative
    bed prices [f, s, 0..H] and admission prices [f, d]); ``excess`` orders the neighbourhoods.
    With ``repair`` the first sweep solves LPs and rounds them (`_rounded`), which finds most
    of a slice's gain in a fraction of its MIP's time; the sweeps after it solve MIPs.
    Stops at ``deadline`` (a time.perf_counter() value); a MIP running then stops at its limit
    and keeps the best it found.
    """
    total = 0.0
    size = MAX_UNITS
    order = neighbourhoods(c, slots, excess, size)
    relaxed = repair is not None
    while True:
        swept = 0.0
        resized = False
        kind = "LP" if relaxed else "MIP"
        for number, units in enumerate(order, start=1):
            if deadline - time.perf_counter() < MIN_SECONDS:
                return total + swept
            gain, rows = _solve_one(
                c, slots, units, problem, lam_cum, mu, deadline, repair if relaxed else None
            )
            swept += gain
            if rows > MAX_ROWS and size > MIN_UNITS:
                # too large a model: cut every slice smaller and start the sweep again
                size = max(MIN_UNITS, min(size - 1, int(0.9 * size * MAX_ROWS / rows)))
                order = neighbourhoods(c, slots, excess, size)
                say(f"neighbourhood of {rows} rows: slices of {size} units now")
                resized = True
                break
            say(
                f"neighbourhood {number} of {len(order)} ({kind}): gain so far {total + swept:,.2f}"
            )
        total += swept
        if resized:
            continue
        if relaxed:  # the MIPs' sweeps follow the rounded LPs' one
            relaxed = False
            continue
        if swept <= 1e-9:
            return total

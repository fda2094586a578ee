"""Quotas of agreements (`Problem.quotas`) where the engines do not model them as rows.

The greedy baseline, the per-patient MIP and the exact engine's column generation keep to
quotas as constraints. The Lagrangian engine of large problems prices them (its bound sees
them), and its fill, local and neighbourhood searches keep to their rooms (`Compact.rooms`,
a quota row in each neighbourhood MIP). Where a quota may bind (`binding_quotas`), the exact
engine first solves the pooled LP (`pooled_prices`): a bound that sees the quotas, and prices
where the ascent starts. `keep_to_quotas` brings any plan within the quotas by taking out the
patients beyond them and placing them again where they fit (a safeguard for the Lagrangian
engine's plan).

A quota may hold on some days only (`Quota.days`): an admission counts against it only on one
of its days, here as in the engines' kernels and rows. The pooled LP has a column per admission
day and counts those exactly; the Lagrangian does not price such quotas (lagrangian.py), but
its plans keep to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medevac.planning.compact import Compact, hopeless_cost
from medevac.planning.model import (
    BoolArray,
    FloatArray,
    IntArray,
    ProblemView,
    cheapest_place,
    occupancy,
    open_places,
    quota_counts,
)
from medevac.planning.pooled import pooled_lp


def within_quotas(view: ProblemView, facility: IntArray, day: IntArray) -> bool:
    """Whether no quota has more placements counting against it than its room (``facility``,
    ``day``: each patient's facility index, -1 unplaced, and admission day)."""
    return bool((quota_counts(view, facility, day) <= view.quota_room).all())


def keep_to_quotas(
    view: ProblemView, facility: IntArray, day: IntArray
) -> tuple[IntArray, IntArray, int]:
    """The placement (facility, day over the patients) within every quota, and how many
    patients it moved or left out.

    Of the patients a quota has too many of (admitted at its facilities on its days), those
    with the smallest cost of being left out (least urgent), then admitted latest, then last in
    the file, are taken out, as many as it is over. Each is then placed, most urgent first, at
    its cheapest place that still has a bed for the whole stay, an admission slot and room
    under its quotas (a quota of some days only, `Quota.days`, with no room left closes its
    facilities on those days), or left out when none is cheaper than leaving it out.
    """
    facility, day = facility.copy(), day.copy()
    if not view.n_quotas:
        return facility, day, 0
    problem = view.problem
    patients = problem.patients
    counts = quota_counts(view, facility, day)
    over = counts - view.quota_room
    if (over <= 0).all():
        return facility, day, 0
    start, quota = view.quota_lists()
    members = view.quota_members()
    unplaced_cost = np.array([view.unplaced_cost(p) for p in patients])
    taken: list[int] = []
    horizon = view.horizon
    for q in np.flatnonzero(over > 0).tolist():
        placed = facility >= 0
        under = np.flatnonzero(
            members[:, q]
            & placed
            & view.quota_facility[q, np.where(placed, facility, 0)]
            & view.quota_days[q, np.where(placed, np.clip(day, 0, horizon - 1), 0)]
        )
        # the least urgent, then the latest admitted, then the last in the file leave first
        leave = under[np.lexsort((-under, -day[under], unplaced_cost[under]))]
        for i in leave[: counts[q] - view.quota_room[q]].tolist():
            mine = quota[start[i] : start[i + 1]]
            counts[
                mine[view.quota_facility[mine, facility[i]] & view.quota_days[mine, day[i]]]
            ] -= 1
            facility[i] = -1
            taken.append(i)
    where = np.flatnonzero(facility >= 0)
    specialty = np.array(
        [view.specialty_index.get(p.specialty, 0) for p in patients], dtype=np.int64
    )
    stay = np.array([p.length_of_stay_days for p in patients], dtype=np.int64)
    used, admitted = occupancy(
        view.beds.shape, facility[where], specialty[where], day[where],
        np.minimum(day[where] + stay[where], horizon), np.ones(len(where), dtype=np.int64),
    )  # fmt: skip
    for i in sorted(taken, key=lambda i: (-unplaced_cost[i], i)):
        p = patients[i]
        s = view.specialty_index[p.specialty]
        mine = quota[start[i] : start[i + 1]]
        full = mine[counts[mine] >= view.quota_room[mine]]
        # [facility, day]: the admissions a quota with no room left would count
        closed: BoolArray = np.any(
            view.quota_facility[full, :, None] & view.quota_days[full, None, :], axis=0
        )
        eligible = np.flatnonzero(view.screen(i).eligible & ~closed.all(axis=1))
        ok = np.zeros((view.n_facilities, horizon), dtype=bool)
        ok[eligible] = open_places(view, (used, admitted), s, eligible, p.length_of_stay_days)
        place = cheapest_place(view, i, ok & ~closed & view.open_days(i))
        if place is None or not place[0] < unplaced_cost[i]:
            continue  # no place left (every eligible facility's quota used up, say)
        _, f, a = place
        facility[i], day[i] = f, a
        used[f, s, a : min(a + p.length_of_stay_days, horizon)] += 1
        admitted[f, a] += 1
        counts[mine[view.quota_facility[mine, f] & view.quota_days[mine, a]]] += 1
    return facility, day, len(taken)


def _unit_quotas(view: ProblemView, compact: Compact) -> list[IntArray]:
    """The quotas each unit's patients fall under (units share organisation and specialty)."""
    first = compact.member_patient[compact.first_member()]
    return [view.quotas_of(int(i)) for i in first.tolist()]


def binding_quotas(view: ProblemView, compact: Compact) -> list[int]:
    """The quotas that may bind: more patients could go under them than their room (those
    who may go to one of its facilities and, for a quota of some days only, be admitted on
    one of its days, from their earliest day on)."""
    if not view.n_quotas:
        return []
    could = np.zeros(view.n_quotas, dtype=np.int64)
    c = compact
    for u, mine in enumerate(_unit_quotas(view, c)):
        if not len(mine):
            continue
        reach = view.quota_facility[mine][:, c.places(u)].any(axis=1)
        if view.quotas_have_days:
            reach &= view.quota_days[mine, int(c.unit_first[u]) :].any(axis=1)
        could[mine[reach]] += c.unit_count[u]
    return np.flatnonzero(could > view.quota_room).tolist()


@dataclass(frozen=True, slots=True)
class PooledBound:
    """The bound that sees quotas (`pooled_prices`) and its LP's prices, valid prices of the
    problem's Lagrangian: each pool's bed prices copied to its facilities [facility,
    specialty, day], and a price per quota (`Problem.quotas`, in order). At these prices the
    Lagrangian is at least the bound (every facility of a pool pays the pool's price for the
    beds the pool sums, and no unit's column costs less than its class's in the pool), where
    every quota holds on every day: the Lagrangian does not price a quota of some days only
    (`Quota.days`, lagrangian.py), so where the LP's row of one has a price, the Lagrangian at
    these prices may lie below the bound (both stay bounds)."""

    bound: float
    bed_prices: FloatArray
    quota_prices: FloatArray


def pooled_prices(view: ProblemView, compact: Compact, time_limit: float) -> PooledBound | None:
    """A lower bound that sees quotas: the pooled LP (`pooled_lp`) in which facilities that
    lie under the same quotas pool their beds and patients who share specialty, stay, day
    costs and quotas pool into one class, with a row per quota over the classes and pools it
    counts, with its prices; None when HiGHS does not solve it within ``time_limit`` seconds.

    Every plan maps onto a solution of that LP that costs no more, so its optimum is a lower
    bound. Where the quotas together leave room for fewer patients than need it, the Lagrangian
    bound (which does not price quotas) stays far below any plan; this one sees the patients
    that must be left out. A quota of some days only (`Quota.days`) counts the columns of its
    days alone (each column admits on one day), so the map of plans onto solutions holds for
    it too, and the bound sees it.
    """
    c = compact
    n_fac = c.beds.shape[0]
    hopeless = hopeless_cost(view, c)
    if c.n_units == 0:
        return PooledBound(hopeless, np.zeros(c.beds.shape), np.zeros(view.n_quotas))
    # pools: facilities under the same set of quotas
    signature = [tuple(np.flatnonzero(view.quota_facility[:, f]).tolist()) for f in range(n_fac)]
    pools: dict[tuple[int, ...], int] = {}
    pool_of = np.array([pools.setdefault(s, len(pools)) for s in signature], dtype=np.int64)
    pool_quotas = list(pools)
    # classes: units with the same specialty, stay, day costs and quotas
    unit_quotas = [tuple(q.tolist()) for q in _unit_quotas(view, c)]
    classes: dict[tuple[int, int, int, tuple[int, ...]], int] = {}
    class_of = np.array(
        [
            classes.setdefault(
                (int(c.unit_specialty[u]), int(c.unit_stay[u]), int(c.unit_day_cost[u]), qs),
                len(classes),
            )
            for u, qs in enumerate(unit_quotas)
        ],
        dtype=np.int64,
    )
    keys = list(classes)
    pooled = pooled_lp(c, class_of, pool_of)
    model, x, k, g, a = pooled.model, pooled.x, pooled.k, pooled.g, pooled.a
    quota_rows = model.add_rows(np.full(view.n_quotas, -np.inf), view.quota_room.astype(float))
    class_quota = np.zeros((len(keys), view.n_quotas), dtype=bool)
    for i, key in enumerate(keys):
        class_quota[i, list(key[3])] = True
    pool_quota = np.zeros((len(pools), view.n_quotas), dtype=bool)
    for j, quotas in enumerate(pool_quotas):
        pool_quota[j, list(quotas)] = True
    for q in range(view.n_quotas):
        counted = np.flatnonzero(class_quota[k, q] & pool_quota[g, q] & view.quota_days[q, a])
        model.add_entries(np.full(len(counted), quota_rows[q]), x[counted], 1.0)
    result = model.solve(integer=False, time_limit=time_limit)
    if not result.optimal or result.row_duals is None:
        return None
    return PooledBound(
        float(result.objective) + hopeless,
        pooled.bed_prices(result.row_duals, c.beds.shape)[pool_of],
        np.maximum(0.0, -result.row_duals[quota_rows]),
    )

"""Quotas of agreements (`Problem.quotas`) where the engines do not model them as rows.

The greedy baseline, the per-patient MIP and the exact engine's column generation keep to
quotas as constraints. The Lagrangian engine of large problems does not price them: where a
quota may bind (`binding_quotas`), the exact engine lets it solve without quotas first (its
bound holds, as quotas only restrict), then solves the problem in which each binding quota's
room is kept for the patients who lose most without it (`restricted_to_rooms`), starting from
the first solve's prices. `keep_to_quotas` brings any plan within the quotas by taking out the
patients beyond them and placing them again where they fit (the first solve's plan, and the
fallback when no time is left for the second).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from medevac.planning import kernels
from medevac.planning.compact import Compact
from medevac.planning.model import FloatArray, IntArray, ProblemView, quota_counts
from medevac.planning.problem import Problem


def within_quotas(view: ProblemView, facility: IntArray) -> bool:
    """Whether no quota has more placements counting against it than its room."""
    return bool((quota_counts(view, facility) <= view.quota_room).all())


def keep_to_quotas(
    view: ProblemView, facility: IntArray, day: IntArray
) -> tuple[IntArray, IntArray, int]:
    """The placement (facility, day over the patients) within every quota, and how many
    patients it moved or left out.

    Of the patients a quota has too many of, those with the smallest cost of being left out
    (least urgent), then admitted latest, then last in the file, are taken out, as many as it
    is over. Each is then placed, most urgent first, at its cheapest place that still has a
    bed for the whole stay, an admission slot and room under its quotas, or left out when none
    is cheaper than leaving it out.
    """
    facility, day = facility.copy(), day.copy()
    if not view.n_quotas:
        return facility, day, 0
    problem = view.problem
    patients = problem.patients
    counts = quota_counts(view, facility)
    over = counts - view.quota_room
    if (over <= 0).all():
        return facility, day, 0
    start, quota = view.quota_lists()
    unplaced_cost = np.array([view.unplaced_cost(p) for p in patients])
    taken: list[int] = []
    for q in np.flatnonzero(over > 0).tolist():
        under = [
            i
            for i in np.flatnonzero(facility >= 0).tolist()
            if q in quota[start[i] : start[i + 1]] and view.quota_facility[q, facility[i]]
        ]
        under.sort(key=lambda i: (unplaced_cost[i], -day[i], -i))
        for i in under[: counts[q] - view.quota_room[q]]:
            mine = quota[start[i] : start[i + 1]]
            counts[mine[view.quota_facility[mine, facility[i]]]] -= 1
            facility[i] = -1
            taken.append(i)
    horizon = view.horizon
    used = np.zeros_like(view.beds)
    admitted = np.zeros((view.n_facilities, horizon), dtype=np.int64)
    for i in np.flatnonzero(facility >= 0).tolist():
        p = patients[i]
        s = view.specialty_index[p.specialty]
        used[facility[i], s, day[i] : min(day[i] + p.length_of_stay_days, horizon)] += 1
        admitted[facility[i], day[i]] += 1
    limit = view.admission_limit
    w = problem.weights
    for i in sorted(taken, key=lambda i: (-unplaced_cost[i], i)):
        p = patients[i]
        s = view.specialty_index[p.specialty]
        eligible = np.flatnonzero(view.screen(i).eligible)
        mine = quota[start[i] : start[i + 1]]
        full = (
            view.quota_facility[mine][:, eligible]
            & (counts[mine] >= view.quota_room[mine])[:, None]
        )
        free = view.beds[eligible, s, :] - used[eligible, s, :]
        ok = np.zeros((len(eligible), horizon), dtype=bool)
        for a in range(p.earliest_day, horizon):
            ok[:, a] = free[:, a : min(a + p.length_of_stay_days, horizon)].min(axis=1) > 0
        ok &= (limit[eligible] < 0) | (admitted[eligible] < limit[eligible])
        ok &= ~np.asarray(full.any(axis=0))[:, None]
        travel = w.travel_per_km * view.distance[view.origin_of[i], eligible]
        if p.current is not None:
            travel = travel + w.change * (eligible != problem.facility_index[p.current.facility])
        cost = np.where(ok, view.day_cost(p)[None, :] + travel[:, None], np.inf)
        if not cost.size:
            continue
        fi, a = divmod(int(np.argmin(cost)), horizon)
        if not cost[fi, a] < unplaced_cost[i]:
            continue
        f = int(eligible[fi])
        facility[i], day[i] = f, a
        used[f, s, a : min(a + p.length_of_stay_days, horizon)] += 1
        admitted[f, a] += 1
        counts[mine[view.quota_facility[mine, f]]] += 1
    return facility, day, len(taken)


#: the capability and need that close a quota's facilities to the patients not chosen for its
#: room in `restricted_to_rooms` (internal: such problems are never written out)
CLOSED_BY = "\x00beyond quota "


def _unit_quotas(view: ProblemView, compact: Compact) -> list[IntArray]:
    """The quotas each unit's patients fall under (units share organisation and specialty)."""
    first = compact.member_patient[compact.first_member()]
    return [view.quotas_of(int(i)) for i in first.tolist()]


def binding_quotas(view: ProblemView, compact: Compact) -> list[int]:
    """The quotas that may bind: more patients could go under them than their room."""
    if not view.n_quotas:
        return []
    could = np.zeros(view.n_quotas, dtype=np.int64)
    c = compact
    for u, mine in enumerate(_unit_quotas(view, c)):
        if not len(mine):
            continue
        places = c.profile_facility[
            c.profile_start[c.unit_profile[u]] : c.profile_start[c.unit_profile[u] + 1]
        ]
        reach = view.quota_facility[mine][:, places].any(axis=1)
        could[mine[reach]] += c.unit_count[u]
    return np.flatnonzero(could > view.quota_room).tolist()


def _losses(
    view: ProblemView, compact: Compact, quotas: list[int], prices: tuple[FloatArray, FloatArray]
) -> dict[int, list[tuple[int, float]]]:
    """Per quota of ``quotas``: (unit, loss) for each unit that could go under it, where the loss
    is what the unit's patient loses without the quota's facilities at the bed and admission
    ``prices``: its cheapest priced place elsewhere (or being left out) less its cheapest
    priced place at them."""
    c = compact
    bed_prices, admission_prices = prices
    n_fac, n_spec, horizon = c.beds.shape
    lam_cum = np.zeros((n_fac, n_spec, horizon + 1))
    np.cumsum(bed_prices, axis=2, out=lam_cum[:, :, 1:])
    key = np.stack([c.unit_specialty, c.unit_stay, c.unit_day_cost], axis=1)
    combos, unit_combo = np.unique(key, axis=0, return_inverse=True)
    unit_combo = unit_combo.ravel()
    low, _, _ = kernels.combo_prices(
        0.0, lam_cum, admission_prices, c.day_cost, c.offers,
        *(np.ascontiguousarray(combos[:, k], dtype=np.int64) for k in range(3)),
    )  # fmt: skip
    found: dict[int, list[tuple[int, float]]] = {q: [] for q in quotas}
    for u, mine in enumerate(_unit_quotas(view, c)):
        wanted = [q for q in mine.tolist() if q in found]
        if not wanted:
            continue
        p0, p1 = c.profile_start[c.unit_profile[u]], c.profile_start[c.unit_profile[u] + 1]
        places = c.profile_facility[p0:p1]
        cost = c.travel[c.unit_origin[u], places] + low[unit_combo[u], places]
        if c.unit_current[u] >= 0:
            cost = cost + c.change * (places != c.unit_current[u])
        for q in wanted:
            inside = view.quota_facility[q, places]
            if inside.any():
                elsewhere = float(cost[~inside].min(initial=np.inf))
                alternative = min(float(c.unit_unplaced[u]), elsewhere)
                found[q].append((u, alternative - float(cost[inside].min())))
    return found


def restricted_to_rooms(
    view: ProblemView,
    compact: Compact,
    quotas: list[int],
    facility: IntArray,
    prices: tuple[FloatArray, FloatArray],
) -> tuple[Problem, int]:
    """The problem in which only as many patients as each of ``quotas`` has room for may go to
    its facilities, and how many patients were closed out of some.

    Those who keep a quota's room: first the patients ``facility`` (a plan over the patients)
    places under it, then the others; within each, those who lose most by going elsewhere, at
    the bed and admission ``prices`` (the Lagrangian engine's): the cheapest priced place
    outside the quota's facilities (or being left out) less the cheapest at them. The others
    get a need that only the facilities outside the quota meet. Every plan of that problem
    keeps to the quotas; its objective is the same function of the placement.
    """
    problem = view.problem
    c = compact
    first = c.first_member()
    closed: dict[int, set[int]] = {}  # patient -> quotas closed to it
    for q, units in _losses(view, c, quotas, prices).items():
        ranked: list[tuple[bool, float, int]] = []
        for u, loss in units:
            for i in c.member_patient[first[u] : first[u] + c.unit_count[u]].tolist():
                placed_under = facility[i] >= 0 and bool(view.quota_facility[q, facility[i]])
                ranked.append((not placed_under, -loss, i))
        ranked.sort()
        for _, _, i in ranked[int(view.quota_room[q]) :]:
            closed.setdefault(i, set()).add(q)
    if not closed:
        return problem, 0
    ids = problem.quotas
    patients = tuple(
        replace(p, needs=p.needs | {CLOSED_BY + ids[q].id for q in closed[i]}) if i in closed else p
        for i, p in enumerate(problem.patients)
    )
    shut = sorted({q for qs in closed.values() for q in qs})
    facilities = tuple(
        replace(
            f,
            capabilities=f.capabilities
            | {CLOSED_BY + ids[q].id for q in shut if not view.quota_facility[q, k]},
        )
        for k, f in enumerate(problem.facilities)
    )
    return replace(problem, patients=patients, facilities=facilities), len(closed)

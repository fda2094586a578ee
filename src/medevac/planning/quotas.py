"""Quotas of agreements (`Problem.quotas`) for the engines that do not model them.

The greedy baseline, the per-patient MIP and the exact engine's column generation keep to
quotas as constraints. The Lagrangian engine of large problems and the neighbourhood search
do not price them; their plans go through `keep_to_quotas`, which takes out the patients
placed beyond a quota and places them again where they fit. The bound of such a solve is the
bound without quotas: a lower bound still, since quotas only restrict.
"""

from __future__ import annotations

import numpy as np

from medevac.planning.model import IntArray, ProblemView, quota_counts


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

"""Compiled kernels of the Lagrangian engine: pricing every column, and a capacity-exact fill;
and the greedy baseline's placement loop (`greedy_place`).

Reduced cost of admitting one patient of unit u at facility f on day a, given non-negative prices
``lam`` on beds (facility, specialty, day) and ``mu`` on admissions (facility, day):

    travel[origin(u), f] + day_cost[u, a] + change (if u has another current facility)
    + sum of lam[f, s(u), d] for d in a .. min(a + stay(u), H) - 1 + mu[f, a]
    + sum of kappa[q] over u's quotas q at f (``quota_facility[q, f]``) that hold on day a

The quotas that hold on every day add their prices per (quota row, facility) (``qcost``), those
of some days only per (quota row, facility, day) inside the minimum over days (``qcost_days``,
`combo_prices`); both are empty arrays where no quota is priced, and the kernels then take the
paths they take without quotas.

The minimum over all columns (or leaving u unplaced) gives the Lagrangian bound. Facilities of a
unit's profile are sorted by travel cost, and no column of a facility can cost less than its travel
plus the unit's cheapest day, so the scan stops there: the minimum is exact for every unit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

_F = TypeVar("_F", bound=Callable[..., Any])
Array = npt.NDArray[Any]
# numba has no type information; keep the decorated functions' signatures for mypy.
_compiled = cast(Callable[[_F], _F], numba.njit(cache=True, nogil=True))
_parallel = cast(Callable[[_F], _F], numba.njit(cache=True, nogil=True, parallel=True))


@_compiled
def _fits(
    f: int,
    s: int,
    a: int,
    end: int,
    used: Array,
    beds: Array,
    admitted: Array,
    limit: Array,
) -> bool:
    if admitted[f, a] >= limit[f, a]:
        return False
    for d in range(a, end):  # noqa: SIM110 (a plain loop compiles to the tightest code)
        if used[f, s, d] >= beds[f, s, d]:
            return False
    return True


@_compiled
def _quota_open(
    f: int,
    a: int,
    q0: int,
    q1: int,
    quota_list: Array,
    quota_facility: Array,
    quota_days: Array,
    room: Array,
) -> bool:
    """Whether every quota of ``quota_list[q0:q1]`` that counts an admission at f on day a
    (``quota_facility[q, f]`` and ``quota_days[q, a]``) has room for one more."""
    for k in range(q0, q1):
        q = quota_list[k]
        if quota_facility[q, f] and room[q] <= 0 and quota_days[q, a]:
            return False
    return True


@_compiled
def _quota_shut(
    f: int, q0: int, q1: int, quota_list: Array, quota_facility: Array, quota_every: Array,
    room: Array,
) -> int:  # fmt: skip
    """How the quotas of ``quota_list[q0:q1]`` with no room left close f: 0 not at all, 2 on
    every day (one of them holds on every day, ``quota_every``), 1 on some days only (those
    of quotas that hold on some days: each day is then checked with `_quota_open`)."""
    shut = 0
    for k in range(q0, q1):
        q = quota_list[k]
        if quota_facility[q, f] and room[q] <= 0:
            if quota_every[q]:
                return 2
            shut = 1
    return shut


# When the horizon fits in a machine word, the fill kernels also keep free beds and admission
# slots as bit masks, one bit per day: bit d of bed_free[f, s] is set while (f, s) has a bed
# free on day d, bit a of adm_free[f] while f can still admit on day a. A facility with no free
# window for a stay is then passed over in a few word operations instead of a scan of its days.
# Longer horizons keep the day-by-day checks (the masks are then empty arrays).
MASK_DAYS = 62


@_compiled
def capacity_of(
    used: Array, beds: Array, admitted: Array, limit: Array, rooms: tuple[Any, ...]
) -> tuple[Any, ...]:
    """(used, beds, admitted, limit, bed_free, adm_free, rooms): the capacity of the fill kernels.

    ``used`` and ``admitted`` hold the beds and admissions already taken; the masks are derived
    from them here and kept up to date by every placement (``_take``). ``rooms`` is (room left
    per quota, CSR start and quotas of each quota row, quota_facility [quota, facility], quota
    row of each unit, quota_days [quota, day], whether each quota holds on every day) as
    `Compact.rooms` makes it; the room left is counted down and up by ``_take`` as well, for
    admissions on the quota's days only (an empty room array: no quotas).
    """
    n_fac, n_spec, horizon = beds.shape
    if horizon > MASK_DAYS:
        no_beds = np.zeros((0, 0), dtype=np.int64)
        return (used, beds, admitted, limit, no_beds, np.zeros(0, dtype=np.int64), rooms)
    bed_free = np.zeros((n_fac, n_spec), dtype=np.int64)
    adm_free = np.zeros(n_fac, dtype=np.int64)
    for f in range(n_fac):
        for d in range(horizon):
            if admitted[f, d] < limit[f, d]:
                adm_free[f] |= np.int64(1) << d
            for s in range(n_spec):
                if used[f, s, d] < beds[f, s, d]:
                    bed_free[f, s] |= np.int64(1) << d
    return (used, beds, admitted, limit, bed_free, adm_free, rooms)


@_compiled
def _count_quotas(
    f: int,
    a: int,
    q0: int,
    q1: int,
    quota_list: Array,
    quota_facility: Array,
    quota_days: Array,
    room: Array,
    sign: int,
) -> None:
    """Take (sign 1) or give back (sign -1) one place of room under each quota of
    ``quota_list[q0:q1]`` that counts an admission at f on day a."""
    for k in range(q0, q1):
        q = quota_list[k]
        if quota_facility[q, f] and quota_days[q, a]:
            room[q] -= sign


def no_rooms() -> tuple[Any, ...]:
    """The quota part of a capacity without quotas (`capacity_of`)."""
    empty = np.zeros(0, dtype=np.int64)
    no_quotas = np.zeros((0, 0), dtype=np.bool_)
    return (
        empty, np.zeros(1, dtype=np.int64), empty, no_quotas, empty, no_quotas,
        np.zeros(0, dtype=np.bool_),
    )  # fmt: skip


@_compiled
def _room_for(u: int, f: int, a: int, capacity: tuple[Any, ...]) -> bool:
    """Whether every quota unit u's patients fall under that counts an admission at f on day
    a has room for one more."""
    (room, row_start, row_list, quota_facility, unit_qrow, quota_days, _) = capacity[6]
    if len(room) == 0:
        return True
    r = unit_qrow[u]
    return _quota_open(
        f, a, row_start[r], row_start[r + 1], row_list, quota_facility, quota_days, room
    )


@_compiled
def _shut_for(u: int, f: int, capacity: tuple[Any, ...]) -> int:
    """How the quotas unit u's patients fall under that have no room left close f
    (`_quota_shut`: 0 not at all, 1 on some days, 2 on every day)."""
    (room, row_start, row_list, quota_facility, unit_qrow, _, quota_every) = capacity[6]
    if len(room) == 0:
        return 0
    r = unit_qrow[u]
    return _quota_shut(
        f, row_start[r], row_start[r + 1], row_list, quota_facility, quota_every, room
    )


@_compiled
def _closed_everywhere(
    u: int, lo: int, hi: int, profile_facility: Array, capacity: tuple[Any, ...]
) -> bool:
    """Whether a quota unit u's patients fall under has no room left at every facility of
    ``profile_facility[lo:hi]`` on every day (false at once without quotas): such a patient can
    go nowhere, and one scan of its facilities says so (where a scan of every facility's days
    would). Quotas that hold on some days only close their days: those are left to the scan."""
    if len(capacity[6][0]) == 0:
        return False
    for j in range(lo, hi):  # noqa: SIM110 (a plain loop compiles to the tightest code)
        if _shut_for(u, profile_facility[j], capacity) < 2:
            return False
    return True


@_compiled
def _open_days(bed_mask: int, adm_mask: int, stay: int, first: int, horizon: int) -> np.int64:
    """Bit mask of the admission days a >= first on which a stay of ``stay`` days fits, from a
    (facility, specialty)'s free-bed mask and its facility's admission mask."""
    days = adm_mask & (np.int64(-1) << first)
    free = bed_mask | (np.int64(-1) << horizon)  # days past the horizon count as free
    for i in range(stay):
        if days == 0:
            break
        days &= free >> i
    return days


@_compiled
def _cheapest(dc: Array, first: int) -> float:
    """The cheapest day cost from day ``first`` on."""
    low = dc[first]
    for a in range(first, len(dc)):
        low = min(low, dc[a])
    return float(low)


@_compiled
def _group_delta(
    k: int,
    f: int,
    slot_group: Array,
    slot_f: Array,
    group_start: Array,
    group_slot: Array,
    gs: float,
) -> float:
    """Change of the group-split cost if slot k (now unplaced) goes to facility f (-1: out)."""
    g = slot_group[k]
    if g < 0 or f < 0:
        return 0.0
    placed = 0
    same = False
    for j in range(group_start[g], group_start[g + 1]):
        other = group_slot[j]
        if other == k or slot_f[other] < 0:
            continue
        placed += 1
        if slot_f[other] == f:
            same = True
    if placed == 0 or same:
        return 0.0
    return gs


@_compiled
def _best_place(
    k: int,
    u: int,
    lam_cum: Array,
    mu: Array,
    problem: tuple[Any, ...],
    capacity: tuple[Any, ...],
    groups: tuple[Any, ...],
    slot_f: Array,
    low: Array,
    unit_combo: Array,
    unit_qrow: Array,
    qcost: Array,
) -> tuple[int, int, float]:
    """Cheapest feasible place of slot k by priced cost: (f, a, true cost) or (-1, -1, unplaced).

    ``low[combo(u), f]`` is the cheapest priced day cost at f, feasible or not: a facility where
    travel plus that is no better than the best place found is skipped. ``qcost`` [quota row,
    facility, 1 or 1 + horizon] holds the quotas' prices a column adds (empty: quotas not
    priced): ``qcost[r, f, 0]`` those of quotas of every day, and where it is longer
    ``qcost[r, f, 1 + a]`` those of quotas of some days only on admission day a (then in
    ``low`` too, `combo_prices`).
    """
    (travel, profile_start, profile_facility, day_cost, unit_profile, unit_origin,
     unit_specialty, unit_stay, unit_first, unit_day_cost, unit_current, unit_unplaced,
     change, unit_accept, accept_last) = problem  # fmt: skip
    (used, beds, admitted, limit, bed_free, adm_free, rooms) = capacity
    masked = len(adm_free) > 0
    (room, row_start, row_list, quota_facility, room_row, quota_days, quota_every) = rooms
    (slot_group, group_start, group_slot, gs) = groups
    grouped = slot_group[k] >= 0
    horizon = day_cost.shape[1]
    o = unit_origin[u]
    s = unit_specialty[u]
    stay = unit_stay[u]
    first = unit_first[u]
    dc = day_cost[unit_day_cost[u]]
    dc_min = _cheapest(dc, first)
    current = unit_current[u]
    unplaced = unit_unplaced[u]
    best_score = np.inf
    best_f = -1
    best_a = -1
    best_true = unplaced
    r0 = 0  # the unit's quotas: row_list[r0:r1]
    r1 = 0
    if len(room):
        r0 = row_start[room_row[u]]
        r1 = row_start[room_row[u] + 1]
    qr = 0  # the unit's row of qcost, and whether it prices days
    days = False
    if len(qcost) > 0:
        qr = unit_qrow[u]
        days = qcost.shape[2] > 1
    for j in range(profile_start[unit_profile[u]], profile_start[unit_profile[u] + 1]):
        f = profile_facility[j]
        t = travel[o, f]
        if t + dc_min >= best_score or t + dc_min >= unplaced:
            break
        # a quota with no room left closes f: checked first, in a few loads (where a quota of
        # the registry closes hundreds of the nearest facilities, most facilities end here).
        # `_room_for` inline: called here, on every facility scanned, it slowed L in 10 s
        # (no quotas) from about 10.9 % to 15.4-17.2 % (docs/benchmarks.md, "18:41-19:04 UTC").
        # A quota that holds on some days only (`Quota.days`) closes those days alone: they are
        # checked one by one, and only where a day would be the best place so far (``partly``)
        partly = False
        if len(room):
            shut = _quota_shut(f, r0, r1, row_list, quota_facility, quota_every, room)
            if shut == 2:
                continue
            partly = shut == 1
        open_days = np.int64(-1)
        if masked:  # first: the masks are small and cheap, ``low`` is large
            open_days = _open_days(bed_free[f, s], adm_free[f], stay, first, horizon)
            if open_days == 0:
                continue
        if current >= 0 and f != current:
            t += change
        extra = 0.0
        if grouped:
            extra = _group_delta(k, f, slot_group, slot_f, group_start, group_slot, gs)
        priced = 0.0  # the quotas' prices count in the score, not in the true cost
        if len(qcost) > 0:
            priced = qcost[qr, f, 0]
        if t + extra + priced + low[unit_combo[u], f] >= best_score:
            continue
        for a in range(first, min(horizon, accept_last[unit_accept[u], f] + 1)):
            if (open_days >> a) & 1 == 0:
                continue
            true = t + dc[a] + extra
            if true >= unplaced:
                continue
            end = min(a + stay, horizon)
            score = true + priced + lam_cum[f, s, end] - lam_cum[f, s, a] + mu[f, a]
            if days:
                score += qcost[qr, f, 1 + a]
            if score < best_score and (masked or _fits(f, s, a, end, used, beds, admitted, limit)):
                if partly and not _quota_open(
                    f, a, r0, r1, row_list, quota_facility, quota_days, room
                ):
                    continue
                best_score = score
                best_f = f
                best_a = a
                best_true = true
    return best_f, best_a, best_true


@_compiled
def _take(u: int, f: int, s: int, a: int, end: int, capacity: tuple[Any, ...], sign: int) -> None:
    """Take (sign 1) or give back (sign -1) a bed for a patient of unit u at (f, s) on days
    a .. end-1, admitted on a, with the room it uses under its quotas at f."""
    (used, beds, admitted, limit, bed_free, adm_free, rooms) = capacity
    admitted[f, a] += sign
    for d in range(a, end):
        used[f, s, d] += sign
    if len(adm_free):
        bit = np.int64(1) << a
        adm_free[f] = (adm_free[f] | bit) if admitted[f, a] < limit[f, a] else (adm_free[f] & ~bit)
        mask = bed_free[f, s]
        for d in range(a, end):
            bit = np.int64(1) << d
            mask = (mask | bit) if used[f, s, d] < beds[f, s, d] else (mask & ~bit)
        bed_free[f, s] = mask
    (room, row_start, row_list, quota_facility, unit_qrow, quota_days, _) = rooms
    if len(room):
        r = unit_qrow[u]
        _count_quotas(
            f, a, row_start[r], row_start[r + 1], row_list, quota_facility, quota_days, room, sign
        )


@_compiled
def fill(
    order: Array,
    slot_unit: Array,
    groups: tuple[Any, ...],
    slot_f: Array,
    slot_a: Array,
    lam_cum: Array,
    mu: Array,
    problem: tuple[Any, ...],
    capacity: tuple[Any, ...],
    low: Array,
    unit_combo: Array,
    unit_qrow: Array,
    qcost: Array,
) -> None:
    """Place the unplaced slots in ``order`` at their cheapest feasible place by priced cost
    (``qcost``: the quotas' prices, as in `_best_place`).

    ``used`` and ``admitted`` hold the occupancy of the slots already placed and are updated.
    """
    (slot_group, group_start, group_slot, gs) = groups
    (travel, profile_start, profile_facility, day_cost, unit_profile, unit_origin,
     unit_specialty, unit_stay, unit_first, unit_day_cost, unit_current, unit_unplaced,
     change, unit_accept, accept_last) = problem  # fmt: skip
    horizon = day_cost.shape[1]
    for k in order:
        if slot_f[k] >= 0:
            continue
        u = slot_unit[k]
        f, a, _ = _best_place(
            k,
            u,
            lam_cum,
            mu,
            problem,
            capacity,
            groups,
            slot_f,
            low,
            unit_combo,
            unit_qrow,
            qcost,
        )
        if f >= 0:
            _take(u, f, unit_specialty[u], a, min(a + unit_stay[u], horizon), capacity, 1)
            slot_f[k] = f
            slot_a[k] = a


@_compiled
def _slot_cost(
    k: int,
    u: int,
    f: int,
    a: int,
    travel: Array,
    day_cost: Array,
    unit_origin: Array,
    unit_day_cost: Array,
    unit_current: Array,
    unit_unplaced: Array,
    change: float,
) -> float:
    if f < 0:
        return float(unit_unplaced[u])
    t = float(travel[unit_origin[u], f] + day_cost[unit_day_cost[u], a])
    if unit_current[u] >= 0 and f != unit_current[u]:
        t += change
    return t


@_compiled
def relocate(
    order: Array,
    slot_unit: Array,
    groups: tuple[Any, ...],
    slot_f: Array,
    slot_a: Array,
    problem: tuple[Any, ...],
    capacity: tuple[Any, ...],
    max_passes: int,
    no_prices: tuple[Any, ...],
) -> float:
    """Move single patients to cheaper feasible places until no move helps; return the gain.

    ``no_prices`` is (zero bed prices, zero admission prices, cheapest day cost per combo and
    facility, combo of each unit, quota row of each unit, no quota prices): the search looks at
    true costs.
    """
    (lam_cum, mu, low, unit_combo, unit_qrow, qcost) = no_prices
    (slot_group, group_start, group_slot, gs) = groups
    (travel, profile_start, profile_facility, day_cost, unit_profile, unit_origin,
     unit_specialty, unit_stay, unit_first, unit_day_cost, unit_current, unit_unplaced,
     change, unit_accept, accept_last) = problem  # fmt: skip
    horizon = day_cost.shape[1]
    gain = 0.0
    for _ in range(max_passes):
        improved = 0.0
        for k in order:
            u = slot_unit[k]
            f0 = slot_f[k]
            a0 = slot_a[k]
            s = unit_specialty[u]
            stay = unit_stay[u]
            before = _slot_cost(
                k, u, f0, a0, travel, day_cost, unit_origin, unit_day_cost, unit_current,
                unit_unplaced, change,
            ) + _group_delta(k, f0, slot_group, slot_f, group_start, group_slot, gs)  # fmt: skip
            if f0 >= 0:
                _take(u, f0, s, a0, min(a0 + stay, horizon), capacity, -1)
            slot_f[k] = -1
            f, a, true = _best_place(
                k, u, lam_cum, mu, problem, capacity, groups, slot_f, low, unit_combo, unit_qrow,
                qcost,
            )  # fmt: skip
            if f >= 0 and true < before - 1e-9:
                improved += before - true
                slot_f[k] = f
                slot_a[k] = a
                _take(u, f, s, a, min(a + stay, horizon), capacity, 1)
            else:
                slot_f[k] = f0
                slot_a[k] = a0
                if f0 >= 0:
                    _take(u, f0, s, a0, min(a0 + stay, horizon), capacity, 1)
        gain += improved
        if improved <= 1e-9:
            break
    return gain


@_compiled
def fill_earliest(
    order: Array,
    slot_unit: Array,
    groups: tuple[Any, ...],
    slot_f: Array,
    slot_a: Array,
    problem: tuple[Any, ...],
    capacity: tuple[Any, ...],
    slot_current_day: Array,
) -> None:
    """Regulator's rule for the slots in ``order``: the current place while it is still free
    (``slot_current_day`` is -1 for a slot without one), else the earliest day with a free bed,
    nearest there.

    A facility the slot's group already uses is preferred on that day.
    """
    (slot_group, group_start, group_slot, gs) = groups
    (travel, profile_start, profile_facility, day_cost, unit_profile, unit_origin,
     unit_specialty, unit_stay, unit_first, unit_day_cost, unit_current, unit_unplaced,
     change, unit_accept, accept_last) = problem  # fmt: skip
    (used, beds, admitted, limit, _, _, _) = capacity
    horizon = day_cost.shape[1]
    for k in order:
        if slot_f[k] >= 0:
            continue
        u = slot_unit[k]
        o = unit_origin[u]
        s = unit_specialty[u]
        stay = unit_stay[u]
        lo = profile_start[unit_profile[u]]
        hi = profile_start[unit_profile[u] + 1]
        f = unit_current[u]
        a = slot_current_day[k]
        if f >= 0 and unit_first[u] <= a < horizon and a <= accept_last[unit_accept[u], f]:
            eligible = False
            for j in range(lo, hi):
                if profile_facility[j] == f:
                    eligible = True
                    break
            end = min(a + stay, horizon)
            kept = day_cost[unit_day_cost[u], a] + travel[o, f]
            if (
                eligible
                and kept < unit_unplaced[u] + change
                and _fits(f, s, a, end, used, beds, admitted, limit)
                and _room_for(u, f, a, capacity)
            ):
                _take(u, f, s, a, end, capacity, 1)
                slot_f[k] = f
                slot_a[k] = a
                continue
        if _closed_everywhere(u, lo, hi, profile_facility, capacity):
            continue
        for a in range(unit_first[u], horizon):
            end = min(a + stay, horizon)
            pick = -1
            for j in range(lo, hi):
                f = profile_facility[j]
                if a > accept_last[unit_accept[u], f]:
                    continue
                if _fits(f, s, a, end, used, beds, admitted, limit) and _room_for(
                    u, f, a, capacity
                ):
                    if pick < 0:
                        pick = f
                    if _group_delta(k, f, slot_group, slot_f, group_start, group_slot, gs) == 0.0:
                        pick = f
                        break
                    if slot_group[k] < 0:
                        break
            if pick >= 0:
                if day_cost[unit_day_cost[u], a] + travel[o, pick] < unit_unplaced[u]:
                    _take(u, pick, s, a, end, capacity, 1)
                    slot_f[k] = pick
                    slot_a[k] = a
                break


@_compiled
def greedy_place(
    order: Array,
    specialty: Array,
    stay: Array,
    earliest: Array,
    current_facility: Array,
    current_day: Array,
    group: Array,
    n_groups: int,
    profile: Array,
    start: Array,
    facilities: Array,
    beds: Array,
    limit: Array,
    quota_start: Array,
    quota_list: Array,
    quota_facility: Array,
    quota_room: Array,
    quota_days: Array,
    patient_accept: Array,
    accept_last: Array,
) -> tuple[Array, Array]:
    """The greedy baseline (greedy.py): (facility, day) of each patient in ``order``, -1 when
    unplaced; ``limit[f, a]`` is the admissions f may make on day a, NO_LIMIT for a facility
    without an admission limit. Patient i falls under the quotas
    ``quota_list[quota_start[i]:quota_start[i + 1]]``; an admission at f on day a counts
    against quota q where ``quota_facility[q, f]`` and ``quota_days[q, a]``, and a facility
    is passed over on the days on which one of them that counts there has no room left.

    A patient keeps its current place when that is still free. Otherwise: the earliest day on
    which some eligible facility fits the whole stay and can still admit; on that day the
    current facility, else the facility its group already uses, else the nearest. Facility f
    admits patient i up to day ``accept_last[patient_accept[i], f]``.
    """
    n_fac, _, horizon = beds.shape
    used = np.zeros_like(beds)
    admitted = np.zeros((n_fac, horizon), dtype=np.int64)
    group_facility = np.full(max(n_groups, 1), -1, dtype=np.int64)
    facility = np.full(len(order), -1, dtype=np.int64)
    day_of = np.zeros(len(order), dtype=np.int64)
    room = quota_room.copy()
    for i in order:
        s = specialty[i]
        first, last = start[profile[i]], start[profile[i] + 1]
        until = accept_last[patient_accept[i]]
        if s < 0 or first == last:
            continue
        # the preferred facilities (current, then the group's), when the patient may go there
        preferred_current = -1
        preferred_group = -1
        for j in range(first, last):
            if facilities[j] == current_facility[i]:
                preferred_current = current_facility[i]
            if group[i] >= 0 and facilities[j] == group_facility[group[i]]:
                preferred_group = group_facility[group[i]]
        # a facility where a quota of the patient is used up is passed over on that quota's
        # days (every day, for a quota without days)
        q0, q1 = quota_start[i], quota_start[i + 1]
        chosen_f = -1
        chosen_a = -1
        a = current_day[i]
        end = min(a + stay[i], horizon)
        if (
            preferred_current >= 0
            and earliest[i] <= a <= until[preferred_current]
            and _fits(preferred_current, s, a, end, used, beds, admitted, limit)
            and (
                q1 == q0
                or _quota_open(
                    preferred_current, a, q0, q1, quota_list, quota_facility, quota_days, room
                )
            )
        ):
            chosen_f, chosen_a = preferred_current, a
        a = earliest[i]
        while chosen_f < 0 and a < horizon:
            # on the earliest day anyone fits: the current facility, else the group's, else the
            # nearest
            end = min(a + stay[i], horizon)
            if (
                preferred_current >= 0
                and a <= until[preferred_current]
                and _fits(preferred_current, s, a, end, used, beds, admitted, limit)
                and (
                    q1 == q0
                    or _quota_open(
                        preferred_current, a, q0, q1, quota_list, quota_facility, quota_days, room
                    )
                )
            ):
                chosen_f = preferred_current
            elif (
                preferred_group >= 0
                and a <= until[preferred_group]
                and _fits(preferred_group, s, a, end, used, beds, admitted, limit)
                and (
                    q1 == q0
                    or _quota_open(
                        preferred_group, a, q0, q1, quota_list, quota_facility, quota_days, room
                    )
                )
            ):
                chosen_f = preferred_group
            else:
                for j in range(first, last):
                    if a > until[facilities[j]]:
                        continue
                    if _fits(facilities[j], s, a, end, used, beds, admitted, limit) and (
                        q1 == q0
                        or _quota_open(
                            facilities[j], a, q0, q1, quota_list, quota_facility, quota_days, room
                        )
                    ):
                        chosen_f = facilities[j]
                        break
            if chosen_f >= 0:
                chosen_a = a
            a += 1
        if chosen_f < 0:
            continue
        for d in range(chosen_a, min(chosen_a + stay[i], horizon)):
            used[chosen_f, s, d] += 1
        admitted[chosen_f, chosen_a] += 1
        _count_quotas(chosen_f, chosen_a, q0, q1, quota_list, quota_facility, quota_days, room, 1)
        facility[i] = chosen_f
        day_of[i] = chosen_a
        if group[i] >= 0 and group_facility[group[i]] < 0:
            group_facility[group[i]] = chosen_f
    return facility, day_of


# exp(-36) is below double precision's rounding error relative to the largest term (1): a
# softmin term this far above the minimum is left out without changing the sum
NEGLIGIBLE = 36.0


@_parallel
def combo_prices(
    tau: float,
    lam_cum: Array,
    mu: Array,
    day_cost: Array,
    offers: Array,
    combo_specialty: Array,
    combo_stay: Array,
    combo_day: Array,
    combo_accept: Array,
    accept_last: Array,
) -> tuple[Array, Array, Array]:
    """Per combo (specialty, stay, day-cost row, acceptance row) and facility: min and softmin
    over the days on which the facility admits the combo's patients."""
    n_combo = len(combo_specialty)
    n_fac = lam_cum.shape[0]
    horizon = day_cost.shape[1]
    low = np.full((n_combo, n_fac), np.inf)
    day = np.zeros((n_combo, n_fac), dtype=np.int64)
    soft = np.full((n_combo, n_fac), np.inf)
    for k in numba.prange(n_combo):
        s = combo_specialty[k]
        stay = combo_stay[k]
        dc = day_cost[combo_day[k]]
        values = np.empty(horizon)  # each day's priced cost at one facility, computed once
        for f in range(n_fac):
            if not offers[f, s]:
                continue
            m = np.inf
            best_a = 0
            last = accept_last[combo_accept[k], f]
            for a in range(horizon):
                if dc[a] == np.inf or a > last:
                    values[a] = np.inf
                    continue
                end = min(a + stay, horizon)
                v = dc[a] + lam_cum[f, s, end] - lam_cum[f, s, a] + mu[f, a]
                values[a] = v
                if v < m:
                    m = v
                    best_a = a
            low[k, f] = m
            day[k, f] = best_a
            if tau > 0.0 and m < np.inf:
                z = 0.0
                for a in range(horizon):
                    e = (values[a] - m) / tau
                    if e < NEGLIGIBLE:  # the others add less than the rounding error
                        z += np.exp(-e)
                soft[k, f] = m - tau * np.log(z)
            else:
                soft[k, f] = m
    return low, day, soft


@_parallel
def combo_prices_days(
    tau: float,
    lam_cum: Array,
    mu: Array,
    day_cost: Array,
    offers: Array,
    combo_specialty: Array,
    combo_stay: Array,
    combo_day: Array,
    combo_accept: Array,
    accept_last: Array,
    combo_qrow: Array,
    qcost_days: Array,
) -> tuple[Array, Array, Array]:
    """`combo_prices` where quotas of some days only are priced (``qcost_days`` not empty; the
    kernel without them is kept apart, unchanged, for problems without such quotas: one kernel
    for both, the day costs behind a flag, left L's 10-s gap at 14.27 % and 15.12 % against
    11.50 % with the two, 2026-12-07 09:38-09:39 UTC): per combo
    (specialty, stay, day-cost row, acceptance row, quota row) and facility, min and softmin
    over the days on which the facility admits the combo's patients.

    ``qcost_days[combo_qrow[k], f, a]`` (>= 0) is what the prices of the quotas of some days
    only (`Quota.days`) add to an admission on day a at f (an empty array: none is priced);
    the prices of quotas of every day are added per facility by the callers (`price_units`).
    """
    n_combo = len(combo_specialty)
    n_fac = lam_cum.shape[0]
    horizon = day_cost.shape[1]
    days = len(qcost_days) > 0
    low = np.full((n_combo, n_fac), np.inf)
    day = np.zeros((n_combo, n_fac), dtype=np.int64)
    soft = np.full((n_combo, n_fac), np.inf)
    for k in numba.prange(n_combo):
        s = combo_specialty[k]
        stay = combo_stay[k]
        dc = day_cost[combo_day[k]]
        values = np.empty(horizon)  # each day's priced cost at one facility, computed once
        for f in range(n_fac):
            if not offers[f, s]:
                continue
            m = np.inf
            best_a = 0
            last = accept_last[combo_accept[k], f]
            for a in range(horizon):
                if dc[a] == np.inf or a > last:
                    values[a] = np.inf
                    continue
                end = min(a + stay, horizon)
                v = dc[a] + lam_cum[f, s, end] - lam_cum[f, s, a] + mu[f, a]
                if days:
                    v += qcost_days[combo_qrow[k], f, a]
                values[a] = v
                if v < m:
                    m = v
                    best_a = a
            low[k, f] = m
            day[k, f] = best_a
            if tau > 0.0 and m < np.inf:
                z = 0.0
                for a in range(horizon):
                    e = (values[a] - m) / tau
                    if e < NEGLIGIBLE:  # the others add less than the rounding error
                        z += np.exp(-e)
                soft[k, f] = m - tau * np.log(z)
            else:
                soft[k, f] = m
    return low, day, soft


@_parallel
def price_units(
    tau: float,
    cutoff: float,
    low: Array,
    soft: Array,
    travel: Array,
    profile_start: Array,
    profile_facility: Array,
    unit_combo: Array,
    unit_profile: Array,
    unit_origin: Array,
    unit_current: Array,
    unit_count: Array,
    unit_unplaced: Array,
    unit_floor: Array,
    change: float,
    n_chunks: int,
    order: Array,
    unit_qrow: Array,
    qcost: Array,
) -> tuple[Array, Array, Array, Array]:
    """Per unit: exact minimum reduced cost and its facility, softmin, and facility weights.

    ``qcost[unit_qrow[u], f]`` (>= 0) is what the prices of u's quotas add at f (an empty
    array: no quota is priced).

    ``unit_floor[u]`` is a lower bound of ``soft[combo(u), f]`` over all f (cheapest day cost
    less tau * log(horizon)), so the scan of a profile stops once travel plus the floor is beyond
    reach. Facility weights (count x probability) of the softmin are summed per combo.
    Units are taken in ``order`` (a permutation): with the units of one combo together, the
    rows of ``low``, ``soft`` and the weights they read and add to stay in the cache (2.2-2.5x
    faster on L than in unit order, where the combo changes from one unit to the next).
    """
    n_units = len(unit_count)
    n_combo, n_fac = low.shape
    best = np.empty(n_units)
    best_f = np.full(n_units, -1, dtype=np.int64)
    smooth = np.empty(n_units)
    weight = np.zeros((n_chunks, n_combo, n_fac))
    slack = cutoff * tau
    quotas = len(qcost) > 0
    for c in numba.prange(n_chunks):
        values = np.empty(n_fac)
        where = np.empty(n_fac, dtype=np.int64)
        lo_u = c * n_units // n_chunks
        hi_u = (c + 1) * n_units // n_chunks
        for i_unit in range(lo_u, hi_u):
            u = order[i_unit]
            k = unit_combo[u]
            o = unit_origin[u]
            current = unit_current[u]
            unplaced = unit_unplaced[u]
            floor = unit_floor[u]
            m_exact = unplaced
            f_exact = -1
            m_soft = unplaced
            n = 0
            for j in range(profile_start[unit_profile[u]], profile_start[unit_profile[u] + 1]):
                f = profile_facility[j]
                t = travel[o, f]
                if t + floor - m_soft > slack:
                    break
                if current >= 0 and f != current:
                    t += change
                if quotas:
                    t += qcost[unit_qrow[u], f]
                v = t + low[k, f]
                if v < m_exact:
                    m_exact = v
                    f_exact = f
                v = t + soft[k, f]
                if v < m_soft:
                    m_soft = v
                values[n] = v
                where[n] = f
                n += 1
            best[u] = m_exact
            best_f[u] = f_exact
            if tau <= 0.0:
                smooth[u] = m_exact
                if f_exact >= 0:
                    weight[c, k, f_exact] += unit_count[u]
                continue
            z = np.exp(-(unplaced - m_soft) / tau)
            for i in range(n):
                e = values[i] - m_soft
                if e <= slack:
                    e = np.exp(-e / tau)
                    z += e
                else:
                    e = 0.0
                values[i] = e
            smooth[u] = m_soft - tau * np.log(z)
            scale = unit_count[u] / z
            for i in range(n):
                if values[i] > 0.0:
                    weight[c, k, where[i]] += scale * values[i]
    total = weight[0].copy()
    for c in range(1, n_chunks):
        total += weight[c]
    return best, best_f, smooth, total


@_parallel
def spread_weights(
    tau: float,
    weight: Array,
    low: Array,
    soft: Array,
    day: Array,
    lam_cum: Array,
    mu: Array,
    day_cost: Array,
    combo_specialty: Array,
    combo_stay: Array,
    combo_day: Array,
    combo_accept: Array,
    accept_last: Array,
) -> tuple[Array, Array]:
    """Occupancy [f, s, d] and admissions [f, d] implied by facility weights per combo.

    ``low`` and ``soft`` are combo_prices' minimum and softmin over days: the softmin's sum of
    exponentials is exp((low - soft) / tau), so each day's share needs one exponential.
    """
    n_combo, n_fac = weight.shape
    n_spec = lam_cum.shape[1]
    horizon = day_cost.shape[1]
    occ = np.zeros((n_fac, n_spec, horizon + 1))
    adm = np.zeros((n_fac, horizon))
    for f in numba.prange(n_fac):
        for k in range(n_combo):
            w = weight[k, f]
            if w == 0.0:
                continue
            s = combo_specialty[k]
            stay = combo_stay[k]
            if tau <= 0.0:
                a = day[k, f]
                occ[f, s, a] += w
                occ[f, s, min(a + stay, horizon)] -= w
                adm[f, a] += w
                continue
            dc = day_cost[combo_day[k]]
            m = low[k, f]
            z = np.exp((m - soft[k, f]) / tau)
            last = accept_last[combo_accept[k], f]
            for a in range(horizon):
                if dc[a] == np.inf or a > last:
                    continue
                end = min(a + stay, horizon)
                v = (dc[a] + lam_cum[f, s, end] - lam_cum[f, s, a] + mu[f, a] - m) / tau
                if v >= NEGLIGIBLE:
                    continue
                p = w * np.exp(-v) / z
                occ[f, s, a] += p
                occ[f, s, end] -= p
                adm[f, a] += p
        for s in range(n_spec):
            run = 0.0
            for d in range(horizon):
                run += occ[f, s, d]
                occ[f, s, d] = run
    return occ[:, :, :horizon], adm


@_parallel
def spread_weights_days(
    tau: float,
    weight: Array,
    low: Array,
    soft: Array,
    day: Array,
    lam_cum: Array,
    mu: Array,
    day_cost: Array,
    combo_specialty: Array,
    combo_stay: Array,
    combo_day: Array,
    combo_accept: Array,
    accept_last: Array,
    combo_qrow: Array,
    qcost_days: Array,
) -> tuple[Array, Array, Array]:
    """`spread_weights` where quotas of some days only are priced (the kernel without them is
    kept apart, unchanged): occupancy [f, s, d] and admissions [f, d] implied by facility
    weights per combo, and admissions per [quota row, f, d].

    ``low`` and ``soft`` are combo_prices' minimum and softmin over days: the softmin's sum of
    exponentials is exp((low - soft) / tau), so each day's share needs one exponential.
    ``combo_qrow`` and ``qcost_days`` as in `combo_prices`; with ``qcost_days`` empty the
    admissions per quota row come back empty.
    """
    n_combo, n_fac = weight.shape
    n_spec = lam_cum.shape[1]
    horizon = day_cost.shape[1]
    occ = np.zeros((n_fac, n_spec, horizon + 1))
    adm = np.zeros((n_fac, horizon))
    days = len(qcost_days) > 0
    n_rows = qcost_days.shape[0] if days else 0
    row_adm = np.zeros((n_rows, n_fac if days else 0, horizon if days else 0))
    for f in numba.prange(n_fac):
        for k in range(n_combo):
            w = weight[k, f]
            if w == 0.0:
                continue
            s = combo_specialty[k]
            stay = combo_stay[k]
            if tau <= 0.0:
                a = day[k, f]
                occ[f, s, a] += w
                occ[f, s, min(a + stay, horizon)] -= w
                adm[f, a] += w
                if days:
                    row_adm[combo_qrow[k], f, a] += w
                continue
            dc = day_cost[combo_day[k]]
            m = low[k, f]
            z = np.exp((m - soft[k, f]) / tau)
            last = accept_last[combo_accept[k], f]
            for a in range(horizon):
                if dc[a] == np.inf or a > last:
                    continue
                end = min(a + stay, horizon)
                v = dc[a] + lam_cum[f, s, end] - lam_cum[f, s, a] + mu[f, a] - m
                if days:
                    v += qcost_days[combo_qrow[k], f, a]
                v /= tau
                if v >= NEGLIGIBLE:
                    continue
                p = w * np.exp(-v) / z
                occ[f, s, a] += p
                occ[f, s, end] -= p
                adm[f, a] += p
                if days:
                    row_adm[combo_qrow[k], f, a] += p
        for s in range(n_spec):
            run = 0.0
            for d in range(horizon):
                run += occ[f, s, d]
                occ[f, s, d] = run
    return occ[:, :, :horizon], adm, row_adm


@_compiled
def group_bound(
    best: Array,
    low: Array,
    travel: Array,
    profile_start: Array,
    profile_facility: Array,
    unit_combo: Array,
    unit_profile: Array,
    unit_origin: Array,
    unit_current: Array,
    unit_unplaced: Array,
    change: float,
    group_start: Array,
    group_unit: Array,
    gs: float,
    unit_qrow: Array,
    qcost: Array,
) -> float:
    """What groups add to the Lagrangian: sum over groups of (group minimum - members' minima).
    ``qcost`` as in `price_units`.

    A group's members (units of one patient) either all stay unplaced, or use one facility
    (each member there or unplaced), or use two or more and pay at least one group split.
    """
    n_fac = low.shape[1]
    together = np.zeros(n_fac)
    reached = np.zeros(n_fac)  # unplaced costs of the members that can use f
    touched = np.empty(n_fac, dtype=np.int64)  # the facilities some member can use
    seen = np.zeros(n_fac, dtype=np.bool_)  # f is in touched
    total = 0.0
    for g in range(len(group_start) - 1):
        lo = group_start[g]
        hi = group_start[g + 1]
        if hi - lo < 2:
            continue
        members_best = 0.0
        all_out = 0.0
        for j in range(lo, hi):
            members_best += best[group_unit[j]]
            all_out += unit_unplaced[group_unit[j]]
        n_touched = 0
        for j in range(lo, hi):
            u = group_unit[j]
            for i in range(profile_start[unit_profile[u]], profile_start[unit_profile[u] + 1]):
                f = profile_facility[i]
                t = travel[unit_origin[u], f] + low[unit_combo[u], f]
                if unit_current[u] >= 0 and f != unit_current[u]:
                    t += change
                if len(qcost) > 0:
                    t += qcost[unit_qrow[u], f]
                if not seen[f]:
                    seen[f] = True
                    touched[n_touched] = f
                    n_touched += 1
                together[f] += min(t, unit_unplaced[u])
                reached[f] += unit_unplaced[u]
        single = all_out
        for i in range(n_touched):
            f = touched[i]
            # members that cannot use f are unplaced in this case
            single = min(single, together[f] + (all_out - reached[f]))
            together[f] = 0.0
            reached[f] = 0.0
            seen[f] = False
        total += min(all_out, single, members_best + gs) - members_best
    return total


@_compiled
def regroup(
    slot_unit: Array,
    groups: tuple[Any, ...],
    slot_f: Array,
    slot_a: Array,
    problem: tuple[Any, ...],
    capacity: tuple[Any, ...],
) -> float:
    """Bring split groups together at one facility when that lowers their cost; return the gain."""
    (slot_group, group_start, group_slot, gs) = groups
    (travel, profile_start, profile_facility, day_cost, unit_profile, unit_origin,
     unit_specialty, unit_stay, unit_first, unit_day_cost, unit_current, unit_unplaced,
     change, unit_accept, accept_last) = problem  # fmt: skip
    (used, beds, admitted, limit, _, _, _) = capacity
    horizon = day_cost.shape[1]
    n_fac = beds.shape[0]
    gain = 0.0
    old_f = np.empty(8, dtype=np.int64)
    old_a = np.empty(8, dtype=np.int64)
    new_a = np.empty(8, dtype=np.int64)
    best_a = np.empty(8, dtype=np.int64)
    eligible = np.zeros((8, n_fac), dtype=np.bool_)
    for g in range(len(group_start) - 1):
        lo = group_start[g]
        hi = group_start[g + 1]
        size = hi - lo
        if size < 2 or size > 8:
            continue
        distinct = 0
        current_cost = 0.0
        for j in range(lo, hi):
            k = group_slot[j]
            f = slot_f[k]
            current_cost += _slot_cost(
                k, slot_unit[k], f, slot_a[k], travel, day_cost, unit_origin, unit_day_cost,
                unit_current, unit_unplaced, change,
            )  # fmt: skip
            if f >= 0:
                seen = False
                for i in range(lo, j):
                    if slot_f[group_slot[i]] == f:
                        seen = True
                if not seen:
                    distinct += 1
        if distinct < 2:
            continue
        current_cost += gs * (distinct - 1)
        for j in range(lo, hi):
            k = group_slot[j]
            u = slot_unit[k]
            old_f[j - lo] = slot_f[k]
            old_a[j - lo] = slot_a[k]
            if slot_f[k] >= 0:
                s = unit_specialty[u]
                end = min(slot_a[k] + unit_stay[u], horizon)
                _take(u, slot_f[k], s, slot_a[k], end, capacity, -1)
            eligible[j - lo, :] = False
            for i in range(profile_start[unit_profile[u]], profile_start[unit_profile[u] + 1]):
                eligible[j - lo, profile_facility[i]] = True
        best_cost = current_cost
        best_f = -1
        first = group_slot[lo]
        u0 = slot_unit[first]
        for i in range(profile_start[unit_profile[u0]], profile_start[unit_profile[u0] + 1]):
            f = profile_facility[i]
            ok = True
            for j in range(lo, hi):
                if old_f[j - lo] >= 0 and not eligible[j - lo, f]:
                    ok = False
            if not ok:
                continue
            # no day can make the trial cheaper than travel plus each member's cheapest day
            floor = 0.0
            for j in range(lo, hi):
                u = slot_unit[group_slot[j]]
                if old_f[j - lo] < 0:
                    floor += unit_unplaced[u]
                else:
                    floor += travel[unit_origin[u], f] + day_cost[unit_day_cost[u], unit_first[u]]
            if floor >= best_cost - 1e-9:
                continue
            # place the members that were placed, one after the other, on their cheapest day
            cost = 0.0
            new_a[:] = -1
            for j in range(lo, hi):
                k = group_slot[j]
                u = slot_unit[k]
                if old_f[j - lo] < 0:
                    cost += unit_unplaced[u]
                    continue
                s = unit_specialty[u]
                dc = day_cost[unit_day_cost[u]]
                pick = -1
                shut = _shut_for(u, f, capacity)
                if shut == 2:
                    ok = False
                    break
                for a in range(unit_first[u], min(horizon, accept_last[unit_accept[u], f] + 1)):
                    end = min(a + unit_stay[u], horizon)
                    if (
                        (pick < 0 or dc[a] < dc[pick])
                        and _fits(f, s, a, end, used, beds, admitted, limit)
                        and (shut == 0 or _room_for(u, f, a, capacity))
                    ):
                        pick = a
                if pick < 0:
                    ok = False
                    break
                new_a[j - lo] = pick
                _take(u, f, s, pick, min(pick + unit_stay[u], horizon), capacity, 1)
                cost += _slot_cost(
                    k, u, f, pick, travel, day_cost, unit_origin, unit_day_cost, unit_current,
                    unit_unplaced, change,
                )  # fmt: skip
            for j in range(lo, hi):  # undo the trial
                if new_a[j - lo] >= 0:
                    u = slot_unit[group_slot[j]]
                    a = new_a[j - lo]
                    _take(u, f, unit_specialty[u], a, min(a + unit_stay[u], horizon), capacity, -1)
            if ok and cost < best_cost - 1e-9:
                best_cost = cost
                best_f = f
                for j in range(size):
                    best_a[j] = new_a[j]
        for j in range(lo, hi):
            k = group_slot[j]
            u = slot_unit[k]
            if best_f >= 0 and old_f[j - lo] >= 0:
                slot_f[k] = best_f
                slot_a[k] = best_a[j - lo]
            else:
                slot_f[k] = old_f[j - lo]
                slot_a[k] = old_a[j - lo]
            if slot_f[k] >= 0:
                _take(u, slot_f[k], unit_specialty[u], slot_a[k],
                      min(slot_a[k] + unit_stay[u], horizon), capacity, 1)  # fmt: skip
        if best_f >= 0:
            gain += current_cost - best_cost
    return gain


@_compiled
def expected_columns(
    tau: float,
    cutoff: float,
    low: Array,
    soft: Array,
    lam_cum: Array,
    mu: Array,
    day_cost: Array,
    travel: Array,
    profile_start: Array,
    profile_facility: Array,
    unit_combo: Array,
    unit_profile: Array,
    unit_origin: Array,
    unit_specialty: Array,
    unit_stay: Array,
    unit_day_cost: Array,
    unit_current: Array,
    unit_count: Array,
    unit_unplaced: Array,
    unit_floor: Array,
    change: float,
    threshold: float,
    unit_accept: Array,
    accept_last: Array,
    unit_qrow: Array,
    qcost: Array,
) -> tuple[Array, Array, Array, Array]:
    """Columns whose expected count under the softmin choice is at least ``threshold``
    (``qcost``: the quotas' prices, as in `_best_place`; ``low`` and ``soft`` include those
    of quotas of some days only, `combo_prices`).

    Returns parallel arrays (unit, facility, day, expected count), units in index order.
    """
    days = len(qcost) > 0 and qcost.shape[2] > 1
    n_units = len(unit_count)
    horizon = day_cost.shape[1]
    n_fac = low.shape[1]
    slack = cutoff * tau
    cap = 1024
    out_u = np.empty(cap, dtype=np.int64)
    out_f = np.empty(cap, dtype=np.int64)
    out_a = np.empty(cap, dtype=np.int64)
    out_x = np.empty(cap)
    n_out = 0
    values = np.empty(n_fac)
    where = np.empty(n_fac, dtype=np.int64)
    day_weight = np.empty(horizon)
    for u in range(n_units):
        k = unit_combo[u]
        o = unit_origin[u]
        s = unit_specialty[u]
        stay = unit_stay[u]
        dc = day_cost[unit_day_cost[u]]
        m_soft = unit_unplaced[u]
        n = 0
        for j in range(profile_start[unit_profile[u]], profile_start[unit_profile[u] + 1]):
            f = profile_facility[j]
            t = travel[o, f]
            if t + unit_floor[u] - m_soft > slack:
                break
            if unit_current[u] >= 0 and f != unit_current[u]:
                t += change
            if len(qcost) > 0:
                t += qcost[unit_qrow[u], f, 0]
            v = t + soft[k, f]
            if v < m_soft:
                m_soft = v
            values[n] = v
            where[n] = f
            n += 1
        z = np.exp(-(unit_unplaced[u] - m_soft) / tau)
        for i in range(n):
            e = values[i] - m_soft
            values[i] = np.exp(-e / tau) if e <= slack else 0.0
            z += values[i]
        for i in range(n):
            w = unit_count[u] * values[i] / z
            if w < threshold:
                continue
            f = where[i]
            m = low[k, f]
            zd = 0.0
            for a in range(horizon):
                day_weight[a] = 0.0
            last = accept_last[unit_accept[u], f]
            for a in range(horizon):
                c = dc[a]
                if c == np.inf or a > last:
                    continue
                end = min(a + stay, horizon)
                e = c + lam_cum[f, s, end] - lam_cum[f, s, a] + mu[f, a] - m
                if days:
                    e += qcost[unit_qrow[u], f, 1 + a]
                if e <= slack:
                    day_weight[a] = np.exp(-e / tau)
                    zd += day_weight[a]
            for a in range(horizon):
                x = w * day_weight[a] / zd
                if x >= threshold:
                    if n_out == cap:
                        cap *= 2
                        out_u = np.concatenate((out_u, np.empty(cap - n_out, dtype=np.int64)))
                        out_f = np.concatenate((out_f, np.empty(cap - n_out, dtype=np.int64)))
                        out_a = np.concatenate((out_a, np.empty(cap - n_out, dtype=np.int64)))
                        out_x = np.concatenate((out_x, np.empty(cap - n_out)))
                    out_u[n_out] = u
                    out_f[n_out] = f
                    out_a[n_out] = a
                    out_x[n_out] = x
                    n_out += 1
    return out_u[:n_out], out_f[:n_out], out_a[:n_out], out_x[:n_out]


@_compiled
def quota_fill(
    order: Array,
    slot_unit: Array,
    slot_f: Array,
    slot_a: Array,
    unit_first_slot: Array,
    column_start: Array,
    column_f: Array,
    column_a: Array,
    column_x: Array,
    unit_specialty: Array,
    unit_stay: Array,
    unit_count: Array,
    capacity: tuple[Any, ...],
    horizon: int,
) -> None:
    """Give each unit (in ``order``) its expected columns, rounded, as far as capacity allows.

    ``column_start`` is a CSR over units into the column arrays, largest expected count first.
    """
    (used, beds, admitted, limit, _, _, _) = capacity
    for u in order:
        k = unit_first_slot[u]
        left = unit_count[u]
        s = unit_specialty[u]
        for j in range(column_start[u], column_start[u + 1]):
            if left == 0:
                break
            f = column_f[j]
            a = column_a[j]
            end = min(a + unit_stay[u], horizon)
            want = min(left, int(np.floor(column_x[j] + 0.5)))
            while (
                want > 0
                and _fits(f, s, a, end, used, beds, admitted, limit)
                and _room_for(u, f, a, capacity)
            ):
                _take(u, f, s, a, end, capacity, 1)
                slot_f[k] = f
                slot_a[k] = a
                k += 1
                left -= 1
                want -= 1


@_compiled
def round_up(
    order: Array,
    column_unit: Array,
    column_f: Array,
    column_a: Array,
    waiting: Array,
    waiting_start: Array,
    slot_f: Array,
    slot_a: Array,
    unit_specialty: Array,
    unit_stay: Array,
    capacity: tuple[Any, ...],
) -> None:
    """Give waiting slots one more patient on the columns in ``order``, as far as capacity allows.

    ``waiting[waiting_start[u]:waiting_start[u + 1]]`` are unit u's slots without a place; each
    column in ``order`` takes the next of its unit's, if its stay and admission still fit.
    """
    (used, beds, admitted, limit, _, _, _) = capacity
    horizon = used.shape[2]
    next_slot = waiting_start[:-1].copy()
    for j in order:
        u = column_unit[j]
        if next_slot[u] >= waiting_start[u + 1]:
            continue
        f = column_f[j]
        a = column_a[j]
        s = unit_specialty[u]
        end = min(a + unit_stay[u], horizon)
        if _fits(f, s, a, end, used, beds, admitted, limit) and _room_for(u, f, a, capacity):
            _take(u, f, s, a, end, capacity, 1)
            k = waiting[next_slot[u]]
            next_slot[u] += 1
            slot_f[k] = f
            slot_a[k] = a


@_compiled
def place_groups(
    group_order: Array,
    slot_unit: Array,
    slot_f: Array,
    slot_a: Array,
    lam_cum: Array,
    mu: Array,
    problem: tuple[Any, ...],
    capacity: tuple[Any, ...],
    group_start: Array,
    group_slot: Array,
) -> None:
    """Place each group (in ``group_order``) together at the facility of lowest priced cost.

    Only groups with no member placed yet; a group is placed only if every member fits at one
    facility, each on its day of lowest priced cost there. The others are left to ``fill``.
    """
    (travel, profile_start, profile_facility, day_cost, unit_profile, unit_origin,
     unit_specialty, unit_stay, unit_first, unit_day_cost, unit_current, unit_unplaced,
     change, unit_accept, accept_last) = problem  # fmt: skip
    (used, beds, admitted, limit, _, _, _) = capacity
    horizon = day_cost.shape[1]
    n_fac = beds.shape[0]
    pick_a = np.empty(16, dtype=np.int64)
    keep_a = np.empty(16, dtype=np.int64)
    eligible = np.zeros((16, n_fac), dtype=np.bool_)
    for g in group_order:
        lo = group_start[g]
        hi = group_start[g + 1]
        size = hi - lo
        if size < 2 or size > 16:
            continue
        free = True
        for j in range(lo, hi):
            if slot_f[group_slot[j]] >= 0:
                free = False
        if not free:
            continue
        for j in range(lo, hi):
            u = slot_unit[group_slot[j]]
            eligible[j - lo, :] = False
            for i in range(profile_start[unit_profile[u]], profile_start[unit_profile[u] + 1]):
                eligible[j - lo, profile_facility[i]] = True
        best_score = np.inf
        best_f = -1
        u0 = slot_unit[group_slot[lo]]
        for i in range(profile_start[unit_profile[u0]], profile_start[unit_profile[u0] + 1]):
            f = profile_facility[i]
            ok = True
            floor = 0.0
            for j in range(lo, hi):
                u = slot_unit[group_slot[j]]
                if not eligible[j - lo, f]:
                    ok = False
                    break
                floor += travel[unit_origin[u], f] + day_cost[unit_day_cost[u], unit_first[u]]
            if not ok or floor >= best_score:
                continue
            score = 0.0
            true = 0.0
            out = 0.0
            pick_a[:] = -1
            for j in range(lo, hi):
                u = slot_unit[group_slot[j]]
                s = unit_specialty[u]
                out += unit_unplaced[u]
                t = travel[unit_origin[u], f]
                if unit_current[u] >= 0 and f != unit_current[u]:
                    t += change
                dc = day_cost[unit_day_cost[u]]
                best_rc = np.inf
                shut = _shut_for(u, f, capacity)
                if shut == 2:
                    ok = False
                    break
                for a in range(unit_first[u], min(horizon, accept_last[unit_accept[u], f] + 1)):
                    end = min(a + unit_stay[u], horizon)
                    rc = t + dc[a] + lam_cum[f, s, end] - lam_cum[f, s, a] + mu[f, a]
                    if (
                        rc < best_rc
                        and _fits(f, s, a, end, used, beds, admitted, limit)
                        and (shut == 0 or _room_for(u, f, a, capacity))
                    ):
                        best_rc = rc
                        pick_a[j - lo] = a
                if pick_a[j - lo] < 0:
                    ok = False
                    break
                a = pick_a[j - lo]
                _take(u, f, s, a, min(a + unit_stay[u], horizon), capacity, 1)
                score += best_rc
                true += t + dc[a]
            for j in range(lo, hi):
                if pick_a[j - lo] >= 0:
                    u = slot_unit[group_slot[j]]
                    a = pick_a[j - lo]
                    _take(u, f, unit_specialty[u], a, min(a + unit_stay[u], horizon), capacity, -1)
            if ok and true < out and score < best_score:
                best_score = score
                best_f = f
                for j in range(size):
                    keep_a[j] = pick_a[j]
        if best_f < 0:
            continue
        for j in range(lo, hi):
            k = group_slot[j]
            u = slot_unit[k]
            a = keep_a[j - lo]
            _take(u, best_f, unit_specialty[u], a, min(a + unit_stay[u], horizon), capacity, 1)
            slot_f[k] = best_f
            slot_a[k] = a


@_compiled
def _largest(values: Array, start: int) -> int:
    """Index of a largest value: ``start`` unless a later scan from index 0 finds a larger one
    (each larger value found replaces the candidate)."""
    best = start
    for i in range(len(values)):
        if values[i] > values[best]:
            best = i
    return best


@_compiled
def cheapest_columns(
    units: Array,
    per_unit: int,
    every_day: Array,
    lam_cum: Array,
    mu: Array,
    problem: tuple[Any, ...],
) -> tuple[Array, Array, Array]:
    """Candidate columns of each unit in ``units``: its ``per_unit`` columns of lowest priced
    cost and, where ``every_day`` (one flag per entry of ``units``) is set, also its column of
    lowest priced cost on every admission day.

    Only columns whose true cost is below leaving the patient unplaced are considered. Returns
    parallel arrays (unit, facility, day); a column can appear twice (best overall and best of
    its day). The day-by-day columns keep late admissions within reach even when prices on late
    days are high: in a specialty short of beds they are how the last patients get in.
    """
    (travel, profile_start, profile_facility, day_cost, unit_profile, unit_origin,
     unit_specialty, unit_stay, unit_first, unit_day_cost, unit_current, unit_unplaced,
     change, unit_accept, accept_last) = problem  # fmt: skip
    horizon = day_cost.shape[1]
    cap = max(1, len(units) * (per_unit + horizon))
    out_u = np.empty(cap, dtype=np.int64)
    out_f = np.empty(cap, dtype=np.int64)
    out_a = np.empty(cap, dtype=np.int64)
    n_out = 0
    kept_f = np.empty(per_unit, dtype=np.int64)
    kept_a = np.empty(per_unit, dtype=np.int64)
    kept_v = np.empty(per_unit)
    day_f = np.empty(horizon, dtype=np.int64)
    day_v = np.empty(horizon)
    for i_unit in range(len(units)):
        u = units[i_unit]
        o = unit_origin[u]
        s = unit_specialty[u]
        stay = unit_stay[u]
        dc = day_cost[unit_day_cost[u]]
        unplaced = unit_unplaced[u]
        n = 0
        worst = unplaced
        worst_i = 0
        day_f[:] = -1
        day_v[:] = np.inf if every_day[i_unit] else -np.inf
        dc_min = _cheapest(dc, unit_first[u])
        for j in range(profile_start[unit_profile[u]], profile_start[unit_profile[u] + 1]):
            f = profile_facility[j]
            t = travel[o, f]
            # prices are non-negative: once travel plus the cheapest day reaches every kept
            # value, no facility further away can improve any of them
            reach = worst
            for a in range(unit_first[u], horizon):
                reach = max(reach, day_v[a])
            if t + dc_min >= min(reach, unplaced):
                break
            if unit_current[u] >= 0 and f != unit_current[u]:
                t += change
            for a in range(unit_first[u], min(horizon, accept_last[unit_accept[u], f] + 1)):
                true = t + dc[a]
                if true >= unplaced:
                    continue
                end = min(a + stay, horizon)
                v = true + lam_cum[f, s, end] - lam_cum[f, s, a] + mu[f, a]
                if v < day_v[a]:
                    day_v[a] = v
                    day_f[a] = f
                if n < per_unit:
                    kept_f[n] = f
                    kept_a[n] = a
                    kept_v[n] = v
                    n += 1
                    if n == per_unit:
                        worst_i = _largest(kept_v, 0)
                        worst = kept_v[worst_i]
                elif v < worst:
                    kept_f[worst_i] = f
                    kept_a[worst_i] = a
                    kept_v[worst_i] = v
                    worst_i = _largest(kept_v, worst_i)
                    worst = kept_v[worst_i]
        for i in range(n):
            out_u[n_out] = u
            out_f[n_out] = kept_f[i]
            out_a[n_out] = kept_a[i]
            n_out += 1
        for a in range(horizon):
            if day_f[a] >= 0:
                out_u[n_out] = u
                out_f[n_out] = day_f[a]
                out_a[n_out] = a
                n_out += 1
    return out_u[:n_out], out_f[:n_out], out_a[:n_out]


@_compiled
def _victims(
    f: int,
    row: int,
    max_cost: float,
    slot_unit: Array,
    slot_group: Array,
    slot_f: Array,
    slot_a: Array,
    problem: tuple[Any, ...],
    held_start: Array,
    held_slot: Array,
    victim: Array,
    price: Array,
) -> None:
    """Per day, the patient in a bed at (f, s) (``row``) that costs least to leave out among
    those less urgent than ``max_cost`` (a smaller cost of being left out), not in a group:
    ``victim[d]`` (-1 if none) and ``price[d]``, what leaving it out adds."""
    (travel, profile_start, profile_facility, day_cost, unit_profile, unit_origin,
     unit_specialty, unit_stay, unit_first, unit_day_cost, unit_current, unit_unplaced,
     change, unit_accept, accept_last) = problem  # fmt: skip
    horizon = day_cost.shape[1]
    victim[:] = -1
    price[:] = np.inf
    for i in range(held_start[row], held_start[row + 1]):
        q = held_slot[i]
        if slot_f[q] != f or slot_group[q] >= 0:
            continue
        uq = slot_unit[q]
        if unit_unplaced[uq] >= max_cost:
            continue
        aq = slot_a[q]
        delta = unit_unplaced[uq] - _slot_cost(
            q, uq, f, aq, travel, day_cost, unit_origin, unit_day_cost, unit_current,
            unit_unplaced, change,
        )  # fmt: skip
        for d in range(aq, min(aq + unit_stay[uq], horizon)):
            if delta < price[d]:
                price[d] = delta
                victim[d] = q


@_compiled
def _evict_for(
    f: int,
    s: int,
    a: int,
    end: int,
    cost: float,
    max_cost: float,
    slot_unit: Array,
    slot_f: Array,
    slot_a: Array,
    unit_stay: Array,
    capacity: tuple[Any, ...],
    victim: Array,
    price: Array,
    evicted: Array,
) -> float:
    """Make room at (f, s) on days a .. end-1 by leaving ``victim`` patients out, one for each
    day with no free bed; return ``cost`` plus what that adds if the whole stays below
    ``max_cost`` and the stay then fits (the patients left out), else inf with nothing changed."""
    (used, beds, admitted, limit, bed_free, adm_free, _) = capacity
    horizon = used.shape[2]
    for d in range(a, end):
        if used[f, s, d] >= beds[f, s, d] and victim[d] < 0:
            return np.inf  # a full day no less urgent patient can free
    n_out = 0
    added = cost
    for d in range(a, end):
        if used[f, s, d] < beds[f, s, d]:
            continue  # free, or freed by a patient left out for an earlier day
        if added + price[d] >= max_cost:
            added = np.inf
            break
        q = victim[d]
        aq = slot_a[q]
        _take(slot_unit[q], f, s, aq, min(aq + unit_stay[slot_unit[q]], horizon), capacity, -1)
        slot_f[q] = -1
        evicted[n_out] = q
        n_out += 1
        added += price[d]
    if added < max_cost and _fits(f, s, a, end, used, beds, admitted, limit):
        return float(added)
    for i in range(n_out):  # undo
        q = evicted[i]
        aq = slot_a[q]
        _take(slot_unit[q], f, s, aq, min(aq + unit_stay[slot_unit[q]], horizon), capacity, 1)
        slot_f[q] = f
    return np.inf


@_compiled
def _place_moving_one(
    k: int,
    max_cost: float,
    slot_unit: Array,
    groups: tuple[Any, ...],
    slot_f: Array,
    slot_a: Array,
    problem: tuple[Any, ...],
    capacity: tuple[Any, ...],
    no_prices: tuple[Any, ...],
    held_start: Array,
    held_slot: Array,
    max_facilities: int,
    evict: bool,
) -> float:
    """Place the unplaced slot k so that the cost it adds is below ``max_cost``, moving at most
    one placed patient out of its way; return the cost added (k's cost and the moved patient's
    extra cost), or inf with nothing changed.

    k may go to an admission day a at one of its ``max_facilities`` cheapest eligible facilities
    f. Where (f, s) has no free bed on some days of the stay, those days must all lie in the stay
    of one patient q placed there (``held_slot`` from ``held_start[f * n_spec + s]``: the slots
    placed at (f, s) when the lists were made; a list may hold slots that moved since, which
    are passed over). q leaves, k takes its bed, and q goes to its cheapest feasible place by
    true cost, which may be the same facility on another day. Slots in groups are not moved.

    With ``evict``, less urgent patients (a smaller cost of being left out than ``max_cost``,
    k's own) give up their beds instead and are left out, one for each day of the stay with no
    free bed, the one that costs least to leave out (``_victims``, once per facility); the first
    place where the whole stays below ``max_cost`` is taken.
    """
    (lam_cum, mu, low, unit_combo, unit_qrow, qcost) = no_prices
    (slot_group, group_start, group_slot, gs) = groups
    (travel, profile_start, profile_facility, day_cost, unit_profile, unit_origin,
     unit_specialty, unit_stay, unit_first, unit_day_cost, unit_current, unit_unplaced,
     change, unit_accept, accept_last) = problem  # fmt: skip
    (used, beds, admitted, limit, bed_free, adm_free, rooms) = capacity
    (quota_left, row_start, row_list, quota_facility, room_row, quota_days, quota_every) = rooms
    horizon = day_cost.shape[1]
    n_spec = beds.shape[1]
    u = slot_unit[k]
    o = unit_origin[u]
    s = unit_specialty[u]
    stay = unit_stay[u]
    first = unit_first[u]
    dc = day_cost[unit_day_cost[u]]
    dc_min = _cheapest(dc, first)
    current = unit_current[u]
    victim = np.empty(horizon if evict else 0, dtype=np.int64)
    price = np.empty(horizon if evict else 0)
    evicted = np.empty(horizon if evict else 0, dtype=np.int64)
    r0 = 0  # the unit's quotas: row_list[r0:r1]
    r1 = 0
    if len(quota_left):
        r0 = row_start[room_row[u]]
        r1 = row_start[room_row[u] + 1]
    seen = 0
    for j in range(profile_start[unit_profile[u]], profile_start[unit_profile[u] + 1]):
        f = profile_facility[j]
        seen += 1
        if seen > max_facilities or travel[o, f] + dc_min >= max_cost:
            break
        partly = False  # `_shut_for` inline, as in `_best_place`
        if len(quota_left):
            shut = _quota_shut(f, r0, r1, row_list, quota_facility, quota_every, quota_left)
            if shut == 2:
                continue
            partly = shut == 1
        t = travel[o, f]
        if current >= 0 and f != current:
            t += change
        if evict:
            _victims(
                f, f * n_spec + s, max_cost, slot_unit, slot_group, slot_f, slot_a, problem,
                held_start, held_slot, victim, price,
            )  # fmt: skip
        for a in range(first, min(horizon, accept_last[unit_accept[u], f] + 1)):
            cost = t + dc[a]
            if cost >= max_cost or admitted[f, a] >= limit[f, a]:
                continue
            if partly and not _quota_open(
                f, a, r0, r1, row_list, quota_facility, quota_days, quota_left
            ):
                continue  # a quota of some days with no room left holds on day a
            end = min(a + stay, horizon)
            if evict:
                added = _evict_for(
                    f, s, a, end, cost, max_cost, slot_unit, slot_f, slot_a, unit_stay,
                    capacity, victim, price, evicted,
                )  # fmt: skip
                if added < np.inf:
                    _take(u, f, s, a, end, capacity, 1)
                    slot_f[k] = f
                    slot_a[k] = a
                    return added
                continue
            lo = -1
            hi = -1
            for d in range(a, end):
                if used[f, s, d] >= beds[f, s, d]:
                    if lo < 0:
                        lo = d
                    hi = d
            if lo < 0:  # it fits as it is
                _take(u, f, s, a, end, capacity, 1)
                slot_f[k] = f
                slot_a[k] = a
                return float(cost)
            row = f * n_spec + s
            for i in range(held_start[row], held_start[row + 1]):
                q = held_slot[i]
                if slot_f[q] != f or slot_group[q] >= 0:
                    continue
                uq = slot_unit[q]
                aq = slot_a[q]
                end_q = min(aq + unit_stay[uq], horizon)
                if aq > lo or end_q <= hi:
                    continue
                before_q = _slot_cost(
                    q, uq, f, aq, travel, day_cost, unit_origin, unit_day_cost,
                    unit_current, unit_unplaced, change,
                )  # fmt: skip
                _take(uq, f, s, aq, end_q, capacity, -1)
                slot_f[q] = -1
                if not _fits(f, s, a, end, used, beds, admitted, limit):
                    _take(uq, f, s, aq, end_q, capacity, 1)
                    slot_f[q] = f
                    continue
                _take(u, f, s, a, end, capacity, 1)
                slot_f[k] = f
                slot_a[k] = a
                # q may add at most this much and the whole move still stays below max_cost
                room = max_cost - cost + before_q
                fq, aq_new, true_q = _best_place(
                    q, uq, lam_cum, mu, problem, capacity, groups, slot_f, low, unit_combo,
                    unit_qrow, qcost,
                )  # fmt: skip
                if fq >= 0 and true_q < room:
                    _take(uq, fq, unit_specialty[uq], aq_new, min(aq_new + unit_stay[uq], horizon),
                          capacity, 1)  # fmt: skip
                    slot_f[q] = fq
                    slot_a[q] = aq_new
                    return float(cost + true_q - before_q)
                _take(u, f, s, a, end, capacity, -1)
                slot_f[k] = -1
                _take(uq, f, s, aq, end_q, capacity, 1)
                slot_f[q] = f
                slot_a[q] = aq
    return np.inf


@_compiled
def insert_by_ejection(
    order: Array,
    slot_unit: Array,
    groups: tuple[Any, ...],
    slot_f: Array,
    slot_a: Array,
    problem: tuple[Any, ...],
    capacity: tuple[Any, ...],
    no_prices: tuple[Any, ...],
    held_start: Array,
    held_slot: Array,
    max_facilities: int,
) -> float:
    """Place the unplaced slots in ``order`` (most urgent first) where that lowers the true
    cost, each moving at most one placed patient out of its way (``_place_moving_one``), or
    where no such move makes room, leaving less urgent patients out (``evict``);
    return the gain. Slots in groups are left to the other kernels."""
    (slot_group, group_start, group_slot, gs) = groups
    unit_unplaced = problem[11]
    least_urgent = np.min(unit_unplaced) if len(unit_unplaced) > 0 else 0.0
    gain = 0.0
    for k in order:
        if slot_f[k] >= 0 or slot_group[k] >= 0:
            continue
        out_cost = unit_unplaced[slot_unit[k]]
        added = _place_moving_one(
            k, out_cost, slot_unit, groups, slot_f, slot_a, problem, capacity,
            no_prices, held_start, held_slot, max_facilities, False,
        )  # fmt: skip
        if added == np.inf and out_cost > least_urgent:
            # no move makes room: less urgent patients may give up their beds. Patients of one
            # precedence trading places that way (one left out for another) left 94-103 out on
            # L in 10 s, against about 45, and the plans came out 1.5-3 % worse
            added = _place_moving_one(
                k, out_cost, slot_unit, groups, slot_f, slot_a, problem, capacity,
                no_prices, held_start, held_slot, max_facilities, True,
            )  # fmt: skip
        if added < np.inf:
            gain += out_cost - added
    return gain

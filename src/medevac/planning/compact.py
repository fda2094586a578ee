"""Array form of a problem for the compiled kernels: aggregated units, profiles and bed tables.

Patients who share origin, specialty, precedence, stay (capped at the horizon), earliest day,
needs, organisation and maximum distance are interchangeable and become one unit with a count.
Group members and patients with a current place stay units of their own. A profile is the
facility list a unit may use (origin, specialty, needs, organisation, maximum distance), sorted by
travel cost so that the kernels can stop scanning once travel alone exceeds what they look for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from medevac.planning.model import ProblemView

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

NO_LIMIT = 1 << 40


@dataclass(frozen=True, slots=True)
class Compact:
    """Everything the kernels read, as flat arrays."""

    horizon: int
    beds: IntArray  # [facility, specialty, day]
    offers: npt.NDArray[np.bool_]  # [facility, specialty]
    limit: IntArray  # [facility, day]: admissions allowed; NO_LIMIT when unlimited
    travel: FloatArray  # [origin, facility] travel cost
    profile_start: IntArray  # CSR over profiles
    profile_facility: IntArray  # facilities of each profile, cheapest travel first
    day_cost: FloatArray  # [day-cost row, day]; inf before the earliest day
    # units
    unit_profile: IntArray
    unit_origin: IntArray
    unit_specialty: IntArray
    unit_stay: IntArray
    unit_first: IntArray  # earliest admission day
    unit_day_cost: IntArray  # row of day_cost
    unit_count: IntArray
    unit_unplaced: FloatArray
    unit_group: IntArray  # -1 outside groups
    unit_current: IntArray  # facility of the current place, -1 if none
    change: float
    group_split: float
    member_patient: IntArray  # patients of unit 0, then of unit 1, ... (counts give the cut)
    group_start: IntArray  # CSR: units of each group
    group_unit: IntArray
    hopeless: IntArray  # patients with no eligible facility (or no open day at any)
    # acceptance ends (`Facility.accepts_until`): unit u may be admitted at f up to day
    # accept_last[unit_accept[u], f]; row 0 (the horizon's last day everywhere) where its
    # organisation has no end
    unit_accept: IntArray
    accept_last: IntArray  # [acceptance row, facility]
    # quotas (`Problem.quotas`): unit u's patients fall under the quotas of row
    # quota_row_member[unit_quota_row[u]] (row 0: none), each counting at quota_facility[q]
    # for admissions on the days of quota_days[q] (`Quota.days`)
    unit_quota_row: IntArray
    quota_row_member: npt.NDArray[np.bool_]  # [quota row, quota]
    quota_facility: npt.NDArray[np.bool_]  # [quota, facility]
    quota_room: IntArray
    quota_days: npt.NDArray[np.bool_]  # [quota, day]

    @property
    def n_units(self) -> int:
        return len(self.unit_count)

    @property
    def n_groups(self) -> int:
        return len(self.group_start) - 1

    def first_member(self) -> IntArray:
        """Each unit's first position in ``member_patient`` (its members follow in order)."""
        first: IntArray = (np.cumsum(self.unit_count) - self.unit_count).astype(np.int64)
        return first

    def places(self, unit: int) -> IntArray:
        """The facilities ``unit`` may use, cheapest travel first (its profile's)."""
        profile = self.unit_profile[unit]
        places: IntArray = self.profile_facility[
            self.profile_start[profile] : self.profile_start[profile + 1]
        ]
        return places

    def last_day(self, unit: int, facility: int) -> int:
        """The last day on which ``unit`` may be admitted at ``facility``."""
        return int(self.accept_last[self.unit_accept[unit], facility])

    def column_costs(self, unit: IntArray, facility: IntArray, day: IntArray) -> FloatArray:
        """True cost of admitting one patient of each ``unit`` at ``facility`` on ``day``:
        travel, day cost and the change weight where the unit has another current place."""
        moved = (self.unit_current[unit] >= 0) & (facility != self.unit_current[unit])
        cost: FloatArray = (
            self.travel[self.unit_origin[unit], facility]
            + self.day_cost[self.unit_day_cost[unit], day]
            + self.change * moved
        )
        return cost

    def quota_use(
        self, unit: IntArray, facility: IntArray, day: IntArray | None = None
    ) -> IntArray:
        """Placements under each quota of one patient of each ``unit`` at ``facility`` (-1: not
        placed, not counted), admitted on ``day``: an admission counts only on the quota's days
        (`quota_days`). ``day`` may be left out only where every quota holds on every day."""
        placed = facility >= 0
        under = (
            self.quota_row_member[self.unit_quota_row[unit[placed]]]
            & self.quota_facility[:, facility[placed]].T
        )
        if day is not None:
            under &= self.quota_days[:, day[placed]].T
        elif not self.quota_days.all():
            raise ValueError("quotas that hold on some days only: the admission days are needed")
        counts: IntArray = under.sum(axis=0, dtype=np.int64)
        return counts

    def rooms(self, used: IntArray | None = None) -> tuple[object, ...]:
        """The quota part of the fill kernels' capacity (`kernels.capacity_of`): the room left
        under each quota (its room less ``used``, placements already under it), each quota
        row's quotas as CSR (start, quotas), ``quota_facility``, each unit's quota row,
        ``quota_days`` and whether each quota holds on every day. The kernels count the room
        left down as they place (an admission on one of the quota's days) and keep to it."""
        left = self.quota_room.astype(np.int64) - (0 if used is None else used)
        rows, quotas = np.nonzero(self.quota_row_member)
        start = np.zeros(len(self.quota_row_member) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(self.quota_row_member)), out=start[1:])
        return (
            left, start, quotas.astype(np.int64), np.ascontiguousarray(self.quota_facility),
            self.unit_quota_row, np.ascontiguousarray(self.quota_days),
            np.ascontiguousarray(self.quota_days.all(axis=1)),
        )  # fmt: skip

    def kernel_problem(self) -> tuple[object, ...]:
        """The arrays the placement and candidate kernels read, in their order."""
        return (
            self.travel, self.profile_start, self.profile_facility, self.day_cost,
            self.unit_profile, self.unit_origin, self.unit_specialty, self.unit_stay,
            self.unit_first, self.unit_day_cost, self.unit_current, self.unit_unplaced,
            self.change, self.unit_accept, self.accept_last,
        )  # fmt: skip


def hopeless_cost(view: ProblemView, compact: Compact) -> float:
    """What the patients no facility can take cost, left out (``compact.hopeless``)."""
    patients = view.problem.patients
    return float(sum(view.unplaced_cost(patients[int(i)]) for i in compact.hopeless))


def stay_days(first: IntArray, length: IntArray) -> tuple[IntArray, IntArray]:
    """(entry, day) for every day of every stay: entry j covers ``length[j]`` days from
    ``first[j]``, in order."""
    entry = np.repeat(np.arange(len(first)), length)
    offset = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    return entry, first[entry] + offset


def csr(keys: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """(start, order) grouping the indices of ``keys`` (each in 0 .. n-1) by key: the indices
    with key k are ``order[start[k]:start[k + 1]]``, in their original order."""
    order = np.argsort(keys, kind="stable")
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=start[1:])
    return start, order.astype(np.int64)


def build_compact(view: ProblemView) -> Compact:
    """Aggregate ``view.problem`` into units, with the view's distances and eligibility."""
    problem = view.problem
    horizon = problem.horizon_days
    w = problem.weights
    facilities = problem.facilities
    n_fac = len(facilities)
    spec_index = view.specialty_index
    n_spec = max(1, len(spec_index))  # one empty column where no facility offers anything
    beds = np.zeros((n_fac, n_spec, horizon), dtype=np.int64)
    offers = np.zeros((n_fac, n_spec), dtype=bool)
    beds[:, : len(spec_index)] = view.beds
    offers[:, : len(spec_index)] = view.offers
    limit = np.where(view.admission_limit >= 0, view.admission_limit, NO_LIMIT)
    travel = w.travel_per_km * view.distance

    precedences = sorted(problem.precedences)
    prec_index = {name: i for i, name in enumerate(precedences)}
    day_index = np.arange(horizon, dtype=float)
    day_rows: dict[tuple[int, int], int] = {}
    day_cost_rows: list[FloatArray] = []

    def day_row(prec: str, first: int) -> int:
        key = (prec_index[prec], first)
        found = day_rows.get(key)
        if found is None:
            rule = problem.precedences[prec]
            cost = rule.weight * (
                w.wait_per_day * day_index
                + w.late_per_day * np.maximum(0.0, day_index - rule.deadline_day)
            )
            cost[:first] = np.inf
            found = day_rows[key] = len(day_cost_rows)
            day_cost_rows.append(cost)
        return found

    patients = problem.patients
    n_pat = len(patients)

    # Patients become integer codes field by field, and profiles and units come from
    # np.unique over those codes, numbered in the order of their first patient (as a loop over
    # the patients would number them): a loop over L's 100,000 patients that hashed a tuple
    # key per patient took 0.4-0.6 s of a 10-s solve.
    def codes(values: list[object]) -> IntArray:
        """Each value's number, in order of its first occurrence."""
        index = {v: k for k, v in enumerate(dict.fromkeys(values))}
        return np.array([index[v] for v in values], dtype=np.int64)

    def first_order(columns: list[IntArray]) -> tuple[IntArray, IntArray]:
        """(id per row numbered by first occurrence, first row of each id) of rows of
        non-negative integer ``columns``, packed into one integer per row (sorting rows of
        several columns took 0.36 s on L)."""
        n_rows = len(columns[0])
        if n_rows == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        packed = np.zeros(n_rows, dtype=np.int64)
        room = 1
        for column in columns:
            radix = int(column.max()) + 1
            if room * radix >= 1 << 62:  # too many values to pack: sort the rows themselves
                _, first, inverse = np.unique(
                    np.stack(columns, axis=1), axis=0, return_index=True, return_inverse=True
                )
                break
            packed = packed * radix + column
            room *= radix
        else:
            _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.int64)
        order = np.argsort(first, kind="stable")
        rank[order] = np.arange(len(first))
        return rank[inverse.ravel()], first[order].astype(np.int64)

    origin = np.asarray(view.origin_of, dtype=np.int64)
    specialty = np.array([spec_index.get(p.specialty, -1) for p in patients], dtype=np.int64)
    needs_code = codes([p.needs for p in patients])
    org_code = codes([p.organisation for p in patients])
    distance_code = codes([p.max_distance_km for p in patients])
    profile_of, profile_first = first_order(
        [origin, codes([p.specialty for p in patients]), needs_code, org_code, distance_code]
    )
    # eligibility per profile (the view's screen of its first patient), nearest first
    profile_lists: list[IntArray] = []
    for i in profile_first.tolist():
        o = int(origin[i])
        eligible = np.flatnonzero(view.screen(i).eligible)
        eligible = eligible[np.argsort(travel[o, eligible], kind="stable")]
        profile_lists.append(eligible.astype(np.int64))
    sizes = np.array([len(x) for x in profile_lists], dtype=np.int64)
    hopeful = sizes[profile_of] > 0
    if view.has_acceptance_ends:  # nor those every facility stops admitting before their day
        for i in np.flatnonzero(hopeful).tolist():
            hopeful[i] = view.has_open_day(i)
    hopeless = np.flatnonzero(~hopeful).tolist()
    placeable = np.flatnonzero(hopeful)

    prec = np.array([prec_index[p.precedence] for p in patients], dtype=np.int64)
    earliest = np.array([p.earliest_day for p in patients], dtype=np.int64)
    stays = np.minimum(
        np.array([p.length_of_stay_days for p in patients], dtype=np.int64), horizon - earliest
    )
    alone = np.array([p.group is not None or p.current is not None for p in patients], dtype=bool)
    # interchangeable patients share a unit; a group member or a re-planned patient is one
    # every column non-negative: a patient alone is told apart by its own number
    single = np.where(alone, np.arange(n_pat) + 1, 0)
    key = [
        np.where(alone, 0, column)[placeable] for column in (profile_of, prec, stays, earliest)
    ] + [single[placeable]]
    unit_of, unit_first = first_order(key)
    unit_first = placeable[unit_first]
    counts = np.bincount(unit_of, minlength=len(unit_first)).astype(np.int64)
    members = placeable[np.argsort(unit_of, kind="stable")]
    group_ids: dict[str, int] = {}
    cols: dict[str, list[float | int]] = {
        k: [] for k in ("profile", "origin", "specialty", "stay", "first", "day", "unplaced",
                        "group", "current")
    }  # fmt: skip
    for i in unit_first.tolist():
        p = patients[i]
        group = -1 if p.group is None else group_ids.setdefault(p.group, len(group_ids))
        current = -1 if p.current is None else problem.facility_index[p.current.facility]
        unplaced = w.unplaced * problem.precedences[p.precedence].weight
        if p.current is not None:
            unplaced += w.change
        for k, v in (
            ("profile", int(profile_of[i])), ("origin", int(origin[i])),
            ("specialty", int(specialty[i])), ("stay", int(stays[i])),
            ("first", p.earliest_day), ("day", day_row(p.precedence, p.earliest_day)),
            ("unplaced", unplaced), ("group", group), ("current", current),
        ):  # fmt: skip
            cols[k].append(v)

    unit_accept, accept_last = view.acceptance_rows(
        [patients[i].organisation for i in unit_first.tolist()]
    )
    quota_rows: dict[tuple[int, ...], int] = {(): 0}
    unit_quota_row = np.array(
        [
            quota_rows.setdefault(tuple(view.quotas_of(i).tolist()), len(quota_rows))
            for i in unit_first.tolist()
        ],
        dtype=np.int64,
    )
    quota_row_member = np.zeros((len(quota_rows), view.n_quotas), dtype=bool)
    for quotas, row in quota_rows.items():
        quota_row_member[row, list(quotas)] = True

    def ints(name: str) -> IntArray:
        return np.array(cols[name], dtype=np.int64)

    profile_start = np.zeros(len(profile_lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in profile_lists], out=profile_start[1:])
    unit_group = ints("group")
    n_groups = len(group_ids)
    group_start, group_unit = csr(np.where(unit_group >= 0, unit_group, n_groups), n_groups + 1)
    group_start = group_start[: n_groups + 1]
    return Compact(
        horizon=horizon,
        beds=beds,
        offers=offers,
        limit=limit,
        travel=travel,
        profile_start=profile_start,
        profile_facility=(
            np.concatenate(profile_lists) if profile_lists else np.zeros(0, dtype=np.int64)
        ),
        day_cost=np.array(day_cost_rows, dtype=float).reshape(-1, horizon),
        unit_profile=ints("profile"),
        unit_origin=ints("origin"),
        unit_specialty=ints("specialty"),
        unit_stay=ints("stay"),
        unit_first=ints("first"),
        unit_day_cost=ints("day"),
        unit_count=counts,
        unit_unplaced=np.array(cols["unplaced"], dtype=float),
        unit_group=unit_group,
        unit_current=ints("current"),
        change=w.change,
        group_split=w.group_split,
        member_patient=members.astype(np.int64),
        group_start=group_start,
        group_unit=group_unit,
        hopeless=np.array(hopeless, dtype=np.int64),
        unit_accept=unit_accept,
        accept_last=accept_last,
        unit_quota_row=unit_quota_row,
        quota_row_member=quota_row_member,
        quota_facility=view.quota_facility,
        quota_room=view.quota_room,
        quota_days=view.quota_days,
    )

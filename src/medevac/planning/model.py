"""Engine-side view of a problem: eligibility, costs, objective terms and plan assembly.

Shared by the greedy, per-patient MIP and exact engines and by the explanations; the checker
(checker.py) deliberately does not use it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from medevac.domain.geography import haversine_km
from medevac.planning.geometry import haversine_matrix
from medevac.planning.plan import (
    Assignment,
    Breakdown,
    Plan,
    PlanStatus,
    Unplaced,
    UnplacedReason,
    cost_tolerance,
    cost_writer,
    day_ranges,
    figure,
    relative_gap,
)
from medevac.planning.problem import Patient, Problem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_Count = TypeVar("_Count", np.int64, np.float64)

# Where the vectorised haversine puts a facility within this of a patient's max_distance_km, the
# checker's scalar haversine decides (rounding differences between the two could otherwise make
# an engine's choice fail the checker's distance rule, or rule out a facility it allows)
DISTANCE_MARGIN_KM = 1e-6

ProgressCallback = Callable[[str], None]
"""Receives short human-readable progress messages while an engine works."""

Placement = tuple[str, int]
"""(facility id, admission day)."""


@dataclass(frozen=True, slots=True)
class Screen:
    """Which facilities pass each successive static rule for one patient profile."""

    offers: BoolArray
    needs_met: BoolArray
    agreement: BoolArray
    in_range: BoolArray

    @property
    def eligible(self) -> BoolArray:
        return self.in_range


class ProblemView:
    """Arrays and caches the engines need: distances, eligibility, day costs, bed tables."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.horizon = problem.horizon_days
        self.n_facilities = len(problem.facilities)
        fac_lat = np.array([f.lat for f in problem.facilities], dtype=float)
        fac_lon = np.array([f.lon for f in problem.facilities], dtype=float)
        origins: dict[tuple[float, float], int] = {}
        self.origin_of = np.array(
            [origins.setdefault((p.lat, p.lon), len(origins)) for p in problem.patients],
            dtype=np.int64,
        )
        origin_lat = np.array([o[0] for o in origins], dtype=float)
        origin_lon = np.array([o[1] for o in origins], dtype=float)
        self.distance = (
            haversine_matrix(origin_lat, origin_lon, fac_lat, fac_lon)
            if origins and self.n_facilities
            else np.zeros((len(origins), self.n_facilities))
        )
        specialties = sorted({s for f in problem.facilities for s in f.beds})
        self.specialty_index = {s: i for i, s in enumerate(specialties)}
        self.beds = np.zeros((self.n_facilities, len(specialties), self.horizon), dtype=np.int64)
        self.offers = np.zeros((self.n_facilities, len(specialties)), dtype=bool)
        for fi, facility in enumerate(problem.facilities):
            for s, days in facility.beds.items():
                self.beds[fi, self.specialty_index[s]] = days
                self.offers[fi, self.specialty_index[s]] = True
        #: [facility, day]: admissions the plan may make there that day, the daily limit less
        #: the admissions already due (`Facility.admissions_taken`); -1 where there is no limit
        self.admission_limit = np.full((self.n_facilities, self.horizon), -1, dtype=np.int64)
        for fi, facility in enumerate(problem.facilities):
            if facility.daily_admission_limit is not None:
                room = np.full(self.horizon, facility.daily_admission_limit, dtype=np.int64)
                if facility.admissions_taken:
                    room -= np.asarray(facility.admissions_taken, dtype=np.int64)
                self.admission_limit[fi] = np.maximum(room, 0)
        #: quotas (`Problem.quotas`): the room of each, [quota, facility] where it counts and
        #: [quota, day] on which admission days (`Quota.days`)
        self.quota_room = np.array([q.room for q in problem.quotas], dtype=np.int64)
        self.quota_facility = np.zeros((len(problem.quotas), self.n_facilities), dtype=bool)
        self.quota_days = np.ones((len(problem.quotas), self.horizon), dtype=bool)
        for qi, quota in enumerate(problem.quotas):
            for facility_id in quota.facilities:
                self.quota_facility[qi, problem.facility_index[facility_id]] = True
            if quota.days is not None:
                self.quota_days[qi] = [d in quota.days for d in range(self.horizon)]
        #: whether some quota holds on some days only
        self.quotas_have_days = not self.quota_days.all()
        self._quota_lists: dict[tuple[str | None, str], IntArray] = {}
        self._quota_members: BoolArray | None = None
        self._quota_csr: tuple[IntArray, IntArray] | None = None
        self._screens: dict[tuple[object, ...], Screen] = {}
        # facility masks per set of needs and per sending organisation, shared by the screens
        self._needs_masks: dict[frozenset[str], BoolArray] = {}
        self._accept_masks: dict[str | None, BoolArray] = {}
        self._last_days: dict[str | None, IntArray] = {}
        #: whether some facility stops admitting some organisation's patients within the horizon
        #: (`Facility.accepts_until`)
        self.has_acceptance_ends = any(f.accepts_until for f in problem.facilities)
        self._reasons: dict[tuple[object, ...], tuple[str, UnplacedReason]] = {}
        self._terms: PatientTerms | None = None

    @property
    def terms(self) -> PatientTerms:
        """Per-patient arrays of the objective terms, built on first use."""
        if self._terms is None:
            self._terms = patient_terms(self.problem)
        return self._terms

    @property
    def n_quotas(self) -> int:
        return len(self.quota_room)

    def quotas_of(self, index: int) -> IntArray:
        """The quotas patient ``index`` falls under, by position in `Problem.quotas` (its
        placements count against a quota at the facilities of `quota_facility`)."""
        p = self.problem.patients[index]
        key = (p.organisation, p.specialty)
        found = self._quota_lists.get(key)
        if found is None:
            found = np.array(
                [qi for qi, q in enumerate(self.problem.quotas) if q.covers(p)], dtype=np.int64
            )
            self._quota_lists[key] = found
        return found

    def quota_members(self) -> BoolArray:
        """[patient, quota]: whether the patient falls under the quota."""
        if self._quota_members is None:
            members = np.zeros((len(self.problem.patients), self.n_quotas), dtype=bool)
            start, quota = self.quota_lists()
            rows = np.repeat(np.arange(len(self.problem.patients)), np.diff(start))
            members[rows, quota] = True
            self._quota_members = members
        return self._quota_members

    def quota_lists(self) -> tuple[IntArray, IntArray]:
        """Every patient's quotas as (start, quota) arrays: patient i's are
        ``quota[start[i]:start[i + 1]]`` (for the kernels)."""
        if self._quota_csr is None:
            lists = [self.quotas_of(i) for i in range(len(self.problem.patients))]
            start = np.zeros(len(lists) + 1, dtype=np.int64)
            np.cumsum([len(x) for x in lists], out=start[1:])
            quota = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
            self._quota_csr = (start, quota.astype(np.int64))
        return self._quota_csr

    def _profile(self, index: int) -> tuple[object, ...]:
        """What patient ``index``'s eligibility depends on: origin, specialty, needs,
        organisation and distance limit."""
        p = self.problem.patients[index]
        return (int(self.origin_of[index]), p.specialty, p.needs, p.organisation, p.max_distance_km)

    def screen(self, index: int) -> Screen:
        """The static eligibility of every facility for patient ``index`` (cached by profile)."""
        p = self.problem.patients[index]
        key = self._profile(index)
        found = self._screens.get(key)
        if found is not None:
            return found
        s = self.specialty_index.get(p.specialty)
        offers = (
            self.offers[:, s].copy() if s is not None else np.zeros(self.n_facilities, dtype=bool)
        )
        needs = offers & self._needs_met(p.needs) if p.needs else offers.copy()
        agreement = needs & self._accepting(p.organisation)
        in_range = agreement.copy()
        if p.max_distance_km is not None:
            in_range &= self._within(p, self.distance[int(self.origin_of[index])])
        screen = Screen(offers, needs, agreement, in_range)
        self._screens[key] = screen
        return screen

    def _within(self, p: Patient, km: FloatArray) -> BoolArray:
        """Facilities at most ``p.max_distance_km`` from ``p`` (``km``: their distances), as the
        checker counts it: at the limit is within."""
        limit = float(p.max_distance_km) if p.max_distance_km is not None else math.inf
        within = km <= limit - DISTANCE_MARGIN_KM
        for f in np.flatnonzero(np.abs(km - limit) < DISTANCE_MARGIN_KM).tolist():
            facility = self.problem.facilities[f]
            within[f] = haversine_km(p.lat, p.lon, facility.lat, facility.lon) <= limit
        return within

    def _needs_met(self, needs: frozenset[str]) -> BoolArray:
        """Facilities whose capabilities include ``needs`` (one mask per set of needs)."""
        found = self._needs_masks.get(needs)
        if found is None:
            found = np.array([needs <= f.capabilities for f in self.problem.facilities], dtype=bool)
            self._needs_masks[needs] = found
        return found

    def _accepting(self, organisation: str | None) -> BoolArray:
        """Facilities that accept patients of ``organisation`` (one mask per organisation)."""
        found = self._accept_masks.get(organisation)
        if found is None:
            facilities = self.problem.facilities
            found = np.array([f.accepts(organisation) for f in facilities], dtype=bool)
            self._accept_masks[organisation] = found
        return found

    def last_days(self, organisation: str | None) -> IntArray:
        """[facility]: the last admission day of a patient of ``organisation`` there, the
        horizon's last day where acceptance does not end (`Facility.accepts_until`)."""
        found = self._last_days.get(organisation)
        if found is None:
            found = np.full(self.n_facilities, self.horizon - 1, dtype=np.int64)
            for fi, facility in enumerate(self.problem.facilities):
                last = facility.last_admission_day(organisation)
                if last is not None:
                    found[fi] = min(last, self.horizon - 1)
            self._last_days[organisation] = found
        return found

    def has_open_day(self, index: int) -> bool:
        """Whether some eligible facility admits patient ``index`` on or after its earliest day
        (one that every facility stops admitting before it is left out like one with no
        eligible facility, `Facility.accepts_until`)."""
        p = self.problem.patients[index]
        eligible = self.screen(index).eligible
        if not self.has_acceptance_ends:
            return bool(eligible.any())
        return bool((eligible & (self.last_days(p.organisation) >= p.earliest_day)).any())

    def acceptance_rows(self, organisations: list[str | None]) -> tuple[IntArray, IntArray]:
        """(row of each of ``organisations``, [row, facility] last admission days) for the
        kernels: row 0 holds the horizon's last day everywhere and serves every organisation
        no facility stops admitting; each other organisation has a row of `last_days`."""
        rows = [np.full(self.n_facilities, self.horizon - 1, dtype=np.int64)]
        row_of: dict[str | None, int] = {}
        out = np.zeros(len(organisations), dtype=np.int64)
        for i, organisation in enumerate(organisations):
            row = row_of.get(organisation)
            if row is None:
                last = self.last_days(organisation)
                row = 0
                if (last < self.horizon - 1).any():
                    row = len(rows)
                    rows.append(last)
                row_of[organisation] = row
            out[i] = row
        return out, np.stack(rows).astype(np.int64)

    def open_days(self, index: int) -> BoolArray:
        """[facility, day]: the days on which patient ``index`` may be admitted at each
        facility by the day rules alone (from its earliest day, until acceptance ends)."""
        p = self.problem.patients[index]
        days = np.arange(self.horizon)
        last = self.last_days(p.organisation)
        ok: BoolArray = (days[None, :] >= p.earliest_day) & (days[None, :] <= last[:, None])
        return ok

    def day_cost(self, patient: Patient) -> FloatArray:
        """Wait and lateness cost of admitting ``patient`` on each day (inf before earliest_day)."""
        rule = self.problem.precedences[patient.precedence]
        w = self.problem.weights
        days = np.arange(self.horizon, dtype=float)
        cost: FloatArray = rule.weight * (
            w.wait_per_day * days + w.late_per_day * np.maximum(0.0, days - rule.deadline_day)
        )
        cost[: patient.earliest_day] = np.inf
        return cost

    def unplaced_cost(self, patient: Patient) -> float:
        """Cost of leaving ``patient`` unplaced (including losing a current place)."""
        w = self.problem.weights
        cost = w.unplaced * self.problem.precedences[patient.precedence].weight
        return cost + (w.change if patient.current is not None else 0.0)

    def unplaced_reason(self, index: int) -> Unplaced:
        """Why patient ``index`` could not be placed, from the fixed set of reasons (worked out
        once per profile: plans of oversubscribed problems leave tens of thousands out)."""
        key = self._profile(index)
        if self.has_acceptance_ends:  # whether acceptance ends before it depends on the day
            key += (self.problem.patients[index].earliest_day,)
        found = self._reasons.get(key)
        if found is None:
            found = self._reason(index)
            self._reasons[key] = found
        return Unplaced(self.problem.patients[index].id, *found)

    def _reason(self, index: int) -> tuple[str, UnplacedReason]:
        # each sentence after the first two speaks of the facilities the earlier rules left,
        # named by the rules that left some out: "no facility offers orthopaedics to ORG-B"
        # was false beside one that does, but lacks the patient's needs
        p = self.problem.patients[index]
        sc = self.screen(index)
        if not sc.offers.any():
            return f"no facility offers {p.specialty}", UnplacedReason.SPECIALTY_NOT_OFFERED
        needs = ", ".join(sorted(p.needs))
        if not sc.needs_met.any():
            return (
                f"no facility offering {p.specialty} meets needs {needs}",
                UnplacedReason.NEEDS_NOT_MET,
            )
        with_needs = f" with {needs}" if (sc.offers & ~sc.needs_met).any() else ""
        offering = f"offering {p.specialty}{with_needs}"
        if not sc.agreement.any():
            if not with_needs:
                sent = p.organisation or "patients without an organisation"
                return f"no facility offers {p.specialty} to {sent}", UnplacedReason.NO_AGREEMENT
            sender = f"from {p.organisation}" if p.organisation else "without an organisation"
            return (
                f"no facility {offering} accepts patients {sender}",
                UnplacedReason.NO_AGREEMENT,
            )
        limit = figure(p.max_distance_km) if p.max_distance_km is not None else ""
        if not sc.in_range.any():
            sent = p.organisation or "patients without an organisation"
            to = f" to {sent}" if (sc.needs_met & ~sc.agreement).any() else ""
            return (
                f"every facility {offering}{to} is beyond {limit} km",
                UnplacedReason.BEYOND_MAX_DISTANCE,
            )
        if not self.has_open_day(index):  # eligible facilities, all closed by then
            ended = int(self.last_days(p.organisation)[sc.in_range].max())
            within = f" within {limit} km" if (sc.agreement & ~sc.in_range).any() else ""
            return (
                f"every facility {offering} to "
                f"{p.organisation or 'patients without an organisation'}{within} "
                f"stops admitting its patients by day {ended}, before the patient's earliest day "
                f"{p.earliest_day}",
                UnplacedReason.NO_AGREEMENT,
            )
        count = int(sc.in_range.sum())
        return (
            f"all feasible beds are full in the horizon ({_eligible(count)})",
            UnplacedReason.BEDS_FULL,
        )


@dataclass(frozen=True, slots=True)
class PatientTerms:
    """Per-patient arrays for the objective terms (index = position in problem.patients)."""

    weight: FloatArray  # precedence weight
    deadline: IntArray  # precedence deadline_day
    current: IntArray  # facility index of the current place, -1 without one
    group: IntArray  # group number, -1 outside groups


def patient_terms(problem: Problem) -> PatientTerms:
    rules = problem.precedences
    groups: dict[str, int] = {}
    return PatientTerms(
        weight=np.array([rules[p.precedence].weight for p in problem.patients], dtype=float),
        deadline=np.array(
            [rules[p.precedence].deadline_day for p in problem.patients], dtype=np.int64
        ),
        current=np.array(
            [
                -1 if p.current is None else problem.facility_index[p.current.facility]
                for p in problem.patients
            ],
            dtype=np.int64,
        ),
        group=np.array(
            [
                -1 if p.group is None else groups.setdefault(p.group, len(groups))
                for p in problem.patients
            ],
            dtype=np.int64,
        ),
    )


def placement_arrays(
    problem: Problem, placed: Mapping[str, Placement]
) -> tuple[IntArray, IntArray]:
    """``placed`` as two arrays over the patients: facility index (-1 unplaced) and day."""
    facility = np.full(len(problem.patients), -1, dtype=np.int64)
    day = np.zeros(len(problem.patients), dtype=np.int64)
    index = problem.facility_index
    for i, p in enumerate(problem.patients):
        where = placed.get(p.id)
        if where is not None:
            facility[i] = index[where[0]]
            day[i] = where[1]
    return facility, day


def breakdown_of(problem: Problem, view: ProblemView, placed: Mapping[str, Placement]) -> Breakdown:
    """Objective terms of the placement ``placed`` (patient id -> (facility id, day))."""
    return breakdown_of_arrays(problem, view, *placement_arrays(problem, placed))


def breakdown_of_arrays(
    problem: Problem, view: ProblemView, facility: IntArray, day: IntArray
) -> Breakdown:
    """Objective terms of a placement given as arrays (see `placement_arrays`)."""
    w = problem.weights
    terms = view.terms
    placed = facility >= 0
    weight = terms.weight[placed]
    days = day[placed].astype(float)
    late_days = np.maximum(0.0, days - terms.deadline[placed])
    km = view.distance[view.origin_of[placed], facility[placed]]
    had_place = terms.current >= 0
    changed = had_place & (~placed | (facility != terms.current))
    grouped = placed & (terms.group >= 0)
    group_facility = terms.group[grouped] * max(1, view.n_facilities) + facility[grouped]
    splits = len(np.unique(group_facility)) - len(np.unique(terms.group[grouped]))
    return Breakdown(
        unplaced=float(w.unplaced * terms.weight[~placed].sum()),
        wait=float(w.wait_per_day * (weight * days).sum()),
        late=float(w.late_per_day * (weight * late_days).sum()),
        travel=float(w.travel_per_km * km.sum()),
        group_split=float(w.group_split * splits),
        change=float(w.change * np.count_nonzero(changed)),
    )


def occupancy(
    shape: tuple[int, int, int],
    facility: IntArray,
    specialty: IntArray,
    first: IntArray,
    end: IntArray,
    count: npt.NDArray[_Count],
) -> tuple[npt.NDArray[_Count], npt.NDArray[_Count]]:
    """Beds in use [facility, specialty, day] and admissions [facility, day] of ``count``
    patients each admitted at ``facility`` on day ``first`` and staying until ``end`` (exclusive);
    ``shape`` is (facilities, specialties, horizon)."""
    n_fac, n_spec, horizon = shape
    change = np.zeros((n_fac, n_spec, horizon + 1), dtype=count.dtype)
    np.add.at(change, (facility, specialty, first), count)
    np.add.at(change, (facility, specialty, end), -count)
    admitted: npt.NDArray[_Count] = np.zeros((n_fac, horizon), dtype=count.dtype)
    np.add.at(admitted, (facility, first), count)
    used: npt.NDArray[_Count] = np.cumsum(change, axis=2)[:, :, :horizon]
    return used, admitted


def open_places(
    view: ProblemView,
    taken: tuple[IntArray, IntArray],
    specialty: int,
    eligible: IntArray,
    stay: int,
    *,
    admissions: bool = True,
) -> BoolArray:
    """[facility of ``eligible``, day]: whether a stay of ``stay`` days admitted there that
    day finds a bed of ``specialty`` free on each of its days and (unless ``admissions`` is
    False) an admission slot, with ``taken`` = (beds used [facility, specialty, day],
    admissions [facility, day])."""
    used, admitted = taken
    horizon = view.horizon
    free = view.beds[eligible, specialty, :] - used[eligible, specialty, :]
    ok = np.zeros((len(eligible), horizon), dtype=bool)
    for a in range(horizon):
        ok[:, a] = free[:, a : min(a + stay, horizon)].min(axis=1) > 0
    if admissions:
        limit = view.admission_limit
        ok &= (limit[eligible] < 0) | (admitted[eligible] < limit[eligible])
    return ok


def own_costs(view: ProblemView, index: int, group_at: Collection[int] = ()) -> FloatArray:
    """What placing patient ``index`` at each [facility, day] costs the plan, all else held:
    wait, lateness, travel, the change of a current place and, where other members of its group
    are placed at the facilities ``group_at`` (by index), the group's split at any other (inf
    before its earliest day)."""
    p = view.problem.patients[index]
    split, change = split_and_change(view, index, group_at)
    travel = view.problem.weights.travel_per_km * view.distance[view.origin_of[index]]
    costs: FloatArray = view.day_cost(p)[None, :] + (travel + split + change)[:, None]
    return costs


def own_cost_at(
    view: ProblemView, index: int, facility: int, day: int, group_at: Collection[int] = ()
) -> float:
    """`own_costs` of patient ``index`` at one place (``facility`` by index, ``day``): the
    same terms, without building the [facility, day] table (re-plans look at thousands of
    single places)."""
    p = view.problem.patients[index]
    w = view.problem.weights
    if day < p.earliest_day:
        return math.inf
    rule = view.problem.precedences[p.precedence]
    wait = rule.weight * (w.wait_per_day * day + w.late_per_day * max(0, day - rule.deadline_day))
    travel = w.travel_per_km * float(view.distance[view.origin_of[index], facility])
    split = w.group_split if group_at and facility not in group_at else 0.0
    change = 0.0
    if p.current is not None and facility != view.problem.facility_index[p.current.facility]:
        change = w.change
    return float(wait + (travel + split + change))  # in `own_costs`' order


def own_costs_at(
    view: ProblemView, index: IntArray, facility: IntArray, day: IntArray
) -> FloatArray:
    """`own_cost_at` of many patients ``index`` at one place each (``facility`` by index, -1
    for none, and ``day``), without their groups' splits: wait, lateness, travel and the change
    of a current place, or where unplaced what leaving them out costs (`unplaced_cost`); inf
    before a patient's earliest day."""
    terms = view.terms
    w = view.problem.weights
    weight, deadline = terms.weight[index], terms.deadline[index]
    earliest = np.array([view.problem.patients[i].earliest_day for i in index.tolist()])
    wait = weight * (w.wait_per_day * day + w.late_per_day * np.maximum(0, day - deadline))
    travel = w.travel_per_km * view.distance[view.origin_of[index], np.maximum(facility, 0)]
    had_place = terms.current[index] >= 0
    change = w.change * (had_place & (facility != terms.current[index]))
    placed_cost = np.where(day >= earliest, wait + (travel + change), np.inf)
    costs: FloatArray = np.where(
        facility >= 0, placed_cost, w.unplaced * weight + w.change * had_place
    )
    return costs


def split_and_change(
    view: ProblemView, index: int, group_at: Collection[int] = ()
) -> tuple[FloatArray, FloatArray]:
    """Per facility, what placing patient ``index`` there pays for its group's split (other
    members placed at the facilities ``group_at``, by index) and for the change of its current
    place; the terms `own_costs` adds to wait, lateness and travel."""
    p = view.problem.patients[index]
    w = view.problem.weights
    split = np.zeros(view.n_facilities)
    change = np.zeros(view.n_facilities)
    if p.current is not None:
        change = w.change * (
            np.arange(view.n_facilities) != view.problem.facility_index[p.current.facility]
        )
    if group_at:
        apart = np.ones(view.n_facilities, dtype=bool)
        apart[list(group_at)] = False
        split = w.group_split * apart
    return split, change


def cheapest_place(
    view: ProblemView, index: int, ok: BoolArray, group_at: Collection[int] = ()
) -> tuple[float, int, int] | None:
    """The cheapest of the places ``ok`` ([facility, day]) for patient ``index``: (its cost,
    facility index, day), or None where ``ok`` has none; the cost is `own_costs`'."""
    if not ok.any():
        return None
    cost = np.where(ok, own_costs(view, index, group_at), np.inf)
    f, a = divmod(int(np.argmin(cost)), view.horizon)
    return float(cost[f, a]), f, a


class FreePlaces:
    """Where stays still fit beside a placement that uses ``taken`` (beds [facility,
    specialty, day], admissions [facility, day]): for a specialty and a stay, the [facility,
    day] admissions with a bed free on each day of the stay (kept per pair), and the [facility,
    day] with an admission left."""

    def __init__(self, view: ProblemView, taken: tuple[IntArray, IntArray]) -> None:
        self.view = view
        self.taken = taken
        self.horizon = view.horizon
        limit = view.admission_limit
        self.admission: BoolArray = (limit < 0) | (taken[1] < limit)
        self._beds: dict[tuple[int, int], BoolArray] = {}
        self._somewhere: dict[tuple[int, int], bool] = {}

    def beds(self, specialty: int, stay: int) -> BoolArray:
        """[facility, day]: a bed of ``specialty`` free on each day of a ``stay`` from then."""
        stay = min(stay, self.horizon)
        found = self._beds.get((specialty, stay))
        if found is None:
            every = np.arange(self.view.n_facilities)
            found = open_places(self.view, self.taken, specialty, every, stay, admissions=False)
            self._beds[(specialty, stay)] = found
            self._somewhere[(specialty, stay)] = bool(found.any())
        return found

    def somewhere(self, specialty: int, stay: int) -> bool:
        """Whether a ``stay`` of ``specialty`` fits anywhere, on any day (`beds`)."""
        found = self._somewhere.get((specialty, min(stay, self.horizon)))
        if found is None:
            found = bool(self.beds(specialty, stay).any())
        return found


def quota_counts(view: ProblemView, facility: IntArray, day: IntArray) -> IntArray:
    """How many placements count against each quota (``facility[i]``, ``day[i]``: patient
    i's facility index, -1 unplaced, and admission day)."""
    if not view.n_quotas:
        return np.zeros(0, dtype=np.int64)
    placed = facility >= 0
    at = view.quota_facility[:, np.where(placed, facility, 0)]  # [quota, patient]
    at &= view.quota_days[:, np.where(placed, np.clip(day, 0, view.horizon - 1), 0)]
    counted = view.quota_members() & at.T & placed[:, None]
    counts: IntArray = counted.sum(axis=0).astype(np.int64)
    return counts


def unplaced_reasons(
    view: ProblemView, facility: IntArray, day: IntArray, indices: list[int]
) -> tuple[Unplaced, ...]:
    """Why the patients ``indices`` have no place in the placement (``facility``: a facility
    index per patient, -1 where unplaced; ``day``: the admission days): the fixed set's reason,
    made true of the placement where it is about capacity (`_capacity_reasons`), and where the
    placement uses up quotas that close their facilities, that said too (`_quota_reasons`)."""
    unplaced = tuple(view.unplaced_reason(i) for i in indices)
    if any(u.code is UnplacedReason.BEDS_FULL for u in unplaced):
        unplaced = _capacity_reasons(view, facility, day, unplaced)
    if view.n_quotas:
        unplaced = _quota_reasons(view, facility, day, unplaced)
    return unplaced


def _capacity_reasons(
    view: ProblemView, facility: IntArray, day: IntArray, unplaced: tuple[Unplaced, ...]
) -> tuple[Unplaced, ...]:
    """The reasons of the unplaced whose own rules leave them places (`BEDS_FULL`), made true
    of the placement (``facility``, ``day``: a facility index, -1 unplaced, and day per
    patient): where every place is taken the beds' reason stands, saying so where admission
    limits or quotas close days with beds free; where a place is still free, leaving the patient
    out costs no more than its cheapest one (`CHEAPER_LEFT_OUT`) or the plan left a cheaper one
    unused (`FREE_PLACE_UNUSED`). Worked out once per kind of patient (profile, precedence,
    earliest day, stay): oversubscribed plans leave tens of thousands out."""
    problem = view.problem
    patients = problem.patients
    horizon = view.horizon
    placed = np.flatnonzero(facility >= 0)
    specialty = np.array(
        [view.specialty_index.get(patients[i].specialty, 0) for i in placed.tolist()],
        dtype=np.int64,
    )
    stay = np.array([patients[i].length_of_stay_days for i in placed.tolist()], dtype=np.int64)
    free = FreePlaces(
        view,
        occupancy(
            view.beds.shape, facility[placed], specialty, day[placed],
            np.minimum(day[placed] + stay, horizon), np.ones(len(placed), dtype=np.int64),
        ),
    )  # fmt: skip
    full = quota_counts(view, facility, day) >= view.quota_room if view.n_quotas else None
    group_at: dict[str, set[int]] = {}  # the facilities each group's placed members use
    for i in placed.tolist():
        group = patients[i].group
        if group is not None:
            group_at.setdefault(group, set()).add(int(facility[i]))
    said: dict[tuple[object, ...], tuple[str, UnplacedReason]] = {}
    out = []
    for u in unplaced:
        if u.code is not UnplacedReason.BEDS_FULL:
            out.append(u)
            continue
        i = problem.patient_index[u.patient]
        p = patients[i]
        if not free.somewhere(view.specialty_index[p.specialty], p.length_of_stay_days):
            out.append(u)  # the usual case where beds are short: no stay like it fits anywhere
            continue
        alike = p.group is None and p.current is None  # else its own: a split, a change
        key = (
            *view._profile(i), p.precedence, p.earliest_day,
            min(p.length_of_stay_days, horizon), u.reason,
        )  # fmt: skip
        found = said.get(key) if alike else None
        if found is None:
            found = _capacity_reason(view, i, free, full, group_at, u)
            if alike:
                said[key] = found
        out.append(Unplaced(u.patient, *found))
    return tuple(out)


def _capacity_reason(
    view: ProblemView,
    i: int,
    free: FreePlaces,
    full: BoolArray | None,
    group_at: dict[str, set[int]],
    u: Unplaced,
) -> tuple[str, UnplacedReason]:
    """`_capacity_reasons` for patient ``i``, with ``full`` the quotas used up."""
    problem = view.problem
    p = problem.patients[i]
    beds = free.beds(view.specialty_index[p.specialty], p.length_of_stay_days)
    fits = beds & view.screen(i).eligible[:, None]
    fits[:, : p.earliest_day] = False
    if not fits.any():
        return u.reason, UnplacedReason.BEDS_FULL
    # what closes the places with free beds: the end of an agreement's acceptance, the
    # admission limits, the quotas (the end had gone unsaid: "all feasible beds are full"
    # beside free beds a facility no longer admitted the patient's organisation to)
    causes = []
    ok = fits & view.open_days(i)
    if (fits & ~ok).any():
        causes.append(f"acceptance of patients from {p.organisation} has ended")
    if (ok & ~free.admission).any():
        causes.append("the daily admission limit is reached")
    ok &= free.admission
    if full is not None:
        closed = _closed_by_quotas(view, view.quotas_of(i), full)
        if (ok & closed).any():
            causes.append("a quota is used up")
        ok &= ~closed
    closing = " or ".join(causes) or "the daily admission limit is reached"
    place = cheapest_place(view, i, ok, group_at.get(p.group, ()) if p.group else ())
    if place is None:
        count = int(view.screen(i).eligible.sum())
        return (
            f"every feasible place is taken in the horizon: where beds are free for the stay, "
            f"{closing} ({_eligible(count)})",
            UnplacedReason.BEDS_FULL,
        )
    cost, f, a = place
    left = view.unplaced_cost(p)
    write = cost_writer((cost,), left)  # "0.36 against 10,020.00"; "3.57373e-10", not "0.00"
    where = f"{problem.facilities[f].id} on day {a}: {write(cost)} against {write(left)}"
    tolerance = cost_tolerance(left)
    if cost >= left - tolerance:
        # a tie is not "less": the plan broke it the other way (a zero weight, say)
        than = "costs less than" if cost > left + tolerance else "costs as much as"
        return (
            f"leaving the patient out {than} its cheapest free place ({where})",
            UnplacedReason.CHEAPER_LEFT_OUT,
        )
    return (
        f"a free place costs less than leaving the patient out ({where}); the plan is not "
        "optimal for this patient",
        UnplacedReason.FREE_PLACE_UNUSED,
    )


def unplaced_reason_beside(
    view: ProblemView,
    i: int,
    taken: tuple[IntArray, IntArray],
    counts: IntArray,
    group_at: Collection[int] = (),
) -> Unplaced:
    """`unplaced_reasons` of patient ``i`` alone, beside a placement of the others given by
    what it uses: ``taken`` (beds [facility, specialty, day], admissions [facility, day]),
    ``counts`` (the placements counted against each quota) and ``group_at`` (the facilities,
    by index, its group's placed members use). For `explain`, whose view holds the one patient:
    a view of the whole problem builds every patient's distances (4 GB on L)."""
    u = view.unplaced_reason(i)
    p = view.problem.patients[i]
    full = counts >= view.quota_room
    if u.code is UnplacedReason.BEDS_FULL:
        free = FreePlaces(view, taken)
        if free.somewhere(view.specialty_index[p.specialty], p.length_of_stay_days):
            groups = {p.group: set(group_at)} if p.group is not None and group_at else {}
            found = _capacity_reason(view, i, free, full if view.n_quotas else None, groups, u)
            u = Unplaced(u.patient, *found)
    if view.n_quotas:
        said = _quota_reason(view, i, full, counts, u)
        u = u if said is None else Unplaced(u.patient, *said)
    return u


def _quota_reasons(
    view: ProblemView, facility: IntArray, day: IntArray, unplaced: tuple[Unplaced, ...]
) -> tuple[Unplaced, ...]:
    """The reasons of the unplaced where quotas the plan uses up close some of their eligible
    facilities: "no agreement" when they close all of them, else the beds' reason with the
    facilities the quotas close named."""
    counts = quota_counts(view, facility, day)
    full = counts >= view.quota_room
    index = view.problem.patient_index
    said: dict[tuple[object, ...], tuple[str, UnplacedReason] | None] = {}
    out = []
    for u in unplaced:
        i = index[u.patient]
        # eligibility and quotas (organisation, specialty) alike, and the same reason before
        # the quotas (which can differ within a profile: acceptance ends and earliest days),
        # and the same earliest day: a quota of some days may close every day one patient
        # may come and not another's (a review found the first one's reason given to both)
        p = view.problem.patients[i]
        key = (*view._profile(i), p.earliest_day, u.code, u.reason)
        if key not in said:
            said[key] = _quota_reason(view, i, full, counts, u)
        found = said[key]
        out.append(u if found is None else Unplaced(u.patient, *found))
    return tuple(out)


def _quota_reason(
    view: ProblemView, i: int, full: BoolArray, counts: IntArray, u: Unplaced
) -> tuple[str, UnplacedReason] | None:
    """`_quota_reasons` for one patient (None: its reason stands), with ``counts`` the
    placements counted against each quota and ``full`` those with no room left."""
    quotas = view.problem.quotas
    mine = view.quotas_of(i)
    p = view.problem.patients[i]
    # the days the patient may be admitted at each eligible facility
    admissible = view.screen(i).eligible[:, None] & view.open_days(i)
    admissible[:, : p.earliest_day] = False
    closing = [q for q in mine.tolist() if full[q] and (_cells(view, q) & admissible).any()]
    if not closing or u.code is not UnplacedReason.BEDS_FULL:
        return None
    closed = _closed_by_quotas(view, np.array(closing, dtype=np.int64), full)
    names = ", ".join(f"{quotas[q].id} (room {quotas[q].room})" for q in closing)
    # a quota may have had no room to begin with (all of it used by patients sent earlier)
    used = any(counts[q] > 0 for q in closing)
    held = np.flatnonzero((closed & admissible).any(axis=0)).tolist()
    # where the quotas hold on some days only, the days they close (every admissible day
    # where they hold on every day, which goes unsaid as before)
    on = "" if not view.quotas_have_days else f" on day(s) {day_ranges(held)}"
    if not (admissible & ~closed).any():
        how = "is used by other patients" if used else "has no room"
        # eligible facilities whose acceptance of the patient's organisation ends before its
        # earliest day are closed by that, not by the quota, and said so (a review found
        # them counted into "every eligible facility" under a quota they were not under)
        ended = view.screen(i).eligible & ~admissible.any(axis=1)
        if not ended.any():
            return (
                f"the quota of {names} {how} at every eligible facility{on}",
                UnplacedReason.NO_AGREEMENT,
            )
        count = int(admissible.any(axis=1).sum())
        others = int(ended.sum())
        last = int(view.last_days(p.organisation)[ended].max())
        sent = (
            f"patients of {p.organisation}"
            if p.organisation
            else "patients without an organisation"
        )
        admit = "admits" if count == 1 else "admit"
        stop = "stops" if others == 1 else "stop"
        return (
            f"the quota of {names} {how} at the {_eligible(count)} that {admit} the patient"
            f"{on}; the other {_eligible(others)} {stop} admitting {sent} by day {last}, "
            f"before the patient's earliest day {p.earliest_day}",
            UnplacedReason.NO_AGREEMENT,
        )
    count = int((admissible & closed).any(axis=1).sum())
    how = "used by other patients" if used else "which has no room"
    return (
        f"{u.reason}; {count} of them closed to the patient{on} by the quota of {names}, {how}",
        u.code,
    )


def _eligible(count: int) -> str:
    """ "1 eligible facility", "3 eligible facilities"."""
    return f"{count} eligible {'facility' if count == 1 else 'facilities'}"


def _cells(view: ProblemView, q: int) -> BoolArray:
    """[facility, day]: where and on which admission days quota ``q`` counts."""
    cells: BoolArray = view.quota_facility[q][:, None] & view.quota_days[q][None, :]
    return cells


def _closed_by_quotas(view: ProblemView, quotas: IntArray, full: BoolArray) -> BoolArray:
    """[facility, day]: the admissions closed by those of ``quotas`` that have no room left
    (``full``)."""
    used_up = quotas[full[quotas]]
    closed: BoolArray = (
        np.any(
            view.quota_facility[used_up][:, :, None] & view.quota_days[used_up][:, None, :], axis=0
        )
        if len(used_up)
        else np.zeros((view.n_facilities, view.horizon), dtype=bool)
    )
    return closed


def assemble_plan(
    problem: Problem,
    view: ProblemView,
    placed: Mapping[str, Placement],
    *,
    status: PlanStatus,
    bound: float | None,
    solver: str,
    started: float,
) -> Plan:
    """Build a Plan: objective from the placement, bound clipped to it, reasons for the unplaced.

    ``bound`` None means no lower bound is known (heuristics); it is reported as 0 with the
    corresponding gap (every term of the objective is non-negative). So is a bound that is not
    a finite number (a MIP stopped before it had one): JSON has no infinities.
    """
    facility, day = placement_arrays(problem, placed)
    return assemble_plan_arrays(
        problem, view, facility, day, status=status, bound=bound, solver=solver, started=started
    )


def assemble_plan_arrays(
    problem: Problem,
    view: ProblemView,
    facility: IntArray,
    day: IntArray,
    *,
    status: PlanStatus,
    bound: float | None,
    solver: str,
    started: float,
) -> Plan:
    """`assemble_plan` for a placement given as arrays over the patients (large plans)."""
    breakdown = breakdown_of_arrays(problem, view, facility, day)
    objective = breakdown.total
    if bound is not None and not math.isfinite(bound):
        bound = None
    lower = min(objective, bound) if bound is not None else min(0.0, objective)
    if status is PlanStatus.OPTIMAL:
        lower = objective
    patients = problem.patients
    facility_ids = [f.id for f in problem.facilities]
    placed = np.flatnonzero(facility >= 0)
    assignments = tuple(
        Assignment(patients[i].id, facility_ids[f], d)
        for i, f, d in zip(
            placed.tolist(), facility[placed].tolist(), day[placed].tolist(), strict=True
        )
    )
    unplaced = unplaced_reasons(view, facility, day, np.flatnonzero(facility < 0).tolist())
    return Plan(
        status=status,
        objective=objective,
        bound=lower,
        gap=relative_gap(objective, lower),
        solver=solver,
        wall_seconds=round(time.perf_counter() - started, 4),
        breakdown=breakdown,
        assignments=assignments,
        unplaced=unplaced,
    )

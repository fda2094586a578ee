"""Explanations: why a patient is where the plan puts it, or why it has no place."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np

from medevac.planning.json_text import cut
from medevac.planning.model import (
    BoolArray,
    FloatArray,
    IntArray,
    ProblemView,
    Screen,
    occupancy,
    open_places,
    own_costs,
    split_and_change,
    unplaced_reason_beside,
)
from medevac.planning.plan import (
    OPTIMAL_TOLERANCE,
    Assignment,
    Plan,
    PlanStatus,
    Unplaced,
    cost_tolerance,
    cost_writer,
    day_ranges,
    figure,
    optimal_within,
)
from medevac.planning.problem import Facility, Patient, Problem, Quota

# facilities listed with their day-by-day blockers: of those the patient's own rules allow
# (specialty, needs, agreement, distance), the ones with a free place cheaper than the plan's
# choice first, then the nearest; those its rules exclude are counted per rule (`RuledOut`)
MAX_FACILITIES = 10
# free places cheaper than the plan's choice where the listing does not look (farther
# facilities from the patient's admission day on, its own facility after it): the cheapest
# facilities are named, one line each, the others counted (`CheaperElsewhere`)
MAX_ELSEWHERE = 3


class Blocker(StrEnum):
    """Why an alternative (facility, day) was not used (a small fixed set)."""

    SPECIALTY_NOT_OFFERED = "specialty_not_offered"
    NEEDS_NOT_MET = "needs_not_met"
    NO_AGREEMENT = "no_agreement"
    BEYOND_MAX_DISTANCE = "beyond_max_distance"
    BEDS_FULL = "beds_full"
    ADMISSION_LIMIT = "admission_limit_reached"
    QUOTA_FULL = "quota_full"
    ACCEPTANCE_ENDED = "acceptance_ended"
    #: free, and dearer than the plan's choice by the group's split
    WOULD_SPLIT_GROUP = "would_split_group"
    #: free, and dearer than the plan's choice by the change of a current place
    WOULD_CHANGE_CURRENT = "would_change_current_place"
    #: free and cheaper than the plan's choice: the plan is not optimal for this patient
    FREE = "free_and_cheaper"
    #: free and as cheap as the plan's choice: a tie the plan broke the other way
    AS_CHEAP = "free_and_as_cheap"
    #: free, but placing the unplaced patient there costs more than leaving it out
    COSTS_MORE = "costs_more_than_leaving_out"
    #: free, but dearer than the patient's place in the plan (a farther facility, earlier)
    COSTS_MORE_THAN_PLACE = "costs_more_than_its_place"


@dataclass(frozen=True, slots=True)
class Alternative:
    """A nearer or earlier place and why the plan did not use it, over a range of days."""

    facility: str
    first_day: int | None
    last_day: int | None
    distance_km: float
    blocker: Blocker
    detail: str


@dataclass(frozen=True, slots=True)
class CheaperElsewhere:
    """A facility with free places cheaper than the plan's choice for a placed patient where the
    listing of alternatives does not look: a farther facility on the patient's admission day or
    later, or its own facility on a later day. Such a place costs at least as much by the
    patient's own terms (wait, lateness, travel): it is cheaper only by its group's split or the
    change of its current place, which the listing never weighed there (a plan that splits a
    group to save a day's wait is not optimal for the patient)."""

    facility: str
    day: int  # the cheapest of ``days`` (the first of them where two cost the same)
    days: tuple[int, ...]  # every day with a free place there cheaper than the plan's choice
    distance_km: float
    cost: float  # what the place on ``day`` costs the plan, the patient's share
    detail: str


@dataclass(frozen=True, slots=True)
class RuledOut:
    """Facilities (nearer than the patient's place, or all for an unplaced patient) that one of
    the patient's own rules excludes whatever the plan: how many, and the nearest of them."""

    blocker: Blocker
    count: int
    nearest: str
    nearest_km: float
    detail: str  # what those facilities have in common, e.g. "have no burns beds"


@dataclass(frozen=True, slots=True)
class Explanation:
    """Where the patient is (or why it is unplaced), the alternatives that were not used, and
    the facilities its own rules exclude."""

    patient: str
    facility: str | None
    day: int | None
    distance_km: float | None
    unplaced: Unplaced | None
    alternatives: tuple[Alternative, ...]
    ruled_out: tuple[RuledOut, ...] = ()
    not_listed: int = 0  # nearer facilities its rules allow, beyond the MAX_FACILITIES listed
    # farther facilities its rules allow, with days before the patient's admission day (any day
    # where its place breaks a rule), beyond the MAX_FACILITIES of them listed
    farther_not_listed: int = 0
    # of the facilities not listed, those with a free place cheaper than the plan's choice (the
    # listing takes them first: only more than MAX_FACILITIES of them leave some out)
    cheaper_not_listed: int = 0
    # the patient's own rule that its place in the plan breaks ("" when none): a plan from
    # elsewhere need not be feasible
    place_breaks: str = ""
    # the patient's earliest day: the days before it are closed at every facility, said once
    # rather than for each facility; alternatives start on it
    earliest_day: int = 0
    # what became of the patient's current place (a re-plan), as a sentence; "" without one
    current: str = ""
    # free places cheaper than the plan's choice that the listing does not look at, cheapest
    # first (MAX_ELSEWHERE facilities), and how many more facilities have one
    cheaper_elsewhere: tuple[CheaperElsewhere, ...] = ()
    cheaper_elsewhere_not_listed: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The explanation as plain JSON data (codes from `Blocker` and `UnplacedReason`), with
        the sentences of `lines` under "text"."""
        return {
            "patient": self.patient,
            "facility": self.facility,
            "day": self.day,
            "distance_km": None if self.distance_km is None else round(self.distance_km, 3),
            "unplaced": None
            if self.unplaced is None
            else {
                "reason": self.unplaced.reason,
                "code": None if self.unplaced.code is None else self.unplaced.code.value,
            },
            "place_breaks": self.place_breaks or None,
            "current": self.current or None,
            "earliest_day": self.earliest_day,
            "ruled_out": [
                {
                    "blocker": r.blocker.value,
                    "count": r.count,
                    "nearest": r.nearest,
                    "nearest_km": round(r.nearest_km, 3),
                    "detail": r.detail,
                }
                for r in self.ruled_out
            ],
            "alternatives": [
                {
                    "facility": a.facility,
                    "first_day": a.first_day,
                    "last_day": a.last_day,
                    "distance_km": round(a.distance_km, 3),
                    "blocker": a.blocker.value,
                    "detail": a.detail,
                }
                for a in self.alternatives
            ],
            "not_listed": self.not_listed,
            "farther_not_listed": self.farther_not_listed,
            "cheaper_not_listed": self.cheaper_not_listed,
            "cheaper_elsewhere": [
                {
                    "facility": c.facility,
                    "day": c.day,
                    "days": list(c.days),
                    "distance_km": round(c.distance_km, 3),
                    "cost": c.cost,
                    "detail": c.detail,
                }
                for c in self.cheaper_elsewhere
            ],
            "cheaper_elsewhere_not_listed": self.cheaper_elsewhere_not_listed,
            "text": self.lines(),
        }

    def lines(self) -> list[str]:
        """The explanation as plain sentences."""
        out: list[str] = []
        nearer = "nearer " if self.facility is not None else ""
        if self.facility is not None:
            out.append(
                f"{self.patient} is admitted at {self.facility} on day {self.day} "
                f"({self.distance_km:.0f} km)."
            )
            if self.place_breaks:
                out.append(
                    f"  this place breaks the problem's rules: {self.place_breaks}; the plan is "
                    "not feasible (`medevac plan check` lists every broken rule)"
                )
        elif self.unplaced is not None:
            out.append(f"{self.patient} is unplaced: {self.unplaced.reason}.")
        if self.current:
            out.append(f"  current place: {self.current}")
        if self.ruled_out:
            parts = [
                f"{r.count} {r.detail} (nearest {r.nearest}, {r.nearest_km:.0f} km)"
                for r in self.ruled_out
            ]
            out.append(f"  {nearer}facilities this patient's own rules exclude: {'; '.join(parts)}")
        if self.earliest_day == 1:
            out.append("  day 0 is before the patient's earliest day 1, at every facility")
        elif self.earliest_day > 1:
            out.append(
                f"  days 0-{self.earliest_day - 1} are before the patient's earliest day "
                f"{self.earliest_day}, at every facility"
            )
        for alt in self.alternatives:
            days = (
                ""
                if alt.first_day is None
                else f" day {alt.first_day}"
                if alt.first_day == alt.last_day
                else f" days {alt.first_day}-{alt.last_day}"
            )
            out.append(f"  {alt.facility}{days} ({alt.distance_km:.0f} km): {alt.detail}")
        if self.not_listed:
            out.append(
                f"  and {self.not_listed} more {nearer}{_facilities(self.not_listed)} its rules "
                "allow, not listed"
            )
        if self.farther_not_listed:
            earlier = "" if self.place_breaks else ", with earlier days"
            out.append(
                f"  and {self.farther_not_listed} more farther "
                f"{_facilities(self.farther_not_listed)} its rules allow{earlier}, not listed"
            )
        if self.cheaper_not_listed:
            n = self.cheaper_not_listed
            against = "its place in the plan" if self.facility else "leaving the patient out"
            out.append(
                f"  of the facilities not listed, {n} {'has' if n == 1 else 'have'} a free place "
                f"cheaper than {against}"
            )
        for place in self.cheaper_elsewhere:
            days = _days(set(place.days))
            out.append(
                f"  cheaper elsewhere: {place.facility} {days} ({place.distance_km:.0f} km): "
                f"{place.detail}"
            )
        if self.cheaper_elsewhere_not_listed:
            n = self.cheaper_elsewhere_not_listed
            out.append(
                f"  and {n} more {_facilities(n)} with a free place cheaper than its place in the "
                "plan from its admission day on, not listed"
            )
        return out


class PlanMismatch(ValueError):
    """The plan names patients, facilities or days its problem does not have."""


def plan_mismatch(problem: Problem, plan: Plan) -> str | None:
    """What in ``plan`` does not fit its problem (the first few), or None: patients,
    facilities or days the problem does not have, patients of the problem the plan neither
    places nor lists as unplaced (a plan of another problem, or of the same registry built at
    another time), and patients it names twice (placed twice, or placed and unplaced: an
    edited plan, which `plan check` refuses as well). Ids are cut (`json_text.cut`): one of
    100,000 characters had made a line as long."""
    wrong: list[str] = []
    named: set[str] = set()
    for a in plan.assignments:
        if a.patient in named:
            wrong.append(f"patient {cut(a.patient)} is placed more than once")
        named.add(a.patient)
        if a.patient not in problem.patient_index:
            wrong.append(f"patient {cut(a.patient)} is not in the problem")
        elif a.facility not in problem.facility_index:
            wrong.append(
                f"{cut(a.patient)} is at facility {cut(a.facility)}, which is not in the problem"
            )
        elif not 0 <= a.day < problem.horizon_days:
            wrong.append(f"{cut(a.patient)} is admitted on day {a.day}, outside the horizon")
        if len(wrong) >= 3:
            return "; ".join(wrong[:3])
    placed = set(named)
    for u in plan.unplaced:
        if u.patient in placed:
            wrong.append(f"patient {cut(u.patient)} is both placed and unplaced")
        elif u.patient in named:
            wrong.append(f"patient {cut(u.patient)} is listed as unplaced more than once")
        named.add(u.patient)
        if u.patient not in problem.patient_index:
            wrong.append(f"unplaced patient {cut(u.patient)} is not in the problem")
        if len(wrong) >= 3:
            return "; ".join(wrong[:3])
    missing = [p.id for p in problem.patients if p.id not in named]
    if missing:
        shown = ", ".join(map(cut, missing[:3])) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        wrong.append(f"the plan says nothing of {len(missing)} patient(s) of the problem: {shown}")
    return "; ".join(wrong[:3]) if wrong else None


def explain(problem: Problem, plan: Plan, patient_id: str) -> Explanation:
    """Explain one patient's place in ``plan``; KeyError if the patient is not in the problem,
    PlanMismatch if the plan names patients, facilities or days the problem does not have (a
    plan of another problem)."""
    wrong = plan_mismatch(problem, plan)
    if wrong is not None:
        raise PlanMismatch(f"the plan does not fit the problem: {wrong}")
    patient = problem.patient(patient_id)
    assigned = plan.assignment_of(patient_id)
    unplaced = next((u for u in plan.unplaced if u.patient == patient_id), None)
    if assigned is None and unplaced is None:
        raise PlanMismatch(
            f"the plan does not fit the problem: it neither admits {patient_id} nor lists it "
            "unplaced (`medevac plan check` lists every broken rule)"
        )
    # a view of the patient alone: its distances, eligibility and costs. One of the whole
    # problem built every patient's distances: on L with distinct origins, 11.6 s and 4.1 GB
    # for one explanation. What the plan's other patients use needs no distances.
    view = ProblemView(replace(problem, patients=(patient,)))
    use = _plan_use(problem, view, plan, patient_id)
    horizon = view.horizon
    distances = view.distance[0]
    screen = view.screen(0)
    closed = _closed_by_quotas(problem, view, use.quota_counts)
    own = -1 if assigned is None else problem.facility_index[assigned.facility]
    place_breaks = (
        ""
        if assigned is None
        else _place_breaks(problem, view, patient, assigned, screen, use, closed)
    )

    # what each place costs the plan, this patient's share: wait, lateness, travel, the change
    # of its current place and the group's split, against its place (one that breaks a rule
    # too: moving the patient is what the alternatives are about) or leaving it out
    costs = own_costs(view, 0, use.group_at)
    split, change = split_and_change(view, 0, use.group_at)
    if assigned is None:
        reference = view.unplaced_cost(patient)
        # leaving the patient out splits nothing and gives up its current place, if any
        paid = (0.0, problem.weights.change if patient.current is not None else 0.0)
    else:
        reference = _place_cost(view, patient, own, assigned.day, costs, split, change)
        paid = (float(split[own]), float(change[own]))
    slack = _proven_slack(plan)
    group_ids = {problem.facilities[f].id for f in use.group_at}
    pricing = _Pricing(
        patient,
        split,
        change,
        group_ids,
        reference,
        assigned is not None,
        *paid,
        slack,
        None if slack is None else optimal_within(plan.objective),
    )
    cheaper = _free_places(view, patient, use, closed) & (costs < reference - pricing.tolerance)

    # the nearer facilities: those the patient's own rules exclude whatever the plan are
    # counted per rule; the others are examined on any day. Then, for a placed patient, its
    # own facility and the farther ones its rules allow, on the days before its admission day,
    # or on any day where its place breaks a rule (it needs another place)
    limit_distance = float("inf") if assigned is None else float(distances[own])
    earlier = assigned is not None and assigned.day > patient.earliest_day
    broken = bool(place_breaks)
    farther_last = horizon - 1 if broken or assigned is None else assigned.day - 1
    nearer: list[int] = []
    farther: list[int] = []
    excluded: dict[Blocker, list[int]] = {}
    for f in sorted(range(view.n_facilities), key=lambda f: (distances[f], f)):
        if f == own:
            continue
        static = _static_blocker(problem, patient, f, screen)
        if distances[f] > limit_distance:
            if not (earlier or broken):
                break
            if static is None:
                farther.append(f)
        elif static is not None:
            excluded.setdefault(static[0], []).append(f)
        else:
            nearer.append(f)
    # the places the listing does not look at: for a placed patient whose place breaks no rule,
    # the farther facilities from its admission day on and its own facility after it. There a
    # free place is no dearer by the patient's own terms (wait and lateness grow with the day,
    # travel with the distance), but may be cheaper by its group's split or the change of its
    # current place: those are named apart (`_cheaper_elsewhere`)
    unexamined: BoolArray = np.zeros_like(cheaper)
    if assigned is not None and not broken:
        unexamined[distances > limit_distance, assigned.day :] = True
        unexamined[own, assigned.day + 1 :] = True
    near_cheaper: BoolArray = np.any(cheaper, axis=1)
    far_cheaper: BoolArray = np.any(cheaper[:, : farther_last + 1], axis=1)
    near_listed, not_listed, near_hidden = _capped(nearer, near_cheaper)
    far_listed, farther_not_listed, far_hidden = _capped(farther, far_cheaper)
    # the nearer first, then the patient's own facility, then the farther
    candidates = [(f, horizon - 1) for f in near_listed]
    if (
        assigned is not None
        and (broken or earlier)
        and _static_blocker(problem, patient, own, screen) is None
    ):
        candidates.append((own, farther_last))  # not its own day: that is the place
    candidates += [(f, farther_last) for f in far_listed]
    ruled_out = tuple(
        RuledOut(
            blocker,
            len(found),
            problem.facilities[found[0]].id,
            float(distances[found[0]]),
            _ruled_out_detail(blocker, patient, len(found)),
        )
        for blocker, found in sorted(excluded.items(), key=lambda item: distances[item[1][0]])
    )

    alternatives: list[Alternative] = []
    for f, last in candidates:
        facility = problem.facilities[f]
        skipped = assigned.day if assigned is not None and f == own else -1
        # runs of admission days with the same blocker and wording; for full beds, the days
        # found full; for free places, what each costs
        runs: list[_Run] = []
        for day in range(patient.earliest_day, last + 1):
            if day == skipped:
                continue
            blocker, detail, full_day = _day_blocker(problem, view, patient, f, day, use, closed)
            cost = None
            if blocker is Blocker.FREE:
                cost = float(costs[f, day])
                blocker, detail = pricing.blocker(f, cost)
            if runs and runs[-1].joins(day, blocker, detail):
                runs[-1].extend(day, full_day, detail, cost)
            else:
                runs.append(_Run.start(day, blocker, detail, full_day, cost))
        km = float(distances[f])
        for run in runs:
            alternatives.append(
                Alternative(facility.id, run.first, run.last, km, run.blocker, pricing.detail(run))
            )

    elsewhere, elsewhere_not_listed = _cheaper_elsewhere(
        problem, view, assigned, cheaper, costs, pricing, unexamined
    )

    if unplaced is not None and unplaced.code is None:
        # a plan read from its file has the reasons' sentences, not their codes: both are
        # worked out again (the file's sentence had been shown beside a code that denied it)
        taken = (use.beds, use.admitted)
        unplaced = unplaced_reason_beside(view, 0, taken, use.quota_counts, use.group_at)
    return Explanation(
        patient_id,
        assigned.facility if assigned else None,
        assigned.day if assigned else None,
        float(distances[own]) if assigned else None,
        unplaced,
        tuple(alternatives),
        ruled_out=ruled_out,
        not_listed=not_listed,
        farther_not_listed=farther_not_listed,
        cheaper_not_listed=near_hidden + far_hidden,
        place_breaks=place_breaks,
        earliest_day=patient.earliest_day,
        current=_current_fate(patient, assigned, problem.weights.change),
        cheaper_elsewhere=elsewhere,
        cheaper_elsewhere_not_listed=elsewhere_not_listed,
    )


def _cheaper_elsewhere(
    problem: Problem,
    view: ProblemView,
    assigned: Assignment | None,
    cheaper: BoolArray,
    costs: FloatArray,
    pricing: _Pricing,
    unexamined: BoolArray,
) -> tuple[tuple[CheaperElsewhere, ...], int]:
    """Of the free places cheaper than the plan's choice (``cheaper``, [facility, day]) among
    those the listing does not look at (``unexamined``), the cheapest MAX_ELSEWHERE facilities,
    each with its cheapest day, cheapest first (then nearest), and how many more facilities
    have one."""
    found = cheaper & unexamined
    if assigned is None or not found.any():
        return (), 0
    priced = np.where(found, costs, np.inf)
    best_day = np.argmin(priced, axis=1)  # the first of the cheapest days
    best = priced[np.arange(view.n_facilities), best_day]
    distances = view.distance[0]
    facilities = np.flatnonzero(np.isfinite(best))
    order = facilities[np.lexsort((facilities, distances[facilities], best[facilities]))]
    named: list[CheaperElsewhere] = []
    for f in order[:MAX_ELSEWHERE].tolist():
        days = np.flatnonzero(found[f])
        day_costs = priced[f, days].tolist()
        why = pricing.saved_by(f)
        named.append(
            CheaperElsewhere(
                problem.facilities[f].id,
                int(best_day[f]),
                tuple(days.tolist()),
                float(distances[f]),
                float(best[f]),
                pricing.cheaper(day_costs, f", {why}" if why else ""),
            )
        )
    return tuple(named), max(0, len(order) - MAX_ELSEWHERE)


def _proven_slack(plan: Plan) -> float | None:
    """For a plan called optimal, its objective less its bound (what its proof leaves open),
    else None; 0.0 where the two differ by no more than the rounding of their sums: that is no
    gap, and not one to write as -1e-13."""
    if plan.status is not PlanStatus.OPTIMAL:
        return None
    slack = plan.objective - plan.bound
    return 0.0 if abs(slack) <= 1e-12 * max(abs(plan.objective), abs(plan.bound)) else slack


@dataclass(frozen=True, slots=True)
class _PlanUse:
    """What the plan's other patients use (the explained patient left out): beds [facility,
    specialty, day], admissions [facility, day], the placements counted against each quota,
    and the facilities (by index) its group's other placed members use."""

    beds: IntArray
    admitted: IntArray
    quota_counts: IntArray
    group_at: frozenset[int]


def _plan_use(problem: Problem, view: ProblemView, plan: Plan, patient_id: str) -> _PlanUse:
    """`_PlanUse` of ``plan`` beside ``patient_id``, without a distance (``view`` may hold the
    one patient: its specialties and quotas are the problem's)."""
    group = problem.patient(patient_id).group
    horizon = view.horizon
    facility_index = problem.facility_index
    at: list[int] = []  # facility, specialty, first and end day of each other stay
    specialty: list[int] = []
    first: list[int] = []
    end: list[int] = []
    admitted = np.zeros((view.n_facilities, horizon), dtype=np.int64)
    counts = np.zeros(view.n_quotas, dtype=np.int64)
    under: dict[tuple[str | None, str], IntArray] = {}  # the quotas over each kind of patient
    group_at: set[int] = set()
    for a in plan.assignments:
        if a.patient == patient_id:
            continue
        other = problem.patient(a.patient)
        f = facility_index[a.facility]
        admitted[f, a.day] += 1
        s = view.specialty_index.get(other.specialty)
        if s is not None:  # a specialty no facility offers has no beds to take
            at.append(f)
            specialty.append(s)
            first.append(a.day)
            end.append(min(a.day + other.length_of_stay_days, horizon))
        if group is not None and other.group == group:
            group_at.add(f)
        if view.n_quotas:
            key = (other.organisation, other.specialty)
            mine = under.get(key)
            if mine is None:
                covering = [q for q, quota in enumerate(problem.quotas) if quota.covers(other)]
                mine = under[key] = np.array(covering, dtype=np.int64)
            counts[mine[view.quota_facility[mine, f] & view.quota_days[mine, a.day]]] += 1
    beds, _ = occupancy(
        view.beds.shape,
        np.array(at, dtype=np.int64),
        np.array(specialty, dtype=np.int64),
        np.array(first, dtype=np.int64),
        np.array(end, dtype=np.int64),
        np.ones(len(at), dtype=np.int64),
    )
    return _PlanUse(beds, admitted, counts, frozenset(group_at))


def _place_cost(
    view: ProblemView,
    patient: Patient,
    f: int,
    day: int,
    costs: FloatArray,
    split: FloatArray,
    change: FloatArray,
) -> float:
    """What the patient's place in the plan costs it (`own_costs`), by the objective's terms
    even where the place breaks a rule: a day before its earliest day costs its wait and
    lateness (where `own_costs` has inf)."""
    if day >= patient.earliest_day:
        return float(costs[f, day])
    wait = float(view.day_cost(replace(patient, earliest_day=0))[day])
    travel = view.problem.weights.travel_per_km * float(view.distance[0, f])
    return wait + (travel + float(split[f]) + float(change[f]))  # in `own_costs`' order


def _free_places(view: ProblemView, patient: Patient, use: _PlanUse, closed: Closed) -> BoolArray:
    """[facility, day]: the places no rule blocks for the patient (``view``'s one), beside the
    plan's other patients: what `_day_blocker` calls free, for every facility at once."""
    s = view.specialty_index.get(patient.specialty)
    if s is None:
        return np.zeros((view.n_facilities, view.horizon), dtype=bool)
    every = np.arange(view.n_facilities)
    taken = (use.beds, use.admitted)
    ok = open_places(view, taken, s, every, patient.length_of_stay_days) & view.open_days(0)
    ok &= view.screen(0).eligible[:, None]
    for f, quotas in closed.items():
        for quota, _ in quotas:
            ok[f] &= [not quota.holds_on(d) for d in range(view.horizon)]
    return ok


def _capped(group: list[int], cheaper: BoolArray) -> tuple[list[int], int, int]:
    """Of the facilities ``group`` (nearest first), those to list: the ones with a free place
    cheaper than the plan's choice (``cheaper``, per facility) first, then the nearest others,
    MAX_FACILITIES in all, nearest first; how many are not listed, and how many of those have a
    cheaper place. The nearest alone had hidden an eleventh facility's free and cheaper bed."""
    chosen = {f for f in group if cheaper[f]}
    if len(chosen) > MAX_FACILITIES:
        chosen = set([f for f in group if f in chosen][:MAX_FACILITIES])
    for f in group:
        if len(chosen) >= MAX_FACILITIES:
            break
        chosen.add(f)
    listed = [f for f in group if f in chosen]
    hidden = sum(1 for f in group if cheaper[f] and f not in chosen)
    return listed, len(group) - len(listed), hidden


def _current_fate(patient: Patient, assigned: Assignment | None, change: float) -> str:
    """What the plan does with the patient's current place (re-planning), in a sentence."""
    current = patient.current
    if current is None:
        return ""
    was = f"{current.facility} on day {current.day}"
    cost = cost_writer((), change)(change)  # "20.00"; "1e-09", not "0.00"
    if assigned is None:
        return f"{was}, given up (the change costs {cost})"
    if assigned.facility != current.facility:
        return f"{was}; moved from there (the change costs {cost})"
    if assigned.day != current.day:
        return f"{was}; the same facility on another day (no change cost)"
    return f"{was}, kept"


#: per facility (by index), the quotas used up there, each with its count (`_closed_by_quotas`)
Closed = dict[int, list[tuple[Quota, int]]]


def _closed_by_quotas(problem: Problem, view: ProblemView, counts: IntArray) -> Closed:
    """Facilities (by index) where a quota the patient (``view``'s one) falls under is used up
    by the plan's other patients (``counts``, per quota; the patient's own placement does not
    count against its alternatives), with those quotas and their counts: each closes the
    facility on its days (`Quota.days`, `_closing`)."""
    closed: Closed = {}
    for q in view.quotas_of(0).tolist():
        quota, count = problem.quotas[q], int(counts[q])
        if count < quota.room:
            continue
        for f in np.flatnonzero(view.quota_facility[q]).tolist():
            closed.setdefault(f, []).append((quota, count))
    return closed


def _closing(closed: Closed, f: int, day: int) -> tuple[Quota, int] | None:
    """The first quota used up that closes facility ``f`` on admission ``day``, with its
    count; None where none does."""
    return next((found for found in closed.get(f, ()) if found[0].holds_on(day)), None)


def _quota_used(quota: Quota, count: int) -> str:
    """What a quota used up by other patients closes, said of a day."""
    if quota.room > 0:
        return f"quota {quota.id} used up ({count} of its room {quota.room} by other patients)"
    return f"quota {quota.id} has no room"


def _static_blocker(
    problem: Problem, patient: Patient, f: int, screen: Screen
) -> tuple[Blocker, str] | None:
    facility = problem.facilities[f]
    if not screen.offers[f]:
        return Blocker.SPECIALTY_NOT_OFFERED, f"has no {patient.specialty} beds"
    if not screen.needs_met[f]:
        missing = ", ".join(sorted(patient.needs - facility.capabilities))
        return Blocker.NEEDS_NOT_MET, f"lacks {missing}"
    if not screen.agreement[f]:
        return Blocker.NO_AGREEMENT, f"does not accept {_senders(patient)}"
    if not screen.in_range[f]:
        return Blocker.BEYOND_MAX_DISTANCE, f"is beyond {_km(patient.max_distance_km)} km"
    return None


def _ruled_out_detail(blocker: Blocker, patient: Patient, count: int) -> str:
    """What the ``count`` facilities a static rule excludes have in common (read after the
    count: "3 have no burns beds", "1 has no burns beds")."""
    one = count == 1
    if blocker is Blocker.SPECIALTY_NOT_OFFERED:
        return f"{'has' if one else 'have'} no {patient.specialty} beds"
    if blocker is Blocker.NEEDS_NOT_MET:
        needs = ", ".join(sorted(patient.needs))
        return f"{'does' if one else 'do'} not meet the patient's needs, {needs}"
    if blocker is Blocker.NO_AGREEMENT:
        return f"{'does' if one else 'do'} not accept {_senders(patient)}"
    return f"{'is' if one else 'are'} beyond its limit of {_km(patient.max_distance_km)} km"


def _senders(patient: Patient) -> str:
    """The patients a facility's agreements speak of, as the patient's organisation gives them:
    "patients from ORG-A", or "patients without an organisation" (not "from None")."""
    if not patient.organisation:
        return "patients without an organisation"
    return f"patients from {patient.organisation}"


def _km(limit: float | None) -> str:
    """A distance limit as people read it ("1,500"; `:g` had written 1e+06)."""
    return figure(limit) if limit is not None else "no limit"


def _place_breaks(
    problem: Problem,
    view: ProblemView,
    patient: Patient,
    assigned: Assignment,
    screen: Screen,
    use: _PlanUse,
    closed: Closed,
) -> str:
    """The patient's own rule that its place in the plan breaks, the rest of the plan as it is
    ("" where none): its static rules, its earliest day, the end of acceptance, a quota, the
    beds of its specialty on some day of the stay, the facility's admission limit."""
    f = problem.facility_index[assigned.facility]
    static = _static_blocker(problem, patient, f, screen)
    if static is not None:
        return f"{assigned.facility} {static[1]}"
    if assigned.day < patient.earliest_day:
        return f"day {assigned.day} is before the earliest day {patient.earliest_day}"
    blocker, detail, full_day = _day_blocker(problem, view, patient, f, assigned.day, use, closed)
    if blocker is Blocker.ACCEPTANCE_ENDED:
        return f"{assigned.facility} {detail}"
    if blocker is Blocker.QUOTA_FULL:
        quota, count = _closing(closed, f, assigned.day) or closed[f][0]
        used = (
            f"used up ({count} of its room {quota.room} by other patients)"
            if quota.room > 0
            else "which has no room"
        )
        return f"{assigned.facility} is under quota {quota.id}, {used}"
    if blocker is Blocker.BEDS_FULL:
        if not detail:
            return f"{assigned.facility} has no {patient.specialty} beds on day {full_day}"
        return f"{assigned.facility} has no {patient.specialty} bed left for it ({detail})"
    if blocker is Blocker.ADMISSION_LIMIT:
        facility = problem.facilities[f]
        if facility.daily_admission_limit == 0:
            return f"{assigned.facility} {detail}"  # "admits nobody (admission limit 0)"
        due = facility.taken_on(assigned.day)
        earlier = f", {due} of it already due" if due else ""
        return (
            f"{assigned.facility} admits no more on day {assigned.day} (admission limit "
            f"{facility.daily_admission_limit} reached{earlier})"
        )
    return ""


def _day_blocker(
    problem: Problem,
    view: ProblemView,
    patient: Patient,
    f: int,
    day: int,
    use: _PlanUse,
    closed: Closed,
) -> tuple[Blocker, str, int]:
    """The first rule that blocks an admission of the patient (``view``'s one) at facility
    ``f`` on ``day``, beside the plan's other patients: its detail and, for full beds, the
    first full day of the stay (else -1), whose detail is "" where the facility has no beds of
    the specialty that day; `Blocker.FREE` where none does (what the place costs is weighed
    apart, `_Pricing`). A quota used up closes the days the facility still admits the
    patient's organisation on."""
    facility = problem.facilities[f]
    ended = _acceptance_ended(facility, patient, day)
    if ended:
        return Blocker.ACCEPTANCE_ENDED, ended, -1
    closing = _closing(closed, f, day)
    if closing is not None:
        return Blocker.QUOTA_FULL, _quota_used(*closing), -1
    s = view.specialty_index[patient.specialty]
    free, taken = view.beds[f, s], use.beds[f, s]
    for d in range(day, min(day + patient.length_of_stay_days, view.horizon)):
        if taken[d] >= free[d]:
            said = f"day {d}: {taken[d]} of {free[d]} taken" if free[d] > 0 else ""
            return Blocker.BEDS_FULL, said, d
    limit = facility.daily_admission_limit
    due = facility.taken_on(day)
    if limit == 0:
        # nothing is "reached" of a limit of 0, and admissions due there do not matter
        return Blocker.ADMISSION_LIMIT, "admits nobody (admission limit 0)", -1
    if limit is not None and use.admitted[f, day] + due >= limit:
        earlier = f" ({due} of it already due)" if due else ""
        return Blocker.ADMISSION_LIMIT, f"admission limit {limit} reached{earlier}", -1
    return Blocker.FREE, "", -1


@dataclass(slots=True)
class _Run:
    """Consecutive admission days at one facility with one blocker and wording: for full beds
    the days found full and those without a bed of the specialty, for free places what each
    day costs."""

    first: int
    last: int
    blocker: Blocker
    # for full beds, the first count found taken ("day 5: 5 of 5 taken"; "" until one)
    detail: str
    full: set[int]  # full beds: the days found with every bed taken
    empty: set[int]  # full beds: the days found without a bed of the specialty
    costs: list[float]

    @classmethod
    def start(
        cls, day: int, blocker: Blocker, detail: str, full_day: int, cost: float | None
    ) -> _Run:
        beds = blocker is Blocker.BEDS_FULL
        run = cls(day, day, blocker, "" if beds else detail, set(), set(), [])
        run.add(full_day, detail, cost)
        return run

    def joins(self, day: int, blocker: Blocker, detail: str) -> bool:
        # full beds: the run says which days were full
        same = blocker is Blocker.BEDS_FULL or detail == self.detail
        return self.blocker is blocker and self.last == day - 1 and same

    def extend(self, day: int, full_day: int, detail: str, cost: float | None) -> None:
        self.last = day
        self.add(full_day, detail, cost)

    def add(self, full_day: int, detail: str, cost: float | None) -> None:
        if self.blocker is Blocker.BEDS_FULL:
            if detail:
                self.full.add(full_day)
                self.detail = self.detail or detail
            else:
                self.empty.add(full_day)
        if cost is not None:
            self.costs.append(cost)


@dataclass(frozen=True, slots=True)
class _Pricing:
    """Free places weighed against the plan's choice for the patient (its place, or leaving it
    out) by their cost to the plan, the patient's share of it; ``reference`` is the choice's."""

    patient: Patient
    split: FloatArray  # per facility, the group's split placing the patient there pays
    change: FloatArray  # per facility, the change of its current place that it pays
    group_facilities: set[str]  # the facilities the plan's other members of its group use
    reference: float
    placed: bool  # the plan places the patient (else it leaves it out)
    reference_split: float  # the group's split the plan's choice pays
    reference_change: float  # the change of a current place the plan's choice pays
    # for a plan called optimal, its objective less its bound: what its proof leaves open
    proven_slack: float | None = None
    # for a plan called optimal, how far above the optimum it may lie all the same
    # (`optimal_within`: the engines' tolerances, the bonus of kept places among them)
    optimal_within: float | None = None

    @property
    def tolerance(self) -> float:
        """How far a cost may be from ``reference`` and still be taken as equal to it."""
        return cost_tolerance(self.reference)

    @property
    def against(self) -> str:
        return "its place in the plan" if self.placed else "leaving the patient out"

    def blocker(self, f: int, cost: float) -> tuple[Blocker, str]:
        """Why a free place at facility ``f`` costing ``cost`` was not taken, and the wording
        before its costs (`detail`): cheaper (the plan is not optimal for the patient), as
        cheap, or dearer by the patient's own terms, else by the group's split, else by the
        change of its current place."""
        tolerance = self.tolerance
        if cost < self.reference - tolerance:
            return Blocker.FREE, "free and cheaper"
        if cost <= self.reference + tolerance:
            return Blocker.AS_CHEAP, "free and as cheap"
        p = self.patient
        split, change = float(self.split[f]), float(self.change[f])
        # dearer by the patient's own terms (each side less what it pays for the split and the
        # change: the plan's choice may split the group or move the patient too), else by the
        # split, else by the change
        own = cost - split - change
        own_reference = self.reference - self.reference_split - self.reference_change
        more = {
            "own": own - own_reference,
            "split": split - self.reference_split,
            "change": change - self.reference_change,
        }
        if own > own_reference + tolerance:
            dearer = "own"
        elif split > self.reference_split + tolerance:
            dearer = "split"
        elif change > self.reference_change + tolerance:
            dearer = "change"
        else:
            # each part within the tolerance, together beyond it (weights of 1e-9, say): the
            # dearest of them (an assertion that the change was had failed here)
            dearer = max(more, key=lambda part: more[part])
        if dearer == "split" and self.group_facilities:
            where = ", ".join(sorted(self.group_facilities))
            return Blocker.WOULD_SPLIT_GROUP, f"would split group {p.group} (at {where})"
        if dearer == "change" and p.current is not None:
            return Blocker.WOULD_CHANGE_CURRENT, f"would move the patient from {p.current.facility}"
        return (Blocker.COSTS_MORE_THAN_PLACE if self.placed else Blocker.COSTS_MORE), (
            "free, but dearer"
        )

    def versus(self, costs: list[float]) -> str:
        """Days' ``costs`` (the lowest and the highest) against the plan's choice's, "1.71 to
        2.71 against 50.00 for its place in the plan"."""
        write = cost_writer((min(costs), max(costs)), self.reference)
        low, high = write(min(costs)), write(max(costs))
        said = low if low == high else f"{low} to {high}"
        return f"{said} against {write(self.reference)} for {self.against}"

    def cheaper(self, costs: list[float], why: str = "") -> str:
        """The wording of free places cheaper than the plan's choice, costing ``costs``, with
        ``why`` after "free and cheaper" (", beside group G"): the plan is not optimal for the
        patient, or, for a plan called optimal, optimal to within what its proof leaves open
        where the saving is no more than that."""
        versus = self.versus(costs)
        saving = self.reference - min(costs)
        if self.proven_slack is not None and saving <= self.proven_slack + self.tolerance:
            # no contradiction of its status: the plan is optimal to within its gap
            write = cost_writer((min(costs), max(costs)), self.reference)
            return (
                f"free and cheaper{why} ({versus}), by less than the plan's proof leaves open "
                f"(objective less bound, {write(self.proven_slack)}): optimal to its "
                "tolerance, not to the last cent"
            )
        if self.optimal_within is not None and saving <= self.optimal_within:
            # a plan called optimal may lie this far above the optimum: a near tie (a kept
            # place's bonus, the solvers' gap), not a contradiction of its status
            write = cost_writer((min(costs), max(costs)), self.reference)
            return (
                f"free and cheaper{why} ({versus}), by no more than an optimal plan may lie "
                f"above the optimum ({write(self.optimal_within)}: {OPTIMAL_TOLERANCE:g} of its "
                "objective, or of 1 if that is larger): a near tie, broken the other way"
            )
        return f"free and cheaper{why} ({versus}): the plan is not optimal for this patient"

    def saved_by(self, f: int) -> str:
        """What a free place at facility ``f`` saves against the plan's choice beside the
        patient's own terms: its group's split ("beside group G"), the change of its current
        place ("at its current facility"), both, or neither ("")."""
        tolerance = self.tolerance
        saves = []
        if float(self.split[f]) < self.reference_split - tolerance:
            saves.append(f"beside group {self.patient.group}")
        if float(self.change[f]) < self.reference_change - tolerance:
            saves.append("at its current facility")
        return " and ".join(saves)

    def detail(self, run: _Run) -> str:
        """The run's detail, with its days' costs against the plan's choice."""
        if run.blocker is Blocker.BEDS_FULL:
            specialty = self.patient.specialty
            parts = []
            if run.full:
                days = f" on days {day_ranges(run.full)}" if len(run.full) > 1 else ""
                parts.append(f"{specialty} beds full{days} ({run.detail})")
            if run.empty:
                # not "beds full (day 0: 0 of 0 taken)"
                parts.append(f"has no {specialty} beds on {_days(run.empty)}")
            return "; ".join(parts)
        if not run.costs:
            return run.detail
        if run.blocker is Blocker.FREE:
            return self.cheaper(run.costs)
        versus = self.versus(run.costs)
        if run.blocker is Blocker.AS_CHEAP:
            return f"free and as cheap ({versus}): a tie the plan broke the other way"
        if run.blocker in (Blocker.COSTS_MORE, Blocker.COSTS_MORE_THAN_PLACE):
            return f"free, but costs {versus}"
        return f"{run.detail}: {versus}"


def _acceptance_ended(facility: Facility, patient: Patient, day: int) -> str:
    """What to say where ``facility`` no longer admits ``patient``'s organisation on ``day``
    (`Facility.accepts_until`); empty where it does."""
    last = facility.last_admission_day(patient.organisation)
    if last is None or day <= last:
        return ""
    return f"admits patients of {patient.organisation} until day {last}"


def _days(days: set[int]) -> str:
    """ "day 3", or "days 3-5, 9"."""
    return f"day {min(days)}" if len(days) == 1 else f"days {day_ranges(days)}"


def _facilities(count: int) -> str:
    return "facility" if count == 1 else "facilities"

"""Explanations: why a patient is where the plan puts it, or why it has no place."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from medevac.planning.model import (
    FloatArray,
    ProblemView,
    Screen,
    own_costs,
    placement_arrays,
    split_and_change,
    unplaced_reasons,
)
from medevac.planning.plan import (
    Assignment,
    Plan,
    PlanStatus,
    Unplaced,
    cost_tolerance,
    decimals_apart,
)
from medevac.planning.problem import Facility, Patient, Problem

# facilities listed with their day-by-day blockers: the nearest that the patient's own rules
# allow (specialty, needs, agreement, distance); the others are counted per rule (`RuledOut`)
MAX_FACILITIES = 10


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
    # farther facilities its rules allow, with days before the patient's admission day, beyond
    # the MAX_FACILITIES of them listed
    farther_not_listed: int = 0
    # the patient's own rule that its place in the plan breaks ("" when none): a plan from
    # elsewhere need not be feasible
    place_breaks: str = ""
    # the patient's earliest day: the days before it are closed at every facility, said once
    # rather than for each facility; alternatives start on it
    earliest_day: int = 0
    # what became of the patient's current place (a re-plan), as a sentence; "" without one
    current: str = ""

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
            "text": self.lines(),
        }

    def lines(self) -> list[str]:
        """The explanation as plain sentences."""
        out: list[str] = []
        which = "nearer facilities" if self.facility is not None else "facilities"
        if self.facility is not None:
            out.append(
                f"{self.patient} is admitted at {self.facility} on day {self.day} "
                f"({self.distance_km:.0f} km)."
            )
            if self.place_breaks:
                out.append(
                    f"  this place breaks the problem's rules: {self.place_breaks} (the plan is "
                    "not feasible; `medevac plan check` lists every broken rule)"
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
            out.append(f"  {which} this patient's own rules exclude: {'; '.join(parts)}")
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
            out.append(f"  and {self.not_listed} more {which} its rules allow, not listed")
        if self.farther_not_listed:
            out.append(
                f"  and {self.farther_not_listed} more farther facilities its rules allow, with "
                "earlier days, not listed"
            )
        return out


class PlanMismatch(ValueError):
    """The plan names patients, facilities or days its problem does not have."""


def plan_mismatch(problem: Problem, plan: Plan) -> str | None:
    """What in ``plan`` does not fit its problem (the first few), or None: patients,
    facilities or days the problem does not have, patients of the problem the plan neither
    places nor lists as unplaced (a plan of another problem, or of the same registry built at
    another time), and patients it names twice (placed twice, or placed and unplaced: an
    edited plan, which `plan check` refuses as well)."""
    wrong: list[str] = []
    named: set[str] = set()
    for a in plan.assignments:
        if a.patient in named:
            wrong.append(f"patient {a.patient} is placed more than once")
        named.add(a.patient)
        if a.patient not in problem.patient_index:
            wrong.append(f"patient {a.patient} is not in the problem")
        elif a.facility not in problem.facility_index:
            wrong.append(f"{a.patient} is at facility {a.facility}, which is not in the problem")
        elif not 0 <= a.day < problem.horizon_days:
            wrong.append(f"{a.patient} is admitted on day {a.day}, outside the horizon")
        if len(wrong) >= 3:
            return "; ".join(wrong[:3])
    placed = set(named)
    for u in plan.unplaced:
        if u.patient in placed:
            wrong.append(f"patient {u.patient} is both placed and unplaced")
        elif u.patient in named:
            wrong.append(f"patient {u.patient} is listed as unplaced more than once")
        named.add(u.patient)
        if u.patient not in problem.patient_index:
            wrong.append(f"unplaced patient {u.patient} is not in the problem")
        if len(wrong) >= 3:
            return "; ".join(wrong[:3])
    missing = [p.id for p in problem.patients if p.id not in named]
    if missing:
        shown = ", ".join(missing[:3]) + (
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
    index = problem.patient_index[patient_id]
    patient = problem.patients[index]
    view = ProblemView(problem)
    horizon = view.horizon
    assigned = plan.assignment_of(patient_id)
    distances = view.distance[view.origin_of[index]]
    screen = view.screen(index)

    used: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * horizon)
    admitted: dict[tuple[str, int], int] = defaultdict(int)
    group_facilities: set[str] = set()
    for a in plan.assignments:
        if a.patient == patient_id:
            continue
        other = problem.patient(a.patient)
        beds = used[(a.facility, other.specialty)]
        for d in range(a.day, min(a.day + other.length_of_stay_days, horizon)):
            beds[d] += 1
        admitted[(a.facility, a.day)] += 1
        if patient.group is not None and other.group == patient.group:
            group_facilities.add(a.facility)

    if assigned is None:
        limit_distance = float("inf")
        limit_day = horizon - 1
        assigned_index = -1
    else:
        assigned_index = problem.facility_index[assigned.facility]
        limit_distance = float(distances[assigned_index])
        limit_day = assigned.day
    # the nearer facilities: those the patient's own rules exclude are counted per rule, the
    # nearest MAX_FACILITIES of the others are examined day by day, up to the admission day;
    # then, for a placed patient, the nearest MAX_FACILITIES farther ones its rules allow on
    # the days before its admission day
    candidates: list[tuple[int, int]] = []  # (facility, last admission day examined)
    not_listed = farther_not_listed = farther = 0
    earlier = assigned is not None and limit_day > patient.earliest_day
    excluded: dict[Blocker, list[int]] = {}
    for f in sorted(range(view.n_facilities), key=lambda f: (distances[f], f)):
        if f == assigned_index:
            continue
        static = _static_blocker(problem, patient, f, screen)
        if distances[f] > limit_distance:
            if not earlier:
                break
            if static is None and farther < MAX_FACILITIES:
                candidates.append((f, limit_day - 1))
                farther += 1
            elif static is None:
                farther_not_listed += 1
            continue
        if static is not None:
            excluded.setdefault(static[0], []).append(f)
        elif len(candidates) < MAX_FACILITIES:
            candidates.append((f, horizon - 1))  # nearer: on any day
        else:
            not_listed += 1
    place_breaks = ""
    if assigned is not None:
        static = _static_blocker(problem, patient, assigned_index, screen)
        ended = _acceptance_ended(problem.facilities[assigned_index], patient, assigned.day)
        if static is not None:
            place_breaks = f"{assigned.facility} {static[1]}"
        elif assigned.day < patient.earliest_day:
            place_breaks = f"day {assigned.day} is before the earliest day {patient.earliest_day}"
        elif ended:
            place_breaks = f"{assigned.facility} {ended}"
        elif over := _over_capacity(problem, patient, assigned, used, admitted, horizon):
            place_breaks = over
        elif earlier:
            candidates.append((assigned_index, limit_day - 1))  # its earlier days
    # the nearer first, then the patient's own facility, then the farther
    candidates.sort(key=lambda c: 1 if c[0] == assigned_index else 2 * bool(c[1] < limit_day))
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

    # what each place costs the plan, this patient's share: wait, lateness, travel, the change
    # of its current place and the group's split, against its place or leaving it out
    group_at = {problem.facility_index[f] for f in group_facilities}
    costs = own_costs(view, index, group_at)
    split, change = split_and_change(view, index, group_at)
    placed = assigned is not None and not place_breaks
    reference = (
        float(costs[assigned_index, assigned.day])
        if placed and assigned is not None
        else view.unplaced_cost(patient)
    )
    # what of the reference is the group's split and the change of a current place (leaving
    # the patient out splits nothing and gives up its current place, if any)
    paid = (
        (float(split[assigned_index]), float(change[assigned_index]))
        if placed
        else (0.0, problem.weights.change if patient.current is not None else 0.0)
    )
    slack = plan.objective - plan.bound if plan.status is PlanStatus.OPTIMAL else None
    pricing = _Pricing(patient, split, change, group_facilities, reference, placed, *paid, slack)

    closed = _closed_by_quotas(problem, view, index, plan)
    alternatives: list[Alternative] = []
    for f, last in candidates:
        facility = problem.facilities[f]
        km = float(distances[f])
        if f in closed:
            # the quota closes the days the facility admits the patient's organisation; those
            # after an agreement's end are closed by that end (they had been put on the quota)
            first = patient.earliest_day
            end = facility.last_admission_day(patient.organisation)
            open_last = last if end is None else min(last, end)
            if first <= open_last:
                alternatives.append(
                    Alternative(facility.id, first, open_last, km, Blocker.QUOTA_FULL, closed[f])
                )
            if open_last < last:
                after = max(first, open_last + 1)
                alternatives.append(
                    Alternative(
                        facility.id,
                        after,
                        last,
                        km,
                        Blocker.ACCEPTANCE_ENDED,
                        _acceptance_ended(facility, patient, after),
                    )
                )
            continue
        # runs of admission days with the same blocker and wording; for full beds, the days
        # found full; for free places, what each costs
        runs: list[_Run] = []
        for day in range(patient.earliest_day, last + 1):
            blocker, detail, full_day = _day_blocker(
                problem, patient, facility.id, day, used, admitted, horizon
            )
            cost = None
            if blocker is Blocker.FREE:
                cost = float(costs[f, day])
                blocker, detail = pricing.blocker(f, cost)
            if runs and runs[-1].joins(day, blocker, detail):
                runs[-1].extend(day, full_day, cost)
            else:
                costs_of_day = [] if cost is None else [cost]
                runs.append(_Run(day, day, blocker, detail, {full_day}, costs_of_day))
        for run in runs:
            alternatives.append(
                Alternative(facility.id, run.first, run.last, km, run.blocker, pricing.detail(run))
            )

    unplaced = next((u for u in plan.unplaced if u.patient == patient_id), None)
    if assigned is None and unplaced is None:
        raise PlanMismatch(
            f"the plan does not fit the problem: it neither admits {patient_id} nor lists it "
            "unplaced (`medevac plan check` lists every broken rule)"
        )
    if assigned is None and (unplaced is None or unplaced.code is None):
        # a plan read from its file has the reasons' sentences, not their codes
        at, days = placement_arrays(
            problem, {a.patient: (a.facility, a.day) for a in plan.assignments}
        )
        [found] = unplaced_reasons(view, at, days, [index])
        unplaced = found if unplaced is None else Unplaced(patient_id, unplaced.reason, found.code)
    return Explanation(
        patient_id,
        assigned.facility if assigned else None,
        assigned.day if assigned else None,
        float(distances[assigned_index]) if assigned else None,
        unplaced,
        tuple(alternatives),
        ruled_out=ruled_out,
        not_listed=not_listed,
        farther_not_listed=farther_not_listed,
        place_breaks=place_breaks,
        earliest_day=patient.earliest_day,
        current=_current_fate(patient, assigned, problem.weights.change),
    )


def _current_fate(patient: Patient, assigned: Assignment | None, change: float) -> str:
    """What the plan does with the patient's current place (re-planning), in a sentence."""
    current = patient.current
    if current is None:
        return ""
    was = f"{current.facility} on day {current.day}"
    if assigned is None:
        return f"{was}, given up (the change costs {change:,.2f})"
    if assigned.facility != current.facility:
        return f"{was}; moved from there (the change costs {change:,.2f})"
    if assigned.day != current.day:
        return f"{was}; the same facility on another day (no change cost)"
    return f"{was}, kept"


def _closed_by_quotas(
    problem: Problem, view: ProblemView, index: int, plan: Plan
) -> dict[int, str]:
    """Facilities (by index) where a quota the patient falls under is used up by the plan's
    other patients, with what to say of it."""
    mine = view.quotas_of(index)
    if not len(mine):
        return {}
    patient_id = problem.patients[index].id
    used = dict.fromkeys(mine.tolist(), 0)
    for a in plan.assignments:
        if a.patient == patient_id:
            continue
        other = problem.patient(a.patient)
        for q in used:
            if problem.quotas[q].counts(other, a.facility):
                used[q] += 1
    closed: dict[int, str] = {}
    for q, count in used.items():
        quota = problem.quotas[q]
        if count < quota.room:
            continue
        said = (
            f"quota {quota.id} used up ({count} of its room {quota.room} by other patients)"
            if quota.room > 0
            else f"quota {quota.id} has no room"
        )
        for f in np.flatnonzero(view.quota_facility[q]).tolist():
            closed.setdefault(f, said)
    return closed


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
        return Blocker.NO_AGREEMENT, f"does not accept patients from {patient.organisation}"
    if not screen.in_range[f]:
        return Blocker.BEYOND_MAX_DISTANCE, f"is beyond {patient.max_distance_km:g} km"
    return None


def _ruled_out_detail(blocker: Blocker, patient: Patient, count: int) -> str:
    """What the ``count`` facilities a static rule excludes have in common (read after the
    count: "3 have no burns beds", "1 has no burns beds")."""
    one = count == 1
    if blocker is Blocker.SPECIALTY_NOT_OFFERED:
        return f"{'has' if one else 'have'} no {patient.specialty} beds"
    if blocker is Blocker.NEEDS_NOT_MET:
        needs = ", ".join(sorted(patient.needs))
        return f"{'lacks' if one else 'lack'} something the patient needs ({needs})"
    if blocker is Blocker.NO_AGREEMENT:
        return f"{'does' if one else 'do'} not accept patients from {patient.organisation}"
    return f"{'is' if one else 'are'} beyond its limit of {patient.max_distance_km:g} km"


def _over_capacity(
    problem: Problem,
    patient: Patient,
    assigned: Assignment,
    used: dict[tuple[str, str], list[int]],
    admitted: dict[tuple[str, int], int],
    horizon: int,
) -> str:
    """What the patient's own place goes beyond, the rest of the plan as it is: the beds of
    its specialty on some day of the stay, or the facility's admission limit on its day
    ("" where neither)."""
    blocker, detail, _ = _day_blocker(
        problem, patient, assigned.facility, assigned.day, used, admitted, horizon
    )
    if blocker is Blocker.BEDS_FULL:
        return f"{assigned.facility} has no {patient.specialty} bed left for it ({detail})"
    if blocker is Blocker.ADMISSION_LIMIT:
        return f"{assigned.facility} admits no more on day {assigned.day} ({detail})"
    return ""


def _day_blocker(
    problem: Problem,
    patient: Patient,
    facility_id: str,
    day: int,
    used: dict[tuple[str, str], list[int]],
    admitted: dict[tuple[str, int], int],
    horizon: int,
) -> tuple[Blocker, str, int]:
    """The first rule that blocks an admission on ``day``, its detail and, for full beds, the
    first full day of the stay (else -1); `Blocker.FREE` where none does (what the place
    costs is weighed apart, `_Pricing`)."""
    facility = problem.facility(facility_id)
    ended = _acceptance_ended(facility, patient, day)
    if ended:
        return Blocker.ACCEPTANCE_ENDED, ended, -1
    free = facility.beds[patient.specialty]
    taken = used[(facility_id, patient.specialty)]
    for d in range(day, min(day + patient.length_of_stay_days, horizon)):
        if taken[d] >= free[d]:
            return Blocker.BEDS_FULL, f"day {d}: {taken[d]} of {free[d]} taken", d
    limit = facility.daily_admission_limit
    due = facility.taken_on(day)
    if limit is not None and admitted[(facility_id, day)] + due >= limit:
        earlier = f" ({due} of it already due)" if due else ""
        return Blocker.ADMISSION_LIMIT, f"admission limit {limit} reached{earlier}", -1
    return Blocker.FREE, "", -1


@dataclass(slots=True)
class _Run:
    """Consecutive admission days at one facility with one blocker and wording: for full beds
    the days found full, for free places what each day costs."""

    first: int
    last: int
    blocker: Blocker
    detail: str
    full: set[int]
    costs: list[float]

    def joins(self, day: int, blocker: Blocker, detail: str) -> bool:
        # full beds: "day 5: 5 of 5 taken" is the first admission day's; the run says which
        # days were full
        same = blocker is Blocker.BEDS_FULL or detail == self.detail
        return self.blocker is blocker and self.last == day - 1 and same

    def extend(self, day: int, full_day: int, cost: float | None) -> None:
        self.last = day
        self.full.add(full_day)
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
        # by the patient's own terms, each side less what it pays for the split and the change
        # (the plan's choice may split the group or move the patient too)
        own = cost - split - change
        if own > self.reference - self.reference_split - self.reference_change + tolerance:
            dearer = Blocker.COSTS_MORE_THAN_PLACE if self.placed else Blocker.COSTS_MORE
            return dearer, "free, but dearer"
        if split > self.reference_split + tolerance:
            where = ", ".join(sorted(self.group_facilities))
            return Blocker.WOULD_SPLIT_GROUP, f"would split group {p.group} (at {where})"
        assert p.current is not None  # dearer by the change alone
        return Blocker.WOULD_CHANGE_CURRENT, f"would move the patient from {p.current.facility}"

    def detail(self, run: _Run) -> str:
        """The run's detail, with its days' costs against the plan's choice."""
        if run.blocker is Blocker.BEDS_FULL:
            if len(run.full) > 1:
                days = _day_list(run.full)
                return f"{self.patient.specialty} beds full on days {days} ({run.detail})"
            return f"{self.patient.specialty} beds full ({run.detail})"
        if not run.costs:
            return run.detail
        places = decimals_apart((min(run.costs), max(run.costs)), self.reference)
        low, high = f"{min(run.costs):,.{places}f}", f"{max(run.costs):,.{places}f}"
        costs = low if low == high else f"{low} to {high}"
        versus = f"{costs} against {self.reference:,.{places}f} for {self.against}"
        if run.blocker is Blocker.FREE:
            saving = self.reference - min(run.costs)
            if self.proven_slack is not None and saving <= self.proven_slack + self.tolerance:
                # no contradiction of its status: the plan is optimal to within its gap
                return (
                    f"free and cheaper ({versus}), by less than the plan's proof leaves open "
                    f"(objective less bound, {self.proven_slack:,.{places}f}): optimal to its "
                    "tolerance, not to the last cent"
                )
            return f"free and cheaper ({versus}): the plan is not optimal for this patient"
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


def _day_list(days: set[int]) -> str:
    """Days as ranges: {3, 4, 5, 9} -> "3-5, 9"."""
    ordered = sorted(days)
    parts: list[str] = []
    start = previous = ordered[0]
    for d in [*ordered[1:], None]:
        if d is not None and d == previous + 1:
            previous = d
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if d is not None:
            start = previous = d
    return ", ".join(parts)

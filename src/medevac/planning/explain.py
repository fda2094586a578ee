"""Explanations: why a patient is where the plan puts it, or why it has no place."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from medevac.planning.model import ProblemView, Screen, placement_arrays, unplaced_reasons
from medevac.planning.plan import Plan, Unplaced
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
    WOULD_SPLIT_GROUP = "would_split_group"
    WOULD_CHANGE_CURRENT = "would_change_current_place"
    FREE = "free_and_cheaper"
    #: free, but placing the unplaced patient there costs more than leaving it out
    COSTS_MORE = "costs_more_than_leaving_out"


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
    # the patient's own rule that its place in the plan breaks ("" when none): a plan from
    # elsewhere need not be feasible
    place_breaks: str = ""
    # the patient's earliest day: the days before it are closed at every facility, said once
    # rather than for each facility; alternatives start on it
    earliest_day: int = 0

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
                    f"  this place breaks the patient's rules: {self.place_breaks} (the plan is "
                    "not feasible; `medevac plan check` lists every broken rule)"
                )
        elif self.unplaced is not None:
            out.append(f"{self.patient} is unplaced: {self.unplaced.reason}.")
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
        return out


class PlanMismatch(ValueError):
    """The plan names patients, facilities or days its problem does not have."""


def plan_mismatch(problem: Problem, plan: Plan) -> str | None:
    """What in ``plan`` its problem does not have (the first few), or None."""
    wrong: list[str] = []
    for a in plan.assignments:
        if a.patient not in problem.patient_index:
            wrong.append(f"patient {a.patient} is not in the problem")
        elif a.facility not in problem.facility_index:
            wrong.append(f"{a.patient} is at facility {a.facility}, which is not in the problem")
        elif not 0 <= a.day < problem.horizon_days:
            wrong.append(f"{a.patient} is admitted on day {a.day}, outside the horizon")
        if len(wrong) == 3:
            break
    return "; ".join(wrong) if wrong else None


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
    # nearest MAX_FACILITIES of the others are examined day by day
    candidates: list[int] = []
    not_listed = 0
    excluded: dict[Blocker, list[int]] = {}
    for f in sorted(range(view.n_facilities), key=lambda f: (distances[f], f)):
        if distances[f] > limit_distance:
            break
        if f == assigned_index:
            continue
        static = _static_blocker(problem, patient, f, screen)
        if static is not None:
            excluded.setdefault(static[0], []).append(f)
        elif len(candidates) < MAX_FACILITIES:
            candidates.append(f)
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
        elif assigned.day > patient.earliest_day:
            candidates.append(assigned_index)  # its earlier days
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

    closed = _closed_by_quotas(problem, view, index, plan)
    alternatives: list[Alternative] = []
    for f in candidates:
        facility = problem.facilities[f]
        km = float(distances[f])
        if f in closed:
            first = patient.earliest_day
            last = limit_day - 1 if f == assigned_index else limit_day
            if first <= last:
                alternatives.append(
                    Alternative(facility.id, first, last, km, Blocker.QUOTA_FULL, closed[f])
                )
            continue
        last = limit_day - 1 if f == assigned_index else limit_day
        # runs of admission days with the same blocker; for full beds, the days found full
        runs: list[tuple[int, int, Blocker, str, set[int]]] = []
        for day in range(patient.earliest_day, last + 1):
            blocker, detail, full_day = _day_blocker(
                problem, patient, facility.id, day, used, admitted, group_facilities, horizon
            )
            if blocker is Blocker.FREE and assigned is None:
                # nearer and earlier places cost no more than the patient's own; leaving it out
                # may cost less than a free place
                blocker, detail = _against_leaving_out(view, patient, km, day)
            if runs and runs[-1][2] == blocker and runs[-1][1] == day - 1:
                first, _, b, text, full = runs[-1]
                runs[-1] = (first, day, b, text, full | {full_day})
            else:
                runs.append((day, day, blocker, detail, {full_day}))
        for first, end, blocker, detail, full in runs:
            if blocker is Blocker.BEDS_FULL and len(full) > 1:
                # "day 5: 5 of 5 taken" is the first admission day's; later ones meet others
                detail = f"{patient.specialty} beds full on days {_day_list(full)} ({detail})"
            elif blocker is Blocker.BEDS_FULL:
                detail = f"{patient.specialty} beds full ({detail})"
            alternatives.append(Alternative(facility.id, first, end, km, blocker, detail))

    unplaced = next((u for u in plan.unplaced if u.patient == patient_id), None)
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
        ruled_out,
        not_listed,
        place_breaks,
        patient.earliest_day,
    )


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
        for f in np.flatnonzero(view.quota_facility[q]).tolist():
            closed.setdefault(
                f, f"quota {quota.id} used up ({count} of its room {quota.room} by other patients)"
            )
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


def _day_blocker(
    problem: Problem,
    patient: Patient,
    facility_id: str,
    day: int,
    used: dict[tuple[str, str], list[int]],
    admitted: dict[tuple[str, int], int],
    group_facilities: set[str],
    horizon: int,
) -> tuple[Blocker, str, int]:
    """The first rule that blocks an admission on ``day``, its detail and, for full beds, the
    first full day of the stay (else -1)."""
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
    if group_facilities and facility_id not in group_facilities:
        where = ", ".join(sorted(group_facilities))
        return Blocker.WOULD_SPLIT_GROUP, f"would split group {patient.group} (at {where})", -1
    if patient.current is not None and patient.current.facility != facility_id:
        return (
            Blocker.WOULD_CHANGE_CURRENT,
            f"would move the patient from {patient.current.facility}",
            -1,
        )
    return Blocker.FREE, "free and not worse: the plan is not optimal for this patient", -1


def _against_leaving_out(
    view: ProblemView, patient: Patient, km: float, day: int
) -> tuple[Blocker, str]:
    """A free place ``km`` away on ``day`` for an unplaced ``patient``, against leaving it out."""
    cost = float(view.day_cost(patient)[day]) + view.problem.weights.travel_per_km * km
    left = view.unplaced_cost(patient)
    if cost >= left - 1e-9 * max(1.0, abs(left)):
        return Blocker.COSTS_MORE, (
            f"free, but costs {cost:,.2f} against {left:,.2f} for leaving the patient out"
        )
    return Blocker.FREE, (
        f"free and cheaper than leaving the patient out ({cost:,.2f} against {left:,.2f}): "
        "the plan is not optimal for this patient"
    )


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

"""Independent plan checker: recomputes feasibility and the objective from problem and plan alone.

Deliberately shares nothing with the engines except the problem/plan types and the haversine
formula, so that a bug in an engine's model cannot hide behind the same bug in its own check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace

from medevac.domain.geography import haversine_km
from medevac.planning.json_text import cut
from medevac.planning.plan import (
    Breakdown,
    Plan,
    PlanStatus,
    Unplaced,
    UnplacedReason,
    day_ranges,
    relative_gap,
)
from medevac.planning.problem import Problem


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What the checker found: violated rules (empty when feasible) and the recomputed objective."""

    violations: tuple[str, ...]
    objective: float
    terms: dict[str, float]

    @property
    def feasible(self) -> bool:
        return not self.violations

    def objective_matches(self, reported: float, rel_tol: float = 1e-6) -> bool:
        """Whether a reported objective equals the recomputed one to ``rel_tol`` relative."""
        return abs(reported - self.objective) <= rel_tol * max(1.0, abs(self.objective))

    def terms_apart(self, breakdown: Breakdown, rel_tol: float = 1e-6) -> list[str]:
        """The terms of a reported breakdown that are not the recomputed ones (to ``rel_tol``
        of max(1, |objective|)), each as "travel 12.5, recomputed 10.5"."""
        scale = rel_tol * max(1.0, abs(self.objective))
        return [
            f"{key} {getattr(breakdown, key)!r}, recomputed {value!r}"
            for key, value in self.terms.items()
            if abs(getattr(breakdown, key) - value) > scale
        ]


def _q(value: object) -> str:
    """``value`` quoted as a violation names it ('P1'), cut (`json_text.cut`): an id of
    100,000 characters had made a line as long (found by a review)."""
    return cut(repr(value))


def check_plan(problem: Problem, plan: Plan) -> CheckReport:
    """Recompute every feasibility rule and every objective term of ``plan`` for ``problem``."""
    bad: list[str] = []
    patients = {p.id: p for p in problem.patients}
    facilities = {f.id: f for f in problem.facilities}
    horizon = problem.horizon_days
    w = problem.weights

    seen: set[str] = set()
    placed: dict[str, tuple[str, int]] = {}
    for a in plan.assignments:
        if a.patient not in patients:
            bad.append(f"assignment of unknown patient {_q(a.patient)}")
            continue
        if a.patient in seen:
            bad.append(f"patient {_q(a.patient)} appears more than once")
            continue
        seen.add(a.patient)
        placed[a.patient] = (a.facility, a.day)
    for u in plan.unplaced:
        if u.patient not in patients:
            bad.append(f"unplaced entry for unknown patient {_q(u.patient)}")
        elif u.patient in seen:
            bad.append(f"patient {_q(u.patient)} appears more than once")
        else:
            seen.add(u.patient)
    for pid in patients:
        if pid not in seen:
            bad.append(f"patient {_q(pid)} is neither assigned nor listed as unplaced")

    occupied: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * horizon)
    admitted: dict[tuple[str, int], int] = defaultdict(int)
    terms = dict.fromkeys(("unplaced", "wait", "late", "travel", "group_split", "change"), 0.0)
    for pid, patient in patients.items():
        rule = problem.precedences[patient.precedence]
        where = placed.get(pid)
        if where is None:
            terms["unplaced"] += w.unplaced * rule.weight
            if patient.current is not None:
                terms["change"] += w.change
            continue
        fid, day = where
        facility = facilities.get(fid)
        if facility is None:
            bad.append(f"patient {_q(pid)} assigned to unknown facility {_q(fid)}")
            del placed[pid]  # no place: it counts against no quota and splits no group
            continue
        if not patient.earliest_day <= day < horizon:
            bad.append(
                f"patient {_q(pid)} admitted on day {day}, "
                f"outside {patient.earliest_day}..{horizon - 1}"
            )
            del placed[pid]
            continue
        # ids and specialties quoted as patients' are: "A b" "c" and "A" "b c" read the same
        if patient.specialty not in facility.beds:
            bad.append(f"patient {_q(pid)}: {_q(fid)} has no {_q(patient.specialty)} beds")
        missing = patient.needs - facility.capabilities
        if missing:
            bad.append(f"patient {_q(pid)}: {_q(fid)} lacks {', '.join(map(_q, sorted(missing)))}")
        if facility.accepts_from is not None and patient.organisation not in facility.accepts_from:
            bad.append(
                f"patient {_q(pid)}: {_q(fid)} does not accept {_q(patient.organisation)}"
                if patient.organisation is not None
                else f"patient {_q(pid)}: {_q(fid)} does not accept patients without an "
                "organisation"
            )
        last = facility.last_admission_day(patient.organisation)
        if last is not None and day > last:
            bad.append(
                f"patient {_q(pid)}: {_q(fid)} admits patients of {_q(patient.organisation)} "
                f"until day {last}, admitted on day {day}"
            )
        km = haversine_km(patient.lat, patient.lon, facility.lat, facility.lon)
        if patient.max_distance_km is not None and km > patient.max_distance_km:
            away, most = _apart(km, patient.max_distance_km)
            bad.append(f"patient {_q(pid)}: {_q(fid)} is {away} km away, max {most}")
        beds = occupied[(fid, patient.specialty)]
        for d in range(day, min(day + patient.length_of_stay_days, horizon)):
            beds[d] += 1
        admitted[(fid, day)] += 1
        terms["wait"] += rule.weight * w.wait_per_day * day
        terms["late"] += rule.weight * w.late_per_day * max(0, day - rule.deadline_day)
        terms["travel"] += w.travel_per_km * km
        if patient.current is not None and patient.current.facility != fid:
            terms["change"] += w.change

    for (fid, specialty), beds in occupied.items():
        facility = facilities[fid]
        free = facility.beds.get(specialty)
        if free is None:
            continue
        for d, used in enumerate(beds):
            if used > free[d]:
                bad.append(f"{_q(fid)} day {d}: {used} {_q(specialty)} beds used, {free[d]} free")
    for (fid, day), count in admitted.items():
        limit = facilities[fid].daily_admission_limit
        due = facilities[fid].taken_on(day) if 0 <= day < problem.horizon_days else 0
        if limit is not None and count + due > limit:
            earlier = f" and {due} already due" if due else ""
            bad.append(f"{_q(fid)} day {day}: {count} admissions{earlier}, limit {limit}")

    for quota in problem.quotas:
        under = sum(1 for pid, (f, d) in placed.items() if quota.counts(patients[pid], f, d))
        if under > quota.room:
            on = "" if quota.days is None else f" on day(s) {day_ranges(quota.days)}"
            bad.append(f"quota {quota.id}: {under} patients placed under it{on}, room {quota.room}")

    used_by_group: dict[str, set[str]] = defaultdict(set)
    for pid, (fid, _day) in placed.items():
        group = patients[pid].group
        if group is not None:
            used_by_group[group].add(fid)
    for facilities_used in used_by_group.values():
        terms["group_split"] += w.group_split * (len(facilities_used) - 1)

    return CheckReport(tuple(bad), sum(terms.values()), terms)


def _apart(km: float, limit: float) -> tuple[str, str]:
    """``km`` and ``limit`` (km > limit) written with as many decimals (1 or more) as show them
    apart: "100.0 km away, max 100.0" read as no violation."""
    for places in range(1, 10):
        away, most = f"{km:.{places}f}", f"{limit:.{places}f}"
        if away != most:
            return away, most
    return repr(km), repr(limit)  # the shortest texts of two floats: apart as they differ


def without_patients(
    problem: Problem, plan: Plan, reasons: Mapping[str, str], code: UnplacedReason
) -> Plan:
    """``plan`` with the patients of ``reasons`` taken out and left unplaced, each with its
    reason and ``code``; the objective and its terms recomputed by the checker. The bound
    stays (taking patients out only raises the cost), and a plan that lost a patient is no
    longer called optimal."""
    if not reasons:
        return plan
    kept = tuple(a for a in plan.assignments if a.patient not in reasons)
    left = tuple(Unplaced(p, reasons[p], code) for p in sorted(reasons))
    changed = replace(plan, assignments=kept, unplaced=plan.unplaced + left)
    report = check_plan(problem, changed)
    return replace(
        changed,
        status=PlanStatus.FEASIBLE if plan.status is PlanStatus.OPTIMAL else plan.status,
        objective=report.objective,
        gap=relative_gap(report.objective, plan.bound),
        breakdown=Breakdown(**report.terms),
    )

"""Specialty passes: re-solve one specialty's patients exactly, everyone else held in place.

When the engine of large problems comes to rest (its neighbourhood search found nothing more
in a full pass) with time left, that time can go to larger neighbourhoods than its slices:
a whole specialty, every column. Beds of different specialties are separate, so with every
other patient held at their place (their admissions counted against the daily limits as
admissions already due, their room under each quota taken off it), the patients of one
specialty outside groups form a problem of their own (`specialty_problem`) whose plan, put
back beside the others, is feasible and costs the others' cost plus its own: every term of the
objective but the group split is a patient's own, and group members are held in place. The
exact engine solves it (LP master, MIPs, proof), and the plan is kept where it is cheaper.

Measured on the benchmark's M (10,000 x 200, 2026-12-06): at the large engine's rest
(203,790.84, 1.09 % above its bound, at 111 s), one pass over the 15 specialties proved each
one optimal in 1.7-13.5 s (72 s in all) and took the plan to 203,262.09 (0.84 %); oncology,
the specialty shortest of beds, gave 302 of the 529.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace

from medevac.planning.model import Placement, ProblemView, breakdown_of
from medevac.planning.plan import Plan
from medevac.planning.problem import Facility, Problem, Quota

#: a specialty's problem is not started with less time left than this (seconds)
MIN_SECONDS = 1.0
#: a plan cheaper by less than this share of the objective is kept, but the specialties solved
#: before it are not solved again for it (on M a second pass took 140 s and gained 3.7)
CHANGE_SHARE = 1e-6

Solve = Callable[[Problem, float], Plan | None]


def specialty_problem(
    problem: Problem, placed: Mapping[str, Placement], specialty: str
) -> Problem | None:
    """The problem of placing ``specialty``'s patients outside groups anew, every other patient
    held at its place in ``placed`` (patient id -> (facility id, day)); None when it has no
    such patient or no facility offers the specialty.

    Its facilities are the problem's, with only the specialty's beds, less those the others
    use, and the others' admissions added to those already due; each quota that may count its
    patients keeps the room the others leave. The patients keep their current places
    (re-planning costs and bonuses apply as before).
    """
    movable = [p for p in problem.patients if p.specialty == specialty and p.group is None]
    moving = {p.id for p in movable}
    if not movable or not any(specialty in f.beds for f in problem.facilities):
        return None
    horizon = problem.horizon_days
    in_bed: Counter[tuple[str, int]] = Counter()
    admitted: Counter[tuple[str, int]] = Counter()
    used: Counter[str] = Counter()
    for patient_id, (facility_id, day) in placed.items():
        if patient_id in moving:
            continue
        patient = problem.patient(patient_id)
        admitted[(facility_id, day)] += 1
        if patient.specialty == specialty:
            for d in range(day, min(horizon, day + patient.length_of_stay_days)):
                in_bed[(facility_id, d)] += 1
        for quota in problem.quotas:
            if quota.counts(patient, facility_id, day):
                used[quota.id] += 1
    # every facility stays (a patient's current place may be one without the specialty's beds)
    facilities = tuple(_held(f, specialty, in_bed, admitted, horizon) for f in problem.facilities)
    here = {f.id for f in facilities}
    quotas: tuple[Quota, ...] = tuple(
        replace(q, room=max(0, q.room - used[q.id]), facilities=q.facilities & here)
        for q in problem.quotas
        if q.facilities & here and any(q.covers(p) for p in movable)
    )
    return Problem(
        horizon_days=horizon,
        precedences=problem.precedences,
        weights=problem.weights,
        facilities=facilities,
        patients=tuple(movable),
        quotas=quotas,
    )


def _held(
    facility: Facility,
    specialty: str,
    in_bed: Counter[tuple[str, int]],
    admitted: Counter[tuple[str, int]],
    horizon: int,
) -> Facility:
    """``facility`` with only ``specialty``'s beds (if it has any), less those the held patients
    use, and their admissions due on top of those already due."""
    beds: dict[str, tuple[int, ...]] = {}
    if specialty in facility.beds:
        free = facility.beds[specialty]
        beds[specialty] = tuple(max(0, n - in_bed[(facility.id, d)]) for d, n in enumerate(free))
    taken: tuple[int, ...] = facility.admissions_taken
    if facility.daily_admission_limit is not None:
        taken = tuple(facility.taken_on(d) + admitted[(facility.id, d)] for d in range(horizon))
    return replace(facility, beds=beds, admissions_taken=taken)


def specialty_passes(
    problem: Problem,
    view: ProblemView,
    placed: Mapping[str, Placement],
    deadline: float,
    solve: Solve,
    say: Callable[[str], None],
) -> tuple[dict[str, Placement], float]:
    """``placed`` improved by specialty passes until ``deadline`` (a time.perf_counter()
    value), or until every specialty has been solved beside the others as they now are (gains
    under CHANGE_SHARE aside): (the placement, its objective). ``solve(sub_problem,
    deadline)`` solves a specialty's problem (None: not solved, too large say). The
    specialties whose patients wait, are late or are left out at the most cost go first
    (`_order`)."""
    best = dict(placed)
    objective = breakdown_of(problem, view, best).total
    specialties = sorted({p.specialty for p in problem.patients if p.group is None})
    changes = 0  # gains of CHANGE_SHARE or more so far; a specialty solved since the last one
    # is not solved again
    solved_at: dict[str, int] = {}
    while any(solved_at.get(s) != changes for s in specialties):
        for specialty in _order(problem, view, best, specialties):
            if solved_at.get(specialty) == changes:
                continue
            if deadline - time.perf_counter() < MIN_SECONDS:
                return best, objective
            solved_at[specialty] = changes
            sub = specialty_problem(problem, best, specialty)
            plan = None if sub is None else solve(sub, deadline)
            if sub is None or plan is None:
                continue
            ids = {p.id for p in sub.patients}
            trial = {i: where for i, where in best.items() if i not in ids}
            trial.update((a.patient, (a.facility, a.day)) for a in plan.assignments)
            value = breakdown_of(problem, view, trial).total
            if value < objective - 1e-9 * max(1.0, abs(objective)):
                say(f"{specialty} solved again ({plan.status.value}): plan {value:,.2f}")
                if value < objective - CHANGE_SHARE * abs(objective):
                    changes += 1  # the others are solved again beside it
                best, objective = trial, value
                solved_at[specialty] = changes
    return best, objective


def _order(
    problem: Problem, view: ProblemView, placed: Mapping[str, Placement], specialties: list[str]
) -> list[str]:
    """``specialties`` by the cost of their patients outside groups that are unplaced, late or
    waiting in ``placed`` (beds short), the most first; by name among equals."""
    excess: dict[str, float] = dict.fromkeys(specialties, 0.0)
    for patient in problem.patients:
        if patient.group is not None:
            continue
        where = placed.get(patient.id)
        if where is None:
            excess[patient.specialty] += view.unplaced_cost(patient)
            continue
        excess[patient.specialty] += float(view.day_cost(patient)[where[1]])
    return sorted(specialties, key=lambda s: (-excess[s], s))

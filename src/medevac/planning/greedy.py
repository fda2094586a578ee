"""Greedy baseline: what a careful human regulator does, one patient at a time.

Most urgent first (highest precedence weight, then file order); a patient with a current place
keeps it when it is still free; otherwise the earliest day on which some eligible facility has a
bed free for the whole stay (and room under its admission limit), preferring the facility the
patient's group already uses, then the nearest one.
"""

from __future__ import annotations

import time

import numpy as np

from medevac.planning.model import (
    BoolArray,
    IntArray,
    Placement,
    ProblemView,
    ProgressCallback,
    assemble_plan,
)
from medevac.planning.plan import Plan, PlanStatus
from medevac.planning.problem import Patient, Problem

SOLVER = "greedy (most urgent first, earliest day, nearest free bed)"


def solve_greedy(problem: Problem, progress: ProgressCallback | None = None) -> Plan:
    """Place patients one by one as a careful regulator would; no optimality claim (bound 0)."""
    started = time.perf_counter()
    view = ProblemView(problem)
    horizon = view.horizon
    used = np.zeros_like(view.beds)
    admitted = np.zeros((view.n_facilities, horizon), dtype=np.int64)
    limit = view.admission_limit
    weight = [problem.precedences[p.precedence].weight for p in problem.patients]
    order = sorted(range(len(problem.patients)), key=lambda i: -weight[i])
    group_facility: dict[str, int] = {}
    placed: dict[str, Placement] = {}
    for count, i in enumerate(order):
        if progress is not None and count % 10000 == 0 and count:
            progress(f"greedy: {count} of {len(order)} patients considered")
        p = problem.patients[i]
        s = view.specialty_index.get(p.specialty)
        eligible = np.flatnonzero(view.screen(i).eligible)
        if s is None or eligible.size == 0:
            continue
        eligible = eligible[np.argsort(view.distance[view.origin_of[i], eligible], kind="stable")]
        free = view.beds[eligible, s, :] - used[eligible, s, :]
        room = (limit[eligible] < 0)[:, None] | (admitted[eligible] < limit[eligible][:, None])
        preferred: list[int] = []
        if p.current is not None:
            preferred.append(problem.facility_index[p.current.facility])
        if p.group is not None and p.group in group_facility:
            preferred.append(group_facility[p.group])
        choice: tuple[int, int] | None = None
        if p.current is not None:
            choice = _fits(eligible, free, room, preferred[0], p.current.day, p, horizon)
        day = p.earliest_day
        while choice is None and day < horizon:
            end = min(day + p.length_of_stay_days, horizon)
            ok = (free[:, day:end].min(axis=1) > 0) & room[:, day]
            if ok.any():
                candidates = eligible[ok]
                pick = next((f for f in preferred if f in set(candidates.tolist())), None)
                choice = (int(candidates[0]) if pick is None else pick, day)
            day += 1
        if choice is None:
            continue
        f, day = choice
        used[f, s, day : min(day + p.length_of_stay_days, horizon)] += 1
        admitted[f, day] += 1
        placed[p.id] = (problem.facilities[f].id, day)
        if p.group is not None:
            group_facility.setdefault(p.group, f)
    return assemble_plan(
        problem,
        view,
        placed,
        status=PlanStatus.FEASIBLE,
        bound=None,
        solver=SOLVER,
        started=started,
    )


def _fits(
    eligible: IntArray,
    free: IntArray,
    room: BoolArray,
    facility: int,
    day: int,
    patient: Patient,
    horizon: int,
) -> tuple[int, int] | None:
    """(facility, day) when that exact place is eligible, free for the stay and under the limit."""
    rows = np.flatnonzero(eligible == facility)
    if rows.size == 0 or day < patient.earliest_day:
        return None
    r = int(rows[0])
    end = min(day + patient.length_of_stay_days, horizon)
    if free[r, day:end].min() > 0 and room[r, day]:
        return facility, day
    return None

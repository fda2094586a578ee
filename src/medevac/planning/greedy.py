"""Greedy baseline: what a careful human regulator does, one patient at a time.

Most urgent first (highest precedence weight, then earliest deadline; within a precedence, the
patients who have a current place before those who have none, then file order); a patient with
a current place keeps it when it is still free; otherwise the earliest day on which some
eligible facility has a bed free for the whole stay (and room under its admission limit and
under the quotas the patient falls under, each counting the admissions on its own days,
`Quota.days`), preferring the facility the patient's group already uses, then the nearest one.
"""

from __future__ import annotations

import time

import numpy as np

from medevac.planning import heap, kernels
from medevac.planning.compact import NO_LIMIT
from medevac.planning.model import (
    IntArray,
    Placement,
    ProblemView,
    ProgressCallback,
    assemble_plan,
)
from medevac.planning.plan import Plan, PlanStatus
from medevac.planning.problem import Problem

SOLVER = "greedy (most urgent first, earliest day, nearest free bed)"


@heap.frozen
def solve_greedy(problem: Problem, progress: ProgressCallback | None = None) -> Plan:
    """Place patients one by one as a careful regulator would; no optimality claim (bound 0)."""
    started = time.perf_counter()
    view = ProblemView(problem)
    patients = problem.patients
    n = len(patients)
    weight = [problem.precedences[p.precedence].weight for p in patients]
    # a place already given is honoured before new patients of the same precedence are placed:
    # a regulator does not give a booked bed away to a newcomer no more urgent (file order had
    # let a new routine patient listed first take it, the booked one moved or left out)
    booked = [p.current is None for p in patients]
    # precedences of one weight by deadline, as `plan show` orders them (file order had put a
    # routine patient listed first ahead of an urgent one whose weight was the same)
    deadline = [problem.precedences[p.precedence].deadline_day for p in patients]
    order = np.array(
        sorted(range(n), key=lambda i: (-weight[i], deadline[i], booked[i])), dtype=np.int64
    )
    # each patient's eligible facilities, nearest first, once per eligibility profile (origin,
    # specialty, needs, organisation, distance limit); the view keeps one screen per profile
    profile_of: dict[int, int] = {}
    lists: list[IntArray] = []
    profile = np.zeros(n, dtype=np.int64)
    specialty = np.full(n, -1, dtype=np.int64)
    current_facility = np.full(n, -1, dtype=np.int64)
    current_day = np.zeros(n, dtype=np.int64)
    group = np.full(n, -1, dtype=np.int64)
    groups: dict[str, int] = {}
    for i, p in enumerate(patients):
        screen = view.screen(i)
        found = profile_of.get(id(screen))
        if found is None:
            eligible = np.flatnonzero(screen.eligible)
            distance = view.distance[view.origin_of[i]][eligible]
            lists.append(eligible[np.argsort(distance, kind="stable")])
            found = profile_of[id(screen)] = len(lists) - 1
        profile[i] = found
        specialty[i] = view.specialty_index.get(p.specialty, -1)
        if p.current is not None:
            current_facility[i] = problem.facility_index[p.current.facility]
            current_day[i] = p.current.day
        if p.group is not None:
            group[i] = groups.setdefault(p.group, len(groups))
    start = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=start[1:])
    facilities = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    stay = np.array([p.length_of_stay_days for p in patients], dtype=np.int64)
    earliest = np.array([p.earliest_day for p in patients], dtype=np.int64)
    if progress is not None:
        progress(f"greedy: placing {n} patients, most urgent first")
    limit = np.where(view.admission_limit >= 0, view.admission_limit, NO_LIMIT)
    quota_start, quota_list = view.quota_lists()
    patient_accept, accept_last = view.acceptance_rows([p.organisation for p in patients])
    facility, day = kernels.greedy_place(
        order, specialty, stay, earliest, current_facility, current_day, group, len(groups),
        profile, start, facilities, view.beds, limit,
        quota_start, quota_list, view.quota_facility, view.quota_room, view.quota_days,
        patient_accept, accept_last,
    )  # fmt: skip
    placed: dict[str, Placement] = {
        patients[i].id: (problem.facilities[int(facility[i])].id, int(day[i]))
        for i in np.flatnonzero(facility >= 0)
    }
    return assemble_plan(
        problem,
        view,
        placed,
        status=PlanStatus.FEASIBLE,
        bound=None,
        solver=SOLVER,
        started=started,
    )

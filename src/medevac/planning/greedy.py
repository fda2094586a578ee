"""Greedy baseline: what a careful human regulator does, one patient at a time.

Most urgent first (highest precedence weight, then file order); a patient with a current place
keeps it when it is still free; otherwise the earliest day on which some eligible facility has a
bed free for the whole stay (and room under its admission limit), preferring the facility the
patient's group already uses, then the nearest one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

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


_F = TypeVar("_F", bound=Callable[..., Any])
# numba has no type information; keep the decorated function's signature for mypy
_compiled = cast(Callable[[_F], _F], numba.njit(cache=True, nogil=True))
Array = npt.NDArray[Any]


def solve_greedy(problem: Problem, progress: ProgressCallback | None = None) -> Plan:
    """Place patients one by one as a careful regulator would; no optimality claim (bound 0)."""
    started = time.perf_counter()
    view = ProblemView(problem)
    patients = problem.patients
    n = len(patients)
    weight = [problem.precedences[p.precedence].weight for p in patients]
    order = np.array(sorted(range(n), key=lambda i: -weight[i]), dtype=np.int64)
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
    facility, day = _place(
        order, specialty, stay, earliest, current_facility, current_day, group, len(groups),
        profile, start, facilities, view.beds, view.admission_limit,
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


@_compiled
def _place(
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
) -> tuple[Array, Array]:
    """The regulator's rule for the patients in ``order``: (facility, day) of each, -1 unplaced.

    A patient keeps its current place when that is still free. Otherwise: the earliest day on
    which some eligible facility fits the whole stay and can still admit; on that day the
    current facility, else the facility its group already uses, else the nearest.
    """
    n_fac, _, horizon = beds.shape
    used = np.zeros_like(beds)
    admitted = np.zeros((n_fac, horizon), dtype=np.int64)
    group_facility = np.full(max(n_groups, 1), -1, dtype=np.int64)
    facility = np.full(len(order), -1, dtype=np.int64)
    day_of = np.zeros(len(order), dtype=np.int64)
    for i in order:
        s = specialty[i]
        first, last = start[profile[i]], start[profile[i] + 1]
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
        chosen_f = -1
        chosen_a = -1
        a = current_day[i]
        if (
            preferred_current >= 0
            and a >= earliest[i]
            and _fits(preferred_current, s, a, stay[i], used, beds, admitted, limit)
        ):
            chosen_f, chosen_a = preferred_current, a
        a = earliest[i]
        while chosen_f < 0 and a < horizon:
            # on the earliest day anyone fits: the current facility, else the group's, else the
            # nearest
            if preferred_current >= 0 and _fits(
                preferred_current, s, a, stay[i], used, beds, admitted, limit
            ):
                chosen_f = preferred_current
            elif preferred_group >= 0 and _fits(
                preferred_group, s, a, stay[i], used, beds, admitted, limit
            ):
                chosen_f = preferred_group
            else:
                for j in range(first, last):
                    if _fits(facilities[j], s, a, stay[i], used, beds, admitted, limit):
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
        facility[i] = chosen_f
        day_of[i] = chosen_a
        if group[i] >= 0 and group_facility[group[i]] < 0:
            group_facility[group[i]] = chosen_f
    return facility, day_of


@_compiled
def _fits(
    f: int, s: int, a: int, stay: int, used: Array, beds: Array, admitted: Array, limit: Array
) -> bool:
    """A bed of specialty s free at f on every day of a stay admitted on a, and room to admit."""
    if limit[f] >= 0 and admitted[f, a] >= limit[f]:
        return False
    for d in range(a, min(a + stay, beds.shape[2])):  # noqa: SIM110 (compiled: a plain loop)
        if used[f, s, d] >= beds[f, s, d]:
            return False
    return True

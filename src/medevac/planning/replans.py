"""Re-plans: the last step of an engine's plan where patients have a `current` place.

The engines minimise the objective and nothing else; among plans of the same cost they may move
patients for nothing. What is here puts current places back where that costs the plan nothing
(`back_to_current`): every place kept (`kept_if_not_dearer`), else pairs who traded places and
single patients whose place is still free (`put_back`). Each result is checked by the
independent checker before it is taken, and each keeps the plan's cost or lowers it.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable

import numpy as np

from medevac.planning.checker import check_plan
from medevac.planning.model import (
    IntArray,
    ProblemView,
    assemble_plan_arrays,
    breakdown_of_arrays,
    occupancy,
    own_cost_at,
    own_costs_at,
    placement_arrays,
    quota_counts,
)
from medevac.planning.plan import PlanStatus
from medevac.planning.problem import Problem

#: relative slack of "costs no more" (the plans' costs are sums of floats)
COST_TOLERANCE = 1e-9


def _no_dearer(cost: float, than: float) -> bool:
    return cost <= than + COST_TOLERANCE * max(1.0, abs(than))


def kept_if_not_dearer(
    problem: Problem, view: ProblemView, objective: float
) -> tuple[IntArray, IntArray, float] | None:
    """Every patient with a current place kept there, the others unplaced, as (facility, day,
    objective) arrays, where that is feasible and costs no more than ``objective`` (up to
    1e-9 of it); else None.

    A re-plan is never to cost more than keeping everyone where they are, nor to move anyone
    at no gain. The Lagrangian engine's plans start from the current places, but where quotas
    may bind and moves cost nothing (`change` 0) its first plan gave some up (a stress run of
    the review: 55,444.20 against 55,438.45 for keeping); the exact engine's rounded LP, where
    its MIP was stopped, cost 70.46 more than keeping 2,146 patients' places; the per-patient
    MIP moved a patient at no cost, its keep bonus below HiGHS's tolerances; and a plan of the
    same cost as keeping every place, one rounding step below it, swapped patients (found by a
    review). Checked by the independent checker, only when it would be taken."""
    if not any(p.current is not None for p in problem.patients):
        return None
    placed = {
        p.id: (p.current.facility, p.current.day) for p in problem.patients if p.current is not None
    }
    facility, day = placement_arrays(problem, placed)
    kept = _taken_if_not_dearer(problem, view, facility, day, objective)
    return None if kept is None else (facility, day, kept)


def _moved(problem: Problem, facility: IntArray, day: IntArray) -> dict[int, tuple[int, int]]:
    """The current place (facility index, day) of every patient the placement does not keep
    there (moved or unplaced), by patient index."""
    moved: dict[int, tuple[int, int]] = {}
    for i, p in enumerate(problem.patients):
        if p.current is not None:
            place = (problem.facility_index[p.current.facility], p.current.day)
            if (int(facility[i]), int(day[i])) != place:
                moved[i] = place
    return moved


class _Room:
    """The beds, admissions and quota places a placement leaves, updated as single patients
    move (the checker's rules, counted once for the whole placement)."""

    def __init__(self, view: ProblemView, facility: IntArray, day: IntArray) -> None:
        self.view = view
        problem = view.problem
        spec = view.specialty_index
        self.specialty = np.array([spec.get(p.specialty, -1) for p in problem.patients])
        self.stay = np.array([p.length_of_stay_days for p in problem.patients], dtype=np.int64)
        placed = np.flatnonzero(facility >= 0)
        end = np.minimum(day[placed] + self.stay[placed], view.horizon)
        shape = (view.n_facilities, len(spec), view.horizon)
        ones = np.ones(len(placed), dtype=np.int64)
        self.used, self.admitted = occupancy(
            shape, facility[placed], self.specialty[placed], day[placed], end, ones
        )
        self.quota_used = quota_counts(view, facility)

    def _count(self, i: int, f: int, a: int, sign: int) -> None:
        end = min(a + int(self.stay[i]), self.view.horizon)
        self.used[f, self.specialty[i], a:end] += sign
        self.admitted[f, a] += sign
        for q in self.view.quotas_of(i).tolist():
            if self.view.quota_facility[q, f]:
                self.quota_used[q] += sign

    def take(self, i: int, f: int, a: int) -> None:
        self._count(i, f, a, 1)

    def give_up(self, i: int, f: int, a: int) -> None:
        self._count(i, f, a, -1)

    def fits(self, i: int, f: int, a: int) -> bool:
        """Whether patient ``i`` may be admitted at facility ``f`` on day ``a`` by its own
        rules and the room left."""
        view = self.view
        p = view.problem.patients[i]
        s = int(self.specialty[i])
        if s < 0 or a < p.earliest_day or not view.screen(i).eligible[f]:
            return False
        if view.has_acceptance_ends and a > view.last_days(p.organisation)[f]:
            return False
        end = min(a + int(self.stay[i]), view.horizon)
        if (self.used[f, s, a:end] >= view.beds[f, s, a:end]).any():
            return False
        limit = int(view.admission_limit[f, a])
        if 0 <= limit <= self.admitted[f, a]:
            return False
        quotas = [q for q in view.quotas_of(i).tolist() if view.quota_facility[q, f]]
        return all(self.quota_used[q] < view.quota_room[q] for q in quotas)


def _pairs_put_back(
    view: ProblemView,
    room: _Room,
    facility: IntArray,
    day: IntArray,
    moved: dict[int, tuple[int, int]],
    until: float,
) -> int:
    """Put back (in ``facility``/``day`` and ``room``, taking them out of ``moved``) the pairs
    of patients who took each other's current places, where each place is still open to its
    patient (`_Room.fits`, once both are out) and that costs no more; between facilities only
    where neither is in a group (whose split would change). How many pairs.

    The large problems' engine has no tie-break for current places: a re-plan of 4,122
    patients of its own plan had 107 pairs that traded places with nothing gained (found by a
    review); a pair of different specialties or stays is put back too, where beds allow."""
    holders: dict[tuple[int, int], list[int]] = defaultdict(list)  # a place, to who had it
    for i, place in moved.items():
        holders[place].append(i)
    pairs = 0
    for i, place_i in list(moved.items()):
        if time.perf_counter() >= until:
            break
        if i not in moved:  # put back with another already
            continue
        now_i = (int(facility[i]), int(day[i]))
        for j in holders.get(now_i, ()):
            place_j = now_i
            if j not in moved or (int(facility[j]), int(day[j])) != place_i:
                continue
            if place_i[0] != place_j[0] and (
                view.problem.patients[i].group is not None
                or view.problem.patients[j].group is not None
            ):
                continue
            now = own_cost_at(view, i, *place_j) + own_cost_at(view, j, *place_i)
            back = own_cost_at(view, i, *place_i) + own_cost_at(view, j, *place_j)
            if not _no_dearer(back, now):
                continue
            room.give_up(i, *place_j)
            room.give_up(j, *place_i)
            if room.fits(i, *place_i):
                room.take(i, *place_i)
                if room.fits(j, *place_j):
                    room.take(j, *place_j)
                    facility[i], day[i] = place_i
                    facility[j], day[j] = place_j
                    del moved[i], moved[j]
                    pairs += 1
                    break
                room.give_up(i, *place_i)
            room.take(i, *place_j)
            room.take(j, *place_i)
    return pairs


def put_back(
    problem: Problem,
    view: ProblemView,
    facility: IntArray,
    day: IntArray,
    objective: float,
    until: float = math.inf,
) -> tuple[IntArray, IntArray, float, int, int] | None:
    """The plan ``facility``/``day`` (of cost ``objective``) with the patients it moved from a
    current place put back, in pairs and alone (`_put_back`, until the `time.perf_counter`
    time ``until``), where that costs no more and passes the checker; as (facility, day,
    objective, pairs, patients alone), or None where nobody was put back."""
    facility, day, pairs, alone = _put_back(problem, view, facility, day, until)
    if pairs + alone == 0:
        return None
    cost = _taken_if_not_dearer(problem, view, facility, day, objective)
    return None if cost is None else (facility, day, cost, pairs, alone)


def _put_back(
    problem: Problem, view: ProblemView, facility: IntArray, day: IntArray, until: float
) -> tuple[IntArray, IntArray, int, int]:
    """The placement ``facility``/``day`` with its patients who were moved from a current place
    (or left out) put back there: first pairs who took each other's places
    (`_pairs_put_back`), then patients one at a time where the place is still free (its bed
    on each day of the stay, an admission, its quotas, its rules: `_Room.fits`, the rest of
    the plan as it is) and that costs the plan no more (its own terms and its group's split,
    `own_cost_at`); with how many pairs and single patients. A patient put back frees the
    place it had, so those waiting for a place at that facility (or under a quota of it) are
    tried again, and so are the others of its group (whose split it changed), until nobody
    more can go back or the time ``until`` is reached.

    Stopped MIPs and the large problems' engine leave such moves: in re-plans of 2,100-4,100
    patients, 24 of 40 had moves or swaps that could be undone at no cost (found by a review).
    """
    moved = _moved(problem, facility, day)
    facility, day = facility.copy(), day.copy()
    if not moved:
        return facility, day, 0, 0
    room = _Room(view, facility, day)
    pairs = _pairs_put_back(view, room, facility, day, moved, until)
    worth = _worth_trying(view, facility, day, moved) if moved else set()
    members: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(problem.patients):
        if p.group is not None:
            members[p.group].append(i)
    waiting: dict[int, list[int]] = defaultdict(list)  # facility, to who would go back there
    for i, (f, _) in moved.items():
        waiting[f].append(i)
    queue = deque(i for i in moved if i in worth)
    queued = set(queue)
    alone = 0
    while queue and time.perf_counter() < until:
        i = queue.popleft()
        queued.discard(i)
        if i not in moved:
            continue
        f, a = moved[i]
        now_f, now_a = int(facility[i]), int(day[i])
        if now_f >= 0:
            room.give_up(i, now_f, now_a)
        if not (room.fits(i, f, a) and _cheaper_back(view, members, facility, day, i, (f, a))):
            if now_f >= 0:
                room.take(i, now_f, now_a)
            continue
        facility[i], day[i] = f, a
        room.take(i, f, a)
        del moved[i]
        alone += 1
        freed = [now_f] if now_f >= 0 else []
        if view.n_quotas and now_f >= 0:  # room under a quota of the place it left, elsewhere
            for q in view.quotas_of(i).tolist():
                if view.quota_facility[q, now_f]:
                    freed.extend(np.flatnonzero(view.quota_facility[q]).tolist())
        again = [k for g in freed for k in waiting.get(g, ())]
        group = problem.patients[i].group
        if group is not None:  # its group's split changed for the others moved
            again.extend(members[group])
        for k in again:
            if k in moved and k not in queued and k in worth:
                queue.append(k)
                queued.add(k)
    return facility, day, pairs, alone


def _worth_trying(
    view: ProblemView, facility: IntArray, day: IntArray, moved: dict[int, tuple[int, int]]
) -> set[int]:
    """Those of the ``moved`` patients (index -> current place) whose current place costs
    them no more than their place in the placement ``facility``/``day`` by their own terms
    (up to 1e-6 of it, a screen: `_cheaper_back` decides), and every one in a group (whose
    split depends on the others): on a re-plan of 105,000 patients, 27,000 moved, most of them
    to a cheaper place, which the one-by-one test took seconds to pass over."""
    index = np.fromiter(moved, dtype=np.int64, count=len(moved))
    places = np.array(list(moved.values()), dtype=np.int64).reshape(-1, 2)
    back = own_costs_at(view, index, places[:, 0], places[:, 1])
    now = own_costs_at(view, index, facility[index], day[index])
    grouped = view.terms.group[index] >= 0
    worth = grouped | (back <= now + 1e-6 * np.maximum(1.0, np.abs(now)))
    return set(index[worth].tolist())


def _cheaper_back(
    view: ProblemView,
    members: dict[str, list[int]],
    facility: IntArray,
    day: IntArray,
    i: int,
    place: tuple[int, int],
) -> bool:
    """Whether patient ``i`` at its current ``place`` costs the plan no more than where the
    placement ``facility``/``day`` has it, the rest held (`own_cost_at`, with its group's
    other placed members where they are)."""
    p = view.problem.patients[i]
    others = members.get(p.group, []) if p.group is not None else []
    group_at = {int(facility[j]) for j in others if j != i and facility[j] >= 0}
    now_f = int(facility[i])
    if now_f >= 0:
        now = own_cost_at(view, i, now_f, int(day[i]), group_at)
    else:
        now = view.unplaced_cost(p)
    return _no_dearer(own_cost_at(view, i, *place, group_at), now)


def back_to_current(
    problem: Problem,
    view: ProblemView,
    facility: IntArray,
    day: IntArray,
    objective: float,
    say: Callable[[str], None],
    until: float = math.inf,
) -> tuple[IntArray, IntArray, float]:
    """A re-plan's placement ``facility``/``day`` (of cost ``objective``) with every current
    place kept where that costs no more (`kept_if_not_dearer`), else with the patients it
    moved at no gain put back (`put_back`, until the `time.perf_counter` time ``until``), else
    as it is; with its cost."""
    kept = kept_if_not_dearer(problem, view, objective)
    if kept is not None:
        say(f"keeping every current place costs no more: plan {kept[2]:,.2f}")
        return kept
    back = put_back(problem, view, facility, day, objective, until)
    if back is None:
        return facility, day, objective
    say(f"{back[3]} pair(s) and {back[4]} patient(s) back in their current places: plan "
        f"{back[2]:,.2f}")  # fmt: skip
    return back[0], back[1], back[2]


def _taken_if_not_dearer(
    problem: Problem, view: ProblemView, facility: IntArray, day: IntArray, objective: float
) -> float | None:
    """The cost of the placement ``facility``/``day`` where it costs no more than ``objective``
    (up to 1e-9 of it) and passes the independent checker (a current place the problem no
    longer allows fails it); else None."""
    cost = breakdown_of_arrays(problem, view, facility, day).total
    if not _no_dearer(cost, objective):
        return None
    plan = assemble_plan_arrays(
        problem, view, facility, day, status=PlanStatus.FEASIBLE, bound=None,
        solver="re-plan safeguard", started=time.perf_counter(),
    )  # fmt: skip
    return cost if check_plan(problem, plan).feasible else None

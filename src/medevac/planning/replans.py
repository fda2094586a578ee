"""Re-plans: the last step of an engine's plan where patients have a `current` place.

The engines minimise the objective and nothing else; among plans of the same cost they may move
patients for nothing. What is here puts current places back where that costs the plan nothing
(`back_to_current`): every place kept (`kept_if_not_dearer`), else patients who exchanged
places (two to five of them), single patients whose place is still free, groups together, and
patients whose place one other patient holds, that one moved to the first one's place or back
to its own, or back to its own where a third moves out of it (`put_back`). Each result is
checked by the independent checker before it is taken, and each keeps the plan's cost or
lowers it.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

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
    move (the checker's rules, counted once for the whole placement; an admission counts
    against a quota only on the quota's days, `Quota.days`)."""

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
        self.quota_used = quota_counts(view, facility, day)

    def quotas_at(self, i: int, f: int, a: int) -> list[int]:
        """The quotas patient ``i`` counts against when admitted at facility ``f`` on day
        ``a`` (those of its organisation and specialty over ``f`` that hold on ``a``)."""
        view = self.view
        return [
            q
            for q in view.quotas_of(i).tolist()
            if view.quota_facility[q, f] and view.quota_days[q, a]
        ]

    def _count(self, i: int, f: int, a: int, sign: int) -> None:
        end = min(a + int(self.stay[i]), self.view.horizon)
        self.used[f, self.specialty[i], a:end] += sign
        self.admitted[f, a] += sign
        for q in self.quotas_at(i, f, a):
            self.quota_used[q] += sign

    def take(self, i: int, f: int, a: int) -> None:
        self._count(i, f, a, 1)

    def give_up(self, i: int, f: int, a: int) -> None:
        self._count(i, f, a, -1)

    def allowed(self, i: int, f: int, a: int) -> bool:
        """Whether patient ``i`` may be admitted at facility ``f`` on day ``a`` by its own
        rules, whatever room is left."""
        view = self.view
        p = view.problem.patients[i]
        if self.specialty[i] < 0 or a < p.earliest_day or not view.screen(i).eligible[f]:
            return False
        return not (view.has_acceptance_ends and a > view.last_days(p.organisation)[f])

    def fits(self, i: int, f: int, a: int) -> bool:
        """Whether patient ``i`` may be admitted at facility ``f`` on day ``a`` by its own
        rules and the room left."""
        if not self.allowed(i, f, a):
            return False
        view = self.view
        s = int(self.specialty[i])
        end = min(a + int(self.stay[i]), view.horizon)
        if (self.used[f, s, a:end] >= view.beds[f, s, a:end]).any():
            return False
        limit = int(view.admission_limit[f, a])
        if 0 <= limit <= self.admitted[f, a]:
            return False
        return all(self.quota_used[q] < view.quota_room[q] for q in self.quotas_at(i, f, a))

    def blocking(self, i: int, f: int, a: int) -> tuple[list[int], bool, list[int]] | None:
        """What keeps patient ``i`` out of facility ``f`` on day ``a`` that one patient leaving
        could free: the days of its stay whose beds of its specialty are all taken, whether
        the day's admissions are, and the quotas of the place that are full; None where its
        own rules forbid the place, where nothing keeps it out, or where one patient leaving
        could not make room (a day without beds, a limit or a quota of 0)."""
        if not self.allowed(i, f, a):
            return None
        view = self.view
        s = int(self.specialty[i])
        end = min(a + int(self.stay[i]), view.horizon)
        used, beds = self.used[f, s, a:end], view.beds[f, s, a:end]
        full = used >= beds
        if (used[full] != beds[full]).any() or (beds[full] < 1).any():
            return None
        full_days = (np.flatnonzero(full) + a).tolist()
        limit = int(view.admission_limit[f, a])
        admissions = 0 <= limit <= self.admitted[f, a]
        if admissions and (limit < 1 or self.admitted[f, a] != limit):
            return None
        quotas = [q for q in self.quotas_at(i, f, a) if self.quota_used[q] >= view.quota_room[q]]
        if any(self.quota_used[q] != view.quota_room[q] or view.quota_room[q] < 1 for q in quotas):
            return None
        if not (full_days or admissions or quotas):
            return None
        return full_days, admissions, quotas


#: time kept for the checker's call at the end of `put_back`, per patient of the problem (it
#: took 0.71-0.73 s on a re-plan of 100,000 patients, 2026-12-07, other work running)
CHECK_SECONDS_PER_PATIENT = 1e-5
#: the most patients of one exchange of current places `_exchanges_put_back` undoes
LONGEST_EXCHANGE = 5
#: how many steps `_exchanges_from` takes from one patient before it gives up on it
EXCHANGE_STEPS = 64
#: the most patients holding one patient's current place that `_displaced_put_back` tries to
#: move, and the most patients placed at that facility it looks over to find them
OCCUPANTS_TRIED = 32
OCCUPANTS_LOOKED_AT = 512
#: in a chain of two (`_chain_back`), the most patients holding the first one's current place
#: tried as the middle one, and the most holding the middle one's own current place tried
CHAINED_TRIED = 8


@dataclass
class _Replan:
    """A re-plan's placement as `_put_back` puts patients back, the state every step of it
    takes: the ``view`` of the problem, the ``room`` the placement leaves (`_Room`), each
    group's patients (``members``), the placement ``facility``/``day`` (changed in place as
    patients move), the current place (facility index, day) of each patient it does not keep
    there (``moved``: those put back leave it) and the `time.perf_counter` time ``until``
    which the steps try."""

    view: ProblemView
    room: _Room
    members: dict[str, list[int]]
    facility: IntArray
    day: IntArray
    moved: dict[int, tuple[int, int]]
    until: float


def _exchanges_put_back(rp: _Replan, lengths: range) -> int:
    """Put back (in ``rp``'s ``facility``/``day`` and ``room``, taking them out of ``moved``) the
    exchanges of current places of each of the ``lengths`` (2 to LONGEST_EXCHANGE patients,
    each of whom took the next one's current place, facility and day, the last the first's),
    where each place is still open to its patient once all of them are out and that costs the
    plan no more, their groups' splits counted (`_together_back`). Shorter exchanges first:
    every pair, then every three, and so on. How many exchanges.

    The large problems' engine has no tie-break for current places: a re-plan of 4,122
    patients of its own plan had 107 pairs that traded places with nothing gained (found by a
    review); a pair of different specialties or stays is put back too, where beds allow. A
    re-plan of L in 10 s with 5,000 new patients (2026-12-07, one run) left, after its pairs
    and single patients were put back, 536 exchanges of three patients and 138 of four or five
    that could be put back (the plan 247.59 cheaper, with 12 more patients alone)."""
    facility, day, moved, until = rp.facility, rp.day, rp.moved, rp.until
    holders: dict[tuple[int, int], list[int]] = defaultdict(list)  # a place, to who had it
    for i, place in moved.items():
        holders[place].append(i)
    exchanges = 0
    for length in lengths:
        # who had the place each moved patient has now (its successors in an exchange)
        after = {
            i: [j for j in holders.get((int(facility[i]), int(day[i])), ()) if j in moved]
            for i in moved
        }
        for start in list(moved):
            if time.perf_counter() >= until:
                return exchanges
            if start not in moved or not after[start]:  # put back already, or no exchange
                continue
            for cycle in _exchanges_from(start, length, after, moved):
                if _together_back(rp, cycle):
                    exchanges += 1
                    break
    return exchanges


def _exchanges_from(
    start: int, length: int, after: dict[int, list[int]], moved: dict[int, tuple[int, int]]
) -> list[list[int]]:
    """The exchanges of ``length`` patients from ``start`` (its smallest index, so that each
    is found once): lists of patients of ``moved`` each of whom has the next one's current
    place (``after``: by patient, those whose current place it has), the last ``start``'s; at
    most EXCHANGE_STEPS steps of search."""
    found: list[list[int]] = []
    steps = 0
    path = [start]

    def extend() -> None:
        nonlocal steps
        last = path[-1]
        for j in after.get(last, ()):
            steps += 1
            if steps > EXCHANGE_STEPS:
                return
            if j == start:
                if len(path) == length:
                    found.append(list(path))
                continue
            if j < start or j not in moved or j in path or len(path) == length:
                continue
            path.append(j)
            extend()
            path.pop()

    extend()
    return found


def _together_back(rp: _Replan, who: list[int]) -> bool:
    """Put the patients ``who`` of ``rp``'s ``moved`` back in their current places together (an
    exchange of places, `_exchanges_from`, or a group's members) where each place is open to
    its patient once all of them are out (`_Room.fits`) and that costs the plan no more: their
    own terms and the splits of their groups (``members``: by group, its patients), the rest
    of the plan as it is; whether it did."""
    room, facility, day, moved = rp.room, rp.facility, rp.day, rp.moved
    back = [moved[i] for i in who]
    now = [(int(facility[i]), int(day[i])) for i in who]
    if not _no_dearer(_cost_together(rp, who, back), _cost_together(rp, who, now)):
        return False
    for i, (f, a) in zip(who, now, strict=True):
        if f >= 0:
            room.give_up(i, f, a)
    taken: list[int] = []
    for i, place in zip(who, back, strict=True):
        if not room.fits(i, *place):
            break
        room.take(i, *place)
        taken.append(i)
    if len(taken) < len(who):
        for i, place in zip(taken, back, strict=False):
            room.give_up(i, *place)
        for i, (f, a) in zip(who, now, strict=True):
            if f >= 0:
                room.take(i, f, a)
        return False
    for i, place in zip(who, back, strict=True):
        facility[i], day[i] = place
        del moved[i]
    return True


def _own_cost(view: ProblemView, i: int, place: tuple[int, int]) -> float:
    """What patient ``i`` costs at ``place`` (facility index, -1 for none, and day) by its own
    terms, without its group's split (`own_cost_at`, or `unplaced_cost`)."""
    f, a = place
    return own_cost_at(view, i, f, a) if f >= 0 else view.unplaced_cost(view.problem.patients[i])


def _cost_together(rp: _Replan, who: list[int], places: list[tuple[int, int]]) -> float:
    """What the patients ``who`` cost at ``places`` (facility index, -1 for none, and day):
    their own terms (`own_cost_at`, or `unplaced_cost`) and the splits of their groups (of
    ``rp``'s ``members``), the others of each group where ``rp``'s ``facility`` has them."""
    view, members, facility = rp.view, rp.members, rp.facility
    patients = view.problem.patients
    cost = sum(_own_cost(view, i, place) for i, place in zip(who, places, strict=True))
    if all(patients[i].group is None for i in who):
        return cost
    at = dict(zip(who, places, strict=True))
    split = view.problem.weights.group_split
    for group in {g for i in who if (g := patients[i].group) is not None}:
        used = {at[j][0] if j in at else int(facility[j]) for j in members[group]} - {-1}
        cost += split * max(0, len(used) - 1)
    return cost


def put_back(
    problem: Problem,
    view: ProblemView,
    facility: IntArray,
    day: IntArray,
    objective: float,
    until: float = math.inf,
) -> tuple[IntArray, IntArray, float, int, int, int, int] | None:
    """The plan ``facility``/``day`` (of cost ``objective``) with the patients it moved from a
    current place put back, in exchanges, alone, in groups and in place of another patient
    (`_put_back`, until the `time.perf_counter` time ``until`` less the checker's time), where
    that costs no more and passes the checker; as (facility, day, objective, exchanges,
    patients alone, groups, patients back in place of another), or None where nobody was put
    back."""
    search_until = until - CHECK_SECONDS_PER_PATIENT * len(problem.patients)
    found = _put_back(problem, view, facility, day, search_until)
    facility, day, exchanges, alone, groups, displaced = found
    if exchanges + alone + groups + displaced == 0:
        return None
    cost = _taken_if_not_dearer(problem, view, facility, day, objective)
    if cost is None:
        return None
    return facility, day, cost, exchanges, alone, groups, displaced


def _put_back(
    problem: Problem, view: ProblemView, facility: IntArray, day: IntArray, until: float
) -> tuple[IntArray, IntArray, int, int, int, int]:
    """The placement ``facility``/``day`` with its patients who were moved from a current place
    (or left out) put back there: first pairs who took each other's places
    (`_exchanges_put_back`), then patients one at a time where the place is still free (its bed
    on each day of the stay, an admission, its quotas, its rules: `_Room.fits`, the rest of
    the plan as it is) and that costs the plan no more (its own terms and its group's split,
    `own_cost_at`). A patient put back frees the place it had, so those waiting for a place at
    that facility (or under a quota of it) are tried again, and so are the others of its group
    (whose split it changed), until nobody more can go back; then exchanges of three to
    LONGEST_EXCHANGE patients, the moved members of each group together, and single patients
    again where any of those went back; last, patients whose current place one other patient
    holds, that one moved to the place the first had or back to its own current place, or
    back to its own where a third patient makes way (`_displaced_put_back`), and single
    patients again after each round of those, until no more go back; all until the time
    ``until``. With how many exchanges, single patients,
    groups and patients back in place of another.

    Stopped MIPs and the large problems' engine leave such moves: in re-plans of 2,100-4,100
    patients, 24 of 40 had moves or swaps that could be undone at no cost (found by a review).
    """
    moved = _moved(problem, facility, day)
    facility, day = facility.copy(), day.copy()
    if not moved:
        return facility, day, 0, 0, 0, 0
    members: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(problem.patients):
        if p.group is not None:
            members[p.group].append(i)
    rp = _Replan(view, _Room(view, facility, day), members, facility, day, moved, until)
    exchanges = _exchanges_put_back(rp, range(2, 3))
    alone = _alone_put_back(rp)
    more = _exchanges_put_back(rp, range(3, LONGEST_EXCHANGE + 1))
    groups = _groups_put_back(rp)
    if more or groups:  # the places they left may be free for others now
        alone += _alone_put_back(rp)
    displaced = _displaced_rounds(rp)
    alone += displaced[1]
    return facility, day, exchanges + more, alone, groups, displaced[0]


def _displaced_rounds(rp: _Replan) -> tuple[int, int]:
    """Rounds of `_displaced_put_back`, each followed by single patients put back
    (`_alone_put_back`: the places the patients moved left may be free for others), until a
    round puts nobody back or the time ``until``; as (patients back in place of another,
    patients alone). After the first round only the patients whose last try depended on a
    facility where someone moved since, or under a quota of one, are tried again (on a re-plan
    of 100,000 patients a round over all of them took 1.7 s and put back a few). Chains of two
    (`_chain_back`) only once a round without them puts nobody back, every patient tried again
    then: taken at once, they had taken places that one other patient would have made way for
    later, and in three of 18 re-plans of 5,000 patients the plan had cost more in the end."""
    view, facility, day, moved, until = rp.view, rp.facility, rp.day, rp.moved, rp.until
    tried: dict[int, set[int] | None] = {}
    touched: set[int] | None = None
    chains = False
    displaced = alone = 0
    while moved and time.perf_counter() < until:
        before = facility.copy(), day.copy()
        found = _displaced_put_back(rp, tried, touched, chains)
        if not found and not chains:
            chains, touched = True, None
            continue
        if not found:
            break
        displaced += found
        alone += _alone_put_back(rp)
        changed = (facility != before[0]) | (day != before[1])
        touched = set(facility[changed].tolist()) | set(before[0][changed].tolist())
        touched.discard(-1)
        if view.n_quotas and touched:  # room under a quota of theirs at its other facilities
            quotas = view.quota_facility[:, sorted(touched)].any(axis=1)
            touched.update(np.flatnonzero(view.quota_facility[quotas].any(axis=0)).tolist())
    return displaced, alone


def _groups_put_back(rp: _Replan) -> int:
    """Put back (in ``rp``'s ``facility``/``day`` and ``room``, taking them out of ``moved``) the
    members of ``moved`` of each group together (``members``: by group, its patients), where
    two or more of them were moved, their places are open to them once all are out, and that
    costs the plan no more (`_together_back`): a group that moved together to another
    facility, where going back one at a time would have split it. How many groups."""
    groups = 0
    for patients in rp.members.values():
        if time.perf_counter() >= rp.until:
            break
        who = [i for i in patients if i in rp.moved]
        if len(who) >= 2 and _together_back(rp, who):
            groups += 1
    return groups


def _alone_put_back(rp: _Replan) -> int:
    """Put back (in ``rp``'s ``facility``/``day`` and ``room``, taking them out of ``moved``)
    the patients of ``moved`` one at a time, as `_put_back` says; how many."""
    view, room, members = rp.view, rp.room, rp.members
    facility, day, moved, until = rp.facility, rp.day, rp.moved, rp.until
    worth = _worth_trying(rp) if moved else set()
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
        if not (room.fits(i, f, a) and _cheaper_back(rp, i, (f, a))):
            if now_f >= 0:
                room.take(i, now_f, now_a)
            continue
        facility[i], day[i] = f, a
        room.take(i, f, a)
        del moved[i]
        alone += 1
        freed = [now_f] if now_f >= 0 else []
        if view.n_quotas and now_f >= 0:  # room under a quota of the place it left, elsewhere
            for q in room.quotas_at(i, now_f, now_a):
                freed.extend(np.flatnonzero(view.quota_facility[q]).tolist())
        again = [k for g in freed for k in waiting.get(g, ())]
        group = view.problem.patients[i].group
        if group is not None:  # its group's split changed for the others moved
            again.extend(members[group])
        for k in again:
            if k in moved and k not in queued and k in worth:
                queue.append(k)
                queued.add(k)
    return alone


def _displaced_put_back(
    rp: _Replan, tried: dict[int, set[int] | None], touched: set[int] | None, chains: bool = False
) -> int:
    """Put back (in ``rp``'s ``facility``/``day`` and ``room``, taking them out of ``moved``)
    patients of ``moved`` whose current place one other patient holds: one without a current
    place, or itself moved from its own, whose leaving would make room (`_Room.blocking`: it has
    a bed of the specialty on each full day of the stay, an admission on the day where they are
    full, a place under each full quota, at that facility). That one goes back to its own
    current place or else to the place the first had (out of the plan, where the first was
    out), where both fit (`_Room.fits`) and the two cost the plan no more, their groups' splits
    counted; at most OCCUPANTS_TRIED such patients for each, among at most OCCUPANTS_LOOKED_AT
    placed at that facility, and only patients moved at no gain to themselves
    (`_worth_trying`). With ``chains``, where none of those can make way, and none of the three
    is in a group, a chain of two (`_chain_back`): one of them back to its own current place,
    a third patient holding it moved out. How many patients went back so (two for a chain).

    ``tried`` holds, for each patient tried before who did not go back, the facilities that
    try depended on (None where it depends on a group), and gets this round's; where
    ``touched`` (the facilities where someone moved since) is given, only those whose
    facilities are among them are tried again.

    The large problems' engine left such moves: a patient moved to another facility took the
    admission of a day whose limit is one, and the patient kept there before went a day later
    at the same cost; in re-plans of 5,000 patients, 139 to 164 such swaps would have cost no
    more, an urgent patient left out while one moved took its current place among them (found
    by a review)."""
    view, room, facility, day, moved, until = (
        rp.view, rp.room, rp.facility, rp.day, rp.moved, rp.until
    )  # fmt: skip
    worth = _worth_trying(rp)
    group = view.terms.group
    at: dict[tuple[int, int], set[int]] | None = None  # a facility and day, to who came in then
    displaced = 0
    for i in sorted(worth):
        if time.perf_counter() >= until:
            break
        if i not in moved:
            continue
        if touched is not None and i in tried:
            depends = tried[i]
            if depends is not None and depends.isdisjoint(touched):
                continue  # nothing its last try depended on has changed
        place = moved[i]
        now_i = (int(facility[i]), int(day[i]))
        alongside = now_i[0] == place[0] or view.n_quotas  # its place may hold it out
        if alongside and now_i[0] >= 0:
            room.give_up(i, *now_i)
        blocked = room.blocking(i, *place)
        if alongside and now_i[0] >= 0:
            room.take(i, *now_i)
        tried[i] = {place[0], now_i[0]}
        if blocked is None:
            continue
        if at is None:
            at = _admitted(facility, day)
        occupants = _occupants(rp, at, i, place, blocked)
        if group[i] >= 0 or (group[occupants] >= 0).any():
            tried[i] = None  # its cost depends on where the others of the group are
        else:
            tried[i] = {place[0], now_i[0], *(moved[j][0] for j in occupants if j in moved)}
        # what the two cost where neither is in a group: their own terms (`_cost_together`)
        i_back, i_now = _own_cost(view, i, place), _own_cost(view, i, now_i)
        back = False
        for j in occupants:
            now_j = (int(facility[j]), int(day[j]))
            alone = group[i] < 0 and group[j] < 0
            j_now = _own_cost(view, j, now_j) if alone else 0.0
            to = None
            for there in [moved[j], now_i] if j in moved else [now_i]:
                if alone and not _no_dearer(i_back + _own_cost(view, j, there), i_now + j_now):
                    continue
                if _displace(rp, i, j, there, alone):
                    to = there
                    break
            if to is None:
                continue
            if now_i[0] >= 0:
                at[now_i].discard(i)
            at[place].add(i)
            at[now_j].discard(j)
            if to[0] >= 0:
                at[to].add(j)
            displaced += 1
            del tried[i]
            tried.pop(j, None)
            back = True
            break
        if back or not chains or group[i] >= 0 or time.perf_counter() >= until:
            continue
        chain = _chain_back(rp, at, i, occupants, tried)
        if chain is None:
            continue
        for k in chain:
            tried.pop(k, None)
        displaced += 2
    return displaced


def _chain_back(
    rp: _Replan,
    at: dict[tuple[int, int], set[int]],
    i: int,
    occupants: IntArray,
    tried: dict[int, set[int] | None],
) -> tuple[int, int, int] | None:
    """Put patient ``i`` of ``rp``'s ``moved`` back in its current place where a chain of two
    makes way (none of the three in a group): a patient ``j`` of its ``occupants``
    (`_occupants`), moved itself, goes back to its own current place, and a patient ``k``
    holding that one (`_Room.blocking`, `_occupants`) goes back to its own current place or
    else to the place ``i`` had (out of the plan, where ``i`` was out); where all three fit
    (`_Room.fits`) and the three cost the plan no more, by their own terms; at most
    CHAINED_TRIED patients ``j`` and as many ``k`` for each. ``at`` (by facility and day, who
    came in then) is kept up to date, and so is ``tried[i]`` (the facilities the try depended
    on: those of the places of each ``k``). The three (i, j, k) where it did, else None.

    What `_displaced_put_back` leaves where the patient in the way can go neither to the
    first one's place nor back to its own, a third patient holding that one's place."""
    view, room, facility, day, moved = rp.view, rp.room, rp.facility, rp.day, rp.moved
    group = view.terms.group
    place, now_i = moved[i], (int(facility[i]), int(day[i]))
    i_back, i_now = _own_cost(view, i, place), _own_cost(view, i, now_i)
    depends = tried.get(i)
    middles = [j for j in occupants.tolist() if j in moved and group[j] < 0]
    for j in middles[:CHAINED_TRIED]:
        if time.perf_counter() >= rp.until:
            return None
        own_j, now_j = moved[j], (int(facility[j]), int(day[j]))
        if own_j == now_i or not room.allowed(j, *own_j):
            continue
        j_back, j_now = _own_cost(view, j, own_j), _own_cost(view, j, now_j)
        # what holds ``j`` out of its own place once ``i`` is back in its place and ``j`` out
        room.give_up(j, *now_j)
        if now_i[0] >= 0:
            room.give_up(i, *now_i)
        inside = room.fits(i, *place)
        if inside:
            room.take(i, *place)
        blocked = room.blocking(j, *own_j) if inside else None
        if inside:
            room.give_up(i, *place)
        if now_i[0] >= 0:
            room.take(i, *now_i)
        room.take(j, *now_j)
        if blocked is None:
            continue
        holders = [
            k for k in _occupants(rp, at, j, own_j, blocked).tolist() if k != i and group[k] < 0
        ]
        for k in holders[:CHAINED_TRIED]:
            now_k = (int(facility[k]), int(day[k]))
            k_now = _own_cost(view, k, now_k)
            ways = [moved[k], now_i] if k in moved else [now_i]
            if depends is not None:
                depends.update(f for f, _ in ways if f >= 0)
            for to in ways:
                if to == now_k or not _no_dearer(
                    i_back + j_back + _own_cost(view, k, to), i_now + j_now + k_now
                ):
                    continue
                if not _shift(rp, [(k, to), (j, own_j), (i, place)]):
                    continue
                for who, was, there in ((i, now_i, place), (j, now_j, own_j), (k, now_k, to)):
                    if was[0] >= 0:
                        at[was].discard(who)
                    if there[0] >= 0:
                        at[there].add(who)
                return i, j, k
    return None


def _shift(rp: _Replan, moves: list[tuple[int, tuple[int, int]]]) -> bool:
    """Move the patients of ``moves`` (patient, place: facility index, -1 for none, and day)
    to their places together, in ``rp``'s ``facility``/``day`` and ``room``, where each fits
    once all are out (`_Room.fits`, in the order given: the likelier to fail first); whether
    it did. The costs are the caller's to weigh. A patient moved to its current place leaves
    ``moved``."""
    room, facility, day, moved = rp.room, rp.facility, rp.day, rp.moved
    if any(to[0] >= 0 and not room.allowed(k, *to) for k, to in moves):
        return False
    now = [(int(facility[k]), int(day[k])) for k, _ in moves]
    for (k, _), (f, a) in zip(moves, now, strict=True):
        if f >= 0:
            room.give_up(k, f, a)
    taken: list[tuple[int, tuple[int, int]]] = []
    for k, to in moves:
        if to[0] >= 0:
            if not room.fits(k, *to):
                break
            room.take(k, *to)
        taken.append((k, to))
    if len(taken) < len(moves):
        for k, to in taken:
            if to[0] >= 0:
                room.give_up(k, *to)
        for (k, _), (f, a) in zip(moves, now, strict=True):
            if f >= 0:
                room.take(k, f, a)
        return False
    for k, to in moves:
        facility[k], day[k] = to
        if moved.get(k) == to:
            del moved[k]
    return True


def _admitted(facility: IntArray, day: IntArray) -> dict[tuple[int, int], set[int]]:
    """The placed patients of ``facility``/``day`` by their facility and admission day."""
    at: dict[tuple[int, int], set[int]] = defaultdict(set)
    placed = np.flatnonzero(facility >= 0)
    for j, f, a in zip(*(x.tolist() for x in (placed, facility[placed], day[placed])), strict=True):
        at[f, a].add(j)
    return at


def _occupants(
    rp: _Replan,
    at: dict[tuple[int, int], set[int]],
    i: int,
    place: tuple[int, int],
    blocked: tuple[list[int], bool, list[int]],
) -> IntArray:
    """The patients admitted at the facility of ``place`` (``at``: by facility and day, who
    came in then) whose leaving would free what ``blocked`` says holds patient ``i`` out of it
    (`_Room.blocking`), those moved from a current place first: patients without a current
    place or moved from it (one kept in its own is not moved for another); at most
    OCCUPANTS_TRIED, among at most OCCUPANTS_LOOKED_AT."""
    view, room, moved = rp.view, rp.room, rp.moved
    f, a = place
    full_days, admissions, quotas = blocked
    current = view.terms.current
    specialty = room.specialty[i]
    if admissions:
        days: list[int] = [a]
    elif full_days:  # admitted on the first full day or before
        days = list(range(full_days[0], -1, -1))
    else:
        days = [b for b in range(view.horizon) if view.quota_days[quotas, b].all()]
    found: list[int] = []
    looked = 0
    for b in days:
        for j in at.get((f, b), ()):
            looked += 1
            if looked > OCCUPANTS_LOOKED_AT or len(found) == OCCUPANTS_TRIED:
                break
            if j == i or (current[j] >= 0 and j not in moved):
                continue
            if full_days and (
                room.specialty[j] != specialty
                or min(b + int(room.stay[j]), view.horizon) <= full_days[-1]
            ):
                continue
            if quotas and not set(quotas) <= set(view.quotas_of(j).tolist()):
                continue
            found.append(j)
    found.sort(key=lambda k: k not in moved)
    return np.array(found, dtype=np.int64)


def _displace(rp: _Replan, i: int, j: int, to: tuple[int, int], priced: bool = False) -> bool:
    """Put patient ``i`` of ``moved`` back in its current place and patient ``j`` at ``to``
    (facility index, -1 for none, and day) instead, in ``rp``'s ``facility``/``day`` and
    ``room``, where both fit once both are out (`_Room.fits`) and that costs the plan no more
    (`_cost_together`, unless ``priced``: the caller found it no dearer); whether it did. ``j``
    leaves ``moved`` where ``to`` is its current place."""
    room, facility, day, moved = rp.room, rp.facility, rp.day, rp.moved
    back = moved[i]
    who = [i, j]
    now = [(int(facility[i]), int(day[i])), (int(facility[j]), int(day[j]))]
    if not priced and not _no_dearer(
        _cost_together(rp, who, [back, to]), _cost_together(rp, who, now)
    ):
        return False
    if to[0] >= 0 and not room.allowed(j, *to):
        return False
    for k, (f, a) in zip(who, now, strict=True):
        if f >= 0:
            room.give_up(k, f, a)
    fits = to[0] < 0 or room.fits(j, *to)  # the likelier to fail first: ``i`` fits once out
    if fits:
        if to[0] >= 0:
            room.take(j, *to)
        fits = room.fits(i, *back)
        if not fits and to[0] >= 0:
            room.give_up(j, *to)
    if not fits:
        for k, (f, a) in zip(who, now, strict=True):
            if f >= 0:
                room.take(k, f, a)
        return False
    room.take(i, *back)
    facility[i], day[i] = back
    facility[j], day[j] = to
    del moved[i]
    if moved.get(j) == to:
        del moved[j]
    return True


def _worth_trying(rp: _Replan) -> set[int]:
    """Those of ``rp``'s ``moved`` patients (index -> current place) whose current place costs
    them no more than their place in the placement ``facility``/``day`` by their own terms
    (up to 1e-6 of it, a screen: `_cheaper_back` decides), and every one in a group (whose
    split depends on the others): on a re-plan of 105,000 patients, 27,000 moved, most of them
    to a cheaper place, which the one-by-one test took seconds to pass over."""
    view, facility, day, moved = rp.view, rp.facility, rp.day, rp.moved
    index = np.fromiter(moved, dtype=np.int64, count=len(moved))
    places = np.array(list(moved.values()), dtype=np.int64).reshape(-1, 2)
    back = own_costs_at(view, index, places[:, 0], places[:, 1])
    now = own_costs_at(view, index, facility[index], day[index])
    grouped = view.terms.group[index] >= 0
    worth = grouped | (back <= now + 1e-6 * np.maximum(1.0, np.abs(now)))
    return set(index[worth].tolist())


def _cheaper_back(rp: _Replan, i: int, place: tuple[int, int]) -> bool:
    """Whether patient ``i`` at its current ``place`` costs the plan no more than where
    ``rp``'s placement ``facility``/``day`` has it, the rest held (`own_cost_at`, with its
    group's other placed members where they are)."""
    view, members, facility, day = rp.view, rp.members, rp.facility, rp.day
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
    say(f"{back[3]} exchange(s) of places, {back[4]} patient(s) alone, {back[5]} group(s) and "
        f"{back[6]} patient(s) in place of another back in their current places: "
        f"plan {back[2]:,.2f}")  # fmt: skip
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

"""Re-plans: what an engine may call optimal when it breaks ties for the current places, and
that no engine moves a patient at no gain (found by a review of re-planning)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import numpy as np
import pytest

from medevac.planning import (
    Assignment,
    Plan,
    PlanStatus,
    Problem,
    Unplaced,
    check_plan,
    parse_problem,
    solve_exact,
    solve_greedy,
    solve_patient_mip,
)
from tests.unit.planning.builders import (
    facility,
    patient,
    problem_dict,
    random_acceptance_ends,
    random_problem,
    random_problem_data,
    random_problems,
    random_quotas,
    with_current,
)


def nearer_place_unused(n: int) -> Problem:
    """``n`` patients kept at FA, with FB 1 km nearer and moves free (`change` 0): each move
    saves 0.01, and every patient waits five days at 1,000 a day, so the objective is large
    and so is the keep bonus, which outweighs that saving."""
    data = problem_dict(
        [
            facility("FA", 50.0, 20.0 + 1.0 / 71.5, beds={"orthopaedics": n}),
            facility("FB", 50.0, 20.0, beds={"orthopaedics": n}),
        ],
        [
            patient(
                f"P{k}",
                50.0,
                19.0,
                length_of_stay_days=1,
                earliest_day=5,
                current={"facility": "FA", "day": 5},
            )
            for k in range(n)
        ],
        horizon_days=7,
    )
    data["weights"] |= {"unplaced": 1_000_000, "wait_per_day": 1000, "change": 0.0}
    return parse_problem(data)


def everyone_at(problem: Problem, facility_id: str) -> float:
    """The objective of every patient at ``facility_id`` on its earliest day (the checker's)."""
    placed = tuple(Assignment(p.id, facility_id, p.earliest_day) for p in problem.patients)
    report = check_plan(problem, dataclasses.replace(solve_greedy(problem), assignments=placed))
    assert report.feasible, report.violations
    return report.objective


@pytest.mark.parametrize("solve", [solve_exact, solve_patient_mip])
def test_a_re_plan_kept_by_the_bonus_is_called_optimal_only_within_the_tolerance(
    solve: Any,
) -> None:
    # 100 patients: the plan keeping them at FA was called optimal, its bound (its objective)
    # 4e-6 above the true optimum, everyone at FB
    problem = nearer_place_unused(100)
    optimum = everyone_at(problem, "FB")
    plan: Plan = solve(problem, time_limit=60)
    assert check_plan(problem, plan).feasible
    assert plan.bound <= optimum + 1e-9 * optimum  # an honest bound, whatever the status
    if plan.status is PlanStatus.OPTIMAL:
        assert plan.objective <= optimum * (1 + 1e-6)


def test_the_per_patient_mip_moves_nobody_at_no_gain() -> None:
    # every cost of a place 0 (no travel, no waiting, routine patients late only after the
    # horizon): P2 moved from day 4 to day 0, its bonus below what HiGHS resolves
    data = problem_dict(
        [facility("F0", 45.9, 20.2, beds={"orthopaedics": 1})],
        [
            patient("P2", 49.7, 21.5, length_of_stay_days=1, current={"facility": "F0", "day": 4}),
            patient("P1", 48.2, 13.9, length_of_stay_days=3, current={"facility": "F0", "day": 1}),
        ],
    )
    data["weights"] |= {"wait_per_day": 0, "late_per_day": 5, "travel_per_km": 0}
    data["precedences"]["routine"] = {"weight": 0.5, "deadline_day": 4}
    problem = parse_problem(data)
    for solve in (solve_patient_mip, solve_exact):
        plan = solve(problem, time_limit=30)
        assert {(a.patient, a.facility, a.day) for a in plan.assignments} == {
            ("P1", "F0", 1), ("P2", "F0", 4)
        }, solve  # fmt: skip


def _put_back(
    data: dict[str, Any], placed: dict[str, tuple[int, int]], problem: Problem | None = None
) -> tuple[list[int], list[int], int, int]:
    """`replans._put_back` (the step before the checker, so that a check too lenient shows)
    of the placement ``placed`` (patient id -> (facility index, day); everyone else left out)
    of the problem ``data`` (or ``problem``): (facility indices, days, pairs, patients alone)."""
    return _put_back_all(data, placed, problem)[:4]


def _put_back_all(
    data: dict[str, Any], placed: dict[str, tuple[int, int]], problem: Problem | None = None
) -> tuple[list[int], list[int], int, int, int, int]:
    """`_put_back` with all the step's counts: (facility indices, days, exchanges, patients
    alone, groups, patients back in place of another)."""
    import math

    from medevac.planning.model import ProblemView
    from medevac.planning.replans import _put_back as put_back_step

    problem = problem or parse_problem(data)
    facility_of = np.array([placed.get(p.id, (-1, 0))[0] for p in problem.patients])
    day_of = np.array([placed.get(p.id, (-1, 0))[1] for p in problem.patients])
    found = put_back_step(problem, ProblemView(problem), facility_of, day_of, math.inf)
    return ([int(f) for f in found[0]], [int(d) for d in found[1]], *found[2:])


def traded(first: str, second: str, **more: Any) -> dict[str, Any]:
    """A (``first`` precedence, current F0 day 0) and B (``second``, current F0 day 1), one
    bed a day; ``more`` replaces B's fields."""
    return problem_dict(
        [facility("F0", 50.0, 30.0, beds={"orthopaedics": 1, "neurology": 1})],
        [
            patient("A", length_of_stay_days=1, precedence=first, organisation="ORG-A",
                    current={"facility": "F0", "day": 0}),
            patient("B", length_of_stay_days=1, precedence=second, organisation="ORG-B",
                    current={"facility": "F0", "day": 1}) | more,
        ],
    )  # fmt: skip


def test_patients_who_traded_current_places_at_no_gain_are_put_back() -> None:
    # the large problems' engine has no tie-break for current places: a re-plan of 4,122
    # patients of its own plan had 107 such pairs
    each_in_the_other_s = {"A": (0, 1), "B": (0, 0)}
    assert _put_back(traded("routine", "routine"), each_in_the_other_s) == ([0, 0], [0, 1], 1, 0)
    # where the swap gained (the urgent patient admitted a day earlier), it stays
    assert _put_back(traded("routine", "urgent"), each_in_the_other_s) == ([0, 0], [1, 0], 0, 0)
    # patients of other stays too, where the beds allow (a review found such pairs left by
    # the large engine): B's two days from day 0 and A's day 1 share day 1's two beds, and
    # put back, A's day 0 and B's days 1-2 fit as well; B alone could not go back first
    longer = traded("routine", "routine", length_of_stay_days=2)
    longer["facilities"][0]["beds"] = {"orthopaedics": [1, 2, 1, 1, 1]}
    assert _put_back(longer, each_in_the_other_s) == ([0, 0], [0, 1], 1, 0)
    # where day 2 has no bed, B's place is not free for its stay: the pair stays
    longer["facilities"][0]["beds"] = {"orthopaedics": [1, 2, 0, 1, 1]}
    assert _put_back(longer, each_in_the_other_s) == ([0, 0], [1, 0], 0, 0)


def ring(n: int, facilities: int = 1) -> tuple[dict[str, Any], dict[str, tuple[int, int]]]:
    """``n`` routine patients of one-day stays, P0 current on day 0 at F0, P1 on day 1 at F1
    (or F0 where there is one facility) and so on, one bed a day everywhere; and the placement
    that has each at the next one's current place, the last at P0's: every place taken, so
    nobody can go back alone. Waiting costs 1 a day and moves are free, so that the exchange
    costs what putting it back does (n - 1 days of waiting either way)."""
    data = problem_dict(
        [facility(f"F{k}", 50.0, 30.0, beds={"orthopaedics": 1}) for k in range(facilities)],
        [
            patient(f"P{k}", length_of_stay_days=1,
                    current={"facility": f"F{k % facilities}", "day": k})
            for k in range(n)
        ],
        horizon_days=max(n, 2),
    )  # fmt: skip
    data["weights"] |= {"change": 0.0}
    return data, {f"P{k}": ((k + 1) % n % facilities, (k + 1) % n) for k in range(n)}


def test_an_exchange_of_places_among_three_to_five_patients_is_put_back() -> None:
    # a re-plan of L in 10 s with 5,000 new patients left, after the pairs, hundreds of such
    # exchanges of three to five patients at no gain (2026-12-07)
    for n in range(3, 6):
        data, placed = ring(n)
        assert _put_back(data, placed) == ([0] * n, list(range(n)), 1, 0), n
        data, placed = ring(n, facilities=n)  # across facilities, nobody in a group
        assert _put_back(data, placed) == (list(range(n)), list(range(n)), 1, 0), n
    # a longer exchange is left as it is (LONGEST_EXCHANGE)
    data, placed = ring(6)
    assert _put_back(data, placed)[2:] == (0, 0)


def test_an_exchange_stays_where_it_gained_or_a_place_no_longer_fits() -> None:
    data, placed = ring(3)
    data["patients"][2]["precedence"] = "urgent"  # P2 is on day 0 now, its deadline
    # the exchange stays; P1 takes back its day 1 from P0, who takes P1's day 2 instead (the
    # same days of waiting between them)
    assert _put_back_all(data, placed) == ([0, 0, 0], [2, 1, 0], 0, 0, 0, 1)
    data, placed = ring(3)
    # P0 of two days (day 2 has two beds, for it and P1 now): back on day 0 it would need day
    # 1's bed, which P1 goes back to; the exchange stays, and P1 takes back its day 1 from P0,
    # who goes to P1's day 2 instead
    data["patients"][0]["length_of_stay_days"] = 2
    data["facilities"][0]["beds"] = {"orthopaedics": [1, 1, 2]}
    assert _put_back_all(data, placed) == ([0, 0, 0], [2, 1, 0], 0, 0, 0, 1)
    # across facilities, where P1 going back to F1 would leave its group's P3 alone at F2 (a
    # split of 50): left
    data, placed = ring(3, facilities=3)
    data["patients"][1]["group"] = "G"
    data["patients"].append(patient("P3", length_of_stay_days=1, group="G"))
    assert _put_back(data, placed | {"P3": (2, 0)})[2:] == (0, 0)
    # where P3 is at F1, it brings P1 back to its group: put back (it gained)
    assert _put_back(data, placed | {"P3": (1, 0)}) == ([0, 1, 2, 1], [0, 1, 2, 0], 1, 0)
    # at one facility a group's split cannot change: put back
    data, placed = ring(3)
    data["patients"][1]["group"] = "G"
    assert _put_back(data, placed) == ([0, 0, 0], [0, 1, 2], 1, 0)


def test_a_group_that_moved_together_goes_back_together() -> None:
    # A and B, a group, moved from F0 to F1 as near (moves free): neither can go back alone
    # without splitting the group (50), both together cost no more
    import math

    from medevac.planning.model import ProblemView
    from medevac.planning.replans import _put_back as put_back_step

    data = problem_dict(
        [facility(f"F{k}", 50.0, 30.0, beds={"orthopaedics": 2}) for k in range(2)],
        [
            patient(name, length_of_stay_days=1, group="G",
                    current={"facility": "F0", "day": 0})
            for name in ("A", "B")
        ],
    )  # fmt: skip
    data["weights"] |= {"change": 0.0}
    problem = parse_problem(data)
    found = put_back_step(
        problem, ProblemView(problem), np.array([1, 1]), np.array([0, 0]), math.inf
    )
    assert ([int(f) for f in found[0]], [int(d) for d in found[1]], found[2:]) == (
        [0, 0], [0, 0], (0, 0, 1, 0)
    )  # fmt: skip
    # where F0 has one bed left, they stay together at F1
    data["facilities"][0]["beds"] = {"orthopaedics": 1}
    problem = parse_problem(data)
    found = put_back_step(
        problem, ProblemView(problem), np.array([1, 1]), np.array([0, 0]), math.inf
    )
    assert found[2:] == (0, 0, 0, 0)


def test_a_pair_whose_place_is_no_longer_open_does_not_stop_the_others() -> None:
    # B's current place now breaks its rules (its facility admits ORG-B until day 0 only), so
    # the pair stays; C, moved at no gain, still goes back (one check for everything had
    # refused the pair and with it every other patient put back)
    from medevac.planning.problem import with_acceptance_ends

    data = traded("routine", "routine")
    data["patients"].append(
        patient("C", length_of_stay_days=1, organisation="ORG-A",
                current={"facility": "F0", "day": 3})
    )  # fmt: skip
    problem = with_acceptance_ends(parse_problem(data), [("F0", "ORG-B", 0)])
    placed = {"A": (0, 1), "B": (0, 0), "C": (0, 4)}
    assert _put_back(data, placed, problem) == ([0, 0, 0], [1, 0, 3], 0, 1)


def one_bed_replan(**weights: float) -> dict[str, Any]:
    """Patient A kept at F0 on day 2, B without a current place; one bed; waiting free, so
    that days 2 and 3 cost A the same (routine patients are late only from day 6)."""
    data = problem_dict(
        [
            facility("F0", 50.0, 30.0, beds={"orthopaedics": 1}),
            facility("F1", 50.0, 30.0, beds={"orthopaedics": 1}),
        ],
        [
            patient("A", length_of_stay_days=1, current={"facility": "F0", "day": 2}),
            patient("B", length_of_stay_days=1),
        ],
    )
    data["weights"] |= {"wait_per_day": 0.0, "change": 0.0} | weights
    return data


def test_a_patient_moved_at_no_gain_goes_back_to_its_free_current_place() -> None:
    # moved a day later at one facility, or to another as near (moves free): both cost the
    # same, and the current place is free, so A goes back; the checked step agrees
    from medevac.planning.model import ProblemView, breakdown_of_arrays
    from medevac.planning.replans import put_back

    for moved_to in [(0, 3), (1, 2)]:
        placed = {"A": moved_to, "B": (0, 4)}
        assert _put_back(one_bed_replan(), placed) == ([0, 0], [2, 4], 0, 1), moved_to
        problem = parse_problem(one_bed_replan())
        view = ProblemView(problem)
        facility_of, day_of = np.array([moved_to[0], 0]), np.array([moved_to[1], 4])
        objective = breakdown_of_arrays(problem, view, facility_of, day_of).total
        checked = put_back(problem, view, facility_of, day_of, objective)
        assert checked is not None
        assert checked[2] == pytest.approx(objective)


def test_a_move_stays_where_its_place_is_taken_or_going_back_costs_more() -> None:
    # B, urgent, holds A's current bed on day 2: A stays on day 3 (B a day later would cost
    # more; where it would not, they trade places: test_a_patient_whose_place_another_holds...)
    data = one_bed_replan()
    data["patients"][1]["precedence"] = "urgent"
    assert _put_back_all(data, {"A": (0, 3), "B": (0, 2)}) == ([0, 0], [3, 2], 0, 0, 0, 0)
    # waiting costs: day 1 is cheaper than A's day 2, so that move gained and stays
    assert _put_back(one_bed_replan(wait_per_day=1.0), {"A": (0, 1)})[2:] == (0, 0)
    # left out where its place costs more than leaving it out (unplaced 0): stays out
    assert _put_back(one_bed_replan(wait_per_day=1.0, unplaced=0.0), {})[2:] == (0, 0)
    # left out where its place is free and cheaper: back in
    assert _put_back(one_bed_replan(), {}) == ([0, -1], [2, 0], 0, 1)


def test_a_patient_put_back_frees_a_place_another_goes_back_to() -> None:
    # a chain: each patient's current day is held by the next; only the last one's is free.
    # Each put back frees the day the one before it waits for (a fixed number of passes over
    # the patients had left most of a long chain where it was)
    n = 30
    data = problem_dict(
        [facility("F0", 50.0, 30.0, beds={"orthopaedics": 1})],
        [
            patient(f"P{k:02d}", length_of_stay_days=1, current={"facility": "F0", "day": k})
            for k in range(n)
        ],
        horizon_days=n + 1,
    )
    data["weights"] |= {"wait_per_day": 0.0, "late_per_day": 0.0}
    placed = {f"P{k:02d}": (0, k + 1) for k in range(n)}  # each on the next one's day
    assert _put_back(data, placed) == ([0] * n, list(range(n)), 0, n)


def test_a_group_member_does_not_go_back_where_that_splits_its_group() -> None:
    # A and B are a group, both at F1 now; A's current place is at F0: going back would split
    # the group (50), so A stays; without B placed it goes back
    data = one_bed_replan()
    data["facilities"][1]["beds"] = {"orthopaedics": 2}
    data["patients"][0]["group"] = "G"
    data["patients"][1] |= {"group": "G"}
    assert _put_back(data, {"A": (1, 2), "B": (1, 2)}) == ([1, 1], [2, 2], 0, 0)
    assert _put_back(data, {"A": (1, 2)}) == ([0, -1], [2, 0], 0, 1)


def test_a_move_that_keeps_a_quota_stays_where_going_back_would_break_it() -> None:
    # quota of one place for ORG-A at F0: B (ORG-A, no current place) uses it, so A (ORG-A)
    # cannot go back to F0 on another day although the bed is free
    from medevac.planning.problem import Quota, with_quotas

    data = one_bed_replan()
    data["facilities"][0] |= {"beds": {"orthopaedics": 2}, "capabilities": ["paediatric"]}
    for p in data["patients"]:
        p["organisation"] = "ORG-A"
    data["patients"][1]["needs"] = ["paediatric"]  # B can be at F0 only, not in A's place
    quota = Quota(id="Q", room=1, organisations=frozenset({"ORG-A"}), facilities=frozenset({"F0"}))
    problem = with_quotas(parse_problem(data), [quota])
    assert _put_back_all(data, {"A": (1, 2), "B": (0, 2)}, problem) == ([1, 0], [2, 2], 0, 0, 0, 0)
    # without B there, A goes back
    assert _put_back(data, {"A": (1, 2)}, problem) == ([0, -1], [2, 0], 0, 1)


@random_problems(max_examples=40)
def test_the_cost_of_one_place_is_the_cost_table_s(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    from medevac.planning.model import ProblemView, own_cost_at, own_costs, own_costs_at

    problem = random_problem(rng, n_patients, n_facilities)
    view = ProblemView(problem)
    for i in range(len(problem.patients)):
        group_at = set(rng.sample(range(n_facilities), rng.randint(0, n_facilities)))
        table = own_costs(view, i, group_at)
        for f in range(n_facilities):
            for a in range(problem.horizon_days):
                assert own_cost_at(view, i, f, a, group_at) == table[f, a], (i, f, a)
    # many patients at once, without the groups' split, and unplaced
    index = np.arange(len(problem.patients))
    for f in range(-1, n_facilities):
        for a in range(problem.horizon_days):
            at = own_costs_at(view, index, np.full_like(index, f), np.full_like(index, a))
            alone = [
                own_cost_at(view, i, f, a) if f >= 0 else view.unplaced_cost(p)
                for i, p in enumerate(problem.patients)
            ]
            assert at.tolist() == alone, (f, a)


@random_problems(max_examples=40, max_patients=12)
def test_after_the_safeguard_nobody_moved_could_go_back_alone_at_no_cost(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    # every patient gets a current place (a random one: some are not free, some break its
    # rules), and the plan is greedy's for the problem without them, which moves many; the
    # safeguard's plan passes the checker, costs no more, and leaves no patient who could go
    # back to its current place alone, checked place by place with the checker
    from medevac.planning.model import ProblemView, placement_arrays
    from medevac.planning.replans import back_to_current

    data = random_problem_data(rng, n_patients, n_facilities)
    for p in data["patients"]:
        p["current"] = {"facility": rng.choice(data["facilities"])["id"],
                        "day": rng.randrange(data["horizon_days"])}  # fmt: skip
    problem = parse_problem(data)
    view = ProblemView(problem)
    without = [{k: v for k, v in p.items() if k != "current"} for p in data["patients"]]
    unaware = solve_greedy(parse_problem(data | {"patients": without}))
    first = dataclasses.replace(unaware, objective=check_plan(problem, unaware).objective)
    placed = {a.patient: (a.facility, a.day) for a in first.assignments}
    facility_of, day_of, cost = back_to_current(
        problem, view, *placement_arrays(problem, placed), first.objective, lambda _: None
    )
    # (every patient without a place listed: one in another's current place may be left out)
    plan = _plan_of(problem, first, facility_of, day_of)
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
    assert report.objective == pytest.approx(cost)
    assert cost <= first.objective + 1e-9 * max(1.0, first.objective)
    for p in problem.patients:
        assert p.current is not None
        place = (p.current.facility, p.current.day)
        now = next(((a.facility, a.day) for a in plan.assignments if a.patient == p.id), None)
        if now == place:
            continue
        moved_back = (
            *(a for a in plan.assignments if a.patient != p.id),
            Assignment(p.id, *place),
        )
        trial = dataclasses.replace(
            plan, assignments=moved_back,
            unplaced=tuple(u for u in plan.unplaced if u.patient != p.id),
        )  # fmt: skip
        tried = check_plan(problem, trial)
        assert not (
            tried.feasible and tried.objective <= report.objective + 1e-9 * max(1.0, cost)
        ), (p.id, place, now)


def admission_taken() -> dict[str, Any]:
    """The review's case: F1 admits one patient a day, F2 has no bed; MOV (current F2, day 0)
    has to move, OLD (current F1, day 0) is kept; routine patients of one-day stays."""
    return problem_dict(
        [
            facility("F1", 50.0, 30.0, beds={"orthopaedics": 5}, daily_admission_limit=1),
            facility("F2", 50.0, 30.0, beds={"orthopaedics": 0}),
        ],
        [
            patient("MOV", length_of_stay_days=1, current={"facility": "F2", "day": 0}),
            patient("OLD", length_of_stay_days=1, current={"facility": "F1", "day": 0}),
        ],
        horizon_days=3,
    )


def test_a_patient_whose_place_another_holds_takes_it_back_where_that_costs_no_more() -> None:
    # the large engine had MOV admitted at F1 on day 0 and OLD a day later (21 either way):
    # OLD's place is not free, so it could not go back alone, nor is it an exchange
    assert _put_back_all(admission_taken(), {"MOV": (0, 0), "OLD": (0, 1)}) == (
        [0, 0], [1, 0], 0, 0, 0, 1
    )  # fmt: skip
    problem = parse_problem(admission_taken())
    # a limit the engine does not reach (it comes to rest at once): with 2 s, the time left
    # for the step after a slow start on a loaded machine had not sufficed
    plan = solve_exact(problem, time_limit=10, large_units=0)
    assert {(a.patient, a.facility, a.day) for a in plan.assignments} == {
        ("MOV", "F1", 1), ("OLD", "F1", 0)
    }  # fmt: skip
    assert plan.objective == pytest.approx(21.0)
    # a new patient holding a moved one's bed: moves free and waiting too, so A's day 2 and
    # day 3 cost the same to either
    assert _put_back_all(one_bed_replan(), {"A": (0, 3), "B": (0, 2)}) == (
        [0, 0], [2, 3], 0, 0, 0, 1
    )  # fmt: skip
    # A left out while B, new, has its place: B is left out instead (the same cost of a
    # routine patient left out, and A's place kept)
    assert _put_back_all(one_bed_replan(), {"B": (0, 2)}) == ([0, -1], [2, 0], 0, 0, 0, 1)


def one_a_day(**b: Any) -> dict[str, Any]:
    """F0 admits one patient a day; A (current day 0) and B (current day 1), routine patients
    of one-day stays; ``b`` replaces B's fields."""
    return problem_dict(
        [facility("F0", 50.0, 30.0, beds={"orthopaedics": 5}, daily_admission_limit=1)],
        [
            patient("A", length_of_stay_days=1, current={"facility": "F0", "day": 0}),
            patient("B", length_of_stay_days=1, current={"facility": "F0", "day": 1}) | b,
        ],
        horizon_days=4,
    )


def test_the_patient_in_the_way_goes_back_to_its_own_current_place() -> None:
    # B took A's day 0 (a day of waiting less) and A went to day 2: B back alone would cost a
    # day more, A cannot go back alone; both back cost one day less. B goes back to its own
    # day 1 rather than to A's day 2
    assert _put_back_all(one_a_day(), {"A": (0, 2), "B": (0, 0)}) == ([0, 0], [0, 1], 0, 0, 0, 1)


def test_a_patient_in_the_way_stays_where_moving_it_costs_more() -> None:
    # MOV urgent (day 0 its deadline): a day later costs it more than OLD gains; as it is
    data = admission_taken()
    data["patients"][0]["precedence"] = "urgent"
    assert _put_back_all(data, {"MOV": (0, 0), "OLD": (0, 1)}) == ([0, 0], [0, 1], 0, 0, 0, 0)
    # OLD urgent too: back on its day 0 it gains what MOV loses, and they trade places
    data["patients"][1]["precedence"] = "urgent"
    assert _put_back_all(data, {"MOV": (0, 0), "OLD": (0, 1)}) == ([0, 0], [1, 0], 0, 0, 0, 1)
    # B urgent in A's day 0: its own day 1 or A's day 2 cost it more than A gains
    assert _put_back_all(one_a_day(precedence="urgent"), {"A": (0, 2), "B": (0, 0)}) == (
        [0, 0], [2, 0], 0, 0, 0, 0
    )  # fmt: skip


def test_a_patient_in_the_way_stays_where_moving_it_breaks_a_limit_or_a_quota() -> None:
    from medevac.planning.problem import Quota, with_acceptance_ends, with_quotas

    # F0 admits ORG-B until day 1 only, so B (ORG-B) cannot take A's day 2; C (ORG-B), new,
    # is admitted on B's day 1, so B's own place breaks the admission limit, and C cannot
    # take A's day 2 either: A stays
    data = one_a_day(organisation="ORG-B")
    data["patients"].append(patient("C", length_of_stay_days=1, organisation="ORG-B"))
    problem = with_acceptance_ends(parse_problem(data), [("F0", "ORG-B", 1)])
    placed = {"A": (0, 2), "B": (0, 0), "C": (0, 1)}
    assert _put_back_all(data, placed, problem) == ([0, 0, 0], [2, 0, 1], 0, 0, 0, 0)
    # C of another organisation takes A's day 2 (a day later, as B is, while A is two days
    # earlier): the three move, a chain of two (test_replans_chains)
    data["patients"][2]["organisation"] = "ORG-A"
    problem = with_acceptance_ends(parse_problem(data), [("F0", "ORG-B", 1)])
    assert _put_back_all(data, placed, problem) == ([0, 0, 0], [0, 1, 2], 0, 0, 0, 2)
    # without C there, both go back
    placed = {"A": (0, 2), "B": (0, 0)}
    assert _put_back_all(data, placed, problem) == ([0, 0, -1], [0, 1, 0], 0, 0, 0, 1)
    # B (ORG-B), new, holds A's bed at F0; in A's place at F1 it would break a quota of one
    # place for ORG-B there, which C has: A stays
    data = one_bed_replan()
    data["patients"][1]["organisation"] = "ORG-B"
    data["patients"].append(patient("C", length_of_stay_days=1, organisation="ORG-B"))
    data["facilities"][1]["beds"] = {"orthopaedics": 2}
    quota = Quota(id="Q", room=1, organisations=frozenset({"ORG-B"}), facilities=frozenset({"F1"}))
    problem = with_quotas(parse_problem(data), [quota])
    placed = {"A": (1, 2), "B": (0, 2), "C": (1, 0)}
    assert _put_back_all(data, placed, problem) == ([1, 0, 1], [2, 2, 0], 0, 0, 0, 0)
    # with room for two, they trade places
    problem = with_quotas(parse_problem(data), [dataclasses.replace(quota, room=2)])
    assert _put_back_all(data, placed, problem) == ([0, 1, 1], [2, 2, 0], 0, 0, 0, 1)


@random_problems(max_examples=150, max_patients=12)
def test_after_the_step_nobody_moved_could_take_back_its_place_from_one_in_the_way(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    # current places from a greedy plan (some patients' dropped: new ones), the re-plan
    # greedy's placement of the patients in another order, under quotas and ends of
    # acceptance; after the step, for every patient moved at no gain to itself whose current
    # place does not fit as the plan is, no patient placed at that facility (new, or moved
    # itself) could make way by going to the first one's place or back to its own current
    # place at no extra cost: each such swap checked with the checker
    from medevac.planning.model import ProblemView, own_cost_at, placement_arrays
    from medevac.planning.problem import with_acceptance_ends, with_quotas
    from medevac.planning.replans import put_back

    data = random_problem_data(rng, n_patients, n_facilities)
    for p in data["patients"]:
        p.pop("current", None)
    bare = parse_problem(data)
    quotas = random_quotas(rng, bare, days=True)
    ends = random_acceptance_ends(rng, bare)

    def extended(d: dict[str, Any]) -> Problem:
        return with_acceptance_ends(with_quotas(parse_problem(d), quotas), ends)

    with_current(data, solve_greedy(extended(data)))
    for p in data["patients"]:
        if rng.random() < 0.3:
            p.pop("current", None)
    problem = extended(data)
    shuffled = [{k: v for k, v in p.items() if k != "current"} for p in data["patients"]]
    rng.shuffle(shuffled)
    replan = solve_greedy(extended(data | {"patients": shuffled}))
    placed = {a.patient: (a.facility, a.day) for a in replan.assignments}
    view = ProblemView(problem)
    facility_of, day_of = placement_arrays(problem, placed)
    first = check_plan(problem, _plan_of(problem, replan, facility_of, day_of))
    assert first.feasible, first.violations
    back = put_back(problem, view, facility_of, day_of, first.objective)
    if back is not None:
        facility_of, day_of = back[0], back[1]
    plan = _plan_of(problem, replan, facility_of, day_of)
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
    cost = report.objective
    ids = [f.id for f in problem.facilities]
    where = {
        p.id: (ids[f], int(d))
        for p, f, d in zip(problem.patients, facility_of, day_of, strict=True)
        if f >= 0
    }
    for i, p in enumerate(problem.patients):
        if p.current is None or where.get(p.id) == (p.current.facility, p.current.day):
            continue
        place = (p.current.facility, p.current.day)
        now = where.get(p.id)
        now_cost = own_cost_at(view, i, ids.index(now[0]), now[1]) if now else view.unplaced_cost(p)
        back_cost = own_cost_at(view, i, ids.index(place[0]), place[1])
        if p.group is None and back_cost > now_cost + 1e-6 * max(1.0, abs(now_cost)):
            continue  # its move gained it something
        if check_plan(problem, _plan_at(problem, plan, where | {p.id: place})).feasible:
            continue  # it fits alone: not held by another
        for q in problem.patients:
            if q.id == p.id or where.get(q.id, ("", 0))[0] != place[0]:
                continue
            if q.current is not None and where[q.id] == (q.current.facility, q.current.day):
                continue  # kept in its own place
            ways = [now] + ([(q.current.facility, q.current.day)] if q.current else [])
            for way in ways:
                swapped = where | {p.id: place}
                if way is None:
                    del swapped[q.id]
                else:
                    swapped[q.id] = way
                tried = check_plan(problem, _plan_at(problem, plan, swapped))
                assert not (
                    tried.feasible and tried.objective <= cost + 1e-9 * max(1.0, abs(cost))
                ), (p.id, place, now, q.id, where[q.id], way)


def _plan_of(problem: Problem, like: Plan, facility_of: Any, day_of: Any) -> Plan:
    """``like`` with the placement ``facility_of``/``day_of`` (arrays over the patients)."""
    ids = [f.id for f in problem.facilities]
    return _plan_at(
        problem,
        like,
        {
            p.id: (ids[f], int(d))
            for p, f, d in zip(problem.patients, facility_of, day_of, strict=True)
            if f >= 0
        },
    )


def _plan_at(problem: Problem, like: Plan, where: dict[str, tuple[str, int]]) -> Plan:
    """``like`` with the placement ``where`` (patient id -> (facility id, day)), the others
    unplaced."""
    return dataclasses.replace(
        like,
        assignments=tuple(Assignment(pid, f, d) for pid, (f, d) in where.items()),
        unplaced=tuple(Unplaced(p.id, "left out") for p in problem.patients if p.id not in where),
    )

"""The compiled greedy baseline places exactly as the regulator's rule says, written plainly."""

from __future__ import annotations

import random

from medevac.planning import Problem, parse_problem, solve_exact, solve_greedy
from medevac.planning.model import ProblemView
from tests.unit.planning.builders import (
    facility,
    patient,
    problem_dict,
    random_problem,
    random_problem_data,
    random_problems,
    with_current,
)


def rule_by_hand(problem: Problem) -> dict[str, tuple[str, int]]:
    """Most urgent first (weight, then deadline; among equals, those with a current place first,
    then file order).
    A patient keeps its current place while
    it is free; otherwise the earliest day on which an eligible facility has a bed for the whole
    stay and room to admit; that day, its current facility, else its group's, else the nearest.
    """
    view = ProblemView(problem)
    horizon = view.horizon
    used: dict[tuple[int, str, int], int] = {}
    admitted: dict[tuple[int, int], int] = {}
    group_at: dict[str, int] = {}
    placed: dict[str, tuple[str, int]] = {}

    def fits(f: int, specialty: str, day: int, stay: int) -> bool:
        facility = problem.facilities[f]
        limit = facility.daily_admission_limit
        if limit is not None and admitted.get((f, day), 0) >= limit:
            return False
        beds = facility.beds.get(specialty)
        if beds is None:
            return False
        return all(
            used.get((f, specialty, d), 0) < beds[d] for d in range(day, min(day + stay, horizon))
        )

    rules = problem.precedences

    def turn(i: int) -> tuple[float, int, bool]:
        p = problem.patients[i]
        return -rules[p.precedence].weight, rules[p.precedence].deadline_day, p.current is None

    for i in sorted(range(len(problem.patients)), key=turn):
        p = problem.patients[i]
        eligible = [f for f in range(view.n_facilities) if view.screen(i).eligible[f]]
        eligible.sort(key=lambda f: (view.distance[view.origin_of[i]][f], f))
        preferred = []
        if p.current is not None:
            preferred.append(problem.facility_index[p.current.facility])
        if p.group is not None and p.group in group_at:
            preferred.append(group_at[p.group])
        choice = None
        if p.current is not None:
            f, day = preferred[0], p.current.day
            if (
                f in eligible
                and day >= p.earliest_day
                and fits(f, p.specialty, day, p.length_of_stay_days)
            ):
                choice = (f, day)
        for day in range(p.earliest_day, horizon):
            if choice is not None:
                break
            free = [f for f in eligible if fits(f, p.specialty, day, p.length_of_stay_days)]
            if free:
                choice = (next((f for f in preferred if f in free), free[0]), day)
        if choice is None:
            continue
        f, day = choice
        for d in range(day, min(day + p.length_of_stay_days, horizon)):
            used[(f, p.specialty, d)] = used.get((f, p.specialty, d), 0) + 1
        admitted[(f, day)] = admitted.get((f, day), 0) + 1
        placed[p.id] = (problem.facilities[f].id, day)
        if p.group is not None:
            group_at.setdefault(p.group, f)
    return placed


@random_problems(80)
def test_the_greedy_places_every_patient_as_the_rule_by_hand(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    problem = random_problem(rng, n_patients, n_facilities)
    plan = solve_greedy(problem)
    assert {a.patient: (a.facility, a.day) for a in plan.assignments} == rule_by_hand(problem)


@random_problems(60)
def test_the_greedy_re_plans_as_the_rule_by_hand(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    # current places from another engine's plan, on a problem with new patients listed first
    data = random_problem_data(rng, n_patients, n_facilities)
    first = with_current(data, solve_exact(parse_problem(data), time_limit=10))
    first["patients"].reverse()
    problem = parse_problem(first)
    plan = solve_greedy(problem)
    assert {a.patient: (a.facility, a.day) for a in plan.assignments} == rule_by_hand(problem)


def test_a_booked_place_is_not_given_to_a_newcomer_no_more_urgent() -> None:
    # NEW, listed first, had taken OLD's bed (OLD left out: 1,020 against 1,000)
    data = problem_dict(
        [facility("F1", 50.0, 30.0, beds={"orthopaedics": 1})],
        [
            patient("NEW", length_of_stay_days=3),
            patient("OLD", length_of_stay_days=3, current={"facility": "F1", "day": 0}),
        ],
        horizon_days=3,
    )
    plan = solve_greedy(parse_problem(data))
    assert [(a.patient, a.facility, a.day) for a in plan.assignments] == [("OLD", "F1", 0)]
    # one more urgent than the booked patient still comes first
    data["patients"][0]["precedence"] = "urgent"
    plan = solve_greedy(parse_problem(data))
    assert [(a.patient, a.facility, a.day) for a in plan.assignments] == [("NEW", "F1", 0)]


def test_of_two_precedences_of_one_weight_the_earlier_deadline_comes_first() -> None:
    # file order had put R, listed first, in the one bed on day 0 and U a day past its deadline
    data = problem_dict(
        [facility("F1", 50.0, 30.0, beds={"orthopaedics": 1})],
        [
            patient("R", precedence="routine", length_of_stay_days=1),
            patient("U", precedence="urgent", length_of_stay_days=1),
        ],
        horizon_days=3,
    )
    data["precedences"]["urgent"]["weight"] = data["precedences"]["routine"]["weight"] = 10
    plan = solve_greedy(parse_problem(data))
    assert sorted((a.patient, a.day) for a in plan.assignments) == [("R", 1), ("U", 0)]

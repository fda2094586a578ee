"""Free places cheaper than the plan's choice where the listing of alternatives does not look (a
farther facility on the admission day or later, the patient's own facility on a later day): such
a place is cheaper only by the group's split or the change of a current place, and was never
said. And two wordings: a patient without an organisation, and an admission limit of 0."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from medevac.planning import (
    Assignment,
    Plan,
    PlanStatus,
    Problem,
    check_plan,
    explain,
    parse_problem,
    solve_exact,
    solve_greedy,
    with_acceptance_ends,
    with_admissions_taken,
    with_quotas,
)
from medevac.planning.explain import Blocker, Explanation
from tests.unit.planning.builders import (
    facility,
    patient,
    problem_dict,
    random_acceptance_ends,
    random_admissions_due,
    random_problem_data,
    random_quotas,
)
from tests.unit.planning.test_explain_costs import moved
from tests.unit.planning.test_explain_review_fixes import hand_plan

PRECEDENCES = {
    "urgent": {"weight": 100, "deadline_day": 0},
    "routine": {"weight": 1, "deadline_day": 2},
}


def two_facilities(beds_f2: Any, patients: list[dict[str, Any]]) -> Problem:
    """F1 at (50, 30) with one orthopaedics bed and F2 at (50, 31), 71 km east, over 3 days."""
    return parse_problem(
        problem_dict(
            [
                facility("F1", 50.0, 30.0, beds={"orthopaedics": 1}),
                facility("F2", 50.0, 31.0, beds={"orthopaedics": beds_f2}),
            ],
            patients,
            horizon_days=3,
            precedences=PRECEDENCES,
        )
    )


def elsewhere_lines(why: Explanation) -> list[str]:
    return [line for line in why.lines() if "cheaper elsewhere" in line]


def test_a_farther_place_beside_the_group_is_said_to_be_cheaper() -> None:
    # greedy puts Q (urgent) at F2 on day 0 and P at F1 on day 0, splitting group G for 50.00;
    # F2 has a bed from day 1, which costs P 1.71 (the exact optimum)
    problem = two_facilities(
        [1, 2, 2],
        [
            patient("Q", 50.0, 31.0, precedence="urgent", length_of_stay_days=3, group="G"),
            patient("P", 50.0, 30.0, precedence="routine", length_of_stay_days=2, group="G"),
        ],
    )
    plan = solve_greedy(problem)
    assert {(a.patient, a.facility, a.day) for a in plan.assignments} == {
        ("Q", "F2", 0),
        ("P", "F1", 0),
    }
    why = explain(problem, plan, "P")
    assert why.lines() == [
        "P is admitted at F1 on day 0 (0 km).",
        "  cheaper elsewhere: F2 days 1-2 (71 km): free and cheaper, beside group G (1.71 to "
        "2.71 against 50.00 for its place in the plan): the plan is not optimal for this patient",
    ]
    [place] = why.as_dict()["cheaper_elsewhere"]
    assert (place["facility"], place["day"], place["days"]) == ("F2", 1, [1, 2])
    assert place["cost"] == pytest.approx(1.7147, abs=1e-4)
    assert why.as_dict()["cheaper_elsewhere_not_listed"] == 0
    # what it says is the plan's objective less the saving
    assert check_plan(problem, moved(plan, "P", "F2", 1)).objective == pytest.approx(
        solve_exact(problem).objective
    )


def test_a_farther_place_at_the_current_facility_is_said_to_be_cheaper() -> None:
    # greedy moves P from its current place at F2 to F1 for U (urgent): the change costs 20.00
    # where F2 on day 1 costs 1.71
    problem = two_facilities(
        1,
        [
            patient("U", 50.0, 31.0, precedence="urgent", length_of_stay_days=1),
            patient(
                "P",
                50.0,
                30.0,
                precedence="routine",
                length_of_stay_days=1,
                current={"facility": "F2", "day": 0},
            ),
        ],
    )
    plan = solve_greedy(problem)
    assert {(a.patient, a.facility, a.day) for a in plan.assignments} == {
        ("U", "F2", 0),
        ("P", "F1", 0),
    }
    why = explain(problem, plan, "P")
    assert why.lines() == [
        "P is admitted at F1 on day 0 (0 km).",
        "  current place: F2 on day 0; moved from there (the change costs 20.00)",
        "  cheaper elsewhere: F2 days 1-2 (71 km): free and cheaper, at its current facility "
        "(1.71 to 2.71 against 20.00 for its place in the plan): the plan is not optimal for "
        "this patient",
    ]
    assert [(c.facility, c.day) for c in why.cheaper_elsewhere] == [("F2", 1)]


def current_place_problem() -> Problem:
    return parse_problem(
        problem_dict(
            [
                facility("F1", 50.0, 30.0, beds={"orthopaedics": 1}),
                facility("F2", 50.0, 31.0, beds={"orthopaedics": 1}),
            ],
            [patient("P", 50.0, 30.0, current={"facility": "F2", "day": 0})],
        )
    )


def test_a_hand_plan_that_moves_a_patient_from_its_free_current_place_is_told_so() -> None:
    problem = current_place_problem()
    plan = hand_plan(Assignment("P", "F1", 0))
    base = check_plan(problem, plan)
    assert base.feasible, base.violations
    why = explain(problem, plan, "P")
    [place] = why.cheaper_elsewhere
    # day 4 is late (routine: deadline day 3), and dearer than the change
    assert (place.facility, place.day, place.days) == ("F2", 0, (0, 1, 2, 3))
    assert elsewhere_lines(why) == [
        "  cheaper elsewhere: F2 days 0-3 (71 km): free and cheaper, at its current facility "
        "(0.71 to 3.71 against 20.00 for its place in the plan): the plan is not optimal for "
        "this patient"
    ]
    # true of the plan: the current place lowers the objective by the two costs' difference
    trial = check_plan(problem, moved(plan, "P", "F2", 0))
    assert trial.feasible
    assert trial.objective - base.objective == pytest.approx(place.cost - 20.0)
    data = why.as_dict()
    assert data["cheaper_elsewhere"][0]["facility"] == "F2"
    assert data["cheaper_elsewhere"][0]["days"] == [0, 1, 2, 3]


def test_a_saving_elsewhere_within_an_optimal_plans_gap_is_not_called_a_fault() -> None:
    problem = current_place_problem()
    objective = check_plan(problem, hand_plan(Assignment("P", "F1", 0))).objective
    plan = replace(
        hand_plan(Assignment("P", "F1", 0)),
        status=PlanStatus.OPTIMAL,
        objective=objective,
        bound=objective - 19.5,
    )
    [line] = elsewhere_lines(explain(problem, plan, "P"))
    assert "by less than the plan's proof leaves open (objective less bound, 19.50)" in line
    assert "not optimal for this patient" not in line
    tight = replace(plan, bound=objective)
    [line] = elsewhere_lines(explain(problem, tight, "P"))
    assert line.endswith(": the plan is not optimal for this patient")


def test_the_cheapest_facilities_elsewhere_are_named_and_the_others_counted() -> None:
    # P alone at F0; its group's other members each at one of five farther facilities
    farther = [
        facility(f"G{k}", 50.0 + 0.1 * (k + 1), 30.0, beds={"orthopaedics": 2}) for k in range(5)
    ]
    members = [
        patient(f"M{k}", 50.0 + 0.1 * (k + 1), 30.0, group="G", length_of_stay_days=1)
        for k in range(5)
    ]
    problem = parse_problem(
        problem_dict(
            [facility("F0", 50.0, 30.0, beds={"orthopaedics": 1}), *farther],
            [patient("P", 50.0, 30.0, group="G", length_of_stay_days=1), *members],
        )
    )
    plan = hand_plan(Assignment("P", "F0", 0), *(Assignment(f"M{k}", f"G{k}", 0) for k in range(5)))
    assert check_plan(problem, plan).feasible
    why = explain(problem, plan, "P")
    # each of the five keeps the split at 200.00 where F0 makes it 250.00: the nearest first
    assert [(c.facility, c.day) for c in why.cheaper_elsewhere] == [
        ("G0", 0),
        ("G1", 0),
        ("G2", 0),
    ]
    assert why.cheaper_elsewhere_not_listed == 2
    assert why.lines()[-1] == (
        "  and 2 more facilities with a free place cheaper than its place in the plan from its "
        "admission day on, not listed"
    )
    assert why.as_dict()["cheaper_elsewhere_not_listed"] == 2


# the wordings


def test_a_patient_without_an_organisation_is_not_said_to_come_from_none() -> None:
    problem = parse_problem(
        problem_dict(
            [
                facility("F1", 50.0, 30.1, beds={"orthopaedics": 1}, accepts_from=["ORG-A"]),
                facility("F2", 50.0, 31.0, beds={"orthopaedics": 1}),
            ],
            [patient("P1", 50.0, 30.0)],
        )
    )
    why = explain(problem, solve_exact(problem), "P1")
    assert why.facility == "F2"
    ruled = [line for line in why.lines() if "own rules" in line]
    assert ruled == [
        "  nearer facilities this patient's own rules exclude: 1 does not accept patients "
        "without an organisation (nearest F1, 7 km)"
    ]
    broken = explain(problem, hand_plan(Assignment("P1", "F1", 0)), "P1")
    assert broken.place_breaks == "F1 does not accept patients without an organisation"
    assert not any("None" in line for line in ruled + broken.lines())


def test_an_admission_limit_of_0_is_said_to_admit_nobody() -> None:
    problem = with_admissions_taken(
        parse_problem(
            problem_dict(
                [
                    facility("NEAR", 50.0, 30.1, beds={"orthopaedics": 5}, daily_admission_limit=0),
                    facility("FAR", 50.0, 31.0, beds={"orthopaedics": 5}),
                ],
                [patient("P", 50.0, 30.0, length_of_stay_days=1)],
            )
        ),
        [("NEAR", 0, 1)],
    )
    why = explain(problem, hand_plan(Assignment("P", "FAR", 0)), "P")
    assert [(a.facility, a.first_day, a.last_day, a.detail) for a in why.alternatives] == [
        ("NEAR", 0, 4, "admits nobody (admission limit 0)")
    ]
    broken = explain(problem, hand_plan(Assignment("P", "NEAR", 0)), "P")
    assert broken.place_breaks == "NEAR admits nobody (admission limit 0)"


# every cheaper free place is said, on random problems


def random_case(seed: int) -> tuple[Problem, Plan]:
    """A random problem (some with quotas, admissions due and ends of acceptance) and a plan of
    it: greedy's, or greedy's with some patients moved by hand to places that keep it feasible
    (a plan from elsewhere, with more places dearer than need be)."""
    rng = random.Random(seed)
    data = random_problem_data(rng, rng.randint(2, 9), rng.randint(1, 4))
    # more groups and current places than `random_problem_data` draws: what the new part is about
    for p in data["patients"]:
        if rng.random() < 0.5:
            p["group"] = f"G{rng.randint(0, 1)}"
        if rng.random() < 0.3:
            f = rng.choice(data["facilities"])["id"]
            p["current"] = {"facility": f, "day": rng.randrange(data["horizon_days"])}
    problem = parse_problem(data)
    if seed % 3 == 0:
        problem = with_quotas(problem, random_quotas(rng, problem))
    if seed % 4 == 1:
        problem = with_admissions_taken(problem, random_admissions_due(rng, problem))
    if seed % 5 == 2:
        problem = with_acceptance_ends(problem, random_acceptance_ends(rng, problem))
    plan = solve_greedy(problem)
    if seed % 2:
        plan = replace(plan, status=PlanStatus.FEASIBLE)
        for p in problem.patients:
            if rng.random() < 0.5:
                continue
            f = rng.choice(problem.facilities).id
            trial = moved(plan, p.id, f, rng.randrange(problem.horizon_days))
            if check_plan(problem, trial).feasible:
                plan = trial
    return problem, plan


def cheaper_places(problem: Problem, plan: Plan, patient_id: str) -> dict[tuple[str, int], float]:
    """Every place that, given to the patient with the rest of the plan as it is, keeps the
    plan feasible and lowers its objective beyond the tests' tolerance: how much by (the
    checker's objective, not `explain`'s costs)."""
    base = check_plan(problem, plan)
    tolerance = 1e-6 * max(1.0, abs(base.objective))
    found = {}
    for f in problem.facilities:
        for day in range(problem.horizon_days):
            trial = check_plan(problem, moved(plan, patient_id, f.id, day))
            if trial.feasible and trial.objective < base.objective - tolerance:
                found[(f.id, day)] = base.objective - trial.objective
    return found


def unsaid(why: Explanation, places: dict[tuple[str, int], float]) -> set[str]:
    """The facilities of ``places`` that the explanation neither lists as free and cheaper on
    that day nor names elsewhere on that day (they must be counted)."""
    listed = {
        (a.facility, day)
        for a in why.alternatives
        if a.blocker is Blocker.FREE and a.first_day is not None and a.last_day is not None
        for day in range(a.first_day, a.last_day + 1)
    }
    named = {(c.facility, day) for c in why.cheaper_elsewhere for day in c.days}
    return {f for f, day in places if (f, day) not in listed | named}


@pytest.mark.parametrize("seed", range(80))
def test_every_free_place_cheaper_than_the_plans_choice_is_said_or_counted(seed: int) -> None:
    problem, plan = random_case(seed)
    base = check_plan(problem, plan)
    assert base.feasible, base.violations
    tolerance = 1e-6 * max(1.0, abs(base.objective))
    for p in problem.patients:
        why = explain(problem, plan, p.id)
        places = cheaper_places(problem, plan, p.id)
        # the facilities with such a place not said are counted
        hidden = unsaid(why, places)
        counted = why.cheaper_not_listed + why.cheaper_elsewhere_not_listed
        assert len(hidden) <= counted, (seed, p.id, places, why.lines())
        # and what the new part says is true of the plan: each day named there lowers the
        # objective, the first one named the most
        for c in why.cheaper_elsewhere:
            assert all((c.facility, day) in places for day in c.days), (seed, p.id, c, places)
            saving = places[(c.facility, c.day)]
            assert all(places[(c.facility, day)] <= saving + tolerance for day in c.days)


def test_the_random_plans_have_places_cheaper_elsewhere() -> None:
    # the test above must meet the new part, or it checks nothing of it
    named = 0
    for seed in range(40):
        problem, plan = random_case(seed)
        named += sum(len(explain(problem, plan, p.id).cheaper_elsewhere) for p in problem.patients)
    assert named >= 5


@pytest.mark.parametrize("seed", range(30))
def test_an_exact_plan_has_no_cheaper_place_elsewhere_beyond_its_proof(seed: int) -> None:
    rng = random.Random(seed)
    data = random_problem_data(rng, rng.randint(2, 10), rng.randint(1, 4))
    if seed % 2:
        data["weights"]["wait_per_day"] = 0  # ties between days
    problem = parse_problem(data)
    plan = solve_exact(problem, time_limit=20)
    assert plan.status is PlanStatus.OPTIMAL
    for p in problem.patients:
        why = explain(problem, plan, p.id)
        for c in why.cheaper_elsewhere:
            assert "not optimal" not in c.detail, (seed, p.id, c)
        assert not any("the plan is not optimal" in line for line in why.lines()), why.lines()

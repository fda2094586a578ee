"""Explanations after a review (2026-12-07): quotas a place breaks, sentences true of the plan
and of the facilities they describe, a broken place's alternatives, free places beyond the
listing's cap, one patient's distances only, and the wording of the lines."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from medevac.planning import (
    Assignment,
    Blocker,
    Breakdown,
    Explanation,
    Plan,
    PlanStatus,
    Problem,
    Quota,
    Unplaced,
    UnplacedReason,
    check_plan,
    explain,
    parse_problem,
    plan_from_dict,
    solve_exact,
    solve_greedy,
    with_acceptance_ends,
    with_admissions_taken,
    with_quotas,
)
from medevac.planning import model as planning_model
from medevac.planning.geometry import haversine_matrix
from tests.unit.planning.builders import (
    facility,
    patient,
    problem_dict,
    random_acceptance_ends,
    random_admissions_due,
    random_problem_data,
    random_quotas,
    wide_random_problem_data,
)

FREE_KINDS = {
    Blocker.FREE,
    Blocker.AS_CHEAP,
    Blocker.COSTS_MORE,
    Blocker.COSTS_MORE_THAN_PLACE,
    Blocker.WOULD_SPLIT_GROUP,
    Blocker.WOULD_CHANGE_CURRENT,
}


def hand_plan(*assignments: Assignment, unplaced: tuple[Unplaced, ...] = ()) -> Plan:
    """A plan from elsewhere (its figures are not read by `explain`)."""
    return Plan(PlanStatus.FEASIBLE, 0.0, 0.0, 0.0, "hand", 0.0, Breakdown(), assignments, unplaced)


def days_said(why: Explanation, facility_id: str, blocker: Blocker | None = None) -> set[int]:
    """The admission days at ``facility_id`` the explanation lists (with ``blocker``)."""
    return {
        day
        for a in why.alternatives
        if a.facility == facility_id and (blocker is None or a.blocker is blocker)
        for day in range(a.first_day or 0, (a.last_day or 0) + 1)
    }


# 1. quotas


def quota_problem(room: int) -> Problem:
    return with_quotas(
        parse_problem(
            problem_dict(
                [facility("F1", 50.1, 30.0, beds={"orthopaedics": 5})],
                [patient("A", organisation="ORG-A"), patient("B", organisation="ORG-A")],
            )
        ),
        [Quota("Q1", room, frozenset({"ORG-A"}), frozenset({"F1"}))],
    )


def test_a_place_beyond_its_quota_is_said_to_break_the_rules() -> None:
    problem = quota_problem(room=1)
    plan = hand_plan(Assignment("A", "F1", 0), Assignment("B", "F1", 1))
    assert check_plan(problem, plan).violations == ("quota Q1: 2 patients placed under it, room 1",)
    why = explain(problem, plan, "B")
    assert why.place_breaks == "F1 is under quota Q1, used up (1 of its room 1 by other patients)"
    # the other days at F1 are closed by the same quota, which A alone uses up
    assert days_said(why, "F1", Blocker.QUOTA_FULL) == {0, 2, 3, 4}


def test_the_patients_own_use_of_a_quota_does_not_close_its_other_days() -> None:
    problem = quota_problem(room=2)
    plan = hand_plan(Assignment("A", "F1", 0), Assignment("B", "F1", 1))
    assert check_plan(problem, plan).feasible
    why = explain(problem, plan, "B")
    assert why.place_breaks == ""
    [earlier] = why.alternatives
    assert (earlier.facility, earlier.first_day, earlier.blocker) == ("F1", 0, Blocker.FREE)


# 2. a reason read from a plan file


def test_the_reason_of_a_plan_file_is_worked_out_again_with_its_code() -> None:
    problem = parse_problem(
        problem_dict([facility("F1", 50.1, 30.0, beds={"orthopaedics": 5})], [patient("A")])
    )
    plan = plan_from_dict(
        {
            "status": "feasible",
            "objective": 1000.0,
            "bound": 0.0,
            "gap": 1.0,
            "solver": "partner",
            "wall_seconds": 0.0,
            "breakdown": {
                "unplaced": 1000.0,
                "wait": 0,
                "late": 0,
                "travel": 0,
                "group_split": 0,
                "change": 0,
            },
            "assignments": [],
            "unplaced": [{"patient": "A", "reason": "no facility offers orthopaedics"}],
        }
    )
    why = explain(problem, plan, "A")
    assert why.unplaced is not None
    assert why.unplaced.code is UnplacedReason.FREE_PLACE_UNUSED
    assert why.unplaced.reason.startswith("a free place costs less than leaving the patient out")
    assert "no facility offers" not in why.lines()[0]


# 3. the sentences of the fixed set describe the facilities that passed the earlier rules

NEAR = facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 5})
FAR = facility(
    "FAR", 50.0, 20.0, beds={"orthopaedics": 5}, capabilities=["paediatric"], accepts_from=["ORG-A"]
)


@pytest.mark.parametrize(
    ("fields", "code", "reason"),
    [
        (
            {"organisation": "ORG-B"},
            UnplacedReason.NO_AGREEMENT,
            "no facility offering orthopaedics with paediatric accepts patients from ORG-B",
        ),
        (
            {"organisation": "ORG-A", "max_distance_km": 100},
            UnplacedReason.BEYOND_MAX_DISTANCE,
            "every facility offering orthopaedics with paediatric is beyond 100 km",
        ),
    ],
)
def test_a_reason_names_the_rules_that_left_the_facilities_it_speaks_of(
    fields: dict[str, Any], code: UnplacedReason, reason: str
) -> None:
    # NEAR offers orthopaedics to everyone, 11 km away, but lacks paediatric: "no facility
    # offers orthopaedics to ORG-B" and "every facility offering orthopaedics is beyond 100 km"
    # were false of it
    problem = parse_problem(
        problem_dict([NEAR, FAR], [patient("P", needs=["paediatric"], **fields)])
    )
    [unplaced] = solve_greedy(problem).unplaced
    assert (unplaced.code, unplaced.reason) == (code, reason)


def test_the_distance_reason_names_the_organisation_where_an_agreement_left_some_out() -> None:
    near_b = facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 5}, accepts_from=["ORG-B"])
    problem = parse_problem(
        problem_dict([near_b, FAR], [patient("P", organisation="ORG-A", max_distance_km=100)])
    )
    [unplaced] = solve_greedy(problem).unplaced
    assert unplaced.reason == "every facility offering orthopaedics to ORG-A is beyond 100 km"


def test_the_last_day_reason_names_the_distance_limit_where_it_left_some_out() -> None:
    # NEAR and FAR both take ORG-A; NEAR, within the limit, stops before the earliest day
    short = with_acceptance_ends(
        parse_problem(
            problem_dict(
                [
                    facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 5}),
                    facility("FAR", 50.0, 20.0, beds={"orthopaedics": 5}),
                ],
                [patient("P", organisation="ORG-A", earliest_day=3, max_distance_km=100)],
            )
        ),
        [("NEAR", "ORG-A", 1)],
    )
    [unplaced] = solve_greedy(short).unplaced
    assert unplaced.code is UnplacedReason.NO_AGREEMENT
    assert unplaced.reason == (
        "every facility offering orthopaedics to ORG-A within 100 km stops admitting its "
        "patients by day 1, before the patient's earliest day 3"
    )


# 4. tiny weights


def test_a_place_dearer_only_by_parts_each_within_the_tolerance_is_named_not_a_crash() -> None:
    problem = parse_problem(
        problem_dict(
            [
                facility("F", 50.1, 30.0, beds={"orthopaedics": 5}),
                facility("G", 51.0, 30.0, beds={"orthopaedics": 5}),
            ],
            [patient("A", group="G1"), patient("B", group="G1")],
            weights={
                "unplaced": 1000,
                "wait_per_day": 0,
                "late_per_day": 0,
                "travel_per_km": 1e-12,
                "group_split": 1e-9,
                "change": 20,
            },
        )
    )
    plan = hand_plan(Assignment("A", "F", 0), Assignment("B", "F", 1))
    why = explain(problem, plan, "B")
    at_g = {a.blocker for a in why.alternatives if a.facility == "G"}
    assert at_g
    assert at_g <= {Blocker.COSTS_MORE_THAN_PLACE, Blocker.WOULD_SPLIT_GROUP}


# 5. one patient's distances


def test_explain_computes_the_distances_of_the_one_patient_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows: list[int] = []

    def counted(
        lat1: npt.NDArray[np.float64], lon1: npt.NDArray[np.float64], *rest: object
    ) -> npt.NDArray[np.float64]:
        rows.append(len(lat1))
        return haversine_matrix(lat1, lon1, *rest)  # type: ignore[arg-type]

    patients = [patient(f"P{k}", lat=49.0 + 0.1 * k, lon=30.0 + 0.1 * k) for k in range(30)]
    problem = parse_problem(
        problem_dict(
            [
                facility("F1", 50.1, 30.0, beds={"orthopaedics": 3}),
                facility("F2", 51.0, 31.0, beds={"orthopaedics": 3}),
            ],
            patients,
        )
    )
    plan = solve_greedy(problem)
    plan = replace(plan, unplaced=tuple(replace(u, code=None) for u in plan.unplaced))
    monkeypatch.setattr(planning_model, "haversine_matrix", counted)
    said = [explain(problem, plan, p.id) for p in problem.patients]
    assert rows
    assert set(rows) == {1}
    assert any(w.unplaced is not None for w in said)  # the reasons were worked out again


@pytest.mark.parametrize("seed", range(40))
def test_a_reason_worked_out_again_is_the_engines_own(seed: int) -> None:
    # explain works the reason out beside the others' placement without the whole problem's
    # view: it is the reason `unplaced_reasons` gave with every patient's distances
    problem, plan = random_case(seed)
    for u in plan.unplaced:
        stripped = replace(plan, unplaced=tuple(replace(v, code=None) for v in plan.unplaced))
        why = explain(problem, stripped, u.patient)
        assert why.unplaced == u, (seed, u, why.unplaced)


def random_case(seed: int) -> tuple[Problem, Plan]:
    """A random problem (quotas, admissions due, acceptance ends) and greedy's plan."""
    rng = random.Random(seed)
    if seed % 2:
        data = wide_random_problem_data(rng)
    else:
        data = random_problem_data(rng, rng.randint(1, 14), rng.randint(1, 4))
    problem = parse_problem(data)
    if seed % 3 == 0 and problem.patients and problem.facilities:
        problem = with_quotas(problem, random_quotas(rng, problem))
    if seed % 4 == 1:
        problem = with_admissions_taken(problem, random_admissions_due(rng, problem))
    if seed % 5 == 2 and problem.patients and problem.facilities:
        problem = with_acceptance_ends(problem, random_acceptance_ends(rng, problem))
    return problem, solve_greedy(problem)


# 6. a broken place's alternatives


def test_a_place_that_breaks_a_rule_lists_its_facilitys_other_days_and_farther_ones() -> None:
    problem = parse_problem(
        problem_dict(
            [
                facility("F", 50.1, 30.0, beds={"orthopaedics": 1}),
                facility("FAR", 52.0, 30.0, beds={"orthopaedics": 1}),
            ],
            [patient("A", length_of_stay_days=3), patient("B", length_of_stay_days=1)],
        )
    )
    plan = hand_plan(Assignment("A", "F", 2), Assignment("B", "F", 2))
    why = explain(problem, plan, "B")
    assert why.place_breaks.startswith("F has no orthopaedics bed left for it")
    assert days_said(why, "F") == {0, 1, 3, 4}  # not its own day 2
    assert days_said(why, "F", Blocker.FREE) == {0, 1}  # earlier, with a bed free
    assert days_said(why, "FAR") == set(range(problem.horizon_days))  # any day, farther
    # priced against its place in the plan, not against leaving the patient out
    assert not any("leaving the patient out" in line for line in why.lines())
    assert any("for its place in the plan" in line for line in why.lines())


# 7. the cap of listed facilities


def test_a_free_cheaper_place_beyond_the_ten_nearest_is_listed() -> None:
    full = [
        facility(f"N{k}", 50.0 + 0.01 * (k + 1), 30.0, beds={"orthopaedics": 0}) for k in range(10)
    ]
    problem = parse_problem(
        problem_dict(
            [
                *full,
                facility("N10", 50.5, 30.0, beds={"orthopaedics": 1}),
                facility("FAR", 52.0, 30.0, beds={"orthopaedics": 1}),
            ],
            [patient("P")],
        )
    )
    why = explain(problem, hand_plan(Assignment("P", "FAR", 0)), "P")
    assert Blocker.FREE in {a.blocker for a in why.alternatives if a.facility == "N10"}
    assert len({a.facility for a in why.alternatives}) == 10
    assert why.not_listed == 1
    assert why.lines()[-1] == "  and 1 more nearer facility its rules allow, not listed"


def test_free_cheaper_places_beyond_the_cap_are_counted_where_not_listed() -> None:
    free = [
        facility(f"N{k:02}", 50.0 + 0.01 * (k + 1), 30.0, beds={"orthopaedics": 1})
        for k in range(12)
    ]
    problem = parse_problem(
        problem_dict([*free, facility("FAR", 52.0, 30.0, beds={"orthopaedics": 1})], [patient("P")])
    )
    why = explain(problem, hand_plan(Assignment("P", "FAR", 0)), "P")
    assert why.not_listed == 2
    assert why.cheaper_not_listed == 2
    assert (
        "  of the facilities not listed, 2 have a free place cheaper than its place in the plan"
        in why.lines()
    )


# 8. an acceptance end in the capacity reason


def test_an_acceptance_end_that_closes_the_free_beds_is_named_in_the_reason() -> None:
    problem = with_acceptance_ends(
        parse_problem(
            problem_dict(
                [facility("PARTNER", 50.1, 30.0, beds={"orthopaedics": [0, 0, 3, 3, 3]})],
                [patient("P", organisation="ORG-A", length_of_stay_days=1)],
            )
        ),
        [("PARTNER", "ORG-A", 1)],
    )
    [unplaced] = solve_exact(problem).unplaced
    assert unplaced.code is UnplacedReason.BEDS_FULL
    assert unplaced.reason == (
        "every feasible place is taken in the horizon: where beds are free for the stay, "
        "acceptance of patients from ORG-A has ended (1 eligible facility)"
    )


# 10. wording


def test_a_facility_without_beds_is_said_to_have_none() -> None:
    problem = parse_problem(
        problem_dict(
            [facility("F", 50.1, 30.0, beds={"orthopaedics": [0, 0, 1, 1, 1]})],
            [patient("HELD", precedence="urgent", earliest_day=2), patient("P")],
            horizon_days=5,
        )
    )
    why = explain(problem, solve_exact(problem), "P")
    details = [a.detail for a in why.alternatives]
    assert details == [
        "orthopaedics beds full on days 2-4 (day 2: 1 of 1 taken); has no orthopaedics beds "
        "on days 0-1"
    ], details
    alone = parse_problem(
        problem_dict([facility("F", 50.1, 30.0, beds={"orthopaedics": 0})], [patient("P")])
    )
    [zero] = explain(alone, solve_exact(alone), "P").alternatives
    assert zero.detail == "has no orthopaedics beds on days 0-4"


def test_a_distance_limit_is_written_with_thousands_separated() -> None:
    problem = parse_problem(
        problem_dict(
            [facility("FAR", 50.0, 10.0, beds={"orthopaedics": 5})],
            [patient("P", max_distance_km=1250000 / 1000)],
        )
    )
    why = explain(problem, solve_exact(problem), "P")
    assert why.unplaced is not None
    assert why.unplaced.reason == "every facility offering orthopaedics is beyond 1,250 km"
    assert "is beyond its limit of 1,250 km" in why.lines()[1]


PARENTHESES = re.compile(r"\)\s*\(|\(\(|\)\)")


@pytest.mark.parametrize("seed", range(30))
def test_no_line_has_two_parentheses_in_a_row(seed: int) -> None:
    problem, plan = random_case(seed)
    rng = random.Random(seed)
    if problem.facilities and rng.random() < 0.5:  # a mutated plan: some places break rules
        moved = tuple(
            Assignment(a.patient, rng.choice(problem.facilities).id, a.day)
            if rng.random() < 0.3
            else a
            for a in plan.assignments
        )
        plan = replace(plan, assignments=moved)
    for p in problem.patients:
        for line in explain(problem, plan, p.id).lines():
            assert not PARENTHESES.search(line), line


def test_the_lines_of_a_broken_place_and_of_needs_have_no_parentheses_in_a_row() -> None:
    problem = parse_problem(
        problem_dict(
            [
                facility("BONES", 50.1, 30.0, beds={"orthopaedics": 1}),
                facility("KIDS", 50.2, 30.0, beds={"orthopaedics": 1}, capabilities=["paediatric"]),
            ],
            [patient("A"), patient("B", needs=["paediatric"]), patient("C")],
        )
    )
    plan = hand_plan(
        Assignment("A", "BONES", 0), Assignment("C", "BONES", 0), Assignment("B", "KIDS", 0)
    )
    lines = explain(problem, plan, "C").lines()
    assert lines[1] == (
        "  this place breaks the problem's rules: BONES has no orthopaedics bed left for it "
        "(day 0: 1 of 1 taken); the plan is not feasible (`medevac plan check` lists every "
        "broken rule)"
    )
    far = replace(plan, assignments=plan.assignments[::2], unplaced=(Unplaced("C", "?"),))
    ruled = [line for line in explain(problem, far, "B").lines() if "own rules" in line]
    assert ruled == [
        "  nearer facilities this patient's own rules exclude: 1 does not meet the patient's "
        "needs, paediatric (nearest BONES, 11 km)"
    ]


def test_a_broken_place_is_priced_against_itself_even_before_the_earliest_day() -> None:
    problem = parse_problem(
        problem_dict(
            [facility("F", 50.1, 30.0, beds={"orthopaedics": 5})],
            [patient("P", earliest_day=2)],
        )
    )
    why = explain(problem, hand_plan(Assignment("P", "F", 0)), "P")
    assert why.place_breaks == "day 0 is before the earliest day 2"
    [later] = why.alternatives
    assert (later.first_day, later.last_day) == (2, 4)
    assert later.blocker is Blocker.COSTS_MORE_THAN_PLACE
    assert "against 0.11 for its place in the plan" in later.detail

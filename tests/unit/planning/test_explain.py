"""Explanations name the alternatives that were not used and why."""

from __future__ import annotations

import pytest

from medevac.planning import Blocker, explain, parse_problem, solve_exact, solve_greedy
from tests.unit.planning.builders import facility, patient, problem_dict


def test_a_placed_patient_sees_the_nearer_facility_that_was_full() -> None:
    problem = parse_problem(
        problem_dict(
            [
                facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 1}),
                facility("FAR", 50.0, 20.0, beds={"orthopaedics": 1}),
                facility("EYES", 50.0, 30.1, beds={"ophthalmology": 4}),
            ],
            [patient("U", precedence="urgent", length_of_stay_days=5), patient("R")],
        )
    )
    plan = solve_exact(problem)
    why = explain(problem, plan, "R")
    assert (why.facility, why.day) == ("FAR", 0)
    blockers = {(a.facility, a.blocker) for a in why.alternatives}
    assert blockers == {("NEAR", Blocker.BEDS_FULL)}
    assert [(r.blocker, r.count, r.nearest) for r in why.ruled_out] == [
        (Blocker.SPECIALTY_NOT_OFFERED, 1, "EYES")
    ]
    assert any("NEAR days 0-4 (11 km): orthopaedics beds full" in line for line in why.lines())
    assert any("1 has no orthopaedics beds (nearest EYES" in line for line in why.lines())


def test_an_earlier_day_blocked_by_the_admission_limit_is_named() -> None:
    problem = parse_problem(
        problem_dict(
            [facility("F1", 50.1, 30.0, beds={"orthopaedics": 5}, daily_admission_limit=1)],
            [patient("A", precedence="urgent"), patient("B")],
        )
    )
    plan = solve_exact(problem)
    why = explain(problem, plan, "B")
    assert (why.facility, why.day) == ("F1", 1)
    assert [(a.first_day, a.blocker) for a in why.alternatives] == [(0, Blocker.ADMISSION_LIMIT)]


def test_a_free_cheaper_place_is_reported_for_a_suboptimal_plan() -> None:
    problem = parse_problem(
        problem_dict(
            [
                facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 1}),
                facility("FAR", 50.0, 10.0, beds={"orthopaedics": 1}),
            ],
            [patient("A", length_of_stay_days=5), patient("B", max_distance_km=100)],
        )
    )
    plan = solve_greedy(problem)
    why_b = explain(problem, plan, "B")
    assert why_b.facility is None
    assert why_b.unplaced is not None
    assert "full" in why_b.unplaced.reason
    assert [(r.blocker, r.nearest) for r in why_b.ruled_out] == [
        (Blocker.BEYOND_MAX_DISTANCE, "FAR")
    ]


def test_a_group_member_sees_that_another_facility_would_split_the_group() -> None:
    problem = parse_problem(
        problem_dict(
            [
                facility("A1", 50.2, 30.0, beds={"orthopaedics": 1}),
                facility("B2", 50.0, 25.0, beds={"orthopaedics": 3}),
                facility("C3", 50.0, 29.0, beds={"orthopaedics": 3}, accepts_from=["X"]),
            ],
            [
                patient("X", group="G", length_of_stay_days=5),
                patient("Y", group="G", length_of_stay_days=5),
                patient("Z", length_of_stay_days=5, precedence="urgent"),
            ],
        )
    )
    plan = solve_exact(problem)
    why = explain(problem, plan, "Y")
    assert why.facility == "B2"
    blockers = {(a.facility, a.blocker) for a in why.alternatives}
    assert [(r.blocker, r.nearest) for r in why.ruled_out] == [(Blocker.NO_AGREEMENT, "C3")]
    assert ("A1", Blocker.BEDS_FULL) in blockers or ("A1", Blocker.WOULD_SPLIT_GROUP) in blockers


def test_the_alternatives_listed_are_the_nearest_that_could_take_the_patient() -> None:
    # 30 facilities without the specialty and 12 full ones lie nearer than the free one: the
    # explanation examines the ten nearest that offer it, and counts the others per rule
    no_beds = [facility(f"X{k:02}", 50.0, 30.0 + 0.01 * k, beds={"burns": 2}) for k in range(30)]
    full = [
        facility(f"F{k:02}", 50.0, 30.5 + 0.01 * k, beds={"orthopaedics": 1}) for k in range(12)
    ]
    free = [facility("FREE", 50.0, 35.0, beds={"orthopaedics": 2})]
    early = [
        patient(f"E{k:02}", lat=50.0, lon=30.5 + 0.01 * k, precedence="urgent",
                length_of_stay_days=20)
        for k in range(12)
    ]  # fmt: skip
    problem = parse_problem(problem_dict(no_beds + full + free, [*early, patient("R")]))
    plan = solve_greedy(problem)
    why = explain(problem, plan, "R")
    assert why.facility == "FREE"
    assert [a.facility for a in why.alternatives] == [f"F{k:02}" for k in range(10)]
    assert {a.blocker for a in why.alternatives} == {Blocker.BEDS_FULL}
    assert [(r.blocker, r.count, r.nearest) for r in why.ruled_out] == [
        (Blocker.SPECIALTY_NOT_OFFERED, 30, "X00")
    ]
    assert any("30 have no orthopaedics beds (nearest X00" in line for line in why.lines())
    assert why.not_listed == 2  # F10 and F11
    assert why.lines()[-1] == "  and 2 more nearer facilities its rules allow, not listed"


def test_a_place_that_breaks_the_patients_rules_is_named_not_a_failure() -> None:
    # a plan from elsewhere need not be feasible: explain had failed with a KeyError when it
    # put a patient where its specialty is not offered
    import dataclasses

    from medevac.planning import Assignment, PlanMismatch

    problem = parse_problem(
        problem_dict(
            [
                facility("BONES", 50.1, 30.0, beds={"orthopaedics": 2}),
                facility("EYES", 50.0, 30.1, beds={"ophthalmology": 2}),
            ],
            [patient("A"), patient("B", earliest_day=2)],
        )
    )
    plan = solve_exact(problem)
    wrong = dataclasses.replace(
        plan, assignments=(Assignment("A", "EYES", 0), Assignment("B", "BONES", 0))
    )
    lines = explain(problem, wrong, "A").lines()
    assert "this place breaks the problem's rules: EYES has no orthopaedics beds" in lines[1]
    lines = explain(problem, wrong, "B").lines()
    assert "this place breaks the problem's rules: day 0 is before the earliest day 2" in lines[1]
    assert not explain(problem, plan, "A").place_breaks  # the engine's own plan breaks none
    stranger = dataclasses.replace(plan, assignments=(Assignment("Z", "EYES", 0),))
    with pytest.raises(PlanMismatch, match="patient Z is not in the problem"):
        explain(problem, stranger, "A")


def test_a_place_beyond_the_beds_or_the_admission_limit_is_said_to_break_the_rules() -> None:
    # a plan solved before a facility reported fewer beds: explain said nothing was wrong
    import dataclasses

    from medevac.planning import Assignment

    problem = parse_problem(
        problem_dict(
            [
                facility("BONES", 50.1, 30.0, beds={"orthopaedics": 1}),
                facility("GATE", 50.0, 30.1, beds={"orthopaedics": 5}, daily_admission_limit=1),
            ],
            [patient("A"), patient("B"), patient("C"), patient("D")],
        )
    )
    crowded = dataclasses.replace(
        solve_exact(problem),
        assignments=(
            Assignment("A", "BONES", 0),
            Assignment("B", "BONES", 2),
            Assignment("C", "GATE", 0),
            Assignment("D", "GATE", 0),
        ),
        unplaced=(),
    )
    assert explain(problem, crowded, "B").place_breaks == (
        "BONES has no orthopaedics bed left for it (day 2: 1 of 1 taken)"
    )
    assert explain(problem, crowded, "D").place_breaks == (
        "GATE admits no more on day 0 (admission limit 1 reached)"
    )
    assert (
        "this place breaks the problem's rules: GATE admits"
        in (explain(problem, crowded, "D").lines()[1])
    )


def test_a_plan_that_says_nothing_of_some_patients_does_not_fit_the_problem() -> None:
    import dataclasses

    from medevac.planning import PlanMismatch, plan_mismatch

    problem = parse_problem(
        problem_dict(
            [facility("BONES", 50.1, 30.0, beds={"orthopaedics": 4})],
            [patient(f"P{i}") for i in range(5)],
        )
    )
    plan = solve_exact(problem)
    assert plan_mismatch(problem, plan) is None
    assert len(plan.assignments) == 5  # one of them on day 3, when a bed is free again
    shorter = dataclasses.replace(plan, assignments=plan.assignments[2:], unplaced=())
    said = plan_mismatch(problem, shorter)
    assert said is not None
    assert said.startswith("the plan says nothing of 2 patient(s) of the problem: ")
    with pytest.raises(PlanMismatch, match="says nothing of 2 patient"):
        explain(problem, shorter, shorter.assignments[0].patient)


def test_a_plan_that_names_a_patient_twice_does_not_fit_the_problem() -> None:
    # explain and `plan show --problem` took a second placement of a patient as if it were
    # not there ("P is admitted at F on day 0"; "placed 2" of a one-patient problem)
    import dataclasses

    from medevac.planning import Assignment, PlanMismatch, Unplaced, UnplacedReason, plan_mismatch

    problem = parse_problem(
        problem_dict(
            [facility("BONES", 50.1, 30.0, beds={"orthopaedics": 4})],
            [patient("P0"), patient("P1")],
        )
    )
    plan = solve_exact(problem)
    first = plan.assignments[0]
    twice = dataclasses.replace(
        plan, assignments=(*plan.assignments, Assignment(first.patient, "BONES", 3))
    )
    assert plan_mismatch(problem, twice) == f"patient {first.patient} is placed more than once"
    with pytest.raises(PlanMismatch, match="placed more than once"):
        explain(problem, twice, first.patient)
    both = dataclasses.replace(
        plan, unplaced=(Unplaced(first.patient, "full", UnplacedReason.BEDS_FULL),)
    )
    assert plan_mismatch(problem, both) == f"patient {first.patient} is both placed and unplaced"
    gone = Unplaced("P1", "full", UnplacedReason.BEDS_FULL)
    unplaced_twice = dataclasses.replace(
        plan, assignments=plan.assignments[:1], unplaced=(gone, gone)
    )
    assert plan_mismatch(problem, unplaced_twice) == (
        "patient P1 is listed as unplaced more than once"
    )


def test_days_before_the_earliest_day_are_said_once_not_for_every_facility() -> None:
    # on L each nearer facility had a line "days 0-4: before the earliest day 5" of its own
    problem = parse_problem(
        problem_dict(
            [
                facility("NEAR", 50.0, 30.0, beds={"orthopaedics": 1}),
                facility("MID", 50.5, 30.0, beds={"orthopaedics": 1}),
                facility("FAR", 52.0, 30.0, beds={"orthopaedics": 1}),
            ],
            [
                patient("HELD", length_of_stay_days=14, max_distance_km=100),
                patient("MIDHELD", length_of_stay_days=14, max_distance_km=100),
                patient("LATE", earliest_day=3, precedence="routine"),
            ],
        )
    )
    plan = solve_exact(problem)
    assert plan.assignment_of("LATE").facility == "FAR"
    why = explain(problem, plan, "LATE")
    lines = why.lines()
    assert lines[1] == "  days 0-2 are before the patient's earliest day 3, at every facility"
    assert {a.first_day for a in why.alternatives} == {3}
    assert not any("earliest" in line for line in lines[2:])
    assert all("beds full" in a.detail for a in why.alternatives)
    one = parse_problem(
        problem_dict(
            [facility("NEAR", 50.0, 30.0, beds={"orthopaedics": 1})],
            [patient("A", earliest_day=1)],
        )
    )
    assert explain(one, solve_exact(one), "A").lines()[1] == (
        "  day 0 is before the patient's earliest day 1, at every facility"
    )
    assert len(explain(problem, plan, "HELD").lines()) == 1  # earliest day 0: nothing to say


def test_a_run_of_admission_days_names_the_days_found_full() -> None:
    # each admission day meets its own full day: the run once said only the first one's
    problem = parse_problem(
        problem_dict(
            [facility("NEAR", 50.0, 30.0, beds={"orthopaedics": 1})],
            [
                patient("HELD", length_of_stay_days=14, precedence="urgent"),
                patient("OUT", length_of_stay_days=1),
            ],
        )
    )
    plan = solve_exact(problem)
    why = explain(problem, plan, "OUT")
    horizon = problem.horizon_days
    [alternative] = why.alternatives
    assert (alternative.first_day, alternative.last_day) == (0, horizon - 1)
    assert alternative.detail == (
        f"orthopaedics beds full on days 0-{horizon - 1} (day 0: 1 of 1 taken)"
    )


def test_explain_says_what_became_of_the_current_place() -> None:
    # a re-plan: A keeps its place, B's facility lost its beds, C's day moved, D is new
    problem = parse_problem(
        problem_dict(
            [
                facility("NEAR", 50.0, 30.0, beds={"orthopaedics": 3}),
                facility("GONE", 50.2, 30.0, beds={"orthopaedics": 0}),
            ],
            [
                patient("A", current={"facility": "NEAR", "day": 0}),
                patient("B", current={"facility": "GONE", "day": 0}),
                patient("C", earliest_day=1, current={"facility": "NEAR", "day": 0}),
                patient("D"),
            ],
        )
    )
    plan = solve_exact(problem)
    said = {p: explain(problem, plan, p) for p in "ABCD"}
    assert said["A"].current == "NEAR on day 0, kept"
    assert said["B"].current == "GONE on day 0; moved from there (the change costs 20.00)"
    assert said["C"].current == "NEAR on day 0; the same facility on another day (no change cost)"
    assert said["D"].current == ""
    assert "  current place: NEAR on day 0, kept" in said["A"].lines()
    assert said["B"].as_dict()["current"].startswith("GONE on day 0; moved")

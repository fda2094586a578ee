"""What `explain` says of a free place is true of the plan: each such alternative, tried in the
plan through the checker, is feasible and lowers, keeps or raises the objective as its blocker
says, and a proven optimal plan has no cheaper place."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medevac.planning import Assignment, Plan, Problem, parse_problem, solve_exact, solve_greedy
from medevac.planning.checker import check_plan
from medevac.planning.explain import Blocker, explain
from medevac.planning.model import ProblemView, placement_arrays, unplaced_reasons
from medevac.planning.plan import PlanStatus, Unplaced, UnplacedReason
from tests.unit.planning.builders import facility, patient, problem_dict, random_problem_dict

CHEAPER = {Blocker.FREE}
AS_CHEAP = {Blocker.AS_CHEAP}
DEARER = {
    Blocker.COSTS_MORE,
    Blocker.COSTS_MORE_THAN_PLACE,
    Blocker.WOULD_SPLIT_GROUP,
    Blocker.WOULD_CHANGE_CURRENT,
}


def moved(plan: Plan, patient_id: str, facility_id: str, day: int) -> Plan:
    """``plan`` with the patient at ``facility_id`` on ``day`` instead of where it was."""
    kept = tuple(a for a in plan.assignments if a.patient != patient_id)
    left = tuple(u for u in plan.unplaced if u.patient != patient_id)
    placed = (*kept, Assignment(patient_id, facility_id, day))
    return replace(plan, assignments=placed, unplaced=left)


def dearer_as_said(
    before: dict[str, float],
    after: dict[str, float],
    blocker: Blocker,
    tolerance: float,
    said: tuple[object, ...],
) -> None:
    """A dearer place is dearer for the reason given: by the patient's own terms (all but the
    group's split and the change of a current place), else by the split, else by the change."""
    split = after["group_split"] - before["group_split"]
    change = after["change"] - before["change"]
    own = sum(after.values()) - sum(before.values()) - split - change
    if blocker in (Blocker.COSTS_MORE, Blocker.COSTS_MORE_THAN_PLACE):
        assert own > tolerance, said
    elif blocker is Blocker.WOULD_SPLIT_GROUP:
        assert own <= tolerance < split, said
    else:
        assert blocker is Blocker.WOULD_CHANGE_CURRENT
        assert own <= tolerance < change, said
        assert split <= tolerance, said


def claims_hold(problem: Problem, plan: Plan) -> None:
    """Try every free alternative `explain` gives any patient of ``plan`` in the plan."""
    base = check_plan(problem, plan)
    assert base.feasible, base.violations
    tolerance = 1e-6 * max(1.0, abs(base.objective))
    for p in problem.patients:
        why = explain(problem, plan, p.id)
        for alt in why.alternatives:
            if alt.blocker not in CHEAPER | AS_CHEAP | DEARER:
                continue
            assert alt.first_day is not None
            assert alt.last_day is not None
            for day in range(alt.first_day, alt.last_day + 1):
                trial = check_plan(problem, moved(plan, p.id, alt.facility, day))
                assert trial.feasible, (p.id, alt, trial.violations)
                delta = trial.objective - base.objective
                said = (p.id, alt.facility, day, alt.blocker, delta)
                if alt.blocker in CHEAPER:
                    assert delta < -tolerance, said
                elif alt.blocker in AS_CHEAP:
                    assert abs(delta) <= tolerance, said
                else:
                    assert delta > tolerance, said
                    dearer_as_said(base.terms, trial.terms, alt.blocker, tolerance, said)
            if plan.status is PlanStatus.OPTIMAL:
                assert alt.blocker not in CHEAPER, (p.id, alt)


def random_problem(seed: int) -> Problem:
    """A random problem (`random_problem_dict`); every third waits at no cost (ties between
    days), every third after it gives leaving a patient out a low cost."""
    data = random_problem_dict(seed=seed, n_patients=9, n_facilities=4)
    if seed % 3 == 1:
        data["weights"]["wait_per_day"] = 0
    elif seed % 3 == 2:
        data["weights"]["unplaced"] = 5
    return parse_problem(data)


@pytest.mark.parametrize("seed", range(30))
def test_what_explain_says_of_free_places_is_true_of_the_plan(seed: int) -> None:
    problem = random_problem(seed)
    claims_hold(problem, solve_exact(problem, time_limit=20))
    claims_hold(problem, solve_greedy(problem))


def test_the_random_problems_reach_every_kind_of_free_place() -> None:
    # the test above must meet each blocker it checks, or it checks nothing of it
    seen: set[Blocker] = set()
    for seed in range(30):
        problem = random_problem(seed)
        for plan in (solve_exact(problem, time_limit=20), solve_greedy(problem)):
            for p in problem.patients:
                seen |= {a.blocker for a in explain(problem, plan, p.id).alternatives}
    assert seen >= CHEAPER | AS_CHEAP | DEARER, CHEAPER | AS_CHEAP | DEARER - seen


def test_an_earlier_day_at_its_own_facility_is_not_said_to_split_the_group() -> None:
    # A is at F1 with its group's other member placed at F2 on day 2: F2's days 0-1 cost less
    # wait, and the group is split either way
    problem = parse_problem(
        problem_dict(
            [
                facility("F1", 50.0, 30.0, beds={"orthopaedics": 2}),
                facility("F2", 51.0, 30.0, beds={"orthopaedics": 2}),
            ],
            [patient("A", 50.0, 30.0, group="G"), patient("B", 51.0, 30.0, group="G")],
        )
    )
    plan = solve_greedy(problem)
    plan = moved(moved(plan, "A", "F1", 0), "B", "F2", 2)
    report = check_plan(problem, plan)
    plan = replace(plan, objective=report.objective)
    [own] = [a for a in explain(problem, plan, "B").alternatives if a.facility == "F2"]
    assert (own.first_day, own.last_day, own.blocker) == (0, 1, Blocker.FREE)
    assert own.detail.startswith("free and cheaper (50.00 to 51.00 against 52.00 for its place")


def test_a_place_as_cheap_as_the_plans_is_a_tie_not_a_fault() -> None:
    # two facilities at the same distance, one bed each: the plan takes one, the other is a tie
    problem = parse_problem(
        problem_dict(
            [
                facility("NORTH", 50.1, 30.0, beds={"orthopaedics": 1}),
                facility("SOUTH", 49.9, 30.0, beds={"orthopaedics": 1}),
            ],
            [patient("A", 50.0, 30.0)],
        )
    )
    plan = solve_exact(problem)
    [a] = plan.assignments
    other = "SOUTH" if a.facility == "NORTH" else "NORTH"
    alternatives = explain(problem, plan, "A").alternatives
    tie = next(alt for alt in alternatives if alt.facility == other and alt.first_day == 0)
    assert tie.blocker is Blocker.AS_CHEAP
    assert "a tie the plan broke the other way" in tie.detail


def test_a_cheaper_place_never_reads_as_costing_the_same() -> None:
    # F1 is 0.2 km nearer than F0, where the plan puts A: cheaper by 0.002, which two
    # decimals printed "free and cheaper (0.71 against 0.71 ...)"
    problem = parse_problem(
        problem_dict(
            [
                facility("F0", 50.0, 30.0, beds={"orthopaedics": 1}),
                facility("F1", 50.0, 29.9972, beds={"orthopaedics": 1}),
            ],
            [patient("A", 50.0, 29.0, length_of_stay_days=1)],
        )
    )
    plan = moved(solve_greedy(problem), "A", "F0", 0)
    plan = replace(plan, objective=check_plan(problem, plan).objective)
    why = explain(problem, plan, "A")
    [cheaper] = [a for a in why.alternatives if a.facility == "F1" and a.first_day == 0]
    assert cheaper.blocker is Blocker.FREE
    assert "free and cheaper (0.713 against 0.715 for its place in the plan)" in cheaper.detail
    # a dearer day keeps two decimals where they tell the costs apart
    [later] = [a for a in why.alternatives if a.facility == "F1" and a.first_day == 1]
    assert "costs 1.71 to 24.71 against 0.71 for its place" in later.detail


def test_a_saving_within_an_optimal_plans_gap_is_not_called_a_fault() -> None:
    # a plan called optimal is optimal to within objective less bound: a free place cheaper
    # by less than that was "the plan is not optimal for this patient", against its status
    problem = parse_problem(
        problem_dict(
            [
                facility("F0", 50.0, 30.0, beds={"orthopaedics": 1}),
                facility("F1", 50.0, 29.9972, beds={"orthopaedics": 1}),  # cheaper by 0.002
            ],
            [patient("A", 50.0, 29.0, length_of_stay_days=1)],
        )
    )
    plan = moved(solve_greedy(problem), "A", "F0", 0)
    objective = check_plan(problem, plan).objective

    def said(bound: float, status: PlanStatus) -> str:
        proven = replace(plan, objective=objective, bound=bound, status=status)
        [alt] = [a for a in explain(problem, proven, "A").alternatives if a.first_day == 0]
        assert alt.blocker is Blocker.FREE
        return alt.detail

    within = said(objective - 0.01, PlanStatus.OPTIMAL)
    assert "by less than the plan's proof leaves open (objective less bound, 0.010)" in within
    assert "not optimal for this patient" not in within
    # a saving beyond the gap contradicts the proof; a plan not called optimal claims nothing
    assert "the plan is not optimal for this patient" in said(objective, PlanStatus.OPTIMAL)
    feasible = said(objective - 0.01, PlanStatus.FEASIBLE)
    assert "the plan is not optimal for this patient" in feasible


def test_a_farther_facility_on_an_earlier_day_is_an_alternative() -> None:
    # A waits at F1 until day 3; F2, farther, is free from day 0
    problem = parse_problem(
        problem_dict(
            [
                facility("F1", 50.0, 30.0, beds={"orthopaedics": 1}),
                facility("F2", 50.5, 30.0, beds={"orthopaedics": 1}),
            ],
            [patient("A", 50.0, 30.0, precedence="urgent")],
        )
    )
    plan = moved(solve_greedy(problem), "A", "F1", 3)
    plan = replace(plan, objective=check_plan(problem, plan).objective)
    why = explain(problem, plan, "A")
    farther = [a for a in why.alternatives if a.facility == "F2"]
    assert [(a.first_day, a.last_day, a.blocker) for a in farther] == [(0, 2, Blocker.FREE)]
    assert why.farther_not_listed == 0


def test_a_run_of_days_at_the_admission_limit_says_each_days_due_admissions() -> None:
    from medevac.planning import with_admissions_taken

    problem = with_admissions_taken(
        parse_problem(
            problem_dict(
                [facility("F1", 50.0, 30.0, beds={"orthopaedics": 9}, daily_admission_limit=1)],
                [
                    patient("O", 50.0, 30.0, length_of_stay_days=1),
                    patient("A", 50.0, 30.0, length_of_stay_days=1),
                ],
                horizon_days=3,
            )
        ),
        [("F1", 0, 1)],
    )
    plan = moved(moved(solve_greedy(problem), "O", "F1", 1), "A", "F1", 2)
    runs = [(a.first_day, a.last_day, a.detail) for a in explain(problem, plan, "A").alternatives]
    assert runs == [
        (0, 0, "admission limit 1 reached (1 of it already due)"),
        (1, 1, "admission limit 1 reached"),
    ]


def test_an_unplaced_group_member_is_told_of_the_place_beside_its_group() -> None:
    # A's group is at F2, far; F1 is near but would split the group: F2 is A's cheapest place
    problem = parse_problem(
        problem_dict(
            [
                facility("F1", 50.0, 30.0, beds={"orthopaedics": 1}),
                facility("F2", 59.0, 30.0, beds={"orthopaedics": 2}),
            ],
            [patient("A", 50.0, 30.0, group="G"), patient("B", 59.0, 30.0, group="G")],
        )
    )
    plan = solve_greedy(problem)
    plan = replace(
        plan,
        assignments=(Assignment("B", "F2", 0),),
        unplaced=(Unplaced("A", "left out by hand"),),
    )
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
    view = ProblemView(problem)
    at, days = placement_arrays(problem, {"B": ("F2", 0)})
    [reason] = unplaced_reasons(view, at, days, [problem.patient_index["A"]])
    assert reason.code is UnplacedReason.FREE_PLACE_UNUSED
    assert "(F2 on day 0: 10.01 against 1,000.00)" in reason.reason


def test_a_near_tie_within_the_tolerance_of_an_optimal_plan_is_not_said_to_contradict_it() -> None:
    # change costs nothing and travel 1e-6 a km: F2, 0.2 km nearer, is 2.1e-7 cheaper, less
    # than the bonus by which the engines keep current places; the plan, called optimal, keeps
    # the patient at F1 (it had been told "the plan is not optimal for this patient")
    data = problem_dict(
        [
            facility("F1", 50.0, 30.01, beds={"orthopaedics": 1}),
            facility("F2", 50.0, 30.007, beds={"orthopaedics": 1}),
        ],
        [patient("P1", current={"facility": "F1", "day": 0}, length_of_stay_days=2)],
        horizon_days=3,
    )
    data["weights"] = {**data["weights"], "travel_per_km": 1e-6, "change": 0}
    problem = parse_problem(data)
    plan = solve_exact(problem, time_limit=30)
    assert plan.status is PlanStatus.OPTIMAL
    assert [(a.facility, a.day) for a in plan.assignments] == [("F1", 0)]
    [alt] = [a for a in explain(problem, plan, "P1").alternatives if a.first_day == 0]
    assert alt.blocker is Blocker.FREE
    assert "a near tie, broken the other way" in alt.detail
    assert "not optimal" not in alt.detail
    # a plan not called optimal claims nothing: the cheaper place contradicts no status
    feasible = replace(plan, status=PlanStatus.FEASIBLE)
    [alt] = [a for a in explain(problem, feasible, "P1").alternatives if a.first_day == 0]
    assert alt.detail.endswith("the plan is not optimal for this patient")

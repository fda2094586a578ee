"""Facilities that stop admitting an organisation's patients within the horizon
(`Facility.accepts_until`, `with_acceptance_ends`): every engine, the checker, the reasons
and `explain` keep to the end."""

from __future__ import annotations

import random

import pytest

from medevac.planning import (
    Blocker,
    Plan,
    UnplacedReason,
    check_plan,
    explain,
    parse_problem,
    solve_exact,
    solve_greedy,
    with_acceptance_ends,
    with_quotas,
)
from medevac.planning import exact as exact_engine
from medevac.planning.compact import build_compact
from medevac.planning.model import ProblemView
from medevac.planning.plan import Assignment
from tests.unit.planning.builders import (
    ENGINES,
    engines_agree,
    facility,
    patient,
    problem_dict,
    random_acceptance_ends,
    random_problem,
    random_problems,
    random_quotas,
)


def partner_ending() -> dict[str, object]:
    """PARTNER, near, has one orthopaedics bed; HOME, far, ten. Three routine patients of
    ORG-A stay one day each: with no end PARTNER takes them on days 0, 1 and 2."""
    return problem_dict(
        [
            facility("PARTNER", 50.1, 30.0, beds={"orthopaedics": 1}),
            facility("HOME", 52.0, 21.0, beds={"orthopaedics": 10}),
        ],
        [patient(f"P{k}", organisation="ORG-A", length_of_stay_days=1) for k in range(3)],
    )


def at(plan: Plan) -> dict[str, tuple[str, int]]:
    return {a.patient: (a.facility, a.day) for a in plan.assignments}


def test_with_acceptance_ends_sets_the_last_day_and_refuses_what_does_not_fit() -> None:
    problem = parse_problem(partner_ending())
    ended = with_acceptance_ends(problem, [("PARTNER", "ORG-A", 1), ("HOME", "ORG-A", 4)])
    assert ended.facility("PARTNER").last_admission_day("ORG-A") == 1
    assert ended.facility("PARTNER").last_admission_day("ORG-B") is None
    assert ended.facility("PARTNER").last_admission_day(None) is None
    # an end on the horizon's last day changes nothing
    assert ended.facility("HOME").accepts_until == {}
    assert with_acceptance_ends(problem, [("HOME", "ORG-A", 4)]) is problem
    with pytest.raises(ValueError, match="'NOWHERE': not a facility of the problem"):
        with_acceptance_ends(problem, [("NOWHERE", "ORG-A", 1)])
    with pytest.raises(ValueError, match="PARTNER for ORG-A: last day -1 < 0"):
        with_acceptance_ends(problem, [("PARTNER", "ORG-A", -1)])
    with pytest.raises(ValueError, match="PARTNER for ORG-A: a second end given"):
        with_acceptance_ends(problem, [("PARTNER", "ORG-A", 1), ("PARTNER", "ORG-A", 2)])
    with pytest.raises(ValueError, match="a second end given"):
        with_acceptance_ends(ended, [("PARTNER", "ORG-A", 2)])
    # whichever comes first, an end dropped (the horizon's last day or later) or one kept
    with pytest.raises(ValueError, match="PARTNER for ORG-A: a second end given"):
        with_acceptance_ends(problem, [("PARTNER", "ORG-A", 9), ("PARTNER", "ORG-A", 2)])


def test_the_checker_refuses_an_admission_after_the_end() -> None:
    problem = with_acceptance_ends(parse_problem(partner_ending()), [("PARTNER", "ORG-A", 1)])
    free = solve_exact(parse_problem(partner_ending()), time_limit=30)
    [late] = [p for p, where in at(free).items() if where == ("PARTNER", 2)]  # without the end
    report = check_plan(problem, free)
    assert report.violations == (
        f"patient {late!r}: 'PARTNER' admits patients of 'ORG-A' until day 1, admitted on day 2",
    )


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_every_engine_keeps_to_the_end(engine: str) -> None:
    problem = with_acceptance_ends(parse_problem(partner_ending()), [("PARTNER", "ORG-A", 1)])
    plan = ENGINES[engine](problem)
    assert check_plan(problem, plan).feasible
    where = at(plan)
    assert len(where) == 3
    assert not [p for p, (f, day) in where.items() if f == "PARTNER" and day > 1]
    if engine != "greedy":  # the regulator's rule sends P1 to HOME on day 0
        assert sorted(where.values()) == [("HOME", 0), ("PARTNER", 0), ("PARTNER", 1)]


def test_the_plans_of_the_example_agree_and_are_optimal() -> None:
    problem = with_acceptance_ends(parse_problem(partner_ending()), [("PARTNER", "ORG-A", 1)])
    plans = engines_agree(problem)
    assert sorted(at(plans["exact"]).values()) == [("HOME", 0), ("PARTNER", 0), ("PARTNER", 1)]


def test_the_kernels_arrays_hold_the_last_days() -> None:
    data = partner_ending()
    data["patients"].append(patient("Q0", organisation="ORG-B", length_of_stay_days=1))  # type: ignore[attr-defined]
    problem = with_acceptance_ends(parse_problem(data), [("PARTNER", "ORG-A", 1)])
    c = build_compact(ProblemView(problem))
    partner, home = problem.facility_index["PARTNER"], problem.facility_index["HOME"]
    units = {problem.patients[int(c.member_patient[k])].organisation: u
             for u, k in enumerate(c.first_member().tolist())}  # fmt: skip
    assert c.last_day(units["ORG-A"], partner) == 1
    assert c.last_day(units["ORG-A"], home) == 4
    assert c.last_day(units["ORG-B"], partner) == 4
    assert c.unit_accept[units["ORG-B"]] == 0


def test_explain_names_the_end_of_acceptance() -> None:
    problem = with_acceptance_ends(parse_problem(partner_ending()), [("PARTNER", "ORG-A", 1)])
    plan = solve_exact(problem, time_limit=30)
    [home] = [p for p, where in at(plan).items() if where == ("HOME", 0)]
    why = explain(problem, plan, home)
    # a nearer facility, on every day: full while it admits the patient's organisation
    partner = [
        (a.first_day, a.last_day, a.blocker) for a in why.alternatives if a.facility == "PARTNER"
    ]
    assert partner == [(0, 1, Blocker.BEDS_FULL), (2, 4, Blocker.ACCEPTANCE_ENDED)]
    assert why.place_breaks == ""
    # a plan that admits after the end is told so
    free = solve_exact(parse_problem(partner_ending()), time_limit=30)
    [late] = [p for p, where in at(free).items() if where == ("PARTNER", 2)]
    assert explain(problem, free, late).place_breaks == (
        "PARTNER admits patients of ORG-A until day 1"
    )


def test_explain_lists_the_days_after_the_end_as_closed() -> None:
    data = partner_ending()
    data["patients"] = [patient("P0", organisation="ORG-A", length_of_stay_days=1)]
    problem = with_acceptance_ends(parse_problem(data), [("PARTNER", "ORG-A", 1)])
    # a plan that sends P0 to HOME on day 3: PARTNER is free on days 0-1 and closed on 2-4
    plan = solve_greedy(problem)
    moved = Plan(
        **{
            **{f: getattr(plan, f) for f in plan.__dataclass_fields__},
            "assignments": (Assignment("P0", "HOME", 3),),
        }
    )
    runs = {(a.first_day, a.last_day): a for a in explain(problem, moved, "P0").alternatives
            if a.facility == "PARTNER"}  # fmt: skip
    assert runs[(0, 1)].blocker is Blocker.FREE
    assert runs[(2, 4)].blocker is Blocker.ACCEPTANCE_ENDED
    assert runs[(2, 4)].detail == "admits patients of ORG-A until day 1"


def test_a_patient_whose_earliest_day_is_after_every_end_is_told_why() -> None:
    data = problem_dict(
        [facility("PARTNER", 50.1, 30.0, beds={"orthopaedics": 5})],
        [patient("P0", organisation="ORG-A", earliest_day=3, length_of_stay_days=1)],
    )
    problem = with_acceptance_ends(parse_problem(data), [("PARTNER", "ORG-A", 2)])
    for engine in ENGINES.values():
        plan = engine(problem)
        assert not plan.assignments
        [unplaced] = plan.unplaced
        assert unplaced.code is UnplacedReason.NO_AGREEMENT
        assert unplaced.reason == (
            "every facility offering orthopaedics to ORG-A stops admitting its patients by "
            "day 2, before the patient's earliest day 3"
        )


@random_problems(40)
def test_with_acceptance_ends_the_engines_still_agree_and_exact_is_optimal(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    free = random_problem(rng, n_patients, n_facilities)
    ended = with_acceptance_ends(free, random_acceptance_ends(rng, free))
    if rng.random() < 0.3:
        ended = with_quotas(ended, random_quotas(rng, ended))
    engines_agree(ended)


def test_some_random_ends_change_the_optimum() -> None:
    """The property test above is not vacuous: on some of the builder's problems the free
    optimum admits after an end."""
    changed = 0
    for seed in range(40):
        rng = random.Random(seed)
        free = random_problem(rng, 10, 3)
        ended = with_acceptance_ends(free, random_acceptance_ends(rng, free))
        if not check_plan(ended, solve_greedy(free)).feasible:
            changed += 1
    assert changed >= 5


def test_a_patient_with_no_open_day_counts_once_in_every_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A patient every facility stops admitting before its earliest day is left out by every
    engine at its unplaced cost, counted once: the aggregation of the large engine takes it
    out like one with no eligible facility, as the exact engine does (once both counted it,
    and the bound of the price-seeded route came out above the optimum)."""
    data = partner_ending()
    data["patients"].append(  # type: ignore[attr-defined]
        patient("LATE", organisation="ORG-A", earliest_day=3, length_of_stay_days=1)
    )
    problem = with_acceptance_ends(
        parse_problem(data), [("PARTNER", "ORG-A", 1), ("HOME", "ORG-A", 2)]
    )
    view = ProblemView(problem)
    assert problem.patients[int(build_compact(view).hopeless[0])].id == "LATE"
    # the exact engine's aggregation takes out the same patients
    assert exact_engine._build_units(problem, view)[1] == build_compact(view).hopeless.tolist()
    plans = engines_agree(problem)
    assert all("LATE" not in at(plan) for plan in plans.values())
    optimum = plans["mip"].objective
    # every LP expected too slow, none given time: the price ascent seeds, the Lagrangian
    # engine takes over at once
    monkeypatch.setattr(exact_engine, "LP_REFERENCE_SECONDS", 1e9)
    monkeypatch.setattr(exact_engine, "LP_SHARE", 0.0)
    handed = solve_exact(problem, time_limit=5)
    assert check_plan(problem, handed).feasible
    assert handed.bound <= optimum + 1e-6 * optimum

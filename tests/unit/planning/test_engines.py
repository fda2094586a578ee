"""Engines on hand-made problems where the right answer is known."""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace

import numpy as np
import pytest

from medevac.domain.geography import haversine_km
from medevac.planning import (
    Engine,
    ModelTooLarge,
    Plan,
    PlanStatus,
    Problem,
    UnplacedReason,
    check_plan,
    document_text,
    exact,
    parse_problem,
    solve,
)
from medevac.planning.compact import build_compact
from medevac.planning.engines import MAX_TIME_LIMIT
from medevac.planning.lagrangian import priced_columns
from medevac.planning.model import ProblemView
from medevac.planning.problem import DEFAULT_WEIGHTS
from tests.unit.planning.builders import (
    BASE,
    facility,
    patient,
    placement,
    problem_dict,
    random_problem_dict,
    wide_random_problem_data,
    with_current,
)

ENGINES = [Engine.EXACT, Engine.MIP, Engine.GREEDY]


def checked(problem: Problem, plan: Plan) -> Plan:
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
    assert report.objective_matches(plan.objective)
    return plan


def scarce_near_bed() -> Problem:
    """One near bed, one far bed; B may only travel 100 km, A can go anywhere."""
    return parse_problem(
        problem_dict(
            [
                facility("NEAR", 50.1, 30.0, beds={"orthopaedics": 1}),
                facility("FAR", 50.0, 10.0, beds={"orthopaedics": 1}),
            ],
            [
                patient("A", length_of_stay_days=5),
                patient("B", length_of_stay_days=5, max_distance_km=100),
            ],
        )
    )


def test_an_engine_given_by_its_name_is_that_engine() -> None:
    # a plain string never was the enum member: every name ran the exact engine
    problem = scarce_near_bed()
    for name, solver in [("greedy", "greedy"), ("mip", "per-patient MIP"), ("exact", "exact")]:
        assert solve(problem, name, time_limit=10).solver.startswith(solver), name  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'fastest' is not a valid Engine"):
        solve(problem, "fastest")  # type: ignore[arg-type]


def test_greedy_gives_the_near_bed_to_the_first_patient_and_strands_the_second() -> None:
    problem = scarce_near_bed()
    plan = checked(problem, solve(problem, Engine.GREEDY))
    assert placement(plan) == {"A": ("NEAR", 0)}
    assert plan.unplaced[0].code is UnplacedReason.BEDS_FULL
    assert plan.unplaced[0].reason.endswith("(1 eligible facility)")  # B's limit leaves NEAR


def test_reasons_are_worked_out_once_per_profile_and_given_to_each_patient() -> None:
    # A and C share a profile (origin, specialty, needs, organisation, limit); B differs only
    # by a distance limit that leaves nothing in reach, D only by a need no facility meets
    problem = parse_problem(
        problem_dict(
            [facility("FAR", 50.0, 10.0, beds={"orthopaedics": 0})],
            [
                patient("A"),
                patient("B", max_distance_km=100),
                patient("C"),
                patient("D", needs=["paediatric"]),
            ],
        )
    )
    view = ProblemView(problem)
    reasons = [view.unplaced_reason(i) for i in range(4)]
    assert [r.patient for r in reasons] == ["A", "B", "C", "D"]
    assert [r.code for r in reasons] == [
        UnplacedReason.BEDS_FULL,
        UnplacedReason.BEYOND_MAX_DISTANCE,
        UnplacedReason.BEDS_FULL,
        UnplacedReason.NEEDS_NOT_MET,
    ]
    assert reasons[0].reason == reasons[2].reason
    assert reasons[1].reason.endswith("beyond 100 km")


@pytest.mark.parametrize("engine", [*ENGINES, "large"])
def test_a_facility_exactly_at_the_distance_limit_is_within_it(engine: Engine | str) -> None:
    # the format's rule, and the checker's: distance <= max_distance_km. Z's facility is at its
    # own place (0 km, limit 0); the only neurology beds are exactly at A's limit, and a
    # billionth of a millimetre beyond B's
    km = haversine_km(50.0, 30.0, 50.3, 30.4)
    problem = parse_problem(
        problem_dict(
            [
                facility("HERE", 50.0, 30.0, beds={"orthopaedics": 1}),
                facility("THERE", 50.3, 30.4, beds={"neurology": 2}),
            ],
            [
                patient("Z", max_distance_km=0),
                patient("A", specialty="neurology", max_distance_km=km),
                patient("B", specialty="neurology", max_distance_km=km - 1e-12),
            ],
            horizon_days=1,
        )
    )
    assert km > problem.patients[2].max_distance_km
    if engine == "large":
        plan = checked(problem, exact.solve_exact(problem, time_limit=2, large_units=0))
    else:
        plan = checked(problem, solve(problem, engine))
    assert placement(plan) == {"Z": ("HERE", 0), "A": ("THERE", 0)}
    assert {u.patient: u.code for u in plan.unplaced} == {"B": UnplacedReason.BEYOND_MAX_DISTANCE}


@pytest.mark.parametrize("engine", [Engine.EXACT, Engine.MIP])
def test_optimal_engines_send_the_flexible_patient_far_and_place_both(engine: Engine) -> None:
    problem = scarce_near_bed()
    plan = checked(problem, solve(problem, engine))
    assert placement(plan) == {"A": ("FAR", 0), "B": ("NEAR", 0)}
    assert plan.status is PlanStatus.OPTIMAL
    assert plan.gap == 0.0


@pytest.mark.parametrize("engine", ENGINES)
def test_urgent_patient_gets_the_only_bed_on_day_zero(engine: Engine) -> None:
    problem = parse_problem(
        problem_dict(
            [facility("F1", 50.5, 30.0, beds={"orthopaedics": 1})],
            [
                patient("R", precedence="routine", length_of_stay_days=1),
                patient("U", precedence="urgent", length_of_stay_days=1),
            ],
        )
    )
    plan = checked(problem, solve(problem, engine))
    assert placement(plan) == {"U": ("F1", 0), "R": ("F1", 1)}


@pytest.mark.parametrize("engine", ENGINES)
def test_unplaced_patients_get_the_reason_that_applies(engine: Engine) -> None:
    problem = parse_problem(
        problem_dict(
            [facility("F1", 50.5, 30.0, beds={"orthopaedics": 1}, accepts_from=["ORG-A"])],
            [
                patient("S", specialty="burns"),
                patient("N", needs=["ventilator"], organisation="ORG-A"),
                patient("G", organisation="ORG-B"),
                patient("D", organisation="ORG-A", max_distance_km=10),
            ],
        )
    )
    plan = checked(problem, solve(problem, engine))
    codes = {u.patient: u.code for u in plan.unplaced}
    assert codes == {
        "S": UnplacedReason.SPECIALTY_NOT_OFFERED,
        "N": UnplacedReason.NEEDS_NOT_MET,
        "G": UnplacedReason.NO_AGREEMENT,
        "D": UnplacedReason.BEYOND_MAX_DISTANCE,
    }
    assert {u.patient: u.reason for u in plan.unplaced}["G"] == (
        "no facility offers orthopaedics to ORG-B"
    )


@pytest.mark.parametrize("engine", [Engine.EXACT, Engine.MIP])
def test_a_group_stays_together_when_splitting_costs_more_than_the_detour(engine: Engine) -> None:
    problem = parse_problem(
        problem_dict(
            [
                facility("A1", 50.2, 30.0, beds={"orthopaedics": 1}),
                facility("B2", 50.0, 25.0, beds={"orthopaedics": 2}),
            ],
            [
                patient("X", group="G", length_of_stay_days=5),
                patient("Y", group="G", length_of_stay_days=5),
            ],
        )
    )
    plan = checked(problem, solve(problem, engine))
    assert placement(plan) == {"X": ("B2", 0), "Y": ("B2", 0)}


def replan_problem(current_lon: float) -> Problem:
    return parse_problem(
        problem_dict(
            [
                facility("NEAR", 50.0, 30.5, beds={"orthopaedics": 2}),
                facility("OLD", 50.0, current_lon, beds={"orthopaedics": 2}),
            ],
            [patient("P", current={"facility": "OLD", "day": 0})],
        )
    )


@pytest.mark.parametrize("engine", [Engine.EXACT, Engine.MIP])
def test_a_current_place_is_kept_when_moving_saves_less_than_the_change_weight(
    engine: Engine,
) -> None:
    problem = replan_problem(current_lon=28.0)  # about 180 km further: saves 1.8 < 20
    plan = checked(problem, solve(problem, engine))
    assert placement(plan) == {"P": ("OLD", 0)}
    assert plan.status is PlanStatus.OPTIMAL  # the tie-breaking bonus must not spoil the proof


@pytest.mark.parametrize("engine", [Engine.EXACT, Engine.MIP])
def test_a_current_place_is_changed_when_the_move_pays_for_itself(engine: Engine) -> None:
    problem = replan_problem(current_lon=-5.0)  # about 2,500 km further: saves 25 > 20
    assert placement(checked(problem, solve(problem, engine))) == {"P": ("NEAR", 0)}


# A review's problem: greedy leaves an urgent patient out (100,000) where the optimum is 0.11,
# and moving the routine patient R from H2 to H1 saves 0.0022 (0.22 km). The keep bonus, sized
# from greedy's objective (the MIP's: from leaving everyone out), was 0.004: R was kept, and
# the plan called optimal at 0.1134 (the MIP's at 0.1118, with H2 0.06 km away)
def keep_bonus_problem(h2_lat: float) -> Problem:
    ortho, neuro = {"orthopaedics": 1}, {"neurology": 1}
    return parse_problem(
        {
            "horizon_days": 3,
            "precedences": BASE["precedences"],
            "weights": BASE["weights"] | {"change": 0},
            "facilities": [
                {"id": "NEAR", "lat": 50.0, "lon": 30.0, "beds": ortho},
                {"id": "FAR", "lat": 50.1, "lon": 30.0, "beds": ortho},
                {"id": "H1", "lat": 50.0, "lon": 30.0, "beds": neuro},
                {"id": "H2", "lat": h2_lat, "lon": 30.0, "beds": neuro},
            ],
            "patients": [
                {
                    "id": "U1",
                    "lat": 50.0,
                    "lon": 30.0,
                    "specialty": "orthopaedics",
                    "precedence": "urgent",
                    "length_of_stay_days": 3,
                },
                {
                    "id": "U2",
                    "lat": 50.0,
                    "lon": 30.0,
                    "specialty": "orthopaedics",
                    "precedence": "urgent",
                    "length_of_stay_days": 3,
                    "max_distance_km": 1,
                },
                {
                    "id": "R",
                    "lat": 50.0,
                    "lon": 30.0,
                    "specialty": "neurology",
                    "precedence": "routine",
                    "length_of_stay_days": 1,
                    "current": {"facility": "H2", "day": 0},
                },
            ],
        }
    )


@pytest.mark.parametrize(("engine", "h2_lat"), [(Engine.EXACT, 50.002), (Engine.MIP, 50.0005)])
def test_a_bad_greedy_plan_does_not_make_the_keep_bonus_outweigh_a_cheaper_move(
    engine: Engine, h2_lat: float
) -> None:
    problem = keep_bonus_problem(h2_lat)
    assert solve(problem, Engine.GREEDY).objective > 100_000
    plan = checked(problem, solve(problem, engine))
    assert placement(plan) == {"U1": ("FAR", 0), "U2": ("NEAR", 0), "R": ("H1", 0)}
    assert plan.status is PlanStatus.OPTIMAL
    optimum = 0.01 * (haversine_km(50.0, 30.0, 50.1, 30.0))  # U1's travel; the rest is free
    assert plan.objective == pytest.approx(optimum, rel=1e-9)


@pytest.mark.parametrize("left_out", [1, 10])
def test_patients_with_no_place_to_go_do_not_make_the_keep_bonus_outweigh_a_cheaper_move(
    left_out: int,
) -> None:
    # urgent patients of a specialty no facility offers cost 100,000 each, a constant the
    # exact engine's MIPs never see; the bonus was sized from it (0.04 with ten of them) and
    # P kept a place 0.02 dearer than F1's: the plan called optimal, its bound above the optimum
    ortho = {"orthopaedics": 1}
    problem = parse_problem(
        {
            "horizon_days": 2,
            "precedences": BASE["precedences"],
            "weights": BASE["weights"] | {"change": 0},
            "facilities": [
                {"id": "F0", "lat": 50.0, "lon": 30.0, "beds": ortho},
                {"id": "F1", "lat": 50.0, "lon": 29.9972, "beds": ortho},  # 0.2 km nearer
            ],
            "patients": [
                {
                    "id": "P",
                    "lat": 50.0,
                    "lon": 29.0,
                    "specialty": "orthopaedics",
                    "precedence": "routine",
                    "length_of_stay_days": 1,
                    "current": {"facility": "F0", "day": 0},
                },
            ]
            + [
                {
                    "id": f"H{k}",
                    "lat": 50.0,
                    "lon": 29.0,
                    "specialty": "oncology",
                    "precedence": "urgent",
                    "length_of_stay_days": 1,
                }
                for k in range(left_out)
            ],
        }
    )
    for engine in (Engine.EXACT, Engine.MIP):
        plan = checked(problem, solve(problem, engine))
        assert placement(plan) == {"P": ("F1", 0)}, engine
        assert plan.status is PlanStatus.OPTIMAL


def test_keeping_current_places_still_proves_optimality() -> None:
    # Seed 13 gives a problem where the tie-breaking bonus for kept places once left the
    # bound exactly one bonus short of the objective, and the plan was reported as feasible.
    data = random_problem_dict(seed=13, n_patients=3, n_facilities=3)
    assert any("current" in p for p in data["patients"])
    problem = parse_problem(data)
    plan = checked(problem, solve(problem, Engine.EXACT))
    assert plan.status is PlanStatus.OPTIMAL
    optimum = solve(problem, Engine.MIP).objective
    assert abs(plan.objective - optimum) <= 1e-6 * max(1.0, optimum)


def test_solving_again_with_the_plan_as_current_changes_nothing() -> None:
    data = random_problem_dict(seed=7, n_patients=14, n_facilities=4)
    first = checked(parse_problem(data), solve(parse_problem(data), Engine.EXACT))
    again_problem = parse_problem(with_current(data, first))
    second = checked(again_problem, solve(again_problem, Engine.EXACT))
    assert placement(second) == placement(first)
    assert second.breakdown.change == 0
    third = checked(again_problem, solve(again_problem, Engine.EXACT))
    assert placement(third) == placement(second)


@pytest.mark.parametrize("engine", [Engine.EXACT, Engine.MIP])
def test_two_patients_alike_keep_their_own_days_when_solved_again(engine: Engine) -> None:
    # either order of days costs the same; the per-patient MIP had swapped them
    for days in ((0, 1), (1, 0)):
        problem = parse_problem(
            problem_dict(
                [facility("F1", 50.0, 30.0, beds={"orthopaedics": 1})],
                [
                    patient("A", 50.0, 30.0, length_of_stay_days=1,
                            current={"facility": "F1", "day": days[0]}),
                    patient("B", 50.0, 30.0, length_of_stay_days=1,
                            current={"facility": "F1", "day": days[1]}),
                ],
                horizon_days=2,
            )
        )  # fmt: skip
        plan = checked(problem, solve(problem, engine, time_limit=10))
        assert placement(plan) == {"A": ("F1", days[0]), "B": ("F1", days[1])}, days


@pytest.mark.parametrize("seed", range(6))
def test_the_per_patient_mip_solved_again_with_its_plan_as_current_changes_nothing(
    seed: int,
) -> None:
    data = random_problem_dict(seed=seed, n_patients=14, n_facilities=4)
    first = checked(parse_problem(data), solve(parse_problem(data), Engine.MIP))
    again = parse_problem(with_current(data, first))
    second = checked(again, solve(again, Engine.MIP))
    assert second.status is PlanStatus.OPTIMAL
    assert placement(second) == placement(first)
    assert abs(second.objective - solve(again, Engine.EXACT).objective) <= 1e-6 * max(
        1.0, second.objective
    )


def test_exact_engine_returns_a_feasible_plan_with_an_honest_bound_when_stopped_early() -> None:
    problem = parse_problem(random_problem_dict(seed=3, n_patients=30, n_facilities=5))
    plan = checked(problem, solve(problem, Engine.EXACT, time_limit=0.01))
    assert plan.bound <= plan.objective
    optimum = solve(problem, Engine.MIP).objective
    assert plan.bound <= optimum + 1e-6 * max(1.0, optimum)


# problems on which a re-plan swapped two patients' admission days at one facility, at equal
# cost: HiGHS's stopping tolerance was larger than the bonus for keeping a place, the rounded
# LP's plan won ties against the MIP's, or (302053) a warm-started LP ended in status "Unknown"
# and the Lagrangian engine took over
@pytest.mark.parametrize("seed", [300009, 300200, 300418, 301044, 302053])
def test_a_re_plan_of_an_optimal_plan_keeps_every_place_where_costs_tie(seed: int) -> None:
    data = wide_random_problem_data(random.Random(seed))
    first = checked(parse_problem(data), solve(parse_problem(data), Engine.EXACT, 30))
    assert first.status is PlanStatus.OPTIMAL
    again = parse_problem(with_current(data, first))
    second = checked(again, solve(again, Engine.EXACT, 30))
    assert second.status is PlanStatus.OPTIMAL
    assert placement(second) == placement(first)


def test_the_exact_engine_proves_the_optimum_where_highs_1_14_presolve_did_not() -> None:
    # a stress run's problem on which HiGHS 1.14's MIP presolve returned a wrong optimum for the
    # exact engine's last MIP: it called 119,660.13 optimal; the optimum is 119,611.65
    problem = parse_problem(wide_random_problem_data(random.Random(304652)))
    exact_plan = checked(problem, solve(problem, Engine.EXACT, 30))
    mip = checked(problem, solve(problem, Engine.MIP, 60))
    assert exact_plan.status is PlanStatus.OPTIMAL
    assert mip.status is PlanStatus.OPTIMAL
    assert exact_plan.objective == pytest.approx(mip.objective, rel=1e-9)
    assert exact_plan.objective == pytest.approx(119_611.646, abs=1e-2)


@pytest.mark.parametrize("seed", range(4))
def test_when_the_lp_does_not_converge_the_lagrangian_engine_finishes_the_solve(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no time for column generation at all: every solve takes the fallback
    monkeypatch.setattr(exact, "LP_SHARE", 0.0)
    problem = parse_problem(random_problem_dict(seed=seed, n_patients=30, n_facilities=5))
    messages: list[str] = []
    plan = checked(problem, solve(problem, Engine.EXACT, time_limit=5, progress=messages.append))
    assert any("the Lagrangian engine takes over" in m for m in messages)
    assert plan.solver == exact.LARGE_SOLVER
    optimum = solve(problem, Engine.MIP).objective
    assert plan.bound <= optimum + 1e-6 * max(1.0, optimum)
    assert plan.objective <= solve(problem, Engine.GREEDY).objective + 1e-9
    if plan.status is PlanStatus.OPTIMAL:
        assert plan.objective == pytest.approx(optimum, rel=1e-9)


def test_no_mip_is_started_without_the_time_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # at a second per column no MIP fits: the plan is the rounded LP's, with the LP's bound
    monkeypatch.setattr(exact, "MIP_SECONDS_PER_COLUMN", 1.0)
    problem = parse_problem(random_problem_dict(seed=5, n_patients=30, n_facilities=5))
    messages: list[str] = []
    plan = checked(problem, solve(problem, Engine.EXACT, time_limit=30, progress=messages.append))
    assert not any(m.startswith("MIP 1") for m in messages)
    optimum = solve(problem, Engine.MIP).objective
    assert plan.bound <= optimum + 1e-6 * max(1.0, optimum) <= plan.objective + 2e-6 * optimum


@pytest.mark.parametrize("engine", ENGINES)
def test_problems_without_patients_or_facilities_give_empty_optimal_plans(engine: Engine) -> None:
    no_patients = parse_problem(problem_dict([facility("F1", 50.0, 30.0)], []))
    plan = checked(no_patients, solve(no_patients, engine))
    assert (plan.objective, plan.assignments, plan.unplaced) == (0.0, (), ())
    no_facilities = parse_problem(problem_dict([], [patient("A")]))
    plan = checked(no_facilities, solve(no_facilities, engine))
    assert plan.objective == 1000
    assert plan.unplaced[0].code is UnplacedReason.SPECIALTY_NOT_OFFERED


# problems of the stress run's generator on which the first MIP left columns that could help
PARTIAL_PROOF_SEEDS = [300001, 300019, 300024, 300047, 300054]


@pytest.mark.parametrize("seed", PARTIAL_PROOF_SEEDS)
def test_a_partial_proof_gives_a_bound_no_higher_than_the_optimum(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # time for only 30 of the columns that could still help: the MIP takes those with the
    # smallest margins, and every other column costs at least the Lagrangian plus the margin
    # of the first one left out
    monkeypatch.setattr(exact, "PARTIAL_PROOF_COLUMNS", 1)
    monkeypatch.setattr(exact, "_mip_room", lambda seconds_left, in_mip: 30)
    problem = parse_problem(wide_random_problem_data(random.Random(seed)))
    messages: list[str] = []
    plan = checked(problem, solve(problem, Engine.EXACT, 30, progress=messages.append))
    assert any("(a partial proof)" in m for m in messages)
    first_bound = next(float(m.split("bound ")[1].split(",")[0]) for m in messages if "MIP 1" in m)
    optimum = solve(problem, Engine.MIP, 60).objective
    assert first_bound <= plan.bound <= optimum + 1e-6 * max(1.0, optimum)
    assert plan.objective >= optimum - 1e-6 * max(1.0, optimum)
    if plan.status is PlanStatus.OPTIMAL:
        assert plan.objective == pytest.approx(optimum, rel=1e-9)


def test_the_smallest_margins_keep_at_most_the_room_and_bound_the_rest() -> None:
    rng = np.random.default_rng(7)
    excluded = []
    for u in range(40):
        n = int(rng.integers(1, 30))
        margins = np.round(rng.uniform(0.0, 20.0, n), 1)  # ties on purpose
        excluded.append((u, rng.integers(0, 9, n), rng.integers(0, 14, n), margins))
    everything = np.concatenate([e[3] for e in excluded])
    for room in (1, 17, 250, len(everything) - 1):
        kept, threshold = exact._smallest_margins(excluded, room)
        kept_margins = np.concatenate([e[3] for e in kept]) if kept else np.zeros(0)
        assert len(kept_margins) <= room
        assert np.all(kept_margins < threshold)
        # every column left out has a margin of at least the threshold
        assert np.sum(everything < threshold) == len(kept_margins)
        assert threshold in everything


def test_time_the_mips_leave_goes_to_the_neighbourhood_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # no MIP fits: the rounded LP's plan is searched until the limit, never for the worse
    monkeypatch.setattr(exact, "MIP_SECONDS_PER_COLUMN", 1.0)
    problem = parse_problem(wide_random_problem_data(random.Random(300047)))
    messages: list[str] = []
    searched = checked(problem, solve(problem, Engine.EXACT, 10, progress=messages.append))
    assert any("neighbourhood search on the plan" in m for m in messages)
    monkeypatch.setattr(exact, "SEARCH_SECONDS", float("inf"))
    unsearched = checked(problem, solve(problem, Engine.EXACT, 10))
    assert searched.objective < unsearched.objective - 1.0  # 39,551.89 against 40,525.69
    assert searched.bound == pytest.approx(unsearched.bound, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_an_lp_master_seeded_from_a_price_ascent_still_proves_the_optimum(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exact, "LP_REFERENCE_SECONDS", 1e9)  # every LP expected to be slow
    problem = parse_problem(wide_random_problem_data(random.Random(310_000 + seed)))
    messages: list[str] = []
    plan = checked(problem, solve(problem, Engine.EXACT, 30, progress=messages.append))
    assert any(m.startswith("price ascent: bound") for m in messages)
    optimum = solve(problem, Engine.MIP, 60)
    assert optimum.status is PlanStatus.OPTIMAL
    assert plan.bound <= optimum.objective + 1e-6 * max(1.0, optimum.objective)
    assert plan.status is PlanStatus.OPTIMAL
    assert plan.objective == pytest.approx(optimum.objective, rel=1e-9)


def test_the_lp_master_gets_the_time_a_large_problem_leaves_when_enough_is_left() -> None:
    units = exact.SEEDED_LP_REFERENCE_UNITS
    assert exact.lp_master_after_rest(units, 2 * exact.SEEDED_LP_REFERENCE_SECONDS)
    assert not exact.lp_master_after_rest(units, 1.9 * exact.SEEDED_LP_REFERENCE_SECONDS)
    # a quarter of the units, a sixteenth of the time
    assert not exact.lp_master_after_rest(units // 4, 0.1 * exact.SEEDED_LP_REFERENCE_SECONDS)
    assert exact.lp_master_after_rest(units // 4, 0.13 * exact.SEEDED_LP_REFERENCE_SECONDS)
    # not above the largest LP master tried, whatever the time
    assert not exact.lp_master_after_rest(exact.LP_MASTER_MAX_UNITS + 1, MAX_TIME_LIMIT)


def test_of_two_plans_the_cheaper_is_kept_with_the_higher_bound() -> None:
    problem = parse_problem(random_problem_dict(seed=11, n_patients=20, n_facilities=4))
    greedy = solve(problem, Engine.GREEDY)
    optimum = solve(problem, Engine.MIP, 60)
    assert optimum.objective < greedy.objective
    low_bound = replace(optimum, bound=optimum.bound - 10.0, status=PlanStatus.FEASIBLE)
    started = time.perf_counter()
    kept = exact._better_of(greedy, low_bound, started)
    assert kept.assignments == optimum.assignments
    assert kept.bound == max(greedy.bound, low_bound.bound)
    assert kept.status is PlanStatus.FEASIBLE
    # with the optimum's own bound the cheaper plan is proven optimal again
    assert exact._better_of(low_bound, optimum, started).status is PlanStatus.OPTIMAL
    # a plan as cheap as one proven optimal is optimal too, whatever the bounds say (with
    # current places, `optimal` allows a tie-breaking bonus between objective and bound)
    as_cheap = replace(optimum, status=PlanStatus.FEASIBLE, bound=optimum.bound - 10.0)
    proven = replace(optimum, bound=optimum.bound - 10.0)
    assert exact._better_of(as_cheap, proven, started).status is PlanStatus.OPTIMAL
    # on a tie the first is kept
    assert exact._better_of(optimum, replace(optimum, solver="other"), started).solver == (
        optimum.solver
    )


def _made_large(problem: Problem, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every problem of more than 5 units is large, and seeded column generation is expected
    to take 5 s on ``problem``."""
    n_units = build_compact(ProblemView(problem)).n_units
    monkeypatch.setattr(exact, "LARGE_UNITS", 5)
    monkeypatch.setattr(exact, "SEEDED_LP_REFERENCE_UNITS", n_units)
    monkeypatch.setattr(exact, "SEEDED_LP_REFERENCE_SECONDS", 5.0)


@pytest.mark.parametrize(("limit", "handed"), [(0.5, False), (30.0, True)])
def test_a_large_problem_at_rest_hands_the_time_left_to_the_lp_master(
    limit: float, handed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # after the large engine's rest (at about 0.1 s, 1.2 % from its bound), 30 s leave the
    # expected 5 s in their half, 0.5 s do not
    problem = parse_problem(random_problem_dict(seed=3, n_patients=30, n_facilities=5))
    _made_large(problem, monkeypatch)
    messages: list[str] = []
    plan = checked(problem, solve(problem, Engine.EXACT, limit, progress=messages.append))
    assert any("came to rest" in m for m in messages) == handed
    optimum = solve(problem, Engine.MIP, 60)
    assert plan.bound <= optimum.objective + 1e-6 * max(1.0, optimum.objective)
    if handed:
        assert plan.status is PlanStatus.OPTIMAL
        assert plan.objective == pytest.approx(optimum.objective, rel=1e-9)


def test_a_large_problem_whose_rest_is_proven_optimal_is_not_handed_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # whether the large engine proves its rest optimal depends on how far its ascent gets
    # beside the search (seed 7 does in an idle process, not always under load), so here it
    # comes to rest at the optimum, proven
    problem = parse_problem(random_problem_dict(seed=7, n_patients=30, n_facilities=5))
    _made_large(problem, monkeypatch)
    optimum = solve(problem, Engine.MIP, 60)
    assert optimum.status is PlanStatus.OPTIMAL
    monkeypatch.setattr(exact, "_solve_large", lambda *args, **kwargs: optimum)
    messages: list[str] = []
    plan = solve(problem, Engine.EXACT, 30.0, progress=messages.append)
    assert not any("came to rest" in m for m in messages)
    assert plan is optimum
    # the same rest one step short of its proof goes on to the LP master, which proves it
    short = replace(optimum, status=PlanStatus.FEASIBLE, bound=optimum.bound - 1.0)
    monkeypatch.setattr(exact, "_solve_large", lambda *args, **kwargs: short)
    plan = checked(problem, solve(problem, Engine.EXACT, 30.0, progress=messages.append))
    assert any("came to rest" in m for m in messages)
    assert plan.status is PlanStatus.OPTIMAL


def test_priced_columns_lie_where_their_units_may_go_and_their_bound_holds() -> None:
    problem = parse_problem(wide_random_problem_data(random.Random(300047)))
    view = ProblemView(problem)
    compact = build_compact(view)
    seed = priced_columns(compact, time.perf_counter() + 1.0, 3)
    patient_of, facility, day, bound = seed.patient, seed.facility, seed.day, seed.bound
    optimum = solve(problem, Engine.MIP, 60).objective
    hopeless = sum(view.unplaced_cost(problem.patients[int(i)]) for i in compact.hopeless)
    assert bound + hopeless <= optimum + 1e-6 * max(1.0, optimum)
    for i, f, a in zip(patient_of.tolist(), facility.tolist(), day.tolist(), strict=True):
        p = problem.patients[i]
        assert view.screen(i).eligible[f], (p.id, f)
        assert p.earliest_day <= a < problem.horizon_days
    units, _ = exact._build_units(problem, view)
    columns = exact._Columns()
    exact._seed_priced(units, columns, patient_of, facility, day)
    assert columns.size > 0
    cu, cf, ca = columns.arrays()
    for u, f, a in zip(cu.tolist(), cf.tolist(), ca.tolist(), strict=True):
        assert f in units.eligible[u]
        assert np.isfinite(units.day_cost[u][a])


def test_the_lagrangian_engine_takes_over_from_the_prices_with_the_higher_bound() -> None:
    lp = (np.ones((2, 1, 3)), np.zeros((2, 3)))
    seed = (np.full((2, 1, 3), 2.0), np.zeros((2, 3)))
    assert exact._hand_over_prices(lp, 10.0, seed, 9.0) is lp
    assert exact._hand_over_prices(lp, 9.0, seed, 10.0) is seed
    assert exact._hand_over_prices(lp, -np.inf, None, -np.inf) is None  # no LP round, no seed
    assert exact._hand_over_prices(lp, 5.0, None, -np.inf) is lp


@pytest.mark.parametrize("seed", PARTIAL_PROOF_SEEDS[:3])
def test_a_hand_over_after_the_seed_starts_from_its_prices_and_keeps_bounds_valid(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the LP is expected to be slow (seeded) and gets no time (hands over at once)
    monkeypatch.setattr(exact, "LP_REFERENCE_SECONDS", 1e9)
    monkeypatch.setattr(exact, "LP_SHARE", 0.0)
    started: list[object] = []
    original = exact.solve_lagrangian

    def spy(*args: object, **kwargs: object) -> object:
        started.append(args[5] if len(args) > 5 else kwargs.get("prices"))
        return original(*args, **kwargs)

    monkeypatch.setattr(exact, "solve_lagrangian", spy)
    problem = parse_problem(wide_random_problem_data(random.Random(seed)))
    messages: list[str] = []
    plan = checked(problem, solve(problem, Engine.EXACT, 5, progress=messages.append))
    assert any("the Lagrangian engine takes over" in m for m in messages)
    assert len(started) == 1
    assert started[0] is not None  # the seed's prices
    optimum = solve(problem, Engine.MIP, 60).objective
    assert plan.bound <= optimum + 1e-6 * max(1.0, optimum)
    assert plan.objective >= optimum - 1e-6 * max(1.0, optimum)


def test_the_per_patient_mip_refuses_a_model_too_large_before_building_it() -> None:
    from medevac.planning.patient_mip import binaries, solve_patient_mip

    problem = parse_problem(random_problem_dict(seed=11, n_patients=12, n_facilities=4))
    size = binaries(problem, ProblemView(problem))
    messages: list[str] = []
    plan = solve_patient_mip(problem, 30, messages.append, max_binaries=size)
    checked(problem, plan)
    assert messages == [f"per-patient MIP: {size} binaries"]  # the count is the model's own
    with pytest.raises(ModelTooLarge, match=f"would have {size:,} binaries, more than its limit"):
        solve_patient_mip(problem, 30, messages.append, max_binaries=size - 1)
    assert len(messages) == 1  # nothing was built the second time


def test_a_per_patient_mip_stopped_before_it_had_a_bound_reports_a_finite_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # JSON has no infinities: the plan's bound is then every patient alone at its cheapest
    # place or left out, beds ignored (it had been -inf, written as -Infinity)
    from medevac.planning import patient_mip, plan_from_dict, plan_to_dict
    from medevac.planning.highs_model import SolveResult
    from medevac.planning.mip_process import MipOutcome

    def stopped(*args: object, **kwargs: object) -> MipOutcome:
        return MipOutcome(SolveResult(False, None, np.inf, -np.inf, None), True, 1.0)

    monkeypatch.setattr(patient_mip, "solve_mip", stopped)
    problem = scarce_near_bed()
    plan = checked(problem, patient_mip.solve_patient_mip(problem, time_limit=5))
    view = ProblemView(problem)
    alone = 0.0
    for i, p in enumerate(problem.patients):
        eligible = np.flatnonzero(view.screen(i).eligible)
        travel = problem.weights.travel_per_km * view.distance[view.origin_of[i], eligible]
        alone += min(view.unplaced_cost(p), float(travel.min() + view.day_cost(p).min()))
    assert plan.bound == pytest.approx(alone)
    assert 0.0 < plan.bound < plan.objective  # nobody placed: everyone's unplaced cost
    read = plan_from_dict(json.loads(document_text(plan_to_dict(plan))))
    assert (read.bound, read.gap) == (plan.bound, plan.gap)


@pytest.mark.parametrize("limit", [float("inf"), 1e7, float("nan"), -1.0])
@pytest.mark.parametrize("engine", [Engine.EXACT, Engine.MIP])
def test_a_time_limit_that_is_not_from_zero_to_a_day_is_refused(
    engine: Engine, limit: float
) -> None:
    # an infinite limit left the large engine's shares of the time undefined (it stopped at
    # once with a poor bound) and 1e7 s overflowed the wait for the MIP worker
    with pytest.raises(ValueError, match="time_limit must be a number of seconds from 0 to"):
        solve(scarce_near_bed(), engine, time_limit=limit)


@pytest.mark.parametrize("engine", [Engine.EXACT, Engine.MIP])
def test_a_move_worth_a_few_millionths_is_made_when_the_objective_is_small(engine: Engine) -> None:
    # F1 is 0.9 m nearer than the current F2 and a change costs nothing: moving saves 8.9e-6
    # of an objective of 1.11, more than the optimality tolerance of 1e-6 (relative, the
    # issue's); a fixed bonus of 1e-5 for the kept place outweighed it, and both engines
    # called the plan that kept F2 optimal, with its bound above the optimum
    problem = parse_problem(
        {
            "horizon_days": 1,
            "precedences": {"routine": {"weight": 1, "deadline_day": 0}},
            "weights": {**DEFAULT_WEIGHTS, "change": 0},
            "facilities": [
                {"id": "F1", "lat": 0.0, "lon": 0.0, "beds": {"orthopaedics": 1}},
                {"id": "F2", "lat": 0.0, "lon": 0.000008, "beds": {"orthopaedics": 1}},
            ],
            "patients": [
                {
                    "id": "P1",
                    "lat": 0.0,
                    "lon": -1.0,
                    "specialty": "orthopaedics",
                    "precedence": "routine",
                    "length_of_stay_days": 1,
                    "current": {"facility": "F2", "day": 0},
                }
            ],
        }
    )
    plan = checked(problem, solve(problem, engine))
    optimum = 0.01 * haversine_km(0.0, -1.0, 0.0, 0.0)
    assert plan.bound <= optimum * (1 + 1e-12)
    assert plan.objective <= optimum * (1 + 1e-6)
    assert placement(plan) == {"P1": ("F1", 0)}

"""Quotas that hold on some days only (`Quota.days`) in the greedy baseline, the placement
kernels and the Lagrangian engine of large problems: an admission counts against a quota only
on one of its days, so a quota used up on its days leaves the other days open; the bounds stay
bounds (the Lagrangian does not price such a quota, the pooled LP counts its days)."""

from __future__ import annotations

import random
import time
from collections import Counter

import numpy as np
import pytest

from medevac.planning import (
    Plan,
    PlanStatus,
    Problem,
    check_plan,
    kernels,
    solve_greedy,
    solve_patient_mip,
)
from medevac.planning.compact import build_compact
from medevac.planning.lagrangian import (
    _Dual,
    improve_plan,
    lagrangian_bound,
    solve_lagrangian,
)
from medevac.planning.model import (
    BoolArray,
    IntArray,
    ProblemView,
    occupancy,
    open_places,
    placement_arrays,
    quota_counts,
)
from medevac.planning.quotas import binding_quotas, keep_to_quotas, pooled_prices
from medevac.planning.replans import _Room
from tests.unit.planning.builders import (
    ENGINES,
    check_placement,
    nobody_placed,
    partner_quota,
    placement,
    random_problems,
    random_quota_problem,
    renewal_problem,
)

FIRST_DAYS = frozenset({0, 1, 2})


def renewal(days: frozenset[int] | None = FIRST_DAYS, earliest: int = 0) -> Problem:
    """Six routine patients of ORG-A and PARTNER with beds for all, under a quota of room 2
    that holds on ``days`` (an agreement that ends on day 2, its renewal without a quota);
    one-day stays from day ``earliest``, horizon 6."""
    return renewal_problem(earliest_day=earliest, horizon_days=6, quota=partner_quota(2, days))


def admission_days(plan: Plan) -> list[int]:
    return sorted(a.day for a in plan.assignments)


def feasible(problem: Problem, plan: Plan) -> None:
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
    assert report.objective_matches(plan.objective)


def free_places(view: ProblemView, facility: IntArray, day: IntArray, i: int) -> BoolArray:
    """[facility, day]: where patient ``i`` (unplaced) would still fit beside the placement
    (eligible, on an open day, a bed for the whole stay, an admission slot, and room under
    each of its quotas that would count the admission there on that day)."""
    patients = view.problem.patients
    placed = np.flatnonzero(facility >= 0)
    specialty = np.array([view.specialty_index.get(p.specialty, 0) for p in patients])
    stay = np.array([p.length_of_stay_days for p in patients], dtype=np.int64)
    taken = occupancy(
        view.beds.shape, facility[placed], specialty[placed], day[placed],
        np.minimum(day[placed] + stay[placed], view.horizon),
        np.ones(len(placed), dtype=np.int64),
    )  # fmt: skip
    ok = np.zeros((view.n_facilities, view.horizon), dtype=bool)
    if patients[i].specialty not in view.specialty_index:
        return ok
    eligible = np.flatnonzero(view.screen(i).eligible)
    ok[eligible] = open_places(
        view, taken, int(specialty[i]), eligible, patients[i].length_of_stay_days
    )
    ok &= view.open_days(i)
    counts = quota_counts(view, facility, day)
    for q in view.quotas_of(i).tolist():
        if counts[q] >= view.quota_room[q]:
            ok &= ~np.outer(view.quota_facility[q], view.quota_days[q])
    return ok


def nobody_left_out_with_a_place_free(view: ProblemView, facility: IntArray, day: IntArray) -> None:
    for i in np.flatnonzero(facility < 0).tolist():
        assert not free_places(view, facility, day, i).any(), view.problem.patients[i].id


def test_greedy_places_everyone_beyond_the_room_on_the_days_the_quota_does_not_hold() -> None:
    problem = renewal()
    plan = solve_greedy(problem)
    feasible(problem, plan)
    assert len(plan.assignments) == 6
    assert admission_days(plan) == [0, 0, 3, 3, 3, 3]
    # a quota of every day: its room is all there is
    every_day = renewal(days=None)
    plan = solve_greedy(every_day)
    feasible(every_day, plan)
    assert admission_days(plan) == [0, 0]


def test_the_large_engine_places_everyone_beyond_the_room_on_the_other_days() -> None:
    problem = renewal()
    view = ProblemView(problem)
    compact = build_compact(view)
    result = solve_lagrangian(problem, view, time.perf_counter() + 2.0, lambda _: None, compact)
    assert (result.facility >= 0).all()
    on_quota_days = (result.day <= 2).sum()
    assert on_quota_days <= 2
    assert (quota_counts(view, result.facility, result.day) <= view.quota_room).all()
    # the bound is one: at most the plan's cost (every patient placed, two of them by day 2)
    assert result.bound <= result.objective + 1e-6 * max(1.0, result.objective)
    assert result.objective < 1000  # nobody left out
    plan = ENGINES["large"](problem)
    feasible(problem, plan)
    assert len(plan.assignments) == 6
    assert Counter(day <= 2 for day in admission_days(plan))[True] <= 2
    assert plan.bound <= plan.objective + 1e-6 * max(1.0, plan.objective)
    # a quota of every day: two placed, and the bound sees the four left out
    every_day = renewal(days=None)
    plan = ENGINES["large"](every_day)
    feasible(every_day, plan)
    assert len(plan.assignments) == 2
    assert plan.bound > 4 * 1000 - 1


def test_the_neighbourhood_search_places_the_patients_a_quota_of_every_day_had_kept_out() -> None:
    problem = renewal()
    view = ProblemView(problem)
    start = placement(solve_greedy(renewal(days=None)))
    assert len(start) == 2
    better = improve_plan(
        problem, build_compact(view), start, np.zeros(view.beds.shape),
        np.zeros((view.n_facilities, view.horizon)), time.perf_counter() + 5.0, lambda _: None,
    )  # fmt: skip
    assert better is not None
    assert len(better) == 6
    report = check_placement(problem, view, better)
    assert report.feasible, report.violations


def test_keep_to_quotas_takes_out_only_admissions_on_the_quota_s_days() -> None:
    problem = renewal()
    view = ProblemView(problem)
    # four admitted on day 1 (under the quota, room 2), two on day 4 (not under it)
    facility_of = np.zeros(6, dtype=np.int64)
    day = np.array([1, 1, 1, 1, 4, 4], dtype=np.int64)
    assert quota_counts(view, facility_of, day).tolist() == [4]
    kept_f, kept_a, moved = keep_to_quotas(view, facility_of, day)
    assert moved == 2
    assert (kept_f >= 0).all()  # the two taken out are placed again from day 3
    assert (kept_a <= 2).sum() == 2
    assert quota_counts(view, kept_f, kept_a).tolist() == [2]
    assert kept_a[4:].tolist() == [4, 4]  # the admissions the quota does not count stay


def test_a_quota_of_days_before_its_patients_may_come_does_not_bind() -> None:
    late = renewal(earliest=3)  # admitted from day 3 on: never under the quota
    view = ProblemView(late)
    assert binding_quotas(view, build_compact(view)) == []
    view = ProblemView(renewal())
    assert binding_quotas(view, build_compact(view)) == [0]


def test_a_re_plan_s_room_counts_a_quota_on_its_days_only() -> None:
    view = ProblemView(renewal())
    facility_of = np.array([0, 0, -1, -1, -1, -1], dtype=np.int64)
    day = np.zeros(6, dtype=np.int64)
    room = _Room(view, facility_of, day)
    assert not room.fits(2, 0, 1)  # the quota's room is used up on its days
    assert room.fits(2, 0, 3)
    room.take(2, 0, 3)
    room.take(3, 0, 4)
    assert room.quota_used.tolist() == [2]
    room.give_up(0, 0, 0)
    assert room.quota_used.tolist() == [1]
    assert room.fits(2, 0, 1)


@pytest.mark.parametrize("earliest", [0, 3])
def test_the_bounds_see_a_quota_on_its_days_only(earliest: int) -> None:
    problem = renewal(earliest=earliest)
    greedy = solve_greedy(problem)
    assert len(greedy.assignments) == 6
    view = ProblemView(problem)
    compact = build_compact(view)
    pooled = pooled_prices(view, compact, 30)
    assert pooled is not None
    tolerance = 1e-6 * max(1.0, greedy.objective)
    assert pooled.bound <= greedy.objective + tolerance
    # any price of the quota, the Lagrangian is a bound (it prices the quota on its days only)
    zero = (np.zeros(view.beds.shape), np.zeros((view.n_facilities, view.horizon)))
    for price in (0.0, 1.0, 100.0, 5000.0):
        assert lagrangian_bound(problem, view, compact, zero, np.array([price])) <= (
            greedy.objective + tolerance
        )
    dual = _Dual(compact, 0.0)
    _, gradient, _ = dual.evaluate(np.full(dual.size, 3.0), 0.3)
    # the quota's slope: the (smoothed) admissions on its days less its room, none of them
    # where the patients come from day 3 (held at 0 while quotas of some days had no price)
    [slope] = gradient[dual.quota_start :].tolist()
    if earliest == 3:
        assert slope == pytest.approx(-2.0)
    else:
        assert -2.0 < slope < 6 - 2


@random_problems(40)
def test_greedy_keeps_to_quotas_of_some_days_and_leaves_nobody_out_with_a_place_free(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    """Greedy's plan is within every quota, counted on its days, and nobody it leaves out
    would still fit anywhere (every patient who fits at its turn is placed, and places are
    only taken): a quota used up closes its facilities on its days only."""
    problem = random_quota_problem(rng, n_patients, n_facilities, days=True)
    plan = solve_greedy(problem)
    feasible(problem, plan)
    view = ProblemView(problem)
    facility_of, day = placement_arrays(problem, placement(plan))
    assert (quota_counts(view, facility_of, day) <= view.quota_room).all()
    nobody_left_out_with_a_place_free(view, facility_of, day)


@random_problems(30)
def test_the_placement_kernels_count_rooms_on_the_quota_s_days(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    """The regulator's rule and the fill leave nobody out who would still fit (a quota used up
    closes its days only); after the fill, the insertion by ejection, the regrouping and the
    relocation passes the room the kernels hold under each quota is its room less the
    admissions on its days, never below 0."""
    problem = random_quota_problem(rng, n_patients, n_facilities, days=True)
    view = ProblemView(problem)
    plans, compact, slot_f, slot_a, capacity = nobody_placed(problem)
    rule_f, rule_a = plans.build(None, None, 0.0, time.perf_counter() + 60)
    nobody_left_out_with_a_place_free(view, *plans.patient_arrays(rule_f, rule_a))
    arrays = compact.kernel_problem()
    no_prices = plans.true_costs(_Dual(compact, 0.0))
    cum, mu, low, unit_combo, unit_qrow, qcost = no_prices
    kernels.fill(
        plans.order, plans.slot_unit, plans.groups, slot_f, slot_a, cum, mu, arrays, capacity,
        low, unit_combo, unit_qrow, qcost,
    )  # fmt: skip
    nobody_left_out_with_a_place_free(view, *plans.patient_arrays(slot_f, slot_a))
    plans.eject(slot_f, slot_a, arrays, capacity, no_prices)
    kernels.regroup(plans.slot_unit, plans.groups, slot_f, slot_a, arrays, capacity)
    kernels.relocate(
        plans.order, plans.slot_unit, plans.groups, slot_f, slot_a, arrays, capacity, 3, no_prices
    )  # fmt: skip
    left = capacity[6][0]
    used = compact.quota_use(plans.slot_unit, slot_f, slot_a)
    assert np.array_equal(left, compact.quota_room - used)
    assert (left >= 0).all()
    facility_of, day = plans.patient_arrays(slot_f, slot_a)
    assert np.array_equal(quota_counts(view, facility_of, day), used)
    report = check_placement(problem, view, plans.placement(slot_f, slot_a))
    assert report.feasible, report.violations


@random_problems(30)
def test_the_large_engine_keeps_to_quotas_of_some_days_and_its_bounds_are_bounds(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    """The Lagrangian engine's plan and the neighbourhood search's keep to the quotas counted
    on their days; its bound, the pooled bound and the Lagrangian at the pooled LP's prices
    are at most the per-patient MIP's optimum (which counts the quotas on their days)."""
    problem = random_quota_problem(rng, n_patients, n_facilities, days=True)
    view = ProblemView(problem)
    compact = build_compact(view)
    result = solve_lagrangian(problem, view, time.perf_counter() + 2.0, lambda _: None, compact)
    assert (quota_counts(view, result.facility, result.day) <= view.quota_room).all()
    placed = {
        problem.patients[i].id: (problem.facilities[int(result.facility[i])].id, int(result.day[i]))
        for i in np.flatnonzero(result.facility >= 0)
    }
    report = check_placement(problem, view, placed)
    assert report.feasible, report.violations
    optimum = solve_patient_mip(problem, time_limit=30)
    assert optimum.status is PlanStatus.OPTIMAL
    feasible(problem, optimum)
    tolerance = 1e-6 * max(1.0, abs(optimum.objective))
    assert result.bound <= optimum.objective + tolerance
    assert optimum.objective <= result.objective + tolerance
    pooled = pooled_prices(view, compact, 30)
    assert pooled is not None
    assert pooled.bound <= optimum.objective + tolerance
    no_admission_prices = np.zeros((view.n_facilities, view.horizon))
    at_prices = lagrangian_bound(
        problem, view, compact, (pooled.bed_prices, no_admission_prices), pooled.quota_prices
    )
    assert at_prices <= optimum.objective + tolerance
    # the neighbourhood search from greedy's plan, random bed prices choosing the columns
    start = placement(solve_greedy(problem))
    bed_prices = rng.uniform(0, 30) * np.ones(view.beds.shape)
    better = improve_plan(
        problem, compact, start, bed_prices, no_admission_prices, time.perf_counter() + 5.0,
        lambda _: None,
    )  # fmt: skip
    if better is not None:
        facility_of, day = placement_arrays(problem, better)
        assert (quota_counts(view, facility_of, day) <= view.quota_room).all()
        report = check_placement(problem, view, better)
        assert report.feasible, report.violations

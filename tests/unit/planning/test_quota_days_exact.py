"""Quotas that hold on some days only (`Quota.days`) in the per-patient MIP and the exact
engine: a placement counts against a quota only on the quota's days, the exact engine's master
rows, reduced costs, Lagrangian bound and proof margins see the days, and `optimal` still
means proven."""

from __future__ import annotations

from collections import Counter

import numpy as np

from medevac.planning import (
    Plan,
    PlanStatus,
    Problem,
    Quota,
    check_plan,
    solve_exact,
    solve_patient_mip,
)
from medevac.planning.exact import _build_units, _price, _round_and_repair
from medevac.planning.model import ProblemView
from tests.unit.planning.builders import partner_quota, placement, renewal_problem

#: an agreement ending on day 2: ORG-A's patients admitted at PARTNER on days 0-2 count
#: against its room of 2, those admitted later do not
UNTIL_DAY_2 = partner_quota(2, days=frozenset({0, 1, 2}))
EVERY_DAY = partner_quota(2)


def renewal(quota: Quota, *, home: bool = False) -> Problem:
    """Six routine patients of ORG-A due from day 0 with stays of 3 days (horizon 5, deadline
    day 3) under ``quota``; PARTNER, near, has beds for all of them on every day. With
    ``home``, HOME too, 660 km away (6.6 of travel each, more than waiting 3 days for
    PARTNER)."""
    return renewal_problem(
        length_of_stay_days=3, earliest_day=0, home=(52.0, 21.0) if home else None, quota=quota
    )


def checked(problem: Problem, plan: Plan) -> Plan:
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
    assert report.objective_matches(plan.objective)
    return plan


def exact_and_mip(problem: Problem) -> tuple[Plan, Plan]:
    """The exact engine's and the per-patient MIP's plans, checked; both proven optimal, of
    equal objective (1e-6 relative), neither bound above the MIP's optimum."""
    mip = checked(problem, solve_patient_mip(problem, time_limit=30))
    exact = checked(problem, solve_exact(problem, time_limit=30))
    assert mip.status is PlanStatus.OPTIMAL
    assert exact.status is PlanStatus.OPTIMAL
    tolerance = 1e-6 * max(1.0, abs(mip.objective))
    assert abs(exact.objective - mip.objective) <= tolerance
    assert exact.bound <= mip.objective + tolerance
    assert mip.bound <= mip.objective + tolerance
    return exact, mip


def test_a_quota_ending_on_day_2_leaves_the_later_days_free() -> None:
    problem = renewal(UNTIL_DAY_2)
    for plan in exact_and_mip(problem):
        placed = placement(plan)
        assert len(placed) == 6
        assert sum(day <= 2 for _, day in placed.values()) <= 2
    # held on every day, the same room leaves four out
    every_day = renewal(EVERY_DAY)
    for plan in exact_and_mip(every_day):
        assert len(placement(plan)) == 2
        assert len(plan.unplaced) == 4


def test_waiting_past_the_quota_s_days_beats_a_far_facility() -> None:
    # the quota's price is positive and the cheapest column of the four beyond its room is at
    # PARTNER on day 3, outside its days: priced with the quota there, HOME would look cheaper
    problem = renewal(UNTIL_DAY_2, home=True)
    for plan in exact_and_mip(problem):
        placed = placement(plan)
        assert Counter(f for f, _ in placed.values()) == {"PARTNER": 6}
        assert sorted(day for _, day in placed.values()) == [0, 0, 3, 3, 3, 3]


def test_the_lagrangian_adds_a_quota_s_price_on_its_days_only() -> None:
    problem = renewal(UNTIL_DAY_2, home=True)
    view = ProblemView(problem)
    units, hopeless = _build_units(problem, view)
    assert hopeless == []
    assert units.count == [6]
    optimum = solve_patient_mip(problem, time_limit=30).objective
    rho = np.zeros(view.beds.shape)
    mu = np.zeros((view.n_facilities, view.horizon))
    partner = problem.facility_index["PARTNER"]
    gs = problem.weights.group_split
    for price in (0.0, 1.0, 2.9, 3.5, 5.0, 50.0):
        pricing = _price(view, units, rho, mu, gs, kappa=np.array([price]))
        # a bound at any price: the quota's price on days 3-4 too had made it 6 x price - 2 x
        # price above the plans' costs
        assert pricing.lagrangian <= optimum + 1e-9, price
        if price > 3.5:  # waiting to day 3 costs 3: cheaper than the quota's price
            assert (pricing.choice_facility[0], pricing.choice_day[0]) == (partner, 3)
    # at the quota's price of 3 (waiting's), the bound meets the optimum: 6 x 3.11 - 2 x 3
    at_three = _price(view, units, rho, mu, gs, kappa=np.array([3.0])).lagrangian
    assert abs(at_three - optimum) <= 1e-6 * optimum


def test_the_rounding_keeps_to_a_quota_on_its_days_only() -> None:
    problem = renewal(UNTIL_DAY_2, home=True)
    view = ProblemView(problem)
    units, _ = _build_units(problem, view)
    partner = problem.facility_index["PARTNER"]
    # the LP's columns: 2.5 at PARTNER on day 0 (rounded up, beyond the room: not taken), 1.5
    # on day 3 (not counted against the quota: rounded up), the last at their cheapest free
    # place, PARTNER on day 3 (HOME on day 0 where the quota closed PARTNER on every day)
    cols = (np.zeros(2, dtype=np.int64), np.full(2, partner), np.array([0, 3]))
    placed = _round_and_repair(problem, view, units, cols, np.array([2.5, 1.5]))
    assert Counter(placed.values()) == {("PARTNER", 0): 2, ("PARTNER", 3): 4}
    nothing = np.zeros(0, dtype=np.int64)
    placed = _round_and_repair(problem, view, units, (nothing, nothing, nothing), np.zeros(0))
    assert Counter(placed.values()) == {("PARTNER", 0): 2, ("PARTNER", 3): 4}

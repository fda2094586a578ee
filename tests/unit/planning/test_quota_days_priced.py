"""Quotas that hold on some days only (`Quota.days`) priced in the Lagrangian engine of large
problems: a quota's price is added to a column (unit, facility, admission day) exactly when the
column counts against the quota (its patients, one of its facilities, one of its days), its
gradient is the placements on its days at its facilities less its room, and the Lagrangian
stays a lower bound at any non-negative prices."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from medevac.planning import (
    PlanStatus,
    Problem,
    solve_patient_mip,
)
from medevac.planning.compact import Compact, build_compact
from medevac.planning.lagrangian import _Dual, lagrangian_bound, solve_lagrangian
from medevac.planning.model import ProblemView, quota_counts
from tests.unit.planning.builders import (
    check_placement,
    partner_quota,
    random_problems,
    random_quota_problem,
    renewal_problem,
)

FIRST_DAYS = frozenset({0, 1, 2})
ROOM = 2


def renewal_with_home(days: frozenset[int] | None = FIRST_DAYS) -> Problem:
    """Six routine patients of ORG-A, PARTNER near them with beds for all under a quota of room
    2 that holds on ``days``, and HOME far away with beds for all and no quota; one-day
    stays, horizon 6."""
    return renewal_problem(home=(53.0, 33.0), horizon_days=6, quota=partner_quota(ROOM, days))


def hand_lagrangian(c: Compact, partner: int, days: frozenset[int], kappa: float) -> float:
    """The Lagrangian at zero bed and admission prices and quota price ``kappa``, column by
    column: each unit's cheapest column (kappa added at PARTNER on ``days`` only) or its
    unplaced cost, times its patients, less kappa times the room."""
    total = 0.0
    for u in range(c.n_units):
        best = float(c.unit_unplaced[u])
        for f in c.places(u):
            for d in range(c.horizon):
                if d > c.last_day(u, int(f)):
                    continue
                one = np.array([u])
                cost = float(c.column_costs(one, np.array([f]), np.array([d]))[0])
                if not np.isfinite(cost):
                    continue
                if f == partner and d in days:
                    cost += kappa
                best = min(best, cost)
        total += float(c.unit_count[u]) * best
    return total - kappa * ROOM


def exact_placements_on_days(c: Compact, partner: int, days: frozenset[int], kappa: float) -> float:
    """Patients whose unique cheapest column (as in `hand_lagrangian`) is at PARTNER on
    ``days``."""
    under = 0.0
    for u in range(c.n_units):
        columns = []
        for f in c.places(u):
            for d in range(c.horizon):
                if d > c.last_day(u, int(f)):
                    continue
                cost = float(c.column_costs(np.array([u]), np.array([f]), np.array([d]))[0])
                if not np.isfinite(cost):
                    continue
                priced = f == partner and d in days
                columns.append((cost + (kappa if priced else 0.0), priced))
        columns.sort()
        assert columns[0][0] < columns[1][0] - 0.5  # a clear choice: tau 0.01 is exact
        assert columns[0][0] < c.unit_unplaced[u]
        under += float(c.unit_count[u]) * columns[0][1]
    return under


@pytest.mark.parametrize("kappa", [0.5, 1.5, 5.0, 40.0])
def test_a_quota_of_some_days_is_priced_on_its_days_only(kappa: float) -> None:
    problem = renewal_with_home()
    view = ProblemView(problem)
    c = build_compact(view)
    partner = problem.facility_index["PARTNER"]
    zero = (np.zeros(view.beds.shape), np.zeros((view.n_facilities, view.horizon)))
    expected = hand_lagrangian(c, partner, FIRST_DAYS, kappa)
    # the price counts: the value is not that of the problem without the quota
    assert expected != pytest.approx(hand_lagrangian(c, partner, FIRST_DAYS, 0.0))
    assert lagrangian_bound(problem, view, c, zero, np.array([kappa])) == pytest.approx(expected)
    dual = _Dual(c, 0.0)
    x = dual.pack(*zero, np.array([kappa]))
    value, gradient, exact = dual.evaluate(x, 0.01)
    assert exact == pytest.approx(expected)
    assert value == pytest.approx(expected, abs=1e-6)
    on_days = exact_placements_on_days(c, partner, FIRST_DAYS, kappa)
    assert gradient[dual.quota_start :].tolist() == pytest.approx([on_days - ROOM], abs=1e-6)


def test_a_quota_of_every_day_is_priced_on_every_day() -> None:
    problem = renewal_with_home(days=None)
    view = ProblemView(problem)
    c = build_compact(view)
    partner = problem.facility_index["PARTNER"]
    zero = (np.zeros(view.beds.shape), np.zeros((view.n_facilities, view.horizon)))
    every = frozenset(range(view.horizon))
    for kappa in (1.5, 5.0):
        expected = hand_lagrangian(c, partner, every, kappa)
        assert lagrangian_bound(problem, view, c, zero, np.array([kappa])) == pytest.approx(
            expected
        )


def test_the_ascent_raises_the_bound_of_a_quota_of_some_days() -> None:
    """At the price that makes the days after the quota's as cheap as its days, the bound is
    above the bound without the quota (the old, unpriced Lagrangian's best)."""
    problem = renewal_with_home()
    view = ProblemView(problem)
    c = build_compact(view)
    zero = (np.zeros(view.beds.shape), np.zeros((view.n_facilities, view.horizon)))
    without = lagrangian_bound(problem, view, c, zero, np.array([0.0]))
    priced = max(lagrangian_bound(problem, view, c, zero, np.array([k])) for k in (1.0, 2.0, 3.0))
    assert priced > without + 1.0
    result = solve_lagrangian(problem, view, time.perf_counter() + 2.0, lambda _: None, c)
    assert result.bound > without + 1.0
    assert result.bound <= result.objective + 1e-6 * max(1.0, result.objective)


def _random_prices(
    rng: random.Random, view: ProblemView
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    nprng = np.random.default_rng(rng.randrange(1 << 30))
    scale = rng.choice([0.0, 1.0, 30.0, 300.0])
    beds = nprng.uniform(0.0, scale, size=view.beds.shape) * (nprng.random(view.beds.shape) < 0.5)
    admissions = nprng.uniform(0.0, scale, size=(view.n_facilities, view.horizon))
    quotas = nprng.uniform(0.0, rng.choice([1.0, 30.0, 300.0, 3000.0]), size=view.n_quotas)
    return (beds, admissions), quotas


@random_problems(30)
def test_the_lagrangian_with_quotas_of_some_days_priced_is_a_bound(
    rng: random.Random, n_patients: int, n_facilities: int
) -> None:
    """At random non-negative prices (quotas of some days included) the Lagrangian, and the
    engine's bound, are at most the per-patient MIP's optimum; the engine's plan keeps to the
    quotas counted on their days."""
    problem = random_quota_problem(rng, n_patients, n_facilities, days=True)
    view = ProblemView(problem)
    compact = build_compact(view)
    optimum = solve_patient_mip(problem, time_limit=30)
    assert optimum.status is PlanStatus.OPTIMAL
    tolerance = 1e-6 * max(1.0, abs(optimum.objective))
    for _ in range(3):
        prices, quota_prices = _random_prices(rng, view)
        bound = lagrangian_bound(problem, view, compact, prices, quota_prices)
        assert bound <= optimum.objective + tolerance
    result = solve_lagrangian(
        problem, view, time.perf_counter() + 1.0, lambda _: None, compact, prices, quota_prices
    )
    assert result.bound <= optimum.objective + tolerance
    assert optimum.objective <= result.objective + tolerance
    assert (quota_counts(view, result.facility, result.day) <= view.quota_room).all()
    placed = {
        problem.patients[i].id: (problem.facilities[int(result.facility[i])].id, int(result.day[i]))
        for i in np.flatnonzero(result.facility >= 0)
    }
    report = check_placement(problem, view, placed)
    assert report.feasible, report.violations

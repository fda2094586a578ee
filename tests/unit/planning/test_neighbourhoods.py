"""Neighbourhood search: candidate columns, and MIP re-placement that never loses feasibility."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any
from unittest.mock import patch

import numpy as np
from hypothesis import strategies as st

from medevac.planning import kernels, neighbourhoods, parse_problem
from medevac.planning.compact import Compact, build_compact
from medevac.planning.lagrangian import _Dual, _Plans
from medevac.planning.model import ProblemView
from medevac.planning.problem import Problem
from tests.unit.planning.builders import (
    SEEDS,
    check_placement,
    facility,
    patient,
    problem_dict,
    random_problem,
    random_problems,
)


def _setup(problem: Problem) -> tuple[ProblemView, Compact, _Plans, neighbourhoods.Slots]:
    view = ProblemView(problem)
    compact = build_compact(view)
    plans = _Plans(problem, compact)
    slot_f, slot_a = plans.build(None, None, 0.0, time.perf_counter() + 60)
    slots = neighbourhoods.Slots(plans.slot_unit, slot_f, slot_a, plans.slot_group)
    return view, compact, plans, slots


def _random_prices(c: Compact, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_fac, n_spec, horizon = c.beds.shape
    rho = rng.exponential(3.0, (n_fac, n_spec, horizon)) * (
        rng.random((n_fac, n_spec, horizon)) < 0.5
    )
    cum = np.zeros((n_fac, n_spec, horizon + 1))
    np.cumsum(rho, axis=2, out=cum[:, :, 1:])
    mu = rng.exponential(2.0, (n_fac, horizon)) * (rng.random((n_fac, horizon)) < 0.3)
    return cum, mu


@random_problems(30, per_unit=st.integers(1, 6), seed=SEEDS)
def test_candidate_columns_are_the_cheapest_by_priced_cost_overall_and_per_day(
    rng: random.Random, n_patients: int, n_facilities: int, per_unit: int, seed: int
) -> None:
    problem = random_problem(rng, n_patients, n_facilities)
    _, c, _, _ = _setup(problem)
    cum, mu = _random_prices(c, seed)
    units = np.arange(c.n_units, dtype=np.int64)
    every_day = np.random.default_rng(seed).random(c.n_units) < 0.5
    cu, cf, ca = kernels.cheapest_columns(units, per_unit, every_day, cum, mu, c.kernel_problem())
    horizon = c.horizon

    def true_cost(u: int, f: int, a: int) -> float:
        moved = 0 <= c.unit_current[u] != f
        return float(
            c.travel[c.unit_origin[u], f] + c.day_cost[c.unit_day_cost[u], a] + c.change * moved
        )

    def priced_cost(u: int, f: int, a: int) -> float:
        s, end = c.unit_specialty[u], min(a + c.unit_stay[u], horizon)
        return true_cost(u, f, a) + float(cum[f, s, end] - cum[f, s, a] + mu[f, a])

    for u in units:
        profile = c.profile_facility[
            c.profile_start[c.unit_profile[u]] : c.profile_start[c.unit_profile[u] + 1]
        ]
        options = [
            (priced_cost(u, f, a), a)
            for f in profile
            for a in range(c.unit_first[u], horizon)
            if true_cost(u, f, a) < c.unit_unplaced[u]
        ]
        got = [(priced_cost(u, cf[j], ca[j]), ca[j]) for j in np.flatnonzero(cu == u)]
        got_values = np.array([value for value, _ in got])
        # the per_unit cheapest overall ...
        for value, _ in sorted(options)[:per_unit]:
            assert np.isclose(got_values, value).any()
        # ... and, where asked for, the cheapest of every admission day
        for day in {a for _, a in options} if every_day[u] else ():
            cheapest = min(value for value, a in options if a == day)
            assert any(np.isclose(value, cheapest) and a == day for value, a in got)
        assert len(got) <= per_unit + (horizon if every_day[u] else 0)


def _repair(c: Compact, plans: _Plans) -> neighbourhoods.Repair:
    return neighbourhoods.Repair(plans.groups, plans.true_costs(_Dual(c, 0.0)))


def _searched(
    problem: Problem, seed: int, say: Callable[[str], None], rounded: bool = False
) -> Compact:
    """Run the neighbourhood search from the regulator's plan under random prices (with a
    first sweep of rounded LPs when ``rounded``); check that the reported gain is the
    objective's fall and that the plan stays feasible."""
    view, c, plans, slots = _setup(problem)
    cum, mu = _random_prices(c, seed)
    before = neighbourhoods.slot_objective(c, slots)
    excess = np.random.default_rng(seed).random(c.n_units)
    repair = _repair(c, plans) if rounded else None
    gain = neighbourhoods.improve(
        c, slots, c.kernel_problem(), cum, mu, excess, time.perf_counter() + 60, say, repair
    )
    after = neighbourhoods.slot_objective(c, slots)
    assert gain >= 0.0
    assert abs((before - after) - gain) <= 1e-6 * max(1.0, before)
    report = check_placement(problem, view, plans.placement(slots.facility, slots.day))
    assert report.feasible, report.violations
    hopeless = sum(view.unplaced_cost(problem.patients[int(i)]) for i in c.hopeless)
    assert abs(report.objective - (after + hopeless)) <= 1e-6 * max(1.0, report.objective)
    return c


@random_problems(30, 16, seed=SEEDS)
def test_neighbourhood_search_keeps_plans_feasible_and_never_worse(
    rng: random.Random, n_patients: int, n_facilities: int, seed: int
) -> None:
    _searched(random_problem(rng, n_patients, n_facilities), seed, lambda _: None)


@random_problems(30, 16, seed=SEEDS)
def test_rounded_lp_neighbourhoods_keep_plans_feasible_and_never_worse(
    rng: random.Random, n_patients: int, n_facilities: int, seed: int
) -> None:
    said: list[str] = []
    c = _searched(random_problem(rng, n_patients, n_facilities), seed, said.append, rounded=True)
    if c.n_units:  # the first sweep solved LPs, the ones after it MIPs
        kinds = [message.split("(")[1].split(")")[0] for message in said if "(" in message]
        assert kinds[0] == "LP"
        assert "MIP" in kinds
        assert kinds == sorted(kinds)  # "LP" < "MIP": no LP after the first MIP


def _child_and_adult() -> Problem:

    # one orthopaedic bed at each facility; only the near one has paediatric equipment. The
    # regulator's rule puts the adult (first in the file) in the near bed and leaves the child
    # out; re-placing the specialty moves the adult to the far bed and admits the child.
    facilities = [
        facility("NEAR", 50.0, 30.5, capabilities=["paediatric"], beds={"orthopaedics": 1}),
        facility("FAR", 52.0, 20.0, beds={"orthopaedics": 1}),
    ]
    patients = [
        patient("ADULT", length_of_stay_days=5),
        patient("CHILD", needs=["paediatric"], length_of_stay_days=5),
    ]
    return parse_problem(problem_dict(facilities, patients))


def test_neighbourhood_search_moves_a_patient_to_make_room_for_an_unplaced_one() -> None:
    problem = _child_and_adult()
    _, c, plans, slots = _setup(problem)
    assert plans.placement(slots.facility, slots.day) == {"ADULT": ("NEAR", 0)}
    n_fac, n_spec, horizon = c.beds.shape
    gain = neighbourhoods.improve(
        c, slots, c.kernel_problem(), np.zeros((n_fac, n_spec, horizon + 1)),
        np.zeros((n_fac, horizon)), np.zeros(c.n_units), time.perf_counter() + 60,
        lambda _: None,
    )  # fmt: skip
    assert gain > 900  # the child's unplaced cost less the adult's longer journey
    assert plans.placement(slots.facility, slots.day) == {
        "ADULT": ("FAR", 0),
        "CHILD": ("NEAR", 0),
    }


@random_problems(20, 16, seed=SEEDS)
def test_slices_too_large_for_their_mip_are_cut_smaller(
    rng: random.Random, n_patients: int, n_facilities: int, seed: int
) -> None:
    # With a row cap of one row, the first slice whose model has more rows makes the search cut
    # the slices down to single units and say so; it must end and still keep the plan feasible
    # and never worse. (A slice of several units can have a single row: two units whose only
    # columns are one day's bed, say, as a random problem of 2026-12-05 had.)
    solved: list[tuple[int, int]] = []  # units and rows of each slice solved
    solve_one = neighbourhoods._solve_one

    def counting(*args: Any) -> tuple[float, int]:
        gain, rows = solve_one(*args)
        solved.append((len(args[2]), rows))
        return gain, rows

    said: list[str] = []
    with (
        patch.object(neighbourhoods, "_solve_one", counting),
        patch.object(neighbourhoods, "MAX_ROWS", 1),
        patch.object(neighbourhoods, "MIN_UNITS", 1),
    ):
        c = _searched(random_problem(rng, n_patients, n_facilities), seed, said.append)
    too_large = any(rows > 1 for _, rows in solved)
    assert any("slices of" in message for message in said) == too_large
    if too_large:
        # the slices went down to one unit each, with the members of its groups
        biggest_group = max(np.diff(c.group_start), default=0)
        assert min(units for units, _ in solved) <= 1 + biggest_group


def test_a_rounded_lp_also_moves_a_patient_to_make_room_for_an_unplaced_one() -> None:
    problem = _child_and_adult()
    _, c, plans, slots = _setup(problem)
    n_fac, n_spec, horizon = c.beds.shape
    gain, _ = neighbourhoods._solve_one(
        c, slots, np.arange(c.n_units, dtype=np.int64), c.kernel_problem(),
        np.zeros((n_fac, n_spec, horizon + 1)), np.zeros((n_fac, horizon)),
        time.perf_counter() + 60, _repair(c, plans),
    )  # fmt: skip
    assert gain > 900
    assert plans.placement(slots.facility, slots.day) == {
        "ADULT": ("FAR", 0),
        "CHILD": ("NEAR", 0),
    }


def test_a_neighbourhood_whose_solver_does_not_answer_is_stopped_at_the_deadline() -> None:
    # the worker solving the slice holds its answer back: it is stopped at the search's
    # deadline, and the plan is kept as it was (a MIP keeps the plan it was started from)
    problem = _child_and_adult()
    view, c, plans, slots = _setup(problem)
    n_fac, n_spec, horizon = c.beds.shape
    solve_mip = neighbourhoods.solve_mip
    outcomes: list[Any] = []

    def held(*args: Any, **kwargs: Any) -> Any:
        outcome = solve_mip(*args, **{**kwargs, "hold": 60.0})
        outcomes.append(outcome)
        return outcome

    for repair in (_repair(c, plans), None):
        before = plans.placement(slots.facility, slots.day)
        started = time.perf_counter()
        with patch.object(neighbourhoods, "solve_mip", held):
            gain, _ = neighbourhoods._solve_one(
                c, slots, np.arange(c.n_units, dtype=np.int64), c.kernel_problem(),
                np.zeros((n_fac, n_spec, horizon + 1)), np.zeros((n_fac, horizon)),
                started + 3.0, repair,
            )  # fmt: skip
        assert outcomes[-1].killed
        if repair is not None:  # a stopped LP has no answer: nothing changes
            assert gain == 0.0
            assert plans.placement(slots.facility, slots.day) == before
        else:  # a stopped MIP keeps the plans it reported (at least the one it started from)
            assert outcomes[-1].result.values is not None
            assert gain >= 0.0
        report = check_placement(problem, view, plans.placement(slots.facility, slots.day))
        assert report.feasible


def test_rounding_completes_a_fractional_lp_point_within_capacity() -> None:
    # Three patients of one unit, one bed at the near facility, two at the far one, all on
    # day 0. The LP point 1.5 / 1.5 rounds down to 1 / 1; the near column's fraction comes
    # first but its bed is taken, so the third patient gets the far bed left, and nobody
    # exceeds a bed.
    facilities = [
        facility("NEAR", 50.0, 30.5, beds={"orthopaedics": [1, 0, 0, 0, 0, 0, 0]}),
        facility("FAR", 52.0, 20.0, beds={"orthopaedics": [2, 0, 0, 0, 0, 0, 0]}),
    ]
    patients = [patient(f"P{k}", length_of_stay_days=1) for k in range(3)]
    problem = parse_problem(problem_dict(facilities, patients, horizon_days=7))
    _, c, plans, slots = _setup(problem)
    assert c.n_units == 1
    slots.facility[:] = -1
    near, far = 0, 1
    trial = neighbourhoods.Slots(slots.unit, slots.facility.copy(), slots.day.copy(), slots.group)
    trial.facility[[0, 1]] = [near, far]
    trial.day[[0, 1]] = 0
    columns = (
        np.array([0, 0]), np.array([near, far]), np.array([0, 0]), np.array([0.5, 0.5])
    )  # fmt: skip
    neighbourhoods._rounded(
        c, trial, np.arange(3, dtype=np.int64), columns, c.kernel_problem(), _repair(c, plans)
    )
    assert sorted(trial.facility.tolist()) == [near, far, far]
    assert trial.day.tolist() == [0, 0, 0]


def test_round_up_follows_the_fractions_largest_first_while_beds_and_admissions_allow() -> None:
    # One facility with one bed a day for specialty 0, admission limit 1 a day; two units of
    # one patient each with stays of 2 days. Column order by fraction: unit 0 day 0, unit 1
    # day 1 (overlaps day 1: no bed), unit 1 day 2.
    beds = np.ones((1, 1, 4), dtype=np.int64)
    used = np.zeros_like(beds)
    admitted = np.zeros((1, 4), dtype=np.int64)
    capacity = kernels.capacity_of(
        used, beds, admitted, np.ones((1, 4), dtype=np.int64), kernels.no_rooms()
    )
    column_unit, column_a = np.array([0, 1, 1]), np.array([0, 1, 2])
    column_f = np.zeros(3, dtype=np.int64)
    slot_f = np.full(2, -1, dtype=np.int64)
    slot_a = np.zeros(2, dtype=np.int64)
    kernels.round_up(
        np.array([0, 1, 2]), column_unit, column_f, column_a, np.array([0, 1]), np.array([0, 1, 2]),
        slot_f, slot_a, np.zeros(2, np.int64), np.array([2, 2]), capacity,
    )  # fmt: skip
    assert slot_f.tolist() == [0, 0]
    assert slot_a.tolist() == [0, 2]
    assert used[0, 0].tolist() == [1, 1, 1, 1]
    assert admitted[0].tolist() == [1, 0, 1, 0]

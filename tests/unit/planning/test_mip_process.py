"""MIPs in the worker process: the same answers as HiGHS in process, and a worker that does not
answer in time is stopped with what it reported kept."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from medevac.planning import (
    Engine,
    PlanStatus,
    check_plan,
    exact,
    mip_process,
    parse_problem,
    solve,
)
from medevac.planning.highs_model import LinearModel, MipModel
from medevac.planning.mip_process import solve_mip
from tests.unit.planning.builders import random_problem_dict


def assignment_model(seed: int, n_items: int = 24, n_bins: int = 4) -> LinearModel:
    """A small generalised assignment problem: items to bins of limited capacity, each item
    either placed (cost of its bin) or left out (a penalty); HiGHS cannot presolve it away."""
    rng = np.random.default_rng(seed)
    model = LinearModel()
    cost = rng.uniform(1.0, 10.0, (n_items, n_bins))
    size = rng.integers(2, 9, (n_items, n_bins)).astype(float)
    # every item left out costs 15: placing one saves 15 - its cost
    x = model.add_columns(cost.ravel() - 15.0, 0.0, 1.0, True)
    model.offset = 15.0 * n_items
    items = model.add_rows(np.full(n_items, -np.inf), 1.0)
    model.add_entries(np.repeat(items, n_bins), x, 1.0)
    bins = model.add_rows(np.full(n_bins, -np.inf), np.full(n_bins, 0.4 * size.sum() / n_bins))
    model.add_entries(np.tile(bins, n_items), x, size.ravel())
    return model


@pytest.mark.parametrize("seed", range(4))
def test_the_worker_finds_what_highs_finds_in_process(seed: int) -> None:
    model = assignment_model(seed)
    in_process = model.solve(integer=True, time_limit=30)
    outcome = solve_mip(model.arrays(integer=True), time_limit=30, kill_at=time.perf_counter() + 60)
    assert not outcome.killed
    assert outcome.result.optimal
    assert in_process.optimal
    assert outcome.result.objective == pytest.approx(in_process.objective, rel=1e-9)
    assert outcome.result.dual_bound <= outcome.result.objective + 1e-6
    values = outcome.result.values
    assert values is not None
    assert np.allclose(values, np.round(values))


def test_a_model_read_back_from_highs_keeps_its_columns_rows_and_integrality() -> None:
    model = assignment_model(7)
    read = MipModel.of(model.to_highs(integer=True, time_limit=1))
    assert len(read.cost) == model.n_cols
    assert len(read.row_lower) == model.n_rows
    assert read.integer.all()
    assert read.offset == model.offset
    assert read.start[-1] == len(read.index) == len(read.value)


def test_a_worker_that_does_not_answer_in_time_is_stopped_and_its_last_plan_kept() -> None:
    model = assignment_model(1).arrays(integer=True)
    reference = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60)
    # the worker reports its plans as HiGHS finds them, then holds back its final answer
    # past the point where it is stopped
    outcome = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 3, hold=60)
    assert outcome.killed
    assert not outcome.result.optimal
    assert outcome.result.values is not None
    assert outcome.result.objective == pytest.approx(reference.result.objective, rel=1e-9)
    assert outcome.result.dual_bound <= reference.result.objective + 1e-6
    # the next MIP gets a new worker
    again = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60)
    assert not again.killed
    assert again.result.optimal


def test_a_worker_that_dies_leaves_the_plans_it_reported() -> None:
    model = assignment_model(3).arrays(integer=True)
    reference = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60)
    worker = mip_process._idle[mip_process.MIP_THREADS][-1]  # the next MIP's
    threading.Timer(2.0, worker.process.kill).start()
    outcome = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60, hold=60)
    assert outcome.killed
    assert outcome.result.objective == pytest.approx(reference.result.objective, rel=1e-9)


def test_the_exact_engine_keeps_a_valid_plan_and_bound_when_its_mip_is_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopped = []

    def held(model: MipModel, **kwargs: float) -> mip_process.MipOutcome:
        outcome = solve_mip(model, **{**kwargs, "hold": 60.0})
        stopped.append(outcome.killed)
        return outcome

    monkeypatch.setattr(exact, "solve_mip", held)
    problem = parse_problem(random_problem_dict(11, 40, 6))
    messages: list[str] = []
    plan = solve(problem, Engine.EXACT, 6, progress=messages.append)
    report = check_plan(problem, plan)
    assert report.feasible
    assert report.objective_matches(plan.objective)
    assert stopped
    assert all(stopped)
    assert any("stopped from outside" in m for m in messages)
    optimum = solve(problem, Engine.MIP, 60).objective
    assert plan.bound <= optimum + 1e-6 * max(1.0, optimum)
    assert plan.status is PlanStatus.FEASIBLE or plan.objective == pytest.approx(optimum)


def test_without_a_worker_process_the_mip_runs_in_this_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = assignment_model(4)
    in_process = model.solve(integer=True, time_limit=30)
    mip_process._shutdown()
    monkeypatch.setattr(mip_process.sys, "executable", "/nonexistent/python")
    outcome = solve_mip(model.arrays(integer=True), time_limit=30, kill_at=time.perf_counter() + 60)
    assert "no MIP worker process" in outcome.note
    assert outcome.result.optimal
    assert outcome.result.objective == pytest.approx(in_process.objective, rel=1e-9)


def test_a_fault_in_the_worker_is_reported_not_taken_for_a_time_out() -> None:
    broken = assignment_model(5).arrays(integer=True)
    broken = dataclasses.replace(broken, index=broken.index + 10_000)  # rows that do not exist
    with pytest.raises(RuntimeError, match="MIP worker process failed"):
        solve_mip(broken, time_limit=30, kill_at=time.perf_counter() + 60)
    again = solve_mip(
        assignment_model(5).arrays(integer=True), time_limit=30, kill_at=time.perf_counter() + 60
    )
    assert again.result.optimal


def test_workers_of_each_thread_count_run_side_by_side() -> None:
    model = assignment_model(2).arrays(integer=True)
    one = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60, threads=1)
    two = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60, threads=2)
    assert one.result.objective == pytest.approx(two.result.objective, rel=1e-9)
    first = mip_process._idle[1][-1]
    assert first.alive()
    assert mip_process._idle[2][-1].alive()
    again = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60, threads=1)
    assert mip_process._idle[1][-1] is first  # kept, not started again
    assert again.result.objective == pytest.approx(one.result.objective, rel=1e-9)


def test_mips_solved_side_by_side_do_not_wait_for_each_other() -> None:
    # a server solving two problems at once: the second MIP must not queue behind the first,
    # which would carry it past its time limit
    model = assignment_model(9).arrays(integer=True)
    first: list[mip_process.MipOutcome] = []
    held = threading.Thread(
        target=lambda: first.append(
            solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60, hold=8)
        )
    )
    held.start()
    try:
        while not mip_process._busy:  # the first MIP has its worker
            time.sleep(0.01)
        second = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60)
        assert held.is_alive()  # the second answered while the first was still held
        assert not first
        assert second.result.optimal
    finally:
        held.join()
    assert first[0].result.objective == pytest.approx(second.result.objective, rel=1e-9)
    # both workers are kept for later MIPs, within IDLE_WORKERS
    assert len(mip_process._idle[mip_process.MIP_THREADS]) == 2
    assert not mip_process._busy


def test_a_mip_that_ends_in_an_exception_does_not_leave_its_worker_to_the_next() -> None:
    # the next MIP must not read the reports of a job it did not send
    model = assignment_model(10).arrays(integer=True)
    reference = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60)
    interrupted = threading.Event()

    def interrupt_soon(self: mip_process._Worker, *args: object) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mip_process, "_follow", interrupt_soon)
        with pytest.raises(KeyboardInterrupt):
            solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 60, hold=5)
    assert interrupted.is_set()
    assert not mip_process._busy
    other = assignment_model(11).arrays(integer=True)
    again = solve_mip(other, time_limit=30, kill_at=time.perf_counter() + 60)
    assert again.result.optimal
    alone = solve_mip(other, time_limit=30, kill_at=time.perf_counter() + 60)
    assert again.result.objective == pytest.approx(alone.result.objective, rel=1e-9)
    assert again.result.objective != pytest.approx(reference.result.objective, rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_an_lp_in_the_worker_gives_highs_in_process_values_and_row_duals(seed: int) -> None:
    model = assignment_model(seed)
    in_process = model.solve(integer=False, time_limit=30)
    outcome = solve_mip(
        model.arrays(integer=False), time_limit=30, kill_at=time.perf_counter() + 60, threads=1
    )
    result = outcome.result
    assert result.optimal
    assert in_process.optimal
    assert result.objective == pytest.approx(in_process.objective, rel=1e-9)
    assert result.dual_bound == pytest.approx(result.objective, rel=1e-9)
    assert result.values is not None
    assert in_process.values is not None
    assert result.row_duals is not None
    assert in_process.row_duals is not None
    assert np.allclose(result.row_duals, in_process.row_duals)
    # the relaxation is below the integer optimum
    assert result.objective <= model.solve(integer=True, time_limit=30).objective + 1e-9


def test_a_held_lp_is_stopped_with_no_answer() -> None:
    model = assignment_model(6).arrays(integer=False)
    outcome = solve_mip(model, time_limit=30, kill_at=time.perf_counter() + 2, threads=1, hold=60)
    assert outcome.killed
    assert outcome.result.values is None


def test_the_starting_solution_reaches_highs_in_the_worker() -> None:
    # stopped at once (HiGHS's shortest limit, 0.01 s), this MIP has no plan of its own; given
    # a starting solution it keeps that one
    model = assignment_model(8, n_items=400, n_bins=20).arrays(integer=True)
    at_once = solve_mip(model, time_limit=0.0, kill_at=time.perf_counter() + 60, threads=1)
    assert at_once.result.values is None
    optimum = solve_mip(model, time_limit=60, kill_at=time.perf_counter() + 120, threads=1)
    assert optimum.result.values is not None
    start = np.round(optimum.result.values)
    given = solve_mip(
        model, time_limit=0.0, kill_at=time.perf_counter() + 60, threads=1, start=start
    )
    assert given.result.values is not None
    assert given.result.objective == pytest.approx(optimum.result.objective, rel=1e-9)

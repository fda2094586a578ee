"""Compiling the large-problem engine's kernels ahead of the first solve (make install)."""

from __future__ import annotations

import json

import pytest

from medevac.planning import check_plan, parse_problem, solve_exact, warmup
from medevac.planning.warmup import warm_up_problem
from tests.fresh_python import run_python


def test_warm_up_runs_every_kernel_in_a_fresh_process() -> None:
    # (the exact engine's import would start loading the installed record in a thread)
    code = (
        "import json; from medevac.planning import preload; preload.start = lambda: None; "
        "from medevac.planning import warmup; "
        "before = warmup.uncompiled_kernels(); warmup.compile_kernels(); "
        "print(json.dumps([before, warmup.uncompiled_kernels()]))"
    )
    done = run_python(code)
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    # nothing has run yet in that process
    assert {"price_units", "fill_earliest", "relocate", "cheapest_columns", "greedy_place"} <= set(
        before
    )
    assert after == []


def test_warm_up_problem_is_valid_and_gives_a_checked_plan() -> None:
    problem = parse_problem(warm_up_problem())
    plan = solve_exact(problem, time_limit=10, large_units=0)
    report = check_plan(problem, plan)
    assert report.feasible, report.violations
    assert plan.unplaced  # beds are scarce: the search for places that need several moves runs


def test_warm_up_solves_again_while_a_kernel_is_still_uncompiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # compiling in the first solve can use up its time before a kernel's turn (seen on a fresh
    # machine: the ascent never reached its gradient, so `spread_weights` stayed uncompiled)
    solves: list[float] = []
    left = [["spread_weights"], ["spread_weights"], []]
    monkeypatch.setattr(
        warmup, "solve_exact", lambda problem, **kw: solves.append(kw["time_limit"])
    )
    monkeypatch.setattr(warmup.greedy, "solve_greedy", lambda problem: None)
    monkeypatch.setattr(warmup, "uncompiled_kernels", lambda: left.pop(0))
    warmup.compile_kernels()
    assert len(solves) == 3


def test_warm_up_names_the_kernels_no_solve_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warmup, "solve_exact", lambda problem, **kw: None)
    monkeypatch.setattr(warmup.greedy, "solve_greedy", lambda problem: None)
    monkeypatch.setattr(warmup, "uncompiled_kernels", lambda: ["relocate", "spread_weights"])
    with pytest.raises(RuntimeError, match=r"in 4 solves: relocate, spread_weights"):
        warmup.compile_kernels()

"""numpy's BLAS runs on one thread while the exact engine solves, and as before after it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

from medevac.planning import parse_problem, solve_exact, threads
from tests.unit.planning.builders import facility, patient, problem_dict

NUMPY_BLAS: list[str] = []  # numpy's BLAS libraries, as the fixture found them


def blas_threads() -> list[int]:
    """Threads of numpy's BLAS libraries (numba loads scipy's BLAS too, which no kernel uses)."""
    return [
        pool.num_threads
        for pool in ThreadpoolController().select(user_api="blas").lib_controllers
        if pool.filepath in NUMPY_BLAS
    ]


@pytest.fixture(autouse=True)
def _two_blas_threads() -> Iterator[None]:
    """Two BLAS threads outside the solves, whatever the machine's cores."""
    NUMPY_BLAS[:] = [pool["filepath"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    if not NUMPY_BLAS:
        pytest.fail("numpy has no BLAS that threadpoolctl can see: nothing to limit")
    with threadpool_limits(limits=2, user_api="blas"):
        assert set(blas_threads()) == {2}
        yield


def test_blas_runs_on_one_thread_during_a_solve_and_as_before_after_it() -> None:
    seen: list[list[int]] = []

    @threads.one_blas_thread
    def solve() -> str:
        seen.append(blas_threads())
        return "plan"

    assert solve() == "plan"
    assert set(seen[0]) == {1}
    assert set(blas_threads()) == {2}


def test_the_setting_comes_back_after_a_failing_solve() -> None:
    @threads.one_blas_thread
    def failing() -> None:
        raise ValueError("bad problem")

    with pytest.raises(ValueError, match="bad problem"):
        failing()
    assert set(blas_threads()) == {2}


class _FakeController:
    """Records when the limit is set and given back (OpenBLAS ignores a thread's setting once
    the main thread has made one, so the overlap of two solves is tested on this record)."""

    events: ClassVar[list[str]] = []

    def limit(self, limits: int, user_api: str) -> _FakeController:
        self.events.append(f"limit {user_api} to {limits}")
        return self

    def restore_original_limits(self) -> None:
        self.events.append("restore")


def test_a_solve_that_ends_first_leaves_the_limit_to_one_still_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threads, "ThreadpoolController", _FakeController)
    _FakeController.events = []
    first_inside = threading.Event()
    second_ended = threading.Event()

    @threads.one_blas_thread
    def first() -> None:
        first_inside.set()
        assert second_ended.wait(10)
        _FakeController.events.append("first ends")

    @threads.one_blas_thread
    def second() -> None:
        _FakeController.events.append("second runs")

    runner = threading.Thread(target=first)
    runner.start()
    assert first_inside.wait(10)
    second()
    second_ended.set()
    runner.join(10)
    assert _FakeController.events == [
        "limit blas to 1",
        "second runs",
        "first ends",
        "restore",
    ]


def test_the_exact_engine_solves_with_one_blas_thread() -> None:
    problem = parse_problem(
        problem_dict(
            [facility("F1", 50.5, 30.5, beds={"orthopaedics": 2})],
            [patient("P1"), patient("P2")],
        )
    )
    seen: list[list[int]] = []
    plan = solve_exact(problem, time_limit=5, progress=lambda _: seen.append(blas_threads()))
    assert plan.assignments
    assert seen
    assert all(set(s) == {1} for s in seen)
    assert set(blas_threads()) == {2}

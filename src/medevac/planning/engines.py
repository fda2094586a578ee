"""One entry point for all engines: ``solve(problem, engine=...)``.

The engines are imported when a solve needs them: they bring numba's compiled kernels and
HiGHS, about a third of a second that every other command of the CLI would otherwise pay.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from medevac.planning.plan import Plan
from medevac.planning.problem import Problem

if TYPE_CHECKING:
    from medevac.planning.model import ProgressCallback


class ModelTooLarge(ValueError):
    """An engine's model of this problem would be too large to build: said before building."""


class Engine(StrEnum):
    """Available allocation engines."""

    EXACT = "exact"
    GREEDY = "greedy"
    MIP = "mip"


def prepare(engine: Engine) -> None:
    """Import ``engine`` ahead of its solve and, for the exact engine, start loading its
    compiled kernels in a second thread (preload.py): a command that reads a large problem
    file first lets that loading run beside the reading instead of inside the time limit.
    Importing the engine alone starts nothing."""
    if engine is Engine.EXACT:
        import medevac.planning.exact  # noqa: F401
        from medevac.planning import preload

        preload.start()


def solve(
    problem: Problem,
    engine: Engine = Engine.EXACT,
    time_limit: float = 60.0,
    progress: ProgressCallback | None = None,
) -> Plan:
    """Plan ``problem`` with ``engine`` under ``time_limit`` seconds (greedy ignores the limit)."""
    if engine is Engine.GREEDY:
        from medevac.planning.greedy import solve_greedy

        return solve_greedy(problem, progress)
    if engine is Engine.MIP:
        from medevac.planning.patient_mip import solve_patient_mip

        return solve_patient_mip(problem, time_limit, progress)
    from medevac.planning.exact import solve_exact

    return solve_exact(problem, time_limit, progress)

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


# The longest time limit a solve takes: a day. An infinite limit left the large engine's shares
# of the time undefined (on a 30-patient problem it stopped after 1.1 s with a bound a quarter
# of the plan's), and 1e7 s overflowed the wait for the MIP worker (selectors take at most
# about 24 days).
MAX_TIME_LIMIT = 86_400.0


def checked_time_limit(time_limit: float) -> float:
    """``time_limit`` as seconds, or ValueError unless it is from 0 to MAX_TIME_LIMIT."""
    if not (isinstance(time_limit, int | float) and 0.0 <= time_limit <= MAX_TIME_LIMIT):
        raise ValueError(
            f"time_limit must be a number of seconds from 0 to {MAX_TIME_LIMIT:g} (a day), "
            f"got {time_limit!r}"
        )
    return float(time_limit)


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
    """Plan ``problem`` with ``engine`` under ``time_limit`` seconds (greedy ignores the limit);
    ``engine`` may be given by its name ("greedy"); an unknown one is a ValueError."""
    engine = Engine(engine)
    if engine is Engine.GREEDY:
        from medevac.planning.greedy import solve_greedy

        return solve_greedy(problem, progress)
    if engine is Engine.MIP:
        from medevac.planning.patient_mip import solve_patient_mip

        return solve_patient_mip(problem, time_limit, progress)
    from medevac.planning.exact import solve_exact

    return solve_exact(problem, time_limit, progress)

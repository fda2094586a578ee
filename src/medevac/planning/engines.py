"""One entry point for all engines: ``solve(problem, engine=...)``."""

from __future__ import annotations

from enum import StrEnum

from medevac.planning.exact import solve_exact
from medevac.planning.greedy import solve_greedy
from medevac.planning.model import ProgressCallback
from medevac.planning.patient_mip import solve_patient_mip
from medevac.planning.plan import Plan
from medevac.planning.problem import Problem


class Engine(StrEnum):
    """Available allocation engines."""

    EXACT = "exact"
    GREEDY = "greedy"
    MIP = "mip"


def solve(
    problem: Problem,
    engine: Engine = Engine.EXACT,
    time_limit: float = 60.0,
    progress: ProgressCallback | None = None,
) -> Plan:
    """Plan ``problem`` with ``engine`` under ``time_limit`` seconds (greedy ignores the limit)."""
    if engine is Engine.GREEDY:
        return solve_greedy(problem, progress)
    if engine is Engine.MIP:
        return solve_patient_mip(problem, time_limit, progress)
    return solve_exact(problem, time_limit, progress)

"""Regulating engine: assign patients to facilities and admission days, prove and explain it.

Pure code: plain data in (``Problem``), plain data out (``Plan``). See docs/planning.md.

The engines themselves (``solve_exact``, ``solve_greedy``, ``solve_patient_mip``) are loaded
on first use, with numba's kernels and HiGHS; ``solve`` loads the one it runs. ``prepare``
loads one ahead and, for the exact engine, starts loading its compiled kernels in a second
thread: called before a large problem is read, that loading stays out of the time limit.
"""

import importlib
from typing import TYPE_CHECKING, Any

from medevac.planning.changes import (
    Change,
    ChangeKind,
    PlanChanges,
    changes_against,
    plan_changes,
)
from medevac.planning.checker import CheckReport, check_plan
from medevac.planning.engines import Engine, ModelTooLarge, prepare, solve
from medevac.planning.explain import (
    Alternative,
    Blocker,
    CheaperElsewhere,
    Explanation,
    PlanMismatch,
    RuledOut,
    explain,
    plan_mismatch,
)
from medevac.planning.loader import ProblemError, load_problem, parse_problem, problem_to_dict
from medevac.planning.plan import (
    Assignment,
    Breakdown,
    Plan,
    PlanFormatError,
    PlanStatus,
    Unplaced,
    UnplacedReason,
    document_text,
    load_plan,
    plan_from_dict,
    plan_to_dict,
    refused_plan,
    write_plan,
)
from medevac.planning.problem import (
    CurrentPlacement,
    Facility,
    Patient,
    PrecedenceRule,
    Problem,
    Quota,
    Weights,
    with_acceptance_ends,
    with_admissions_taken,
    with_quotas,
)

if TYPE_CHECKING:
    from medevac.planning.exact import solve_exact
    from medevac.planning.greedy import solve_greedy
    from medevac.planning.patient_mip import solve_patient_mip

_ENGINES = {
    "solve_exact": "medevac.planning.exact",
    "solve_greedy": "medevac.planning.greedy",
    "solve_patient_mip": "medevac.planning.patient_mip",
}


def __getattr__(name: str) -> Any:
    if name in _ENGINES:
        return getattr(importlib.import_module(_ENGINES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Alternative",
    "Assignment",
    "Blocker",
    "Breakdown",
    "Change",
    "ChangeKind",
    "CheaperElsewhere",
    "CheckReport",
    "CurrentPlacement",
    "Engine",
    "Explanation",
    "Facility",
    "ModelTooLarge",
    "Patient",
    "Plan",
    "PlanChanges",
    "PlanFormatError",
    "PlanMismatch",
    "PlanStatus",
    "PrecedenceRule",
    "Problem",
    "ProblemError",
    "Quota",
    "RuledOut",
    "Unplaced",
    "UnplacedReason",
    "Weights",
    "changes_against",
    "check_plan",
    "document_text",
    "explain",
    "load_plan",
    "load_problem",
    "parse_problem",
    "plan_changes",
    "plan_from_dict",
    "plan_mismatch",
    "plan_to_dict",
    "prepare",
    "problem_to_dict",
    "refused_plan",
    "solve",
    "solve_exact",
    "solve_greedy",
    "solve_patient_mip",
    "with_acceptance_ends",
    "with_admissions_taken",
    "with_quotas",
    "write_plan",
]

"""A thin builder for HiGHS models from coordinate triplets, with solve results as plain arrays."""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt

from medevac.highs import new_highs

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Values = FloatArray | float

_VERSION = (highspy.HIGHS_VERSION_MAJOR, highspy.HIGHS_VERSION_MINOR, highspy.HIGHS_VERSION_PATCH)
SOLVER_NAME = "HiGHS " + ".".join(str(v) for v in _VERSION)


@dataclass(frozen=True, slots=True)
class SolveResult:
    """Outcome of one HiGHS run; ``values`` is None when no feasible point was found."""

    optimal: bool
    values: FloatArray | None
    objective: float
    dual_bound: float
    row_duals: FloatArray | None


class LinearModel:
    """Columns and rows accumulated as arrays, passed to HiGHS in one call."""

    def __init__(self) -> None:
        self._cost: list[FloatArray] = []
        self._lower: list[FloatArray] = []
        self._upper: list[FloatArray] = []
        self._integer: list[npt.NDArray[np.bool_]] = []
        self._row_lower: list[FloatArray] = []
        self._row_upper: list[FloatArray] = []
        self._rows: list[IntArray] = []
        self._cols: list[IntArray] = []
        self._vals: list[FloatArray] = []
        self.n_cols = 0
        self.n_rows = 0
        self.offset = 0.0

    def add_columns(
        self, cost: FloatArray, lower: Values, upper: Values, integer: bool
    ) -> IntArray:
        """Append columns; return their indices."""
        n = len(cost)
        self._cost.append(np.asarray(cost, dtype=float))
        self._lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (n,)).copy())
        self._upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy())
        self._integer.append(np.full(n, integer))
        first = self.n_cols
        self.n_cols += n
        return np.arange(first, self.n_cols, dtype=np.int64)

    def add_rows(self, lower: FloatArray, upper: Values) -> IntArray:
        """Append rows with bounds lower <= a.x <= upper; return their indices."""
        n = len(lower)
        self._row_lower.append(np.asarray(lower, dtype=float))
        self._row_upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (n,)).copy())
        first = self.n_rows
        self.n_rows += n
        return np.arange(first, self.n_rows, dtype=np.int64)

    def add_entries(self, rows: IntArray, cols: IntArray, values: Values) -> None:
        """Add coefficients (row, column, value); repeated pairs are summed."""
        n = len(rows)
        self._rows.append(np.asarray(rows, dtype=np.int64))
        self._cols.append(np.asarray(cols, dtype=np.int64))
        self._vals.append(np.broadcast_to(np.asarray(values, dtype=float), (n,)).copy())

    def to_highs(
        self, *, integer: bool, time_limit: float, mip_rel_gap: float = 1e-9
    ) -> highspy.Highs:
        """A configured HiGHS instance holding this model (for incremental use)."""
        h = configured_highs(time_limit=time_limit, mip_rel_gap=mip_rel_gap)
        lp = highspy.HighsLp()
        lp.num_col_ = self.n_cols
        lp.num_row_ = self.n_rows
        lp.offset_ = self.offset
        lp.col_cost_ = _cat(self._cost)
        lp.col_lower_ = _cat(self._lower)
        lp.col_upper_ = _cat(self._upper)
        lp.row_lower_ = _cat(self._row_lower)
        lp.row_upper_ = _cat(self._row_upper)
        rows = np.concatenate(self._rows) if self._rows else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(self._cols) if self._cols else np.zeros(0, dtype=np.int64)
        vals = _cat(self._vals)
        key = cols * max(1, self.n_rows) + rows
        key, inverse = np.unique(key, return_inverse=True)
        vals = np.bincount(inverse, weights=vals, minlength=len(key)).astype(float)
        cols, rows = np.divmod(key, max(1, self.n_rows))
        starts = np.searchsorted(cols, np.arange(self.n_cols + 1)).astype(np.int32)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = self.n_cols
        lp.a_matrix_.num_row_ = self.n_rows
        lp.a_matrix_.start_ = starts
        lp.a_matrix_.index_ = rows.astype(np.int32)
        lp.a_matrix_.value_ = vals
        if integer:
            kinds = np.concatenate(self._integer) if self._integer else np.zeros(0, dtype=bool)
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if k else highspy.HighsVarType.kContinuous
                for k in kinds
            ]
        h.passModel(lp)
        return h

    def solve(
        self,
        *,
        integer: bool,
        time_limit: float,
        mip_rel_gap: float = 1e-9,
    ) -> SolveResult:
        """Solve the LP (integer=False) or the MIP under a time limit."""
        h = self.to_highs(integer=integer, time_limit=time_limit, mip_rel_gap=mip_rel_gap)
        h.run()
        return read_result(h, integer=integer)


def configured_highs(*, time_limit: float, mip_rel_gap: float = 1e-9) -> highspy.Highs:
    """A silent, single-threaded, seeded HiGHS instance with a time limit (seconds of run time)."""
    h = new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(0.01, float(time_limit)))
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("mip_abs_gap", 1e-7)
    h.setOptionValue("random_seed", 0)
    return h


def read_result(h: highspy.Highs, *, integer: bool) -> SolveResult:
    """Status, values, objective, bound and (for LPs) row duals of the last run of ``h``."""
    status = h.getModelStatus()
    info = h.getInfo()
    optimal = status == highspy.HighsModelStatus.kOptimal
    has_point = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    if not has_point:
        return SolveResult(False, None, float("inf"), float("-inf"), None)
    solution = h.getSolution()
    values = np.asarray(solution.col_value, dtype=float)
    duals = None if integer else np.asarray(solution.row_dual, dtype=float)
    objective = float(info.objective_function_value)
    bound = float(info.mip_dual_bound) if integer else (objective if optimal else -np.inf)
    return SolveResult(optimal, values, objective, bound, duals)


def _cat(parts: list[FloatArray]) -> FloatArray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=float)

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


@dataclass(frozen=True, slots=True)
class MipModel:
    """A MIP as plain arrays (column-wise matrix), picklable for the worker."""

    cost: FloatArray
    lower: FloatArray
    upper: FloatArray
    row_lower: FloatArray
    row_upper: FloatArray
    start: npt.NDArray[np.int32]
    index: npt.NDArray[np.int32]
    value: FloatArray
    integer: npt.NDArray[np.bool_]
    offset: float = 0.0

    @classmethod
    def of(cls, h: highspy.Highs) -> MipModel:
        """The model held by a HiGHS instance, with its integrality."""
        lp = h.getLp()
        matrix = lp.a_matrix_
        if matrix.format_ != highspy.MatrixFormat.kColwise:
            raise ValueError("the model's matrix is not column-wise")
        n = int(lp.num_col_)
        kinds = lp.integrality_
        integer = (
            np.fromiter((k == highspy.HighsVarType.kInteger for k in kinds), bool, count=n)
            if len(kinds)
            else np.zeros(n, dtype=bool)
        )
        return cls(
            cost=np.array(lp.col_cost_, dtype=float),
            lower=np.array(lp.col_lower_, dtype=float),
            upper=np.array(lp.col_upper_, dtype=float),
            row_lower=np.array(lp.row_lower_, dtype=float),
            row_upper=np.array(lp.row_upper_, dtype=float),
            start=np.array(matrix.start_, dtype=np.int32),
            index=np.array(matrix.index_, dtype=np.int32),
            value=np.array(matrix.value_, dtype=float),
            integer=integer,
            offset=float(lp.offset_),
        )

    def is_mip(self) -> bool:
        """Whether any column is integer (otherwise the model is an LP)."""
        return bool(self.integer.any())

    def to_highs(self, h: highspy.Highs) -> None:
        lp = highspy.HighsLp()
        n = len(self.cost)
        lp.num_col_ = n
        lp.num_row_ = len(self.row_lower)
        lp.offset_ = self.offset
        lp.col_cost_ = self.cost
        lp.col_lower_ = self.lower
        lp.col_upper_ = self.upper
        lp.row_lower_ = self.row_lower
        lp.row_upper_ = self.row_upper
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = n
        lp.a_matrix_.num_row_ = len(self.row_lower)
        lp.a_matrix_.start_ = self.start
        lp.a_matrix_.index_ = self.index
        lp.a_matrix_.value_ = self.value
        if self.is_mip():
            lp.integrality_ = [
                highspy.HighsVarType.kInteger if k else highspy.HighsVarType.kContinuous
                for k in self.integer
            ]
        status = h.passModel(lp)
        if status == highspy.HighsStatus.kError:
            raise ValueError("HiGHS refused the model")


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

    def arrays(self, *, integer: bool) -> MipModel:
        """The model as plain arrays (column-wise matrix, repeated entries summed)."""
        rows = np.concatenate(self._rows) if self._rows else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(self._cols) if self._cols else np.zeros(0, dtype=np.int64)
        vals = _cat(self._vals)
        key = cols * max(1, self.n_rows) + rows
        key, inverse = np.unique(key, return_inverse=True)
        vals = np.bincount(inverse, weights=vals, minlength=len(key)).astype(float)
        cols, rows = np.divmod(key, max(1, self.n_rows))
        kinds = np.concatenate(self._integer) if self._integer else np.zeros(0, dtype=bool)
        return MipModel(
            cost=_cat(self._cost),
            lower=_cat(self._lower),
            upper=_cat(self._upper),
            row_lower=_cat(self._row_lower),
            row_upper=_cat(self._row_upper),
            start=np.searchsorted(cols, np.arange(self.n_cols + 1)).astype(np.int32),
            index=rows.astype(np.int32),
            value=vals,
            integer=kinds if integer else np.zeros(self.n_cols, dtype=bool),
            offset=self.offset,
        )

    def to_highs(
        self, *, integer: bool, time_limit: float, mip_rel_gap: float = 1e-9
    ) -> highspy.Highs:
        """A configured HiGHS instance holding this model (for incremental use)."""
        h = configured_highs(time_limit=time_limit, mip_rel_gap=mip_rel_gap)
        self.arrays(integer=integer).to_highs(h)
        return h

    def solve(
        self,
        *,
        integer: bool,
        time_limit: float,
        mip_rel_gap: float = 1e-9,
    ) -> SolveResult:
        """Solve the LP (integer=False) or the MIP under a time limit."""
        return solve_model(
            self.arrays(integer=integer), time_limit=time_limit, mip_rel_gap=mip_rel_gap
        )


def solve_model(
    model: MipModel,
    *,
    time_limit: float,
    mip_rel_gap: float = 1e-9,
    start: FloatArray | None = None,
) -> SolveResult:
    """Solve ``model`` in this process: as a MIP if it has integer columns, else as an LP
    (with row duals); from the starting solution ``start`` if one is given."""
    h = loaded_highs(model, time_limit=time_limit, mip_rel_gap=mip_rel_gap, start=start)
    h.run()
    return read_result(h, integer=model.is_mip())


def loaded_highs(
    model: MipModel,
    *,
    time_limit: float,
    mip_rel_gap: float = 1e-9,
    start: FloatArray | None = None,
) -> highspy.Highs:
    """A configured HiGHS instance holding ``model``, with ``start`` as its starting solution
    if one is given, ready to run."""
    h = configured_highs(time_limit=time_limit, mip_rel_gap=mip_rel_gap)
    model.to_highs(h)
    if start is not None:
        set_start(h, start)
    return h


def set_start(h: highspy.Highs, values: FloatArray) -> None:
    """Give HiGHS ``values`` (one per column) as its starting solution."""
    solution = highspy.HighsSolution()
    solution.col_value = np.asarray(values, dtype=float).tolist()
    solution.value_valid = True
    h.setSolution(solution)


#: HiGHS stops a MIP once its objective and bound are this close (absolute)
MIP_ABS_GAP = 1e-7


def configured_highs(*, time_limit: float, mip_rel_gap: float = 1e-9) -> highspy.Highs:
    """A silent, single-threaded, seeded HiGHS instance with a time limit (seconds of run time)."""
    h = new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(0.01, float(time_limit)))
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("mip_abs_gap", MIP_ABS_GAP)
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

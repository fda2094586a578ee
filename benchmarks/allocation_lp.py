"""The LP relaxation of a benchmark allocation instance, solved to optimality (slow; analysis only).

    .venv/bin/python benchmarks/allocation_lp.py --size M                 # about 17 minutes
    .venv/bin/python benchmarks/allocation_lp.py --size S --core 0.5      # and re-solve a core

Column generation with HiGHS (dual simplex, one thread) over the aggregated units of
`medevac.planning.compact`, groups left out (so the value is a lower bound on the problem with
groups): unit rows, bed rows per (facility, specialty, day) in flow form, admission rows per
(facility, day). Every round prices every eligible column with the LP's duals and adds each unit's
12 most negative ones, until none is negative. It prints each round, the LP optimum and how many
of its units are fractional. With ``--core T`` it then hands HiGHS, from scratch, only the
columns whose reduced cost at the optimum is below T and times dual simplex and interior point
(no crossover) on that LP. docs/planning.md quotes what this measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import highspy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generators.allocation_instances import SIZES, sized_problem
from medevac.highs import new_highs
from medevac.planning import kernels, parse_problem
from medevac.planning.compact import NO_LIMIT, Compact, build_compact
from medevac.planning.model import ProblemView

COLUMNS_PER_ROUND = 12
TOLERANCE = 1e-7


class Master:
    """The restricted LP, kept in one HiGHS instance; columns (unit, facility, day) are added."""

    def __init__(self, c: Compact) -> None:
        self.c = c
        n_fac, n_spec, horizon = c.beds.shape
        self.highs = new_highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("threads", 1)
        count = c.unit_count.astype(float)
        self.n_units = c.n_units
        self._rows(count, count)
        pair_f, pair_s = np.nonzero(c.offers)
        self.pair = np.full((n_fac, n_spec), -1, dtype=np.int64)
        self.pair[pair_f, pair_s] = np.arange(len(pair_f))
        self.bed_first = self.highs.getNumRow()
        n_bed = len(pair_f) * horizon
        self._rows(np.zeros(n_bed), np.zeros(n_bed))
        self.limited = np.flatnonzero(c.limit < NO_LIMIT)
        self.adm_of = np.full(n_fac, -1, dtype=np.int64)
        self.adm_of[self.limited] = np.arange(len(self.limited))
        self.adm_first = self.highs.getNumRow()
        n_adm = len(self.limited) * horizon
        self._rows(np.full(n_adm, -highspy.kHighsInf), np.repeat(c.limit[self.limited], horizon))
        # unplaced columns, then occupancy columns occ[pair, d] in [0, beds]:
        # balance row (pair, d): occ[d] - occ[d-1] - admissions[d] + discharges[d] = 0
        rows = np.arange(self.n_units)
        self._columns(c.unit_unplaced, count, [rows], [np.ones(self.n_units)])
        occ_rows = self.bed_first + np.arange(n_bed)
        not_last = np.arange(n_bed) % horizon < horizon - 1
        index = [occ_rows, np.where(not_last, occ_rows + 1, -1)]
        self._columns(
            np.zeros(n_bed),
            c.beds[pair_f, pair_s, :].ravel(),
            index,
            [np.ones(n_bed), -np.ones(n_bed)],
        )
        self.n_fixed = self.highs.getNumCol()
        self.seen: set[tuple[int, int, int]] = set()
        self.columns: list[tuple[int, int, int]] = []

    def _rows(self, lower: np.ndarray, upper: np.ndarray) -> None:
        empty = np.zeros(0, dtype=np.int32)
        self.highs.addRows(
            len(lower), lower.astype(float), upper.astype(float), 0, empty, empty, np.zeros(0)
        )

    def _columns(
        self, cost: np.ndarray, upper: np.ndarray, rows: list[np.ndarray], values: list[np.ndarray]
    ) -> None:
        """Add columns; rows[k][j] (skipped when negative) holds values[k][j] of column j."""
        n = len(cost)
        r = np.stack(rows, axis=1)
        v = np.stack(values, axis=1)
        keep = r >= 0
        starts = np.concatenate([[0], np.cumsum(keep.sum(axis=1))[:-1]]).astype(np.int32)
        self.highs.addCols(
            n, cost.astype(float), np.zeros(n), upper.astype(float), int(keep.sum()), starts,
            r[keep].astype(np.int32), v[keep].astype(float),
        )  # fmt: skip

    def add(self, cu: np.ndarray, cf: np.ndarray, ca: np.ndarray) -> int:
        c = self.c
        horizon = c.horizon
        fresh = [j for j in range(len(cu)) if (int(cu[j]), int(cf[j]), int(ca[j])) not in self.seen]
        if not fresh:
            return 0
        cu, cf, ca = cu[fresh], cf[fresh], ca[fresh]
        for j in range(len(cu)):
            key = (int(cu[j]), int(cf[j]), int(ca[j]))
            self.seen.add(key)
            self.columns.append(key)
        end = ca + c.unit_stay[cu]
        base = self.bed_first + self.pair[cf, c.unit_specialty[cu]] * horizon
        adm = self.adm_of[cf]
        self._columns(
            c.column_costs(cu, cf, ca),
            c.unit_count[cu],
            [cu, base + ca, np.where(end < horizon, base + end, -1),
             np.where(adm >= 0, self.adm_first + adm * horizon + ca, -1)],
            [np.ones(len(cu)), -np.ones(len(cu)), np.ones(len(cu)), np.ones(len(cu))],
        )  # fmt: skip
        return len(cu)

    def prices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unit duals, cumulative bed prices [f, s, 0..H], admission prices [f, d])."""
        c = self.c
        n_fac, n_spec, horizon = c.beds.shape
        duals = np.asarray(self.highs.getSolution().row_dual)
        theta = duals[self.bed_first : self.adm_first].reshape(-1, horizon)
        after = np.concatenate([theta[:, 1:], np.zeros((len(theta), 1))], axis=1)
        rho = np.zeros(c.beds.shape)
        pair_f, pair_s = np.nonzero(c.offers)
        rho[pair_f, pair_s, :] = np.maximum(0.0, theta - after)
        cum = np.zeros((n_fac, n_spec, horizon + 1))
        np.cumsum(rho, axis=2, out=cum[:, :, 1:])
        mu = np.zeros((n_fac, horizon))
        mu[self.limited, :] = np.maximum(0.0, -duals[self.adm_first :].reshape(-1, horizon))
        return duals[: self.n_units], cum, mu


def reduced_costs(
    c: Compact, cols: np.ndarray, pi: np.ndarray, cum: np.ndarray, mu: np.ndarray
) -> np.ndarray:
    cu, cf, ca = cols[:, 0], cols[:, 1], cols[:, 2]
    s = c.unit_specialty[cu]
    end = np.minimum(ca + c.unit_stay[cu], c.horizon)
    costs: np.ndarray = (
        c.column_costs(cu, cf, ca) + cum[cf, s, end] - cum[cf, s, ca] + mu[cf, ca] - pi[cu]
    )
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S", choices=sorted(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--core", type=float, default=None, help="re-solve columns with rc < T")
    args = parser.parse_args()
    problem = parse_problem(sized_problem(args.size, args.seed))
    view = ProblemView(problem)
    c = build_compact(view)
    hopeless = sum(view.unplaced_cost(problem.patients[int(i)]) for i in c.hopeless)
    arrays = c.kernel_problem()
    units = np.arange(c.n_units, dtype=np.int64)
    every_day = np.zeros(c.n_units, dtype=bool)
    master = Master(c)
    n_fac, n_spec, horizon = c.beds.shape
    cum, mu = np.zeros((n_fac, n_spec, horizon + 1)), np.zeros((n_fac, horizon))
    pi = c.unit_unplaced.astype(float)
    started = time.perf_counter()
    for rounds in range(1, 10_000):
        cu, cf, ca = kernels.cheapest_columns(units, COLUMNS_PER_ROUND, every_day, cum, mu, arrays)
        cols = np.stack([cu, cf, ca], axis=1)
        negative = reduced_costs(c, cols, pi, cum, mu) < -TOLERANCE * np.maximum(
            1.0, np.abs(pi[cu])
        )
        added = master.add(cu[negative], cf[negative], ca[negative])
        if added == 0 and rounds > 1:
            break
        master.highs.run()
        pi, cum, mu = master.prices()
        value = master.highs.getInfo().objective_function_value + hopeless
        print(f"round {rounds}: LP {value:,.2f}, {len(master.columns):,} columns "
              f"(+{added:,}), {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    x = np.asarray(master.highs.getSolution().col_value)[master.n_fixed :]
    cols = np.array(master.columns, dtype=np.int64)
    fractional = np.abs(x - np.rint(x)) > 1e-6
    print(f"LP optimum {value:,.2f} (groups left out) in {time.perf_counter() - started:.1f} s; "
          f"{len(np.unique(cols[fractional, 0]))} of {c.n_units} units fractional")  # fmt: skip
    if args.core is None:
        return
    core = (reduced_costs(c, cols, pi, cum, mu) < args.core) | (x > 1e-9)
    for label, options in (
        ("dual simplex", {"solver": "simplex"}),
        ("interior point, no crossover", {"solver": "ipm", "run_crossover": "off"}),
    ):
        again = Master(c)
        for key, option in options.items():
            again.highs.setOptionValue(key, option)
        again.add(cols[core, 0], cols[core, 1], cols[core, 2])
        clock = time.perf_counter()
        again.highs.run()
        print(f"{int(core.sum()):,} core columns, {label}: "
              f"{again.highs.getInfo().objective_function_value + hopeless:,.2f} "
              f"in {time.perf_counter() - clock:.1f} s", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

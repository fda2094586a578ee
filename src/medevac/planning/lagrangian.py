"""Lagrangian engine for large problems: priced bound, price-guided plans, local search.

Bed (facility, specialty, day) and admission (facility, day) rows are moved into the objective
with non-negative prices. For any prices, every unit then takes its cheapest column on its own,
and the total, less the priced capacity, is a lower bound on the optimum (the Lagrangian). The
prices are improved by maximising a smoothed Lagrangian (softmin at temperature tau over each
unit's columns) with projected L-BFGS, tau falling stage by stage; after each stage the exact
Lagrangian is evaluated (a valid bound, with an exact term per group for the split cost) and a
plan is built from the prices: groups together first, then each unit's expected columns, then
the rest at the feasible place of lowest priced cost, then local search on the true objective.
The last part of the time goes to a neighbourhood search (neighbourhoods.py): HiGHS re-places
the patients of one specialty at a time, everyone else held fixed.

Quotas of agreements (`Problem.quotas`) are priced like the bed and admission rows: a price
per quota, added to every column that counts against it, and its room priced in the capacity.
A quota that holds on every day adds its price per (quota row, facility) to each unit's
facility cost; one that holds on some days only (`Quota.days`) adds it to the columns admitted
on its days alone, inside the minimum (and softmin) over admission days per combo and facility
(`kernels.combo_prices`, the combos include the quota row), and its gradient is the (smoothed)
placements admitted on its days at its facilities less its room (`kernels.spread_weights`).
Each column then carries exactly the prices of the quota rows it enters, so the Lagrangian
stays a lower bound at any non-negative prices. The plans built from prices see the prices of
both kinds (PRICE_QUOTAS_IN_PLANS) and keep to the quotas all the same: every placement kernel
counts an admission against a quota only on the quota's days and keeps to its room
(`Compact.rooms`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from numba.np.ufunc.parallel import threading_layer

from medevac.planning import kernels, mip_process, neighbourhoods, preload
from medevac.planning.compact import (
    NO_LIMIT,
    Compact,
    build_compact,
    csr,
    hopeless_cost,
)
from medevac.planning.model import Placement, ProblemView
from medevac.planning.plan import relative_gap
from medevac.planning.pooled import pooled_lp
from medevac.planning.problem import Problem

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TEMPERATURES = (3.0, 1.0, 0.3, 0.1, 0.03, 0.01)  # the last one repeats while time is left
# The stages where few evaluations fit and no neighbourhood MIP follows (L in 10 s): the warm
# stage gives the final plan its prices, and the ascent that goes on beside the plan (about 13
# evaluations) raises the bound most from 0.3. L in 10 s, three runs each in turns, 2026-12-04
# afternoon: bounds 1.906-1.909 M from 0.3 against 1.865-1.883 M from 1 and 1.879-1.888 M from
# 0.1 (a second set from 0.3: 1.902-1.905 M)
NO_SEARCH_TEMPERATURES = (3.0, 0.3, 0.1, 0.03, 0.01)
# Prices given to the engine (the exact engine's LP duals when it hands over) start the ascent
# at this stage of TEMPERATURES. Measured on the benchmark's generator, one run each (gap, plan):
# from stage 0, 1,500 x 60 in 10 s 1.12 % (51,526), 2,000 x 75 in 10 s 1.80 % (43,889),
# 2,500 x 90 in 30 s 2.01 % (55,345), 3,000 x 100 in 60 s 1.04 % (80,225); from stage 1 1.23 %,
# 2.43 %, 3.05 %; from stage 2 3.09 % (52,572), 2.73 % (44,001), 2.44 % (55,521), 1.61 %
# (80,692); from the pooled prices instead 3.15 % (52,219), 3.70 % (43,740), 5.06 % (55,263),
# 1.29 % (80,432)
WARM_START_STAGE = 0
STAGE_ITERATIONS = 60
# A stage ends (for the next, colder one) once its smoothed value rose by less than this share
# of the smoothing gap (plain Lagrangian less smoothed value, at the same prices) over the last
# STALL_WINDOW evaluations: cooling gains more than staying. The coldest stage repeats instead.
# On the regulating benchmark's registry (benchmarks/regulating.py, 100,000 patients x 1,000
# facilities, 6,196 units, everyone placed) a stage of 60 evaluations at tau 1 took 5 s of a
# 10-s solve, its plain Lagrangian flat after 2.5 s and the smoothing gap 426 k of 864 k; the
# colder stages never came. 10 s there, fresh processes in turns (2026-12-04, 22:03-22:25 UTC):
# 5.43-5.58 % (8.30-8.43 % when no neighbourhood MIP fits) without the rule, 2.28-2.54 % at
# 0.001, 1.51-1.83 % at 0.005, 2.19-2.75 % at 0.01 (docs/benchmarks.md). At 0.005 the
# warm-started ascent of 2,500 x 90 in 10 s lost its bound (gaps 4.74-5.34 % against
# 3.63-3.84 %; 4.32 % at 0.002, 3.63-3.67 % at 0.001). L and M in 10 s, three runs each in turns
# at 0.001: 11.93-12.09 % against 11.85-12.95 %, 4.02-5.08 % against 4.37-6.36 %
STAGE_STALL = 0.001
STALL_WINDOW = 4
LBFGS_MEMORY = 20  # correction pairs the optimiser keeps
# The optimiser's steps are scaled per row by 1 / capacity ** this (0: no scaling; docs/planning.md
# "Steps scaled per row"). Without it the ascent stopped 4.8 % below S's LP bound, with it 0.7 %
# (benchmarks/ascent.py); in turns on 2026-12-05 L in 60 s 3.61-3.65 % against 4.47-5.06 %,
# L in 10 s bounds 1.836-1.880 M against 1.814-1.838 M; 0.5 did better on the registry, worse
# on L in 10 s
STEP_SCALE_POWER = 1.0
SEARCH_FACTOR = 4.0
FEW_SEARCH_FACTOR = 1.5
# ... and where no neighbourhood search follows either (L in 10 s): the final plan (fill,
# insertions, two relocation passes) takes about 3.1 s there, while 1.5 estimated plans came to
# 3.6-4.8 s in a fresh process (the estimate rests on the regulator's rule, whose first call
# loads the kernels from numba's cache) and ended the ascent at 5.5-5.8 s. With one estimated
# plan the time share (MIN_SEARCH_SHARE) decides, as it does when L follows M in one process:
# L in 10 s, fresh processes in turns (2026-12-04 evening), 12.36-12.75 % (plans of 2.181 M,
# three runs) against 13.48-14.21 % (2.202-2.233 M, six runs)
FEW_ALONE_FACTOR = 1.0
# the final plan's share of the time is at least this. Its first relocation pass is worth most
# (about 280-380 k on L in 10 s) and is slower while the ascent goes on in the other thread.
# L in 10 s, after M in the same process as in the benchmark, two runs each: at 0.2 25.0-30.7 %
# (the pass cut short), at 0.3 22.3-25.3 %, at 0.4 20.8-21.1 %. Where no neighbourhood MIP
# fits (L in 10 s) the share was 0.5 for a while (17.7-18.1 % against 18.85-18.89 % at 0.4,
# before the relocation passes went in chunks). Measured again on 2026-12-03, with the chunked
# passes (whose third gains almost nothing on L), runs interleaved over an hour in which the
# machine's speed drifted: 0.4 gave 18.3-22.6 % in 13 runs (mean 19.6 %), 0.5 20.1-21.7 % in 7
# (mean 20.5 %); 0.35 and 0.3 gave 18.3-23.6 % and 18.9-19.2 % in 6 and 3 runs
MIN_SEARCH_SHARE = 0.4
FEW_EVALUATIONS = 600
QUOTA_THRESHOLD = 0.3  # columns expected less often than this are left to the fill
OPTIMAL_GAP = 1e-7
SOFTMIN_CUTOFF = 12.0  # columns more than this many tau above a unit's softmin are left out
RELOCATE_PASSES = 10
# Unplaced patients may take a bed by moving one placed patient out of their way
# (kernels.insert_by_ejection), trying their EJECT_FACILITIES cheapest facilities, in up to
# EJECT_PASSES passes. On L in 10 s a pass of 40 facilities takes 0.2-0.3 s and places about 70
# of 200; 200 facilities or all 1,000 placed no more in about 1.1 s, which the relocation
# passes then lacked (gaps 24-29 %). Moving a second patient in turn placed 150 but took 42 s.
EJECT_FACILITIES = 40
# ... and this many where no neighbourhood MIP follows (`_Plans.without_neighbourhoods`). Once
# the fill left fewer out there (longer stays first, about 50-75 on L in 10 s), 100 facilities
# gave better plans than 40 in 5 of 6 runs taken in turns (means 2.208 M and 2.215 M); on L in
# 60 s it measured worse (plans 2.0591-2.0689 M in three runs against 2.0578-2.0636 M in six)
EJECT_FACILITIES_ALONE = 100
EJECT_PASSES = 5
# The insertion goes over the patients left out in chunks of this many and stops at its
# deadline between two chunks: where beds are short everywhere, each of them is tried at every
# facility and day in reach, about 4 ms a patient. On L with every facility's beds cut to a
# third (34,500 patients left out) the final plan of a 30-s solve had run to 164 s. The
# insertion may take this share of the final plan's local search, the relocation passes the rest
EJECT_CHUNK = 32
EJECT_SHARE = 0.5
# slots per call of the relocation kernel: a pass can stop at its deadline after any chunk
# (a pass over L's 100,000 slots takes about 0.55 s)
RELOCATE_CHUNK = 5000
N_CHUNKS = 2
# the ascent hands its prices to the final plan when a temperature stage raised the bound by
# less than this (relative): measured on M, the stages after that gain under 0.1 % each while
# the neighbourhood search, which gets the time instead, takes the plan down by several per
# cent. It then goes on beside the search, on the core the neighbourhood MIPs leave (they run
# on one thread): M in 60 s, two runs each in turns (2026-12-04, 18:01-18:05 UTC), bound
# 201,369.16 against 201,158.07 (it had stopped at about 22 s), plan 204,163.92 against
# 204,140.74, gap 1.37 % against 1.46 %
ASCENT_STALL = 0.003
# of the time left once the final plan is placed, the share its local search may use before
# the neighbourhood search starts
LOCAL_SEARCH_SHARE = 0.5
# the ascent hands its prices to the final plan after at most this share of the time (it then
# goes on beside the search). Measured on M with 10 s: at 0.7 the first neighbourhood MIP often
# had too little time and the result swung between 213 k and 223 k (5 of 9 runs high); at 0.6
# nine runs gave 211.9-214.7 k, with M at 60 s unchanged (its ascent stalls before either)
PLAN_AT = 0.6
# ... unless what that leaves after the final plan's reserve is less than this many seconds: no
# neighbourhood MIP would fit in it anyway (slices take 1-3 s on M and 2-5 s on L), and the time
# is better spent on prices. Measured on L in 10 s, four runs each: 26.53-29.86 % (mean 28.0 %)
# against 28.66-29.48 % (mean 29.0 %) when the share also applied there
MIN_SEARCH_SECONDS = 2.0
# ... and less than this many plans without search: the neighbourhood search of a large problem
# needs time in proportion to its size (a first slice of L takes 0.6-1.3 s where M's take
# 0.1-0.5 s). On L in 20 s the search got about 2 s and gained 12,000 in two slices, while the
# plan from warm prices alone with the local search to the end was 60,000 better
NEIGHBOURHOOD_ROOM_FACTOR = 1.5
# A stage of the ascent runs past its cut-off by its last L-BFGS step and exact evaluation:
# it stops this many exact evaluations early, before the deadline (the ascent beside the
# search) and before the final plan's reserve. Without it there, on a slow hour of L in 10 s
# (2026-12-04 evening: the regulator's rule 0.5 s, its first evaluation 0.75 s) the stage ended
# 0.5 s into the reserve, the final plan no longer fitted and was skipped, and the plan stayed
# the rule's: gaps of 33-38 % instead of 14-19 %. On the slower machine of 2026-12-05 four exact
# evaluations (0.10-0.17 s each) were no longer enough: a smoothed evaluation with its gradient
# took 0.3-0.66 s, the stage ended 0.5-0.64 s past its cut-off, and in one of three runs the
# final plan was skipped again (33.16 %, the plan 2.79 M). The margin is now at least the
# slowest smoothed evaluation so far plus an exact one (`step_margin`): the stages then ended
# 0.37-0.51 s past their cut-offs with 0.5-0.67 s of margin, and the final plan was skipped
# once in eight runs (an evaluation slower than any before it, on a machine whose speed moved
# by half within minutes)
STEP_MARGIN = 4.0
# Where no neighbourhood MIP will follow (L in 10 s), the final plan's expected columns are taken
# at this share of the temperature its prices were found at. L in 10 s, runs in turns in one
# hour of 2026-12-04: plans 2.181-2.215 M (mean 2.201 M, eight runs) at 0.1, 2.210-2.222 M at
# 0.33 (five), 2.209-2.221 M at 0.033 (three), 2.223 M at 1 (five). With neighbourhood MIPs to
# follow (M in 10 s) a colder final plan measured worse on 2026-12-04 (6.76 % and 11.12 %
# against 4.80 % and 5.64 %), so there the prices' own temperature stays
FINAL_COOLING = 0.1
# whether the plans built from prices count the quotas' prices too (the bound always does)
PRICE_QUOTAS_IN_PLANS = True
# whether quotas of some days only (`Quota.days`) are priced (day by day, `_Dual`); without,
# their price is held at 0: the Lagrangian of the problem without them, a weaker bound
PRICE_QUOTA_DAYS = True
# a plan placed by priced cost takes about this many times the regulator's rule (measured on L:
# 0.87 s against 0.31 s alone, 1.3-1.6 s while the ascent goes on in the other thread)
PRICED_PLAN_FACTOR = 4.0


def _choices(c: Compact) -> IntArray:
    """How many facilities each unit may go to (eligible, offering its specialty)."""
    per_profile = np.zeros((len(c.profile_start) - 1, c.offers.shape[1]), dtype=np.int64)
    sizes = np.diff(c.profile_start)
    filled = sizes > 0
    if filled.any():
        offered = c.offers[c.profile_facility].astype(np.int64)
        per_profile[filled] = np.add.reduceat(offered, c.profile_start[:-1][filled], axis=0)
    return per_profile[c.unit_profile, c.unit_specialty]


class _OutOfTime(Exception):
    """Raised inside the optimiser's callback when the time share is used up."""


class _Stalled(Exception):
    """Raised inside the optimiser's callback when a stage no longer pays (STAGE_STALL)."""


@dataclass(slots=True)
class LagrangianResult:
    """Best plan found, its objective and the best bound.

    ``facility`` and ``day`` run over problem.patients: facility index (-1 unplaced), day.
    """

    facility: IntArray
    day: IntArray
    objective: float
    bound: float
    evaluations: int
    #: the prices of the best bound: beds [facility, specialty, day], admissions [facility, day]
    prices: tuple[FloatArray, FloatArray] | None = None
    #: ... and of the quotas (`Problem.quotas`, in order)
    quota_prices: FloatArray | None = None


class _Dual:
    """The Lagrangian and its smoothed version as functions of the packed price vector.

    The vector holds a price per quota. That of a quota of every day is added per (quota row,
    facility) to the units' facility costs (`quota_cost`); that of a quota of some days only
    (`Quota.days`) per (quota row, facility, admission day), on its days only
    (`quota_day_cost`), inside the minimum over days of `kernels.combo_prices`. A column
    (unit, facility, day) thus pays a quota's price exactly when it counts against the quota,
    and the Lagrangian is a lower bound at any prices >= 0. The gradient of a quota is the
    (smoothed) placements under it less its room: for a quota of some days only, those
    admitted on its days (`kernels.spread_weights` per quota row, facility and day).

    With PRICE_QUOTA_DAYS off, the quotas of some days only are not priced (``unpriced``):
    their price is held at 0, the Lagrangian of the problem without them, a relaxation.
    """

    def __init__(self, c: Compact, hopeless_cost: float) -> None:
        self.c = c
        n_fac, n_spec, horizon = c.beds.shape
        self.shape = (n_fac, n_spec, horizon)
        self.pair_f, self.pair_s = np.nonzero(c.offers)
        self.limited = np.flatnonzero(c.limit[:, 0] < NO_LIMIT)
        self.n_bed = len(self.pair_f) * horizon
        # the quotas' prices (`Problem.quotas`) follow the bed and admission prices
        self.n_quota = len(c.quota_room)
        self.quota_start = self.n_bed + len(self.limited) * horizon
        self.size = self.quota_start + self.n_quota
        self.beds = c.beds[self.pair_f, self.pair_s, :].astype(float).ravel()
        self.limits = c.limit[self.limited].astype(float).ravel()
        self.rooms = c.quota_room.astype(float)
        self.quota_facility = c.quota_facility.astype(float)  # [quota, facility]
        every_day = c.quota_days.all(axis=1)
        # the quotas that hold on some days only, priced day by day (`quota_day_cost`), or
        # held at 0 (``unpriced``) with PRICE_QUOTA_DAYS off
        self.day_quotas = np.flatnonzero(~every_day) if PRICE_QUOTA_DAYS else np.zeros(0, int)
        self.unpriced = np.zeros(0, int) if PRICE_QUOTA_DAYS else np.flatnonzero(~every_day)
        # the quota costs of a problem without quotas, or of plans that do not price them
        self.no_quota_cost = np.zeros((0, n_fac))
        # ... per day (`kernels.combo_prices`): none where no quota of some days is priced
        self.no_day_cost = np.zeros((0, 0, 0))
        # ... and as the placement kernels take them (`kernels._best_place`)
        self.no_plan_cost = np.zeros((0, n_fac, 1))
        self.day_facility = c.quota_facility[self.day_quotas].astype(float)  # [day quota, f]
        self.day_days = c.quota_days[self.day_quotas].astype(float)  # [day quota, day]
        # the ascent's steps per row, relative: 1 / capacity (below)
        capacity = np.concatenate([self.beds, self.limits, self.rooms])
        self.step_scale = 1.0 / np.maximum(capacity, 1.0) ** STEP_SCALE_POWER
        self.hopeless_cost = hopeless_cost
        # No price need exceed the largest cost of leaving a unit unplaced: a column through a
        # row priced that high already costs more than leaving its unit out, as it would at any
        # higher price, while the priced capacity only grows. Rows with no beds would otherwise
        # be priced without limit (their capacity costs nothing), and with prices of 1e19 the
        # differences of cumulative prices lost every digit of the columns' own costs: the
        # "bound" came out above the optimum and a plan was called optimal that was not.
        self.cap = float(np.max(c.unit_unplaced, initial=1.0))
        key = np.stack(
            [c.unit_specialty, c.unit_stay, c.unit_day_cost, c.unit_accept, c.unit_quota_row],
            axis=1,
        )
        combos, inverse = np.unique(key, axis=0, return_inverse=True)
        self.unit_combo = inverse.ravel().astype(np.int64)
        # the pricing kernel takes the units of one combo together (cache locality)
        self.unit_order = np.lexsort((c.unit_origin, self.unit_combo)).astype(np.int64)
        # specialty, stay, day-cost row, acceptance row and quota row of each combo
        self.combo = [np.ascontiguousarray(combos[:, i], dtype=np.int64) for i in range(5)]
        # [combo, quota]: whether the combo's patients fall under the quota
        self.combo_quotas = c.quota_row_member[self.combo[4]].astype(float)
        self.row_quotas = c.quota_row_member.astype(float)  # [quota row, quota]
        self.row_day_quotas = self.row_quotas[:, self.day_quotas]  # [quota row, day quota]
        finite = np.where(np.isfinite(c.day_cost), c.day_cost, np.inf)
        self.unit_dc_min = finite.min(axis=1)[c.unit_day_cost]
        self.evaluations = 0
        # the longest smoothed evaluation with its gradient so far, in seconds (see step_margin)
        self.slowest_step = 0.0

    def pack(
        self,
        bed_prices: FloatArray,
        admission_prices: FloatArray,
        quota_prices: FloatArray | None = None,
    ) -> FloatArray:
        """The packed vector of bed prices [f, s, d], admission prices [f, d] and quota prices
        (none: 0; with PRICE_QUOTA_DAYS off those of quotas of some days only are 0 whatever
        is given, see the class)."""
        packed = np.concatenate(
            [
                bed_prices[self.pair_f, self.pair_s, :].ravel(),
                admission_prices[self.limited, :].ravel(),
                np.zeros(self.n_quota) if quota_prices is None else quota_prices,
            ]
        )
        if len(self.unpriced):
            packed[self.quota_start + self.unpriced] = 0.0
        return packed

    def quota_prices(self, x: FloatArray) -> FloatArray:
        """The quota prices of a packed vector (`Problem.quotas`, in order), capped (0 for
        the ``unpriced`` quotas)."""
        prices: FloatArray = np.minimum(x[self.quota_start :], self.cap)
        if len(self.unpriced):
            prices[self.unpriced] = 0.0
        return prices

    def quota_cost(self, x: FloatArray) -> FloatArray:
        """[quota row, facility]: what the prices of ``x`` of the quotas of every day add to a
        column of a unit of that row at that facility (`Compact.unit_quota_row`); empty
        without quotas."""
        if not self.n_quota:
            return self.no_quota_cost
        prices = self.quota_prices(x)
        prices[self.day_quotas] = 0.0  # priced by day (`quota_day_cost`)
        cost: FloatArray = (self.row_quotas * prices[None, :]) @ self.quota_facility
        return cost

    def quota_day_cost(self, x: FloatArray) -> FloatArray:
        """[quota row, facility, day]: what the prices of ``x`` of the quotas of some days only
        add to a column of a unit of that row at that facility admitted on that day; empty
        where no such quota is priced."""
        if not len(self.day_quotas):
            return self.no_day_cost
        prices = self.quota_prices(x)[self.day_quotas]
        weighted = self.row_day_quotas * prices[None, :]  # [row, day quota]
        cost: FloatArray = np.einsum(
            "rq,qf,qd->rfd", weighted, self.day_facility, self.day_days, optimize=True
        )
        return np.ascontiguousarray(cost)

    def plan_quota_cost(self, x: FloatArray) -> FloatArray:
        """The quota prices of ``x`` as the placement kernels take them (`kernels._best_place`):
        [quota row, facility, 0] of the quotas of every day, [.., 1 + day] of those of some
        days (where priced); empty without quotas."""
        if not self.n_quota:
            return self.no_plan_cost
        every = self.quota_cost(x)[:, :, None]
        if not len(self.day_quotas):
            return np.ascontiguousarray(every)
        return np.ascontiguousarray(np.concatenate([every, self.quota_day_cost(x)], axis=2))

    def unpack(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Bed prices [f, s, d] and admission prices [f, d] of a packed vector, capped."""
        n_fac, _, horizon = self.shape
        x = np.minimum(x, self.cap)
        lam = np.zeros(self.shape)
        lam[self.pair_f, self.pair_s, :] = x[: self.n_bed].reshape(-1, horizon)
        mu = np.zeros((n_fac, horizon))
        mu[self.limited, :] = x[self.n_bed : self.quota_start].reshape(-1, horizon)
        return lam, mu

    def prices(self, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Cumulative bed prices [f, s, 0..H] and admission prices [f, d] of a packed vector."""
        n_fac, n_spec, horizon = self.shape
        lam, mu = self.unpack(x)
        cum = np.zeros((n_fac, n_spec, horizon + 1))
        np.cumsum(lam, axis=2, out=cum[:, :, 1:])
        return cum, mu

    def evaluate(
        self, x: FloatArray, tau: float, *, bound: bool = True, slope: bool = True
    ) -> tuple[float, FloatArray, float]:
        """(smoothed Lagrangian, its gradient, exact Lagrangian) at prices ``x`` (all >= 0).

        ``bound=False`` leaves the groups' term out of the exact value (then no bound) and
        ``slope=False`` the gradient (returned empty): the ascent needs neither.
        """
        self.evaluations += 1
        started = time.perf_counter()
        c = self.c
        x = np.minimum(x, self.cap)
        if len(self.unpriced):  # held at 0 (PRICE_QUOTA_DAYS off, the class)
            x[self.quota_start + self.unpriced] = 0.0
        cum, mu = self.prices(x)
        spec, stay, day_row, accept, qrow = self.combo
        qcost_days = self.quota_day_cost(x)
        low, day, soft = self.combo_prices(tau, cum, mu, qcost_days)
        floor = self.unit_dc_min - tau * np.log(c.horizon)
        qcost = self.quota_cost(x)
        best, _, smooth, weight = kernels.price_units(
            tau, SOFTMIN_CUTOFF, low, soft, c.travel, c.profile_start, c.profile_facility,
            self.unit_combo, c.unit_profile, c.unit_origin, c.unit_current, c.unit_count,
            c.unit_unplaced, floor, c.change, N_CHUNKS, self.unit_order, c.unit_quota_row,
            qcost,
        )  # fmt: skip
        priced = float(
            np.dot(x[: self.n_bed], self.beds)
            + np.dot(x[self.n_bed : self.quota_start], self.limits)
            + np.dot(x[self.quota_start :], self.rooms)
        )
        counts = c.unit_count.astype(float)
        value = float(np.dot(counts, smooth)) - priced + self.hopeless_cost
        exact = float(np.dot(counts, best)) - priced + self.hopeless_cost
        if bound:
            exact += kernels.group_bound(
                best, low, c.travel, c.profile_start, c.profile_facility, self.unit_combo,
                c.unit_profile, c.unit_origin, c.unit_current, c.unit_unplaced, c.change,
                c.group_start, c.group_unit, c.group_split, c.unit_quota_row, qcost,
            )  # fmt: skip
        if not slope:
            return value, np.zeros(0), exact
        if len(qcost_days):
            occupancy, admissions, row_admissions = kernels.spread_weights_days(
                tau, weight, low, soft, day, cum, mu, c.day_cost, spec, stay, day_row, accept,
                c.accept_last, qrow, qcost_days,
            )  # fmt: skip
        else:  # the kernel of problems without such quotas, unchanged
            occupancy, admissions = kernels.spread_weights(
                tau, weight, low, soft, day, cum, mu, c.day_cost, spec, stay, day_row, accept,
                c.accept_last,
            )  # fmt: skip
        # placements under each quota: the weights of its patients' combos at its facilities
        under = (weight @ self.quota_facility.T) * self.combo_quotas
        quota_slope = under.sum(axis=0) - self.rooms
        if len(self.day_quotas):
            # ... for a quota of some days, those admitted on its days: [row, f, d] admissions
            on_days = row_admissions @ self.day_days.T  # [row, f, day quota]
            at_facilities = np.einsum("rfq,qf->rq", on_days, self.day_facility)
            quota_slope[self.day_quotas] = (at_facilities * self.row_day_quotas).sum(
                axis=0
            ) - self.rooms[self.day_quotas]
        if len(self.unpriced):  # held at 0 (PRICE_QUOTA_DAYS off, the class)
            quota_slope[self.unpriced] = 0.0
        gradient = np.concatenate(
            [
                occupancy[self.pair_f, self.pair_s, :].ravel() - self.beds,
                admissions[self.limited, :].ravel() - self.limits,
                quota_slope,
            ]
        )
        self.slowest_step = max(self.slowest_step, time.perf_counter() - started)
        return value, gradient, exact

    def starting_prices(self, time_limit: float) -> FloatArray:
        """Bed prices per (specialty, day) from a small LP that pools every facility.

        Each combo (specialty, stay, day costs) is one demand with its cheapest travel; beds of
        a specialty are summed over facilities and admission limits left out. The LP's bed duals,
        copied to every facility, start the ascent where specialties, not single facilities,
        are short of beds. Zero prices if HiGHS does not solve it in time.
        """
        c = self.c
        pooled = pooled_lp(c, self.unit_combo, np.zeros(c.beds.shape[0], dtype=np.int64))
        result = pooled.model.solve(integer=False, time_limit=time_limit)
        prices = np.zeros(self.size)
        if result.row_duals is None or not result.optimal:
            return prices
        per_day = pooled.bed_prices(result.row_duals, c.beds.shape)[0]  # one pool
        prices[: self.n_bed] = per_day[self.pair_s].ravel()
        return prices

    def unit_minima(self, x: FloatArray) -> FloatArray:
        """Each unit's cheapest priced column at prices ``x`` (or its unplaced cost)."""
        c = self.c
        _, _, low, soft = self.day_prices(x, 0.0)
        floor = self.unit_dc_min
        best, _, _, _ = kernels.price_units(
            0.0, SOFTMIN_CUTOFF, low, soft, c.travel, c.profile_start, c.profile_facility,
            self.unit_combo, c.unit_profile, c.unit_origin, c.unit_current, c.unit_count,
            c.unit_unplaced, floor, c.change, N_CHUNKS, self.unit_order, c.unit_quota_row,
            self.quota_cost(x),
        )  # fmt: skip
        return np.asarray(best)

    def combo_prices(
        self, tau: float, cum: FloatArray, mu: FloatArray, qcost_days: FloatArray
    ) -> tuple[FloatArray, IntArray, FloatArray]:
        """`kernels.combo_prices` (low, its day, soft per combo and facility), with the prices
        of quotas of some days ``qcost_days`` where not empty (a kernel of its own: problems
        without such quotas take the kernel they took before)."""
        c = self.c
        spec, stay, day_row, accept, qrow = self.combo
        if len(qcost_days):
            return kernels.combo_prices_days(
                tau, cum, mu, c.day_cost, c.offers, spec, stay, day_row, accept, c.accept_last,
                qrow, qcost_days,
            )  # fmt: skip
        return kernels.combo_prices(
            tau, cum, mu, c.day_cost, c.offers, spec, stay, day_row, accept, c.accept_last
        )

    def day_prices(self, x: FloatArray, tau: float, quotas: bool = True) -> tuple[FloatArray, ...]:
        """(cum, mu, low, soft): prices of ``x`` and, per combo and facility, the cheapest
        priced day cost (inf where not offered) and its softmin over days at ``tau``, the
        prices of quotas of some days included (not with ``quotas`` False)."""
        cum, mu = self.prices(x)
        qcost_days = self.quota_day_cost(x) if quotas else self.no_day_cost
        low, _, soft = self.combo_prices(tau, cum, mu, qcost_days)
        return cum, mu, low, soft

    def expected_columns(
        self, priced: tuple[FloatArray, ...], tau: float, threshold: float, qcost: FloatArray
    ) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
        """(unit, facility, day, expected count) of columns expected at least ``threshold``,
        for ``priced`` = day_prices(x, tau) and ``qcost`` = plan_quota_cost(x)."""
        c = self.c
        cum, mu, low, soft = priced
        floor = self.unit_dc_min - tau * np.log(c.horizon)
        return kernels.expected_columns(
            tau, SOFTMIN_CUTOFF, low, soft, cum, mu, c.day_cost, c.travel, c.profile_start,
            c.profile_facility, self.unit_combo, c.unit_profile, c.unit_origin, c.unit_specialty,
            c.unit_stay, c.unit_day_cost, c.unit_current, c.unit_count, c.unit_unplaced, floor,
            c.change, threshold, c.unit_accept, c.accept_last, c.unit_quota_row, qcost,
        )  # fmt: skip


class _Plans:
    """Slots (one per patient of a unit) and the capacity-exact fill and relocation kernels."""

    def __init__(self, problem: Problem, c: Compact) -> None:
        self.problem = problem
        self.c = c
        self.slot_unit = np.repeat(np.arange(c.n_units, dtype=np.int64), c.unit_count)
        self.slot_patient = c.member_patient
        self.slot_group = c.unit_group[self.slot_unit]
        current_day = [-1 if p.current is None else p.current.day for p in problem.patients]
        self.slot_current_day = np.array(current_day, dtype=np.int64)[self.slot_patient]
        n_groups = c.n_groups
        keys = np.where(self.slot_group >= 0, self.slot_group, n_groups)
        self.group_slot = np.argsort(keys, kind="stable").astype(np.int64)
        start = np.zeros(n_groups + 2, dtype=np.int64)
        np.cumsum(np.bincount(keys, minlength=n_groups + 1), out=start[1:])
        self.group_start = start[: n_groups + 1]
        # most urgent first (highest cost of leaving unplaced)
        urgency = c.unit_unplaced[self.slot_unit]
        # among equally urgent patients, those with fewer facilities to go to first: the others
        # can still go farther when the near beds are taken (on L in 10 s the patients left
        # out had a distance limit three times as often as the rest)
        choices = _choices(c)
        choice = choices[self.slot_unit]
        self.order = np.lexsort((self.slot_patient, choice, -urgency)).astype(np.int64)
        stay = c.unit_stay[self.slot_unit]
        # the same with longer stays first where the number of places ties (the fill's plan
        # stands without neighbourhood MIPs, `without_neighbourhoods`)
        self._long_order = np.lexsort((self.slot_patient, -stay, choice, -urgency)).astype(np.int64)
        # the rule without prices takes shorter stays first among equally urgent patients: a
        # short stay frees its bed sooner for the next (on L the first plan fell from 3.36 M to
        # 2.82 M); in the priced fill stays first measured worse (2.53 M with 329 left out)
        # the regulator's rule: patients keeping a current place first (their place is held
        # for them), then the most urgent first, shorter stays first among equals
        held = self.slot_current_day >= 0
        self.rule_order = np.lexsort((self.slot_patient, stay, -urgency, ~held)).astype(np.int64)
        #: the rule as greedy has it, for re-plans: the most urgent first whether they hold a
        #: place or not (a current place kept where it is still free at the patient's turn)
        self.urgent_rule_order: IntArray | None = None
        if held.any():
            self.urgent_rule_order = np.lexsort((self.slot_patient, stay, -urgency)).astype(
                np.int64
            )
        self.unit_first_slot = c.first_member()
        singles = np.flatnonzero(c.unit_group < 0)
        self.unit_order = singles[np.lexsort((choices[singles], -c.unit_unplaced[singles]))]
        self._long_unit_order = singles[
            np.lexsort((-c.unit_stay[singles], choices[singles], -c.unit_unplaced[singles]))
        ]
        group_urgency = np.zeros(n_groups)
        grouped = self.slot_group >= 0
        np.maximum.at(group_urgency, self.slot_group[grouped], urgency[grouped])
        self.group_order = np.argsort(-group_urgency, kind="stable").astype(np.int64)
        self.eject_facilities = EJECT_FACILITIES
        self.no_prices: tuple[Any, ...] | None = None  # for the true-cost search
        self.groups = (self.slot_group, self.group_start, self.group_slot, c.group_split)

    def without_neighbourhoods(self) -> None:
        """Packing for plans that no neighbourhood MIP will re-pack: among equally urgent
        patients with as many places, longer stays first (as in first-fit decreasing), and the
        insertion by moving one other over more facilities."""
        self.order, self.unit_order = self._long_order, self._long_unit_order
        self.eject_facilities = EJECT_FACILITIES_ALONE

    def build(
        self,
        dual: _Dual | None,
        x: FloatArray | None,
        tau: float,
        deadline: float,
        search: bool = True,
        rule_order: IntArray | None = None,
    ) -> tuple[IntArray, IntArray]:
        """A plan from prices ``x``: groups together, expected columns, priced fill, search.

        Without prices (``dual`` or ``x`` None) it is the regulator's rule alone: current places
        kept while they are free, then earliest day, nearest facility, in ``rule_order``
        (default: those holding a place first, `rule_order`).
        """
        c = self.c
        n = len(self.slot_unit)
        used = np.zeros_like(c.beds)
        admitted = np.zeros((c.beds.shape[0], c.horizon), dtype=np.int64)
        slot_f = np.full(n, -1, dtype=np.int64)
        slot_a = np.zeros(n, dtype=np.int64)
        problem = c.kernel_problem()
        capacity = kernels.capacity_of(used, c.beds, admitted, c.limit, c.rooms())
        groups = self.groups
        if dual is None or x is None:
            order = self.rule_order if rule_order is None else rule_order
            kernels.fill_earliest(
                order, self.slot_unit, groups, slot_f, slot_a, problem, capacity,
                self.slot_current_day,
            )  # fmt: skip
            return slot_f, slot_a
        priced = dual.day_prices(x, tau, quotas=PRICE_QUOTAS_IN_PLANS)
        cum, mu, low, _ = priced
        # 1. groups first, together where every member fits
        kernels.place_groups(
            self.group_order, self.slot_unit, slot_f, slot_a, cum, mu, problem, capacity,
            self.group_start, self.group_slot,
        )  # fmt: skip
        # 2. each unit's expected share of its columns under the smoothed choice, rounded
        qcost = dual.plan_quota_cost(x) if PRICE_QUOTAS_IN_PLANS else dual.no_plan_cost
        cu, cf, ca, cx = dual.expected_columns(priced, tau, QUOTA_THRESHOLD, qcost)
        order = np.lexsort((-cx, cu))
        cu, cf, ca, cx = cu[order], cf[order], ca[order], cx[order]
        column_start = np.searchsorted(cu, np.arange(c.n_units + 1)).astype(np.int64)
        kernels.quota_fill(
            self.unit_order, self.slot_unit, slot_f, slot_a, self.unit_first_slot, column_start,
            cf, ca, cx, c.unit_specialty, c.unit_stay, c.unit_count, capacity, c.horizon,
        )  # fmt: skip
        # 3. everyone left at their cheapest feasible place by priced cost
        kernels.fill(
            self.order, self.slot_unit, groups, slot_f, slot_a, cum, mu, problem, capacity, low,
            dual.unit_combo, self.c.unit_quota_row, qcost,
        )  # fmt: skip
        passes = RELOCATE_PASSES if search else 0
        no_prices = self.true_costs(dual)
        if search:
            now = time.perf_counter()
            self.eject(
                slot_f, slot_a, problem, capacity, no_prices, now + EJECT_SHARE * (deadline - now)
            )
        # each pass goes over the slots in chunks and stops at the deadline between two chunks
        chunks = np.array_split(self.order, max(1, len(self.order) // RELOCATE_CHUNK))
        for _ in range(passes):
            gain = kernels.regroup(self.slot_unit, groups, slot_f, slot_a, problem, capacity)
            for chunk in chunks:
                if time.perf_counter() >= deadline:
                    return slot_f, slot_a
                gain += kernels.relocate(
                    chunk, self.slot_unit, groups, slot_f, slot_a, problem, capacity, 1, no_prices,
                )  # fmt: skip
            if gain <= 1e-9:
                break
        return slot_f, slot_a

    def eject(
        self,
        slot_f: IntArray,
        slot_a: IntArray,
        problem: tuple[Any, ...],
        capacity: tuple[Any, ...],
        no_prices: tuple[Any, ...],
        deadline: float = math.inf,
    ) -> float:
        """Place unplaced patients by moving one placed patient each out of their way, in
        passes while they gain (the lists of who holds which beds are made anew each pass),
        most urgent first, stopping at ``deadline`` between chunks of EJECT_CHUNK patients;
        return the gain in true cost."""
        c = self.c
        n_fac, n_spec, _ = c.beds.shape
        total = 0.0
        for _ in range(EJECT_PASSES):
            out = self.order[slot_f[self.order] < 0]
            if len(out) == 0:
                break
            placed = np.flatnonzero(slot_f >= 0)
            key = slot_f[placed] * n_spec + c.unit_specialty[self.slot_unit[placed]]
            held_start, order = csr(key, n_fac * n_spec)
            held_slot = placed[order]
            gain = 0.0
            for start in range(0, len(out), EJECT_CHUNK):
                if time.perf_counter() >= deadline:
                    return float(total + gain)
                gain += kernels.insert_by_ejection(
                    out[start : start + EJECT_CHUNK], self.slot_unit, self.groups, slot_f,
                    slot_a, problem, capacity, no_prices, held_start, held_slot,
                    self.eject_facilities,
                )  # fmt: skip
            total += gain
            if gain <= 1e-9:
                break
        return float(total)

    def true_costs(self, dual: _Dual) -> tuple[Any, ...]:
        """The placement kernels' price arguments for true costs (zero prices), made once."""
        if self.no_prices is None:
            cum0, mu0, low0, _ = dual.day_prices(np.zeros(dual.size), 0.0, quotas=False)
            self.no_prices = (
                cum0, mu0, low0, dual.unit_combo, self.c.unit_quota_row, dual.no_plan_cost
            )  # fmt: skip
        return self.no_prices

    def objective(self, slot_f: IntArray, slot_a: IntArray) -> float:
        """True objective of a slot placement (patients with no eligible facility not included)."""
        slots = neighbourhoods.Slots(self.slot_unit, slot_f, slot_a, self.slot_group)
        return neighbourhoods.slot_objective(self.c, slots)

    def patient_arrays(self, slot_f: IntArray, slot_a: IntArray) -> tuple[IntArray, IntArray]:
        """The slot placement over problem.patients: facility index (-1 unplaced), day."""
        facility = np.full(len(self.problem.patients), -1, dtype=np.int64)
        day = np.zeros(len(self.problem.patients), dtype=np.int64)
        facility[self.slot_patient] = slot_f
        day[self.slot_patient] = np.where(slot_f >= 0, slot_a, 0)
        return facility, day

    def placement(self, slot_f: IntArray, slot_a: IntArray) -> dict[str, Placement]:
        patients = self.problem.patients
        facilities = self.problem.facilities
        return {
            patients[int(self.slot_patient[k])].id: (facilities[int(slot_f[k])].id, int(slot_a[k]))
            for k in np.flatnonzero(slot_f >= 0)
        }


# The ascent's optimiser. SciPy's L-BFGS-B spent about 27 ms of its own per call on L's 85,000
# prices (a quarter of the ascent's time in 10 s); this one needs a few vector operations per
# step. Measured against it on the benchmark instances (docs/planning.md, "Large problems").
SUFFICIENT_DECREASE = 1e-4
MAX_HALVINGS = 8
RELATIVE_TOLERANCE = 2.2e-9  # stop when a step lowers the value by less than this (relative)


def projected_lbfgs(
    fun: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    max_iterations: int,
    memory: int,
    upper: float = np.inf,
    scale: FloatArray | None = None,
) -> FloatArray:
    """Minimise ``fun`` (value and gradient) over 0 <= x <= upper by projected L-BFGS.

    The quasi-Newton direction is built on the free variables (those not held at a bound by a
    gradient pointing outwards), the step is projected onto the box and halved until the value
    falls enough (Armijo). Each accepted step costs one evaluation when the full step is taken.
    ``scale`` is the diagonal of the starting inverse Hessian (up to a factor the steps fit):
    how far each variable should move for a unit of its gradient, relative to the others.
    """
    h0 = np.ones(len(x0)) if scale is None else np.asarray(scale, dtype=float)
    x = np.clip(x0, 0.0, upper)
    f, g = fun(x)
    pairs: list[tuple[FloatArray, FloatArray, float]] = []
    for _ in range(max_iterations):
        free = ((x > 0.0) | (g < 0.0)) & ((x < upper) | (g > 0.0))
        gf = np.where(free, g, 0.0)
        norm = float(np.sqrt(gf @ gf))
        if norm <= 1e-12:
            break
        q = gf.copy()
        alphas = []
        for s, y, r in reversed(pairs):
            a = r * float(s @ q)
            q -= a * y
            alphas.append(a)
        if pairs:
            s, y, _ = pairs[-1]
            q *= h0 * (float(s @ y) / float(y @ (h0 * y)))
        else:
            q = _unit_step(h0, gf)  # the first step is one unit long
        for (s, y, r), a in zip(pairs, reversed(alphas), strict=True):
            q += s * (a - r * float(y @ q))
        d = -np.where(free, q, 0.0)
        if float(d @ gf) >= 0.0:  # not a descent direction: start the memory again
            pairs.clear()
            d = -_unit_step(h0, gf)
        step = 1.0
        for _ in range(MAX_HALVINGS):
            x_new = np.clip(x + step * d, 0.0, upper)
            f_new, g_new = fun(x_new)
            if f_new <= f + SUFFICIENT_DECREASE * float(g @ (x_new - x)):
                break
            step /= 2.0
        else:
            break  # no step lowers the value: as far as this method goes
        s_new, y_new = x_new - x, g_new - g
        sy = float(s_new @ y_new)
        if sy > 1e-12 * float(y_new @ y_new):
            pairs.append((s_new, y_new, 1.0 / sy))
            if len(pairs) > memory:
                pairs.pop(0)
        converged = f - f_new <= RELATIVE_TOLERANCE * max(abs(f), abs(f_new), 1.0)
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return x


def _unit_step(scale: FloatArray, gradient: FloatArray) -> FloatArray:
    """The scaled gradient, one unit long."""
    step = scale * gradient
    return step / float(np.sqrt(step @ step))


class _Ascent:
    """The price ascent's state: prices, the best exact bound and the prices that gave it."""

    def __init__(self, dual: _Dual, temperatures: tuple[float, ...], x: FloatArray, bound: float):
        self.dual = dual
        self.temperatures = temperatures
        self.x = x
        self.bound = bound
        self.x_plan = x
        self.tau_plan = temperatures[0]
        self.stage = 0

    def stage_once(self, until: Callable[[], float]) -> tuple[float, float, bool]:
        """One temperature stage of projected L-BFGS, cut off at ``until()`` or ended where it
        only creeps (STAGE_STALL); then the exact Lagrangian.

        Returns (the stage's temperature, how much it raised the best bound, whether the cut-off
        stopped it).
        """
        last = len(self.temperatures) - 1
        tau = self.temperatures[min(self.stage, last)]
        # the coldest stage repeats: stopping it would only empty the optimiser's memory
        may_stall = STAGE_STALL > 0.0 and self.stage < last
        self.stage += 1
        before = self.bound
        latest: dict[str, Any] = {"x": self.x, "value": -np.inf}
        history: list[float] = []

        def objective(v: FloatArray) -> tuple[float, FloatArray]:
            if time.perf_counter() >= until():
                raise _OutOfTime
            value, gradient, plain = self.dual.evaluate(v, tau, bound=False)
            if value > latest["value"]:
                latest["x"], latest["value"] = v.copy(), value
            history.append(latest["value"])
            if may_stall and len(history) > STALL_WINDOW:
                rise = history[-1] - history[-1 - STALL_WINDOW]
                if rise < STAGE_STALL * (plain - value):
                    raise _Stalled
            return -value, -gradient

        cut = False
        try:
            projected_lbfgs(
                objective, self.x, STAGE_ITERATIONS, LBFGS_MEMORY, self.dual.cap,
                self.dual.step_scale,
            )  # fmt: skip
        except _OutOfTime:
            cut = True
        except _Stalled:
            pass
        self.x = latest["x"]
        _, _, exact = self.dual.evaluate(self.x, 0.0, slope=False)
        if exact >= self.bound:
            self.bound, self.x_plan, self.tau_plan = exact, self.x, tau
        return tau, self.bound - before, cut


def step_margin(exact_seconds: float, slowest_step: float) -> float:
    """Seconds a stage may run past its cut-off: the evaluation under way when the cut-off
    passes and the exact evaluation after it, at least STEP_MARGIN exact evaluations."""
    return max(STEP_MARGIN * exact_seconds, slowest_step + exact_seconds)


def reserve_factor(few: bool, fit: bool) -> float:
    """How many plans without search the final plan's reserve holds: fewer when ``few``
    evaluations fit (the plan's time is then an estimate), fewer still where no neighbourhood
    search will ``fit`` after it (FEW_ALONE_FACTOR)."""
    if not few:
        return SEARCH_FACTOR
    return FEW_SEARCH_FACTOR if fit else FEW_ALONE_FACTOR


def final_reserve(quick_seconds: float, time_left: float, few: bool, fit: bool) -> float:
    """Seconds the ascent leaves for the final plan: at least MIN_SEARCH_SHARE of
    ``time_left`` and ``reserve_factor`` plans without search (``quick_seconds`` each)."""
    return max(reserve_factor(few, fit) * quick_seconds, MIN_SEARCH_SHARE * time_left)


def solve_lagrangian(
    problem: Problem,
    view: ProblemView,
    deadline: float,
    say: Callable[[str], None],
    compact: Compact | None = None,
    prices: tuple[FloatArray, FloatArray] | None = None,
    quota_prices: FloatArray | None = None,
) -> LagrangianResult:
    """Best plan and bound found before ``deadline`` (a time.perf_counter() value).

    ``prices`` (bed prices [facility, specialty, day], admission prices [facility, day], >= 0)
    start the ascent instead of the pooled beds' prices, with ``quota_prices`` (per quota of
    `Problem.quotas`, >= 0; none: 0; a quota of some days only priced on its days, `_Dual`).
    """
    c = compact if compact is not None else build_compact(view)
    hopeless = hopeless_cost(view, c)
    plans = _Plans(problem, c)
    dual = _Dual(c, hopeless)
    say(f"{len(problem.patients)} patients in {c.n_units} units, {c.n_groups} groups")

    # the rule's time sizes the final plan's reserve: it must not include loading the kernels
    preload.wait()
    started_plan = time.perf_counter()
    slot_f, slot_a = plans.build(None, None, 0.0, deadline)
    rule_seconds = time.perf_counter() - started_plan
    best = (plans.objective(slot_f, slot_a) + hopeless, slot_f, slot_a)
    if plans.urgent_rule_order is not None:
        # a re-plan: the rule keeping every place it can first leaves new urgent patients out
        # where beds are short (on a re-plan of 105,000 patients, 5,000 of them new: 9.40 M
        # against 3.10 M for greedy, whose order is this one); the cheaper of the two
        slot_f, slot_a = plans.build(None, None, 0.0, deadline, rule_order=plans.urgent_rule_order)
        value = plans.objective(slot_f, slot_a) + hopeless
        if value < best[0]:
            best = (value, slot_f, slot_a)
    if prices is None:
        x = dual.starting_prices(max(0.1, 0.05 * (deadline - time.perf_counter())))
    else:
        x = dual.pack(*prices, quota_prices)
    clock = time.perf_counter()
    _, _, bound = dual.evaluate(x, 0.0, slope=False)
    exact_seconds = time.perf_counter() - clock
    # a smoothed evaluation with its gradient costs about twice an exact one; when fewer than
    # FEW_EVALUATIONS fit, no plan is built from the starting prices: the time goes to the
    # ascent
    affordable = (deadline - time.perf_counter()) / max(1e-9, 2 * exact_seconds)
    few = affordable < FEW_EVALUATIONS
    if few:
        quick_seconds = PRICED_PLAN_FACTOR * rule_seconds
    else:
        started_plan = time.perf_counter()
        slot_f, slot_a = plans.build(dual, x, TEMPERATURES[0], deadline, search=False)
        quick_seconds = time.perf_counter() - started_plan
        value = plans.objective(slot_f, slot_a) + hopeless
        if value < best[0]:
            best = (value, slot_f, slot_a)
    clock = time.perf_counter()
    say(f"plan {best[0]:,.2f}, bound from pooled beds {bound:,.2f}")

    # The price ascent hands its best prices to the final plan when its stages stop paying
    # (ASCENT_STALL), at PLAN_AT of the time (see MIN_SEARCH_SECONDS), or when only the final
    # plan's time is left (SEARCH_FACTOR times a plan without search, at least MIN_SEARCH_SHARE).
    # It then goes on in a second thread, raising the bound, while this one searches for better
    # plans: the ascent's kernels and HiGHS both release the interpreter, so the two cores share
    # the work.
    # time the neighbourhood search would get after the final plan; too short for one MIP,
    # the ascent keeps it (and the relocation passes the rest)
    plan_seconds = reserve_factor(few, fit=True) * quick_seconds
    search_room = (1.0 - PLAN_AT) * (deadline - clock) - plan_seconds
    room_needed = max(MIN_SEARCH_SECONDS, NEIGHBOURHOOD_ROOM_FACTOR * quick_seconds)
    neighbourhoods_fit = search_room >= room_needed
    say(
        f"neighbourhood search {'expected' if neighbourhoods_fit else 'left out'}: "
        f"{max(0.0, search_room):.1f} s would be left for it, {room_needed:.1f} s needed"
    )
    # With few evaluations and neighbourhood MIPs to follow (M in 10 s, L in 60 s) the warmest
    # stage is skipped: on M in 10 s the first MIP then found its gain in 3 of 3 runs (gap
    # 5.3-5.9 %), from warm prices in 3 of 6 (4.4-5.1 %, otherwise 8.7-9.2 %). Where no MIP
    # fits (L in 10 s), warm prices make better plans after the relocation passes: 18.7-18.9 %
    # against 19.3-20.0 %, the plan 2.30 M against 2.40 M.
    if neighbourhoods_fit:  # their MIPs run in a worker process: it starts meanwhile
        mip_process.warm(neighbourhoods.THREADS)
    else:
        # the fill's packing is what the plan keeps: longer stays first among the ties left
        # fewer patients out (L in 10 s, five runs each in turns: 54-93 left out, gaps
        # 14.25-16.50 %, against 121-126 and 16.46-17.27 %); where neighbourhood MIPs re-pack
        # the plan it measured worse (L in 60 s 2.92-2.98 % against 2.66-2.73 %)
        plans.without_neighbourhoods()
    skip_warmest = few and neighbourhoods_fit
    temperatures: tuple[float, ...] = TEMPERATURES[1:] if skip_warmest else TEMPERATURES
    if prices is not None:
        temperatures = TEMPERATURES[WARM_START_STAGE:]
    elif few and not neighbourhoods_fit:
        # the warm stage makes the final plan's prices; the bound is raised beside the plan
        # from a colder stage (NO_SEARCH_TEMPERATURES)
        temperatures = NO_SEARCH_TEMPERATURES
    ascent = _Ascent(dual, temperatures, x, bound)

    def ascent_end() -> float:
        reserve = final_reserve(quick_seconds, deadline - clock, few, neighbourhoods_fit)
        # the stage's last step and exact evaluation run past its cut-off (step_margin)
        reserve += step_margin(exact_seconds, dual.slowest_step)
        if not neighbourhoods_fit:  # too short for a neighbourhood: prices instead
            return deadline - reserve
        return min(deadline - reserve, clock + PLAN_AT * (deadline - clock))

    done = False  # the bound met the plan: nothing to go on with
    while time.perf_counter() < ascent_end():
        tau, gain, cut = ascent.stage_once(ascent_end)
        if time.perf_counter() < ascent_end():  # a quick plan (no local search) between stages
            started_plan = time.perf_counter()
            slot_f, slot_a = plans.build(dual, ascent.x, tau, deadline, search=False)
            quick_seconds = max(quick_seconds, time.perf_counter() - started_plan)
            value = plans.objective(slot_f, slot_a) + hopeless
            if value < best[0]:
                best = (value, slot_f, slot_a)
        say(f"prices at tau {tau:g}: plan {best[0]:,.2f}, bound {ascent.bound:,.2f}")
        if relative_gap(best[0], ascent.bound) <= OPTIMAL_GAP:
            done = True
            break
        if not cut and gain < ASCENT_STALL * max(1.0, abs(ascent.bound)):
            break  # the plan gets the prices; the ascent goes on beside it
    x_plan, tau_plan = ascent.x_plan, ascent.tau_plan
    background_end = deadline - STEP_MARGIN * exact_seconds
    # set when the plan's search is done before the deadline: the solve then ends, as it would
    # without the ascent beside it
    searched = threading.Event()

    def background_until() -> float:
        return -math.inf if searched.is_set() else background_end

    def continue_ascent() -> None:
        numba.set_num_threads(1)  # per thread: the other core is HiGHS's
        while time.perf_counter() < background_until():
            ascent.stage_once(background_until)

    background = threading.Thread(target=continue_ascent, daemon=True)
    # numba's fallback threading layer (workqueue) must not run parallel kernels from two
    # threads at once; the OpenMP and TBB layers may
    try:
        layer: str = threading_layer()  # type: ignore[no-untyped-call]
    except ValueError:  # no parallel kernel has run in this process yet
        layer = "workqueue"
    if not done and layer != "workqueue":
        background.start()
    if time.perf_counter() + quick_seconds < deadline:
        local_search_end = time.perf_counter() + quick_seconds
        local_search_end += LOCAL_SEARCH_SHARE * (deadline - local_search_end)
        if not neighbourhoods_fit or deadline - local_search_end < MIN_SEARCH_SECONDS:
            local_search_end = deadline  # no neighbourhood would fit, or not be worth it
        # with no neighbourhood MIP to follow, the expected columns are taken colder than the
        # prices' stage (FINAL_COOLING)
        tau_fill = tau_plan if neighbourhoods_fit else FINAL_COOLING * tau_plan
        slot_f, slot_a = plans.build(dual, x_plan, tau_fill, local_search_end)
        value = plans.objective(slot_f, slot_a) + hopeless
        if value < best[0]:
            best = (value, slot_f, slot_a)
        say(f"plan from the best prices with local search: {value:,.2f}")
    slots = neighbourhoods.Slots(plans.slot_unit, best[1].copy(), best[2].copy(), plans.slot_group)
    gain = _search(plans, dual, x_plan, slots, deadline, say)
    if gain > 0.0:
        best = (
            plans.objective(slots.facility, slots.day) + hopeless,
            slots.facility,
            slots.day,
        )
        say(f"plan after the neighbourhood search: {best[0]:,.2f}")
    if background.ident is not None:  # started
        searched.set()
        background.join()
        say(f"bound after the ascent went on beside the search: {ascent.bound:,.2f}")
    bound = ascent.bound
    facility, day = plans.patient_arrays(best[1], best[2])
    return LagrangianResult(
        facility=facility,
        day=day,
        objective=best[0],
        bound=bound,
        evaluations=dual.evaluations,
        prices=dual.unpack(ascent.x_plan),
        quota_prices=dual.quota_prices(ascent.x_plan),
    )


def lagrangian_bound(
    problem: Problem,
    view: ProblemView,
    compact: Compact,
    prices: tuple[FloatArray, FloatArray],
    quota_prices: FloatArray | None = None,
) -> float:
    """The Lagrangian of ``problem`` (its exact value, groups' term included) at the bed,
    admission and quota ``prices`` (none: 0; the price of a quota of some days only counts on
    the columns admitted on its days, `_Dual`): a lower bound on its optimum whatever the
    prices (>= 0) are."""
    dual = _Dual(compact, hopeless_cost(view, compact))
    _, _, exact = dual.evaluate(dual.pack(*prices, quota_prices), 0.0, slope=False)
    return exact


def _search(
    plans: _Plans,
    dual: _Dual,
    x: FloatArray,
    slots: neighbourhoods.Slots,
    deadline: float,
    say: Callable[[str], None],
) -> float:
    """The neighbourhood search on ``slots`` (changed in place) with prices ``x`` choosing the
    candidate columns and each unit's cost above its cheapest priced column ordering the slices;
    returns the gain."""
    c = plans.c
    cum, mu = dual.prices(x)
    excess = np.bincount(
        plans.slot_unit, weights=neighbourhoods.slot_costs(c, slots), minlength=c.n_units
    ) - c.unit_count * dual.unit_minima(x)
    repair = neighbourhoods.Repair(plans.groups, plans.true_costs(dual))
    return neighbourhoods.improve(
        c, slots, c.kernel_problem(), cum, mu, excess, deadline, say, repair
    )


def improve_plan(
    problem: Problem,
    compact: Compact,
    placed: dict[str, Placement],
    bed_prices: FloatArray,
    admission_prices: FloatArray,
    deadline: float,
    say: Callable[[str], None],
) -> dict[str, Placement] | None:
    """The neighbourhood search on a given plan until ``deadline``: the better plan, or None.

    ``bed_prices`` [facility, specialty, day] and ``admission_prices`` [facility, day] (>= 0,
    the exact engine's LP duals) choose each unit's candidate columns and order the slices.
    The first sweep rounds LPs, the later ones solve MIPs; a slice is re-placed only when that
    lowers the true objective, so the plan returned costs strictly less than ``placed``.
    """
    c = compact
    dual = _Dual(c, 0.0)
    x = dual.pack(bed_prices, admission_prices)
    plans = _Plans(problem, c)
    index = problem.facility_index
    ids = [problem.patients[int(k)].id for k in plans.slot_patient]
    where = [placed.get(patient) for patient in ids]
    slot_f = np.array([-1 if p is None else index[p[0]] for p in where], dtype=np.int64)
    slot_a = np.array([0 if p is None else p[1] for p in where], dtype=np.int64)
    slots = neighbourhoods.Slots(plans.slot_unit, slot_f, slot_a, plans.slot_group)
    if _search(plans, dual, x, slots, deadline, say) <= 0.0:
        return None
    return plans.placement(slots.facility, slots.day)


@dataclass(frozen=True, slots=True)
class PricedColumns:
    """What `priced_columns` found: columns as (patient, facility, day), the best exact
    Lagrangian (without the cost of patients no facility can take) and the prices that gave it
    (bed prices [facility, specialty, day], admission prices [facility, day])."""

    patient: IntArray
    facility: IntArray
    day: IntArray
    bound: float
    prices: tuple[FloatArray, FloatArray]


def priced_columns(compact: Compact, until: float, per_unit: int) -> PricedColumns:
    """Columns of low priced cost after a short price ascent, to seed an LP master.

    Runs the ascent (pooled starting prices, then the temperature stages) until ``until`` (a
    time.perf_counter() value) or until it stalls, and returns (patient, facility, day) of each
    unit's ``per_unit`` cheapest columns at the best prices found, plus its cheapest column of
    every admission day; the patient is the unit's first member. Also returns the best exact
    Lagrangian, a valid lower bound, and its prices.
    """
    c = compact
    dual = _Dual(c, 0.0)
    x = dual.starting_prices(max(0.05, 0.2 * (until - time.perf_counter())))
    _, _, bound = dual.evaluate(x, 0.0, slope=False)
    ascent = _Ascent(dual, TEMPERATURES, x, bound)
    while time.perf_counter() < until:
        _, gain, cut = ascent.stage_once(lambda: until)
        if not cut and gain < ASCENT_STALL * max(1.0, abs(ascent.bound)):
            break
    cum, mu = dual.prices(ascent.x_plan)
    units = np.arange(c.n_units, dtype=np.int64)
    every_day = np.ones(c.n_units, dtype=bool)
    cu, cf, ca = kernels.cheapest_columns(units, per_unit, every_day, cum, mu, c.kernel_problem())
    return PricedColumns(
        c.member_patient[c.first_member()[cu]], cf, ca, ascent.bound, dual.unpack(ascent.x_plan)
    )

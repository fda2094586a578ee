"""Exact engine: aggregated classes, column generation with a Lagrangian proof, HiGHS MIP.

Outline (see docs/planning.md for the reasoning):

1. Patients who are interchangeable (same origin, specialty, precedence, effective stay, earliest
   day, needs, organisation and distance limit, no group and no current place) form one *unit*
   with an integer count; group members and re-planned patients are units of one.
2. A column is (unit, facility, admission day). Beds are modelled per (facility, specialty) as a
   flow over days (occupancy = previous occupancy + admissions - discharges, bounded by the free
   beds), so a column has at most five non-zeros whatever its length of stay.
3. Column generation on the LP relaxation starts from the first days at the two cheapest
   facilities per unit (plus the greedy plan) and prices every eligible (facility, day) of every
   unit with the bed and admission-limit duals.
4. The duals give a Lagrangian lower bound over the *full* arc set (beds and admission limits
   relaxed); it is valid for any multipliers, so the bound is honest even if pricing stopped early.
   When the LP does not converge in its share of the time, the Lagrangian engine of large
   problems (below) takes the rest, and the better plan and bound are kept.
5. The LP is rounded and repaired into a plan; HiGHS then solves the MIP on a core of columns.
   Every column left out costs at least its Lagrangian margin more than the bound; if none has a
   margin below the incumbent's gap, the restricted optimum is the global one. Otherwise those
   columns are added and the MIP is solved again. The best of greedy, rounding and MIP is kept.

Problems with more than LARGE_UNITS units skip the LP master, whose simplex re-solves do not
finish in time at that size, and go to the Lagrangian engine (lagrangian.py): prices improved on
a smoothed Lagrangian, an exact Lagrangian bound, and plans placed by priced cost.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import highspy
import numpy as np

from medevac.planning import heap, preload, runtime, specialty_passes
from medevac.planning.compact import Compact, build_compact
from medevac.planning.engines import checked_time_limit
from medevac.planning.greedy import solve_greedy
from medevac.planning.highs_model import (
    MIP_ABS_GAP,
    SOLVER_NAME,
    LinearModel,
    MipModel,
    read_result,
)
from medevac.planning.lagrangian import (
    improve_plan,
    priced_columns,
    solve_lagrangian,
)
from medevac.planning.mip_process import solve_mip
from medevac.planning.mip_process import warm as warm_mip_worker
from medevac.planning.model import (
    BoolArray,
    FloatArray,
    IntArray,
    Placement,
    ProblemView,
    ProgressCallback,
    assemble_plan,
    assemble_plan_arrays,
    breakdown_of,
    breakdown_of_arrays,
    open_places,
    placement_arrays,
)
from medevac.planning.plan import OPTIMAL_TOLERANCE, Plan, PlanStatus, relative_gap
from medevac.planning.problem import Problem
from medevac.planning.quotas import (
    binding_quotas,
    keep_to_quotas,
    pooled_prices,
    within_quotas,
)
from medevac.planning.replans import back_to_current

# Solver cost bonus for keeping a current (facility, day): breaks exact ties in favour of the
# existing plan so that re-solving an unchanged problem moves nobody. Far below any real cost.
# Bounds are proven on these solver costs, so "optimal" means: no plan costs less by more than
# the bonus for each patient with a current placement (see `_proven_optimal`). Its floor is a
# few times HiGHS's absolute MIP gap (`highs_model.MIP_ABS_GAP`), below which HiGHS may stop
# without the tie broken; it was 1e-5, which outweighed a move saving 8.9e-6 of an objective
# of 1.11 (8e-6 relative, above the 1e-6): the plan keeping the place was called
# optimal, its bound above the optimum (found by a review's fuzzing).
KEEP_BONUS = 4 * MIP_ABS_GAP
# HiGHS stops a MIP once its gap is below MIP_REL_GAP of the objective, so a plan that gives up
# a kept place must cost more than that, or HiGHS may return it: with a bonus of 1e-5 and
# objectives of about 10,000 (a tolerance of 1e-4), two patients of a re-plan swapped their
# admission days at the same facility, at equal true cost (found by a stress run, 2 problems
# in 350). The bonus is at least this many times that tolerance (`keep_bonus_for`).
KEEP_BONUS_TOLERANCES = 4.0
# ... of an objective no larger than this many times a lower bound without capacity (each
# patient at its cheapest place, or left out): an upper bound from a plan far from the optimum
# (greedy's, leaving out an urgent patient at 100,000 where the optimum was 0.11) had made the
# bonus 0.004, more than a move worth 0.002 saved, and the plan kept was called optimal 2 %
# above the optimum (found by a review)
KEEP_BONUS_BOUNDS = 4.0
MIP_REL_GAP = 1e-8
PRICING_TOLERANCE = 1e-6
# column generation ends by this share of the time limit; if its LP has not converged by then,
# the Lagrangian engine takes the rest, otherwise the MIP does
LP_SHARE = 0.5
# ... or by this share, once the bound priced from the LP's duals is within NEAR_CONVERGED of
# the LP's value: 1,500 x 60 in 10 s handed over at 5 s one round short of convergence (gap
# 1.1-1.9 %); let finish at 5.7 s, its MIP gave 0.34 %
LP_SHARE_NEAR = 0.7
NEAR_CONVERGED = 0.01
OPTIMAL_GAP = 1e-7
MAX_COLUMNS_ADDED_PER_UNIT = 12
MIP_COLUMNS_PER_UNIT = 6
# time kept for assembling a large plan (objective terms, 100,000 assignments, reasons for the
# unplaced), plus the background ascent's last step: 0.12-0.23 s of assembly on L since the
# engines freeze the objects a solve starts with (heap.py; 0.38-0.55 s before, most of it the
# collector). At 6e-6 L in 10 s ended at 9.50-9.52 s with 13.26-13.48 % (four runs); at 4e-6
# at 9.67-9.69 s with 12.09-12.20 % (three), at 3e-6 at 9.78-9.83 s (too close to the limit
# for a slow hour, when the assembly takes 0.23 s and the last step 0.2 s)
ASSEMBLY_SECONDS_PER_PATIENT = 4e-6
# Kept for the re-plan's last step (`replans.back_to_current`: patients put back in their
# current places, the result checked) per patient with a current place, in the large engine:
# on a re-plan of 105,000 patients in 10 s its search had used the time up and the step found
# none left; given 1.2e-5 s, the step took 0.68 s (2,009 pairs and 4,134 patients put back),
# the check 0.68 s and the solve ended at 10.27 s, on a busy machine. Since exchanges of three to
# five patients are put back too (2026-12-07) the step's search takes about 0.7 s more on such
# a re-plan (100,000 patients, 95,000 of them with a current place)
REPLAN_SECONDS_PER_CURRENT = 2e-5
# share of the limit the large engine leaves unused: its last HiGHS run and the ascent's last
# step can end a little after their own limits (M in 10 s ended at 10.07-10.08 s in 2 of 6 runs
# without it)
END_MARGIN_SHARE = 0.01
# A MIP is not started with less time left than this much per column. HiGHS's presolve alone
# takes about 1e-4 s a column on this machine (HiGHS 1.16: 11.3 s for S's proof MIP of 128,869
# columns, 30.4 s for 286,330 columns of 1,500 patients x 60 facilities), does not stop at the
# time limit while it probes, and the rest of a MIP takes at least as long again (S's proof:
# 55.5 s in all). Started with 43 s left, that 286,330-column MIP ran 2.4 s past the limit and
# found nothing; with 1.14 a MIP of the same size given 8.8 s stopped in probing after 12.5 s.
MIP_SECONDS_PER_COLUMN = 2e-4
# With at least this much time left after the MIPs (the last one skipped for want of time, or
# none needed), the neighbourhood search of large problems works on the plan until the limit
SEARCH_SECONDS = 1.0
# A MIP on part of the columns that could still help is not started for fewer than this many
PARTIAL_PROOF_COLUMNS = 5000
PARTIAL_SHARE = 0.9  # of the time left, what a partial proof's columns are sized to
# the share of the limit a partial proof leaves unused at the end: HiGHS stopped up to 2.5 s
# after its limit on 1,500 x 60 at 60 s, where one round of its root cuts takes 5-7 s (with 1 %
# kept, the solve ended at 60.7 and 61.4 s; with 3 %, at 60.8 s)
PARTIAL_MARGIN_SHARE = 0.08
# When column generation from the nearest facilities' first days is not expected to converge in
# its share of the limit (`_lp_seconds`), a price ascent (lagrangian.py) of up to
# PRICE_SEED_SHARE of the limit comes first, and each unit's PRICE_SEED_COLUMNS cheapest columns
# at its prices (and its cheapest of every day) seed the LP master. On 2,500 patients x 90
# facilities (1,989 units, 60 s) the LP then converged at 23 s and the gap was 0.52 %; without
# the seed the LP had not converged at 30 s, the Lagrangian engine took over and the gap was
# 5.58 %. Where the LP converges anyway the seed did not pay: on S (899 units, 60 s) the LP
# converged sooner (3.3 s against about 4 s) but on other prices, and the first MIP took 24 s
# instead of 4 s (S not proven optimal in 60 s); on 2,000 x 75 (1,635 units, 60 s) the LP
# converged at 8.5 s instead of 28 s, but the first MIP then ran to the limit and the plan was
# worse (gap 0.60 % against 0.51 %)
PRICE_SEED_SHARE = 0.1
PRICE_SEED_COLUMNS = 6
# with quotas that may bind, the pooled LP (a bound that sees them, and the ascent's starting
# prices) gets at most this share of the time
POOLED_SHARE = 0.2
LARGE_UNITS = 2500  # above this many units the LP master is too slow: Lagrangian engine
LARGE_SOLVER = "exact, Lagrangian (projected L-BFGS on smoothed prices) with price-guided placement"


@dataclass(slots=True)
class _Units:
    """Aggregated patients and the static part of their column costs."""

    members: list[list[int]] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    specialty: list[int] = field(default_factory=list)
    stay: list[int] = field(default_factory=list)
    day_cost: list[FloatArray] = field(default_factory=list)
    eligible: list[IntArray] = field(default_factory=list)
    static: list[FloatArray] = field(default_factory=list)
    unplaced: list[float] = field(default_factory=list)
    group: list[str | None] = field(default_factory=list)
    keep: list[tuple[int, int] | None] = field(default_factory=list)
    included: list[BoolArray] = field(default_factory=list)
    #: the quotas the unit's patients fall under (`ProblemView.quotas_of`), and [quota, local
    #: facility] where each counts (on the quota's days only: `ProblemView.quota_days`)
    quotas: list[IntArray] = field(default_factory=list)
    quota_at: list[BoolArray] = field(default_factory=list)
    #: [local facility, day]: inf on the days a facility does not admit the unit's patients
    #: (`ProblemView.open_days`: after it stops, `Facility.accepts_until`, and before their
    #: earliest day, where the day costs are inf already), else 0; None where no facility stops
    shut: list[FloatArray | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.count)


def _build_units(problem: Problem, view: ProblemView) -> tuple[_Units, list[int]]:
    """Aggregate patients into units; also return the patients with no eligible facility (or
    none that admits them on or after their earliest day, `ProblemView.has_open_day`)."""
    units = _Units()
    horizon = view.horizon
    w = problem.weights
    by_key: dict[tuple[object, ...], int] = {}
    hopeless: list[int] = []
    for i, p in enumerate(problem.patients):
        screen = view.screen(i)
        if not view.has_open_day(i):  # nowhere to go, or none that still admits the patient
            hopeless.append(i)
            continue
        stay = min(p.length_of_stay_days, horizon - p.earliest_day)
        key: tuple[object, ...] | None = None
        if p.group is None and p.current is None:
            key = (
                int(view.origin_of[i]), p.specialty, p.precedence, stay, p.earliest_day,
                p.needs, p.organisation, p.max_distance_km,
            )  # fmt: skip
            found = by_key.get(key)
            if found is not None:
                units.members[found].append(i)
                units.count[found] += 1
                continue
            by_key[key] = len(units)
        eligible = np.flatnonzero(screen.eligible)
        static = w.travel_per_km * view.distance[view.origin_of[i], eligible]
        last_days = view.last_days(p.organisation)
        last = last_days[eligible]
        shut = None
        if (last < horizon - 1).any():
            shut = np.where(view.open_days(i)[eligible], 0.0, np.inf)
        keep = None
        if p.current is not None:
            current = problem.facility_index[p.current.facility]
            static = static + w.change * (eligible != current)
            if (
                current in set(eligible.tolist())
                and p.earliest_day <= p.current.day <= last_days[current]
            ):
                keep = (current, p.current.day)
        units.members.append([i])
        units.count.append(1)
        units.specialty.append(view.specialty_index[p.specialty])
        units.stay.append(stay)
        units.day_cost.append(view.day_cost(p))
        units.eligible.append(eligible)
        units.static.append(static)
        units.unplaced.append(view.unplaced_cost(p))
        units.group.append(p.group)
        units.keep.append(keep)
        units.included.append(np.zeros((len(eligible), horizon), dtype=bool))
        quotas = view.quotas_of(i)
        units.quotas.append(quotas)
        units.quota_at.append(view.quota_facility[quotas][:, eligible])
        units.shut.append(shut)
    return units, hopeless


@dataclass(slots=True)
class _Columns:
    """Generated columns as parallel arrays (unit, facility, local facility index, day)."""

    unit: list[IntArray] = field(default_factory=list)
    facility: list[IntArray] = field(default_factory=list)
    local: list[IntArray] = field(default_factory=list)
    day: list[IntArray] = field(default_factory=list)
    size: int = 0
    handed_out: int = 0

    def add(self, units: _Units, u: int, local: IntArray, days: IntArray) -> int:
        fresh = ~units.included[u][local, days]
        if not fresh.any():
            return 0
        local, days = local[fresh], days[fresh]
        units.included[u][local, days] = True
        self.unit.append(np.full(len(local), u, dtype=np.int64))
        self.facility.append(units.eligible[u][local])
        self.local.append(local.astype(np.int64))
        self.day.append(days.astype(np.int64))
        self.size += len(local)
        return len(local)

    def pending(self) -> tuple[IntArray, IntArray, IntArray]:
        """(unit, local facility, day) of the columns added since the last call."""
        part = slice(self.handed_out, len(self.unit))
        self.handed_out = len(self.unit)
        if not self.unit[part]:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        return (
            np.concatenate(self.unit[part]),
            np.concatenate(self.local[part]),
            np.concatenate(self.day[part]),
        )

    def arrays(self) -> tuple[IntArray, IntArray, IntArray]:
        return (np.concatenate(self.unit), np.concatenate(self.facility), np.concatenate(self.day))


class _Master:
    """The restricted master problem, kept in one HiGHS instance and grown column by column.

    Every row any column could need is created up front: unit rows, bed balance rows for each
    (facility, specialty) some unit may use, admission rows for limited facilities and the group
    rows; new columns then only add coefficients, so HiGHS re-solves from its last basis.
    """

    def __init__(self, view: ProblemView, units: _Units, gs: float, keep_bonus: float) -> None:
        self.view = view
        self.units = units
        self.keep_bonus = keep_bonus
        horizon = view.horizon
        n_spec = view.beds.shape[1]
        n_fac = view.n_facilities
        model = LinearModel()
        count = np.array(units.count, dtype=float)
        self.unplaced_cols = model.add_columns(np.array(units.unplaced), 0.0, count, integer=False)
        self.unit_rows = model.add_rows(count, count)
        model.add_entries(self.unit_rows, self.unplaced_cols, 1.0)

        spec = np.array(units.specialty, dtype=np.int64)
        self.stay = np.array(units.stay, dtype=np.int64)
        pair_keys = np.unique(
            np.concatenate([e * n_spec + spec[u] for u, e in enumerate(units.eligible)])
        )
        self.pairs = pair_keys
        first = model.add_rows(np.zeros(len(pair_keys) * horizon), 0.0)[::horizon]
        self.balance_rows = first
        self.pair_first = np.full(n_fac * n_spec, -1, dtype=np.int64)
        self.pair_first[pair_keys] = first
        pf, ps = np.divmod(pair_keys, n_spec)
        occ_upper = view.beds[pf, ps, :].astype(float).ravel()
        occ = model.add_columns(np.zeros(len(occ_upper)), -np.inf, occ_upper, integer=False)
        occ_row = np.repeat(first, horizon) + np.tile(np.arange(horizon), len(pair_keys))
        model.add_entries(occ_row, occ, 1.0)
        not_last = np.tile(np.arange(horizon) < horizon - 1, len(pair_keys))
        model.add_entries(occ_row[not_last] + 1, occ[not_last], -1.0)

        used = np.unique(np.concatenate(units.eligible))
        limited = used[view.admission_limit[used, 0] >= 0]
        self.admission_first = np.full(n_fac, -1, dtype=np.int64)
        adm = model.add_rows(
            np.full(len(limited) * horizon, -np.inf),
            view.admission_limit[limited].astype(float).ravel(),
        )
        self.admission_first[limited] = adm[::horizon]
        self.admission_keys = (limited[:, None] * horizon + np.arange(horizon)[None, :]).ravel()
        self.admission_rows = adm

        #: one row per quota: the placements counting against it are at most its room
        self.quota_rows = model.add_rows(
            np.full(view.n_quotas, -np.inf), view.quota_room.astype(float)
        )

        self.link_rows: dict[int, IntArray] = {}
        self.y_of: dict[tuple[str, int], int] = {}
        self.y_cols = np.zeros(0, dtype=np.int64)
        self._add_groups(model, gs, n_fac)
        self.model = model
        self.x = np.zeros(0, dtype=np.int64)
        self.cost = np.zeros(0)
        self.highs: highspy.Highs | None = None
        self.integer = False

    def _add_groups(self, model: LinearModel, gs: float, n_fac: int) -> None:
        units = self.units
        members: dict[str, list[int]] = defaultdict(list)
        for u, g in enumerate(units.group):
            if g is not None:
                members[g].append(u)
        ys: list[IntArray] = []
        for unit_list in members.values():
            facilities = np.unique(np.concatenate([units.eligible[u] for u in unit_list]))
            y = model.add_columns(np.full(len(facilities), gs), 0.0, 1.0, integer=True)
            ys.append(y)
            for f, col in zip(facilities.tolist(), y.tolist(), strict=True):
                self.y_of[(str(units.group[unit_list[0]]), f)] = col
            z = model.add_columns(np.array([-gs]), 0.0, 1.0, integer=False)
            zrow = model.add_rows(np.array([-np.inf]), 0.0)
            model.add_entries(zrow, z, 1.0)
            model.add_entries(np.repeat(zrow, len(y)), y, -1.0)
            for u in unit_list:
                link = model.add_rows(np.full(len(units.eligible[u]), -np.inf), 0.0)
                model.add_entries(link, y[np.searchsorted(facilities, units.eligible[u])], -1.0)
                self.link_rows[u] = link
        if ys:
            self.y_cols = np.concatenate(ys)

    def add(self, cu: IntArray, local: IntArray, ca: IntArray) -> None:
        """Add x columns (unit, local facility index, day)."""
        if len(cu) == 0:
            return
        units, view = self.units, self.view
        horizon = view.horizon
        n_spec = view.beds.shape[1]
        cf = np.empty(len(cu), dtype=np.int64)
        cost = np.empty(len(cu))
        solver_cost = np.empty(len(cu))
        order = np.argsort(cu, kind="stable")
        bounds = np.flatnonzero(np.diff(cu[order])) + 1
        for block in np.split(order, bounds):
            u = int(cu[block[0]])
            cf[block] = units.eligible[u][local[block]]
            cost[block] = units.day_cost[u][ca[block]] + units.static[u][local[block]]
            solver_cost[block] = cost[block]
            keep = units.keep[u]
            if keep is not None:
                solver_cost[block[(cf[block] == keep[0]) & (ca[block] == keep[1])]] -= (
                    self.keep_bonus
                )
        spec = np.array(units.specialty, dtype=np.int64)[cu]
        stay = self.stay[cu]
        n = len(cu)
        col = [np.arange(n), np.arange(n)]
        row = [self.unit_rows[cu], self.pair_first[cf * n_spec + spec] + ca]
        val = [np.ones(n), -np.ones(n)]
        leaves = np.flatnonzero(ca + stay < horizon)
        col.append(leaves)
        row.append(self.pair_first[cf[leaves] * n_spec + spec[leaves]] + ca[leaves] + stay[leaves])
        val.append(np.ones(len(leaves)))
        limited = np.flatnonzero(self.admission_first[cf] >= 0)
        col.append(limited)
        row.append(self.admission_first[cf[limited]] + ca[limited])
        val.append(np.ones(len(limited)))
        for j in np.flatnonzero([len(units.quotas[u]) > 0 for u in cu.tolist()]).tolist():
            u = int(cu[j])
            quotas = units.quotas[u]
            # a column counts against a quota at its facilities on the quota's days only
            counted = quotas[units.quota_at[u][:, local[j]] & view.quota_days[quotas, ca[j]]]
            col.append(np.full(len(counted), j))
            row.append(self.quota_rows[counted])
            val.append(np.ones(len(counted)))
        for j in range(n):
            link = self.link_rows.get(int(cu[j]))
            if link is not None:
                col.append(np.array([j]))
                row.append(link[local[j : j + 1]])
                val.append(np.ones(1))
        cols, rows, vals = np.concatenate(col), np.concatenate(row), np.concatenate(val)
        upper = np.array(units.count, dtype=float)[cu]
        if self.highs is None:
            x = self.model.add_columns(solver_cost, 0.0, upper, integer=True)
            self.model.add_entries(rows, x[cols], vals)
        else:
            first = self.highs.getNumCol()
            order = np.argsort(cols, kind="stable")
            starts = np.searchsorted(cols[order], np.arange(n)).astype(np.int32)
            self.highs.addCols(
                n, solver_cost, np.zeros(n), upper, len(order), starts,
                rows[order].astype(np.int32), vals[order],
            )  # fmt: skip
            x = np.arange(first, first + n, dtype=np.int64)
            if self.integer:
                self._set_integer(x)
        self.x = np.concatenate([self.x, x])
        self.cost = np.concatenate([self.cost, cost])

    def start(self, time_limit: float) -> highspy.Highs:
        """Hand the model built so far to HiGHS; later columns go straight to that instance."""
        self.highs = self.model.to_highs(integer=False, time_limit=time_limit)
        return self.highs

    def make_integer(self) -> None:
        """Declare x and y integer (after the LP phase)."""
        self.integer = True
        self._set_integer(np.concatenate([self.x, self.y_cols]))

    def _set_integer(self, cols: IntArray) -> None:
        assert self.highs is not None
        kinds = np.full(len(cols), 1, dtype=np.uint8)  # HighsVarType.kInteger
        self.highs.changeColsIntegrality(len(cols), cols.astype(np.int32), kinds)


@dataclass(slots=True)
class _Pricing:
    """Result of pricing every eligible column with given multipliers."""

    lagrangian: float
    best: FloatArray  # per unit: min(unplaced, min reduced cost)
    slack: FloatArray  # per unit: group slack (0 outside groups) in the margin of a column
    added: int = 0
    min_excluded_margin: float = np.inf
    # per unit: the (facility, day) and margin of each left-out column below the margin limit
    excluded: list[tuple[int, IntArray, IntArray, FloatArray]] = field(default_factory=list)
    # per unit: the (facility, day) of its cheapest reduced cost, facility -1 if unplaced is best
    choice_facility: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    choice_day: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _multipliers(
    view: ProblemView, built: _Master | None, duals: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """Bed (facility, specialty, day) and admission (facility, day) multipliers, all >= 0."""
    horizon = view.horizon
    rho = np.zeros(view.beds.shape)
    mu = np.zeros((view.n_facilities, horizon))
    if built is None or duals is None:
        return rho, mu
    n_spec = view.beds.shape[1]
    theta = duals[built.balance_rows[:, None] + np.arange(horizon)[None, :]]
    theta_next = np.concatenate([theta[:, 1:], np.zeros((len(theta), 1))], axis=1)
    pf, ps = np.divmod(built.pairs, n_spec)
    rho[pf, ps, :] = np.maximum(0.0, theta - theta_next)
    af, ad = np.divmod(built.admission_keys, horizon)
    mu[af, ad] = np.maximum(0.0, -duals[built.admission_rows])
    return rho, mu


def _quota_multipliers(
    view: ProblemView, built: _Master | None, duals: FloatArray | None
) -> FloatArray:
    """Quota multipliers (one per quota, >= 0): the price of a place under each."""
    if built is None or duals is None:
        return np.zeros(view.n_quotas)
    return np.maximum(0.0, -duals[built.quota_rows])


def _quota_costs(
    view: ProblemView, units: _Units, kappa: FloatArray | None, u: int
) -> FloatArray | float:
    """What unit ``u``'s quotas add, at prices ``kappa``, to its column at each of its eligible
    facilities and admission days: [local facility, day], or [local facility, 1] where every
    quota holds on every day (0 without quotas or prices). A quota's price is added on the
    quota's days only (`ProblemView.quota_days`), as its master row counts the column there
    only: the reduced costs, the Lagrangian and the proof's margins stay those of the master.
    """
    if kappa is None or not len(units.quotas[u]):
        return 0.0
    quotas = units.quotas[u]
    prices = kappa[quotas]
    if not view.quotas_have_days:
        return (prices @ units.quota_at[u])[:, None]
    # [local facility, day]: the sum of the prices of the quotas counting the column there
    priced_at = prices[:, None] * units.quota_at[u]  # [quota, local facility]
    costs: FloatArray = priced_at.T @ view.quota_days[quotas].astype(float)
    return costs


def _price(
    view: ProblemView,
    units: _Units,
    rho: FloatArray,
    mu: FloatArray,
    gs: float,
    *,
    unit_duals: FloatArray | None = None,
    columns: _Columns | None = None,
    margin_limit: float | None = None,
    slack: FloatArray | None = None,
    kappa: FloatArray | None = None,
) -> _Pricing:
    """Lagrangian bound; optionally add negative-reduced-cost columns or find left-out margins.

    ``kappa`` prices the quota rows (none: 0), as ``rho`` the beds and ``mu`` admissions."""
    horizon = view.horizon
    cum = np.concatenate([np.zeros((*rho.shape[:2], 1)), np.cumsum(rho, axis=2)], axis=2)
    days = np.arange(horizon)
    occupancy_cache: dict[tuple[int, int], FloatArray] = {}
    best = np.empty(len(units))
    per_facility: dict[int, FloatArray] = {}
    result = _Pricing(0.0, best, np.zeros(len(units)))
    result.choice_facility = np.full(len(units), -1, dtype=np.int64)
    result.choice_day = np.zeros(len(units), dtype=np.int64)
    for u in range(len(units)):
        s, stay = units.specialty[u], units.stay[u]
        occ = occupancy_cache.get((s, stay))
        if occ is None:
            ends = np.minimum(days + stay, horizon)
            occ = cum[:, s, ends] - cum[:, s, days] + mu
            occupancy_cache[(s, stay)] = occ
        eligible = units.eligible[u]
        rc = units.day_cost[u][None, :] + units.static[u][:, None] + occ[eligible]
        quota_cost = _quota_costs(view, units, kappa, u)
        if not isinstance(quota_cost, float):
            rc = rc + quota_cost
        if units.shut[u] is not None:
            rc = rc + units.shut[u]
        cheapest_local, cheapest_day = divmod(int(np.argmin(rc)), horizon)
        low = float(rc[cheapest_local, cheapest_day])
        best[u] = min(units.unplaced[u], low)
        if low < units.unplaced[u]:
            result.choice_facility[u] = eligible[cheapest_local]
            result.choice_day[u] = cheapest_day
        if units.group[u] is not None:
            per_facility[u] = rc.min(axis=1)
        if unit_duals is not None and columns is not None:
            negative = rc - unit_duals[u] < -PRICING_TOLERANCE * max(1.0, abs(unit_duals[u]))
            negative &= ~units.included[u]
            if negative.any():
                fi, di = np.nonzero(negative)
                if len(fi) > MAX_COLUMNS_ADDED_PER_UNIT:
                    top = np.argsort(rc[fi, di], kind="stable")[:MAX_COLUMNS_ADDED_PER_UNIT]
                    fi, di = fi[top], di[top]
                result.added += columns.add(units, u, fi, di)
        if margin_limit is not None and slack is not None:
            margin = rc - best[u] + slack[u]
            outside = ~units.included[u] & np.isfinite(rc)
            if outside.any():
                result.min_excluded_margin = min(
                    result.min_excluded_margin, float(margin[outside].min())
                )
                fi, di = np.nonzero(outside & (margin < margin_limit))
                if fi.size:
                    result.excluded.append((u, fi, di, margin[fi, di]))
    count = np.array(units.count, dtype=float)
    total = float(np.dot(count, best))
    # groups: min(all unplaced, all at one facility, split over several + group_split)
    members: dict[str, list[int]] = defaultdict(list)
    for u in per_facility:
        members[str(units.group[u])].append(u)
    for unit_list in members.values():
        base = sum(units.unplaced[u] for u in unit_list)
        delta: dict[int, float] = defaultdict(float)
        for u in unit_list:
            gain = np.minimum(per_facility[u] - units.unplaced[u], 0.0)
            for f, g in zip(units.eligible[u].tolist(), gain.tolist(), strict=True):
                delta[f] += g
        single = base + min(delta.values(), default=0.0)
        split = float(sum(best[u] for u in unit_list)) + gs
        group_lb = min(base, single, split)
        total += group_lb - sum(best[u] for u in unit_list)
        for u in unit_list:
            result.slack[u] = float(sum(best[v] for v in unit_list)) - group_lb
    beds = view.beds.astype(float)
    limit = np.where(view.admission_limit >= 0, view.admission_limit, 0).astype(float)
    total -= float(np.sum(rho * beds)) + float(np.sum(mu * limit))
    if kappa is not None:
        total -= float(np.dot(kappa, view.quota_room))
    result.lagrangian = total
    return result


def _seed_columns(
    units: _Units, columns: _Columns, horizon: int, n_nearest: int, n_days: int
) -> None:
    """Start from the cheapest few facilities of each unit, on its first few admission days."""
    for u in range(len(units)):
        k = min(n_nearest, len(units.eligible[u]))
        local = np.argsort(units.static[u], kind="stable")[:k]
        earliest = int(np.argmax(np.isfinite(units.day_cost[u])))
        days = np.arange(earliest, min(horizon, earliest + n_days))
        fi, di = np.meshgrid(local, days, indexing="ij")
        ok = np.isfinite(units.day_cost[u][di])
        shut = units.shut[u]
        if shut is not None:
            ok &= np.isfinite(shut[fi, di])
        columns.add(units, u, fi[ok], di[ok])
        keep = units.keep[u]
        if keep is not None:
            lk = np.searchsorted(units.eligible[u], keep[0])
            columns.add(units, u, np.array([lk]), np.array([keep[1]]))


# Column generation without the seed converged in about 4 s on S (899 units), 12.8-14.8 s on
# 1,500 x 60 (1,300 units), 28 s on 2,000 x 75 (1,635 units) and not in 30 s on 2,500 x 90
# (1,989 units), on the machine of 2026-12-04: about 4 s x (units / 900) ** 3
LP_REFERENCE_UNITS = 900
LP_REFERENCE_SECONDS = 4.0


def _lp_seconds(n_units: int) -> float:
    """The time column generation without a price seed is expected to take to converge."""
    return LP_REFERENCE_SECONDS * (n_units / LP_REFERENCE_UNITS) ** 3


# Column generation seeded by prices converged in 257 s on M (10,000 x 200, 6,310 units; a 600-s
# limit, 2026-12-05 23:46 UTC), in 23 s on 2,500 x 90 (1,989 units) and 31 s on 3,000 x 100
# (2,427 units) on 2026-12-04: about 257 s x (units / 6,310) ** 2 (25 s and 38 s there)
SEEDED_LP_REFERENCE_UNITS = 6310
SEEDED_LP_REFERENCE_SECONDS = 257.0
# ... up to this many units: larger LP masters were not tried (L's 36,824 units would need
# about 17,500 s left by the rule, and the master's memory at that size is not known)
LP_MASTER_MAX_UNITS = 8000


def _seeded_lp_seconds(n_units: int) -> float:
    """The time column generation seeded by prices is expected to take to converge."""
    return SEEDED_LP_REFERENCE_SECONDS * (n_units / SEEDED_LP_REFERENCE_UNITS) ** 2


def lp_master_after_rest(n_units: int, seconds_left: float) -> bool:
    """Whether the time a large problem's Lagrangian engine left when it came to rest goes to
    the LP master: when half of it (LP_SHARE) covers the expected seeded column generation, up
    to LP_MASTER_MAX_UNITS units.

    Given 600 s, that engine came to rest on M at 61 s with 203,755.62 (1.07 %); the LP master
    reaches 202,692.49 (0.32 %) there. Chosen before the solve instead, the LP master's route
    lost where beds are short or quotas bind (M/3 1.46 % against 1.13 %, M with six quotas
    1.85 % against 1.39 %); after the rest, the better plan and bound of both are kept."""
    if n_units > LP_MASTER_MAX_UNITS:
        return False
    return _seeded_lp_seconds(n_units) <= LP_SHARE * seconds_left


def _better_of(first: Plan, second: Plan, started: float) -> Plan:
    """The cheaper of two plans of one problem (``first`` on a tie), with the higher of their
    bounds (each is valid), its gap and status, and the wall time since ``started``."""
    tolerance = 1e-9 * max(1.0, abs(first.objective))
    best = second if second.objective < first.objective - tolerance else first
    # a plan called optimal up to the bonuses of kept places gives its objective as its bound,
    # which may lie above the other's cheaper plan by as much (found by a review): no bound
    # above the plan returned
    bound = min(max(first.bound, second.bound), best.objective)
    gap = relative_gap(best.objective, bound)
    # the cheaper plan (or one as cheap) of a pair where one is proven optimal is optimal too
    proven = PlanStatus.OPTIMAL in (first.status, second.status)
    status = PlanStatus.OPTIMAL if proven or gap <= OPTIMAL_GAP else PlanStatus.FEASIBLE
    return replace(
        best, bound=bound, gap=gap, status=status,
        solver=f"{best.solver}; after {first.solver}" if best is second else best.solver,
        wall_seconds=time.perf_counter() - started,
    )  # fmt: skip


def _seed_priced(
    units: _Units, columns: _Columns, patient: IntArray, facility: IntArray, day: IntArray
) -> None:
    """Add the columns (patient, facility, day) to the units of those patients, where the unit
    may use the facility."""
    unit_of = {i: u for u in range(len(units)) for i in units.members[u]}
    order = np.argsort(patient, kind="stable")
    patient, facility, day = patient[order], facility[order], day[order]
    cuts = np.flatnonzero(np.diff(patient)) + 1
    for p, f, a in zip(
        np.split(patient, cuts), np.split(facility, cuts), np.split(day, cuts), strict=True
    ):
        u = unit_of.get(int(p[0])) if len(p) else None
        if u is None:
            continue
        eligible = units.eligible[u]
        local = np.minimum(np.searchsorted(eligible, f), len(eligible) - 1)
        ok = (eligible[local] == f) & np.isfinite(units.day_cost[u][a])
        shut = units.shut[u]
        if shut is not None:
            ok &= np.isfinite(shut[local, a])
        if ok.any():
            columns.add(units, u, local[ok], a[ok])


def _seed_from_plan(
    problem: Problem, units: _Units, columns: _Columns, placed: dict[str, Placement]
) -> None:
    for u in range(len(units)):
        for i in units.members[u]:
            where = placed.get(problem.patients[i].id)
            if where is None:
                continue
            f = problem.facility_index[where[0]]
            lk = int(np.searchsorted(units.eligible[u], f))
            columns.add(units, u, np.array([lk]), np.array([where[1]]))


def _decode(
    problem: Problem,
    units: _Units,
    cols: tuple[IntArray, IntArray, IntArray],
    values: FloatArray,
) -> dict[str, Placement]:
    cu, cf, ca = cols
    counts = np.rint(values).astype(np.int64)
    used = np.flatnonzero(counts > 0)
    next_member = [0] * len(units)
    placed: dict[str, Placement] = {}
    for j in used[np.lexsort((ca[used], cf[used], cu[used]))]:
        u = int(cu[j])
        for _ in range(int(counts[j])):
            k = next_member[u]
            if k >= len(units.members[u]):
                break
            pid = problem.patients[units.members[u][k]].id
            placed[pid] = (problem.facilities[int(cf[j])].id, int(ca[j]))
            next_member[u] = k + 1
    return placed


def keep_bonus_for(upper: float, lower: float, mip_rel_gap: float = MIP_REL_GAP) -> float:
    """The tie-breaking bonus of a kept place when no plan costs more than ``upper`` nor less
    than ``lower`` (a bound without capacity), for MIPs solved to ``mip_rel_gap``: the
    objective is taken as at most ``upper`` and KEEP_BONUS_BOUNDS times ``lower``."""
    scale = min(abs(upper), KEEP_BONUS_BOUNDS * max(lower, 0.0))
    return max(KEEP_BONUS, KEEP_BONUS_TOLERANCES * mip_rel_gap * scale)


def _score(
    problem: Problem, placed: dict[str, Placement], objective: float, keep_bonus: float
) -> float:
    """A plan's objective as the solver sees it: less the bonus of each place kept as it was.

    Plans are compared on it, so that of two plans of equal cost the one that moves nobody is
    kept: the rounded LP had swapped two patients' admission days at one facility, at equal
    cost, and was kept over the MIP's plan, which moved nobody (found by a stress run).
    """
    kept = sum(
        1
        for p in problem.patients
        if p.current is not None and placed.get(p.id) == (p.current.facility, p.current.day)
    )
    return objective - keep_bonus * kept


def _proven_optimal(problem: Problem, objective: float, bound: float, keep_bonus: float) -> bool:
    """Whether the bound proves the plan optimal, up to the tie-breaking bonus of kept places.

    Solver costs are true costs less ``keep_bonus`` per kept placement, so a plan optimal for
    them is within ``keep_bonus`` per patient with `current` of the true optimum: optimal
    only where that is within `KEPT_TOLERANCE` (`bonus_within_tolerance`). A bound within
    OPTIMAL_GAP of the plan's true cost proves it whatever the bonuses come to (the solver's
    bounds hold for true costs too): a re-plan of more than about 25 patients with current
    places, its bound equal to its objective, had been called feasible and searched on to the
    limit for nothing (found by a review).
    """
    if relative_gap(objective, bound) <= OPTIMAL_GAP:
        return True
    return relative_gap(
        objective - bonus_allowance(problem, keep_bonus), bound
    ) <= OPTIMAL_GAP and bonus_within_tolerance(problem, objective, keep_bonus)


# A plan optimal for the solver's costs (true costs less the keep bonus) is called optimal only
# where the bonuses of every patient with a current place come to at most this share of its
# objective (of 1, if smaller), the tolerance to which it then equals the true optimum (the
# issue's 1e-6); beyond it the plan is `feasible`, with the solver's bound, which holds for true
# costs as well. A re-plan of 2,146 patients had been called optimal with its bound 3.1e-6
# above a plan keeping every place (found by a review).
KEPT_TOLERANCE = OPTIMAL_TOLERANCE


def bonus_allowance(problem: Problem, keep_bonus: float) -> float:
    """How far below a plan optimal for the solver's costs the true optimum may lie: the bonus
    of every patient with a current place."""
    return keep_bonus * sum(1 for p in problem.patients if p.current is not None)


def bonus_within_tolerance(problem: Problem, objective: float, keep_bonus: float) -> bool:
    """Whether the keep bonuses leave a plan optimal for the solver's costs within
    `KEPT_TOLERANCE` of the true optimum."""
    return bonus_allowance(problem, keep_bonus) <= KEPT_TOLERANCE * max(1.0, abs(objective))


@runtime.solving
@heap.frozen
def solve_exact(
    problem: Problem,
    time_limit: float = 60.0,
    progress: ProgressCallback | None = None,
    *,
    seed_facilities: int = 2,
    seed_days: int = 3,
    large_units: int | None = None,
) -> Plan:
    """Solve to proven optimality, or return the best plan with an honest bound at the limit.

    Problems with more than ``large_units`` aggregated units go to the Lagrangian engine
    (lagrangian.py): priced bound and price-guided plans, no MIP. By default (None) those with
    more than LARGE_UNITS, and when that engine comes to rest with enough of the limit left,
    the LP master gets the rest (`lp_master_after_rest`) and the better plan is returned;
    with less left, specialty passes get it (specialty_passes.py).
    """
    started = time.perf_counter()
    deadline = started + checked_time_limit(time_limit)
    # the kernels load from numba's cache in a second thread beside the preparation below (at
    # once if `engines.prepare` started them while the problem was read); the large engine
    # waits for them before it times anything (preload.py)
    preload.start()

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    view = ProblemView(problem)
    compact = build_compact(view)
    seeds = (seed_facilities, seed_days)
    if compact.n_units <= (LARGE_UNITS if large_units is None else large_units):
        return _solve_through_lp(problem, view, compact, started, deadline, say, seeds)
    rested = _solve_large(problem, view, compact, started, deadline, say)
    left = deadline - time.perf_counter() - END_MARGIN_SHARE * (deadline - started)
    if rested.status is PlanStatus.OPTIMAL or large_units is not None:
        return rested
    restart = time.perf_counter()
    if lp_master_after_rest(compact.n_units, left):
        say(f"the Lagrangian engine came to rest; {left:.0f} s left for the LP master")
        again = _solve_through_lp(problem, view, compact, restart, restart + left, say, seeds)
        return _better_of(rested, again, started)
    if left < specialty_passes.MIN_SECONDS:
        return rested
    say(f"the Lagrangian engine came to rest; {left:.0f} s left for specialty passes")
    again = _by_specialty(problem, view, rested, restart + left, say, seeds)
    return _better_of(rested, again, started)


# a specialty's problem with more units than this is not solved again in the specialty passes
# (the exact engine would hand it to the Lagrangian engine, which has just come to rest on it)
SPECIALTY_MAX_UNITS = 2500


def _by_specialty(
    problem: Problem,
    view: ProblemView,
    rested: Plan,
    deadline: float,
    say: Callable[[str], None],
    seeds: tuple[int, int],
) -> Plan:
    """The plan ``rested`` improved by specialty passes until ``deadline``
    (specialty_passes.py), each specialty's problem solved through the LP master; the bound is
    the rest's."""
    started = time.perf_counter()

    def solve(sub: Problem, until: float) -> Plan | None:
        sub_view = ProblemView(sub)
        sub_compact = build_compact(sub_view)
        if sub_compact.n_units > SPECIALTY_MAX_UNITS:
            return None
        return _solve_through_lp(
            sub, sub_view, sub_compact, time.perf_counter(), until, lambda _: None, seeds
        )

    held = {a.patient: (a.facility, a.day) for a in rested.assignments}
    placed, _ = specialty_passes.specialty_passes(problem, view, held, deadline, solve, say)
    return assemble_plan(
        problem, view, placed, status=PlanStatus.FEASIBLE, bound=rested.bound,
        solver=f"{LARGE_SOLVER}; specialty passes", started=started,
    )  # fmt: skip


def _solve_through_lp(
    problem: Problem,
    view: ProblemView,
    compact: Compact,
    started: float,
    deadline: float,
    say: Callable[[str], None],
    seeds: tuple[int, int],
) -> Plan:
    """`solve_exact` through the LP master (column generation, rounding, MIPs and proofs) from
    ``started`` to ``deadline``; ``seeds`` are the facilities and days per unit it starts from.
    The Lagrangian engine takes over where the LP does not converge in its share."""
    time_limit = deadline - started
    seed_facilities, seed_days = seeds
    warm_mip_worker()  # its start (about 0.1 s) overlaps the work before the MIPs
    gs = problem.weights.group_split
    horizon = view.horizon
    greedy = solve_greedy(problem)
    greedy_placed = {a.patient: (a.facility, a.day) for a in greedy.assignments}
    units, hopeless = _build_units(problem, view)
    hopeless_cost = sum(view.unplaced_cost(problem.patients[i]) for i in hopeless)
    say(f"{len(problem.patients)} patients in {len(units)} interchangeable units")
    if len(units) == 0:
        return assemble_plan(
            problem, view, {}, status=PlanStatus.OPTIMAL, bound=hopeless_cost,
            solver=f"exact, {SOLVER_NAME}", started=started,
        )  # fmt: skip

    columns = _Columns()
    _seed_columns(units, columns, horizon, seed_facilities, seed_days)
    _seed_from_plan(problem, units, columns, greedy_placed)
    rho, mu = _multipliers(view, None, None)
    kappa = _quota_multipliers(view, None, None)
    pricing = _price(view, units, rho, mu, gs)  # each unit at its cheapest column
    # HiGHS sees no patient without a place to go (their cost is a constant): its tolerance,
    # which the bonus must outweigh, is of the rest (a constant of 1e6 had made it 0.04)
    keep_bonus = keep_bonus_for(greedy.objective - hopeless_cost, pricing.lagrangian)
    price_bound = -np.inf
    seed_prices: tuple[FloatArray, FloatArray] | None = None
    if _lp_seconds(len(units)) > LP_SHARE * time_limit and PRICE_SEED_SHARE > 0.0:
        # counted from here: the greedy plan and the units take a good part of 10 % on short
        # limits (0.4-1 s on 1,500 x 60), and the pooled prices need their LP
        until = time.perf_counter() + PRICE_SEED_SHARE * time_limit
        seed = priced_columns(compact, until, PRICE_SEED_COLUMNS)
        price_bound, seed_prices = seed.bound + hopeless_cost, seed.prices
        _seed_priced(units, columns, seed.patient, seed.facility, seed.day)
        say(f"price ascent: bound {price_bound:,.2f}, {columns.size} columns")
    master = _Master(view, units, gs, keep_bonus)
    master.add(*columns.pending())
    highs = master.start(time_limit)
    bound = max(price_bound, pricing.lagrangian + hopeless_cost)
    say(f"bound without capacity: {bound:,.2f}")
    rounds = 0
    last_lp: FloatArray | None = None
    lp_price_bound = -np.inf  # the Lagrangian at the last LP's duals
    converged = False
    lp_end = started + LP_SHARE * time_limit
    while time.perf_counter() < lp_end:
        rounds += 1
        lp_budget = max(0.1, lp_end - time.perf_counter())
        highs.setOptionValue("time_limit", highs.getRunTime() + lp_budget)
        highs.run()
        lp = read_result(highs, integer=False)
        if not lp.optimal and highs.getModelStatus() != highspy.HighsModelStatus.kTimeLimit:
            # HiGHS's warm-started simplex sometimes ends in status "Unknown" after a few
            # iterations (a 13-patient re-plan found by a stress run); from scratch it solves
            say(f"LP {highs.modelStatusToString(highs.getModelStatus())}: solved again afresh")
            highs.clearSolver()
            highs.run()
            lp = read_result(highs, integer=False)
        if lp.row_duals is None or not lp.optimal:
            say(f"LP relaxation stopped ({highs.modelStatusToString(highs.getModelStatus())})")
            break
        last_lp = lp.values[master.x] if lp.values is not None else None
        rho, mu = _multipliers(view, master, lp.row_duals)
        kappa = _quota_multipliers(view, master, lp.row_duals)
        pricing = _price(
            view, units, rho, mu, gs, unit_duals=lp.row_duals[master.unit_rows], columns=columns,
            kappa=kappa,
        )  # fmt: skip
        lp_price_bound = pricing.lagrangian + hopeless_cost
        bound = max(bound, lp_price_bound)
        say(
            f"round {rounds}: LP {lp.objective + hopeless_cost:,.2f}, "
            f"bound {bound:,.2f}, "
            f"{columns.size} columns (+{pricing.added})"
        )
        lp_value = lp.objective + hopeless_cost
        if pricing.added == 0 or bound >= lp_value - OPTIMAL_GAP * max(1.0, abs(lp_value)):
            converged = True
            break  # duals priced out, or the bound already meets the LP value
        if lp_value - bound <= NEAR_CONVERGED * max(1.0, abs(lp_value)):
            lp_end = max(lp_end, started + LP_SHARE_NEAR * time_limit)
        master.add(*columns.pending())

    best_placed = greedy_placed
    best_objective = greedy.objective
    if last_lp is not None:
        n_lp = len(last_lp)
        cu, cf, ca = columns.arrays()
        rounded = _round_and_repair(
            problem, view, units, (cu[:n_lp], cf[:n_lp], ca[:n_lp]), last_lp
        )
        rounded_objective = _objective(problem, view, rounded)
        say(f"LP rounded and repaired: {rounded_objective:,.2f} (greedy {best_objective:,.2f})")
        if _score(problem, rounded, rounded_objective, keep_bonus) < _score(
            problem, best_placed, best_objective, keep_bonus
        ):
            best_placed, best_objective = rounded, rounded_objective
    if not converged or last_lp is None:
        # The LP did not reach its optimum in its share of the time: its columns are too few
        # for a good MIP, and the restricted LP's prices too poor for a bound. The Lagrangian
        # engine of large problems gets the rest of the time, and the better plan and bound are
        # kept. Measured with subgradient steps and a MIP on the columns instead: 3,000 patients
        # x 100 facilities in 60 s 107,921 (gap 52 %) against 80,430 (4.6 %), S in 5 s 31,297
        # to 46,729 against 26,472 (docs/planning.md, "When the LP is too slow").
        say("the LP did not converge in its share of the time: the Lagrangian engine takes over")
        return _solve_large(
            problem, view, compact, started, deadline, say,
            incumbent=(best_objective, best_placed), bound_floor=bound,
            prices=_hand_over_prices((rho, mu), lp_price_bound, seed_prices, price_bound),
        )  # fmt: skip
    status = PlanStatus.FEASIBLE
    final_bound = bound
    _seed_from_plan(problem, units, columns, best_placed)
    master.add(*columns.pending())
    master.make_integer()
    lp_values = np.zeros(len(master.x))
    lp_values[: len(last_lp)] = last_lp
    dropped = _columns_left_out_of_mip(
        view, units, columns, master, (rho, mu, kappa), pricing, lp_values
    )
    say(f"MIP on {len(master.x) - len(dropped)} of {len(master.x)} columns")
    # None while the MIP holds every column that could help; otherwise the smallest Lagrangian
    # margin of the columns left out of it (a partial proof, below)
    left_out_margin: float | None = None
    for attempt in range(4):
        master.add(*columns.pending())
        remaining = deadline - time.perf_counter()
        n_mip_columns = highs.getNumCol() - len(dropped)
        if remaining < max(0.05, MIP_SECONDS_PER_COLUMN * n_mip_columns):
            if attempt > 0:
                say(f"no time left for a MIP on {n_mip_columns} columns")
            break
        # the MIP runs in a worker process that is stopped if HiGHS runs past the time for
        # solver work (mip_process.py): its last plan and bound then count
        model = MipModel.of(highs)
        if len(dropped):
            model.upper[dropped] = 0.0
            model.lower[dropped] = 0.0
        # handing over a model of 200,000 columns takes a while: the limit counts from here. A
        # MIP stopped by the limit leaves the time to decode and assemble, and for HiGHS
        # stopping late (S in 7 s ended at 7.03 s without it); a partial proof, which always
        # runs to the limit, leaves more
        margin = PARTIAL_MARGIN_SHARE if left_out_margin is not None else END_MARGIN_SHARE
        end = _work_end(problem, started, deadline, margin)
        outcome = solve_mip(
            model,
            time_limit=end - time.perf_counter(),
            kill_at=_work_end(problem, started, deadline, 0.0),
            mip_rel_gap=MIP_REL_GAP,
        )
        if outcome.note:
            say(outcome.note)
        if outcome.killed:
            say(f"MIP {attempt + 1} stopped from outside after {outcome.seconds:.1f} s")
        mip = outcome.result
        cols = columns.arrays()
        if mip.values is not None:
            placed = _decode(problem, units, cols, mip.values[master.x])
            objective = _objective(problem, view, placed)
            if _score(problem, placed, objective, keep_bonus) < _score(
                problem, best_placed, best_objective, keep_bonus
            ):
                best_placed, best_objective = placed, objective
        # A plan using only generated columns costs at least the restricted MIP's bound; one
        # using a left-out column costs at least the Lagrangian plus that column's margin.
        restricted_bound = mip.dual_bound + hopeless_cost
        lagrangian = pricing.lagrangian + hopeless_cost
        if restricted_bound <= bound:
            # the margins could only tighten min(restricted_bound, ...): nothing to gain
            final_bound = bound
            if _proven_optimal(problem, best_objective, bound, keep_bonus):
                status = PlanStatus.OPTIMAL
            say(f"MIP {attempt + 1}: objective {best_objective:,.2f}, bound {bound:,.2f}")
            break
        if left_out_margin is not None:
            # a partial proof: the MIP's own bound holds for the columns it had, even where the
            # limit stopped it, and every other column has a margin of at least left_out_margin
            final_bound = max(bound, min(restricted_bound, lagrangian + left_out_margin))
            if _proven_optimal(problem, best_objective, final_bound, keep_bonus):
                status = PlanStatus.OPTIMAL
            say(
                f"MIP {attempt + 1} (partial): objective {best_objective:,.2f}, "
                f"bound {final_bound:,.2f}"
            )
            break
        if not mip.optimal or time.perf_counter() >= deadline:
            # A MIP stopped by the time limit ends the search; a pass over every column's
            # margin could only tighten the bound a little, so skip it to keep the limit.
            final_bound = bound
            say(f"MIP {attempt + 1}: objective {best_objective:,.2f}, bound {bound:,.2f}")
            break
        check = _price(
            view, units, rho, mu, gs,
            margin_limit=best_objective - lagrangian, slack=pricing.slack, kappa=kappa,
        )  # fmt: skip
        final_bound = max(bound, min(restricted_bound, lagrangian + check.min_excluded_margin))
        gap = relative_gap(best_objective, final_bound)
        excluded = check.excluded
        wanted = sum(len(e[1]) for e in excluded)
        say(
            f"MIP {attempt + 1}: objective {best_objective:,.2f}, "
            f"bound {final_bound:,.2f}, "
            f"gap {gap:.2e}, {wanted} columns could still help"
        )
        if _proven_optimal(problem, best_objective, final_bound, keep_bonus):
            status = PlanStatus.OPTIMAL
            break
        if not excluded:
            break
        in_mip = highs.getNumCol() - len(dropped)
        room = _mip_room(deadline - time.perf_counter(), in_mip)
        if wanted > room:
            if room < PARTIAL_PROOF_COLUMNS:
                say(f"no time left for a MIP on {in_mip + wanted} columns")
                break
            excluded, left_out_margin = _smallest_margins(excluded, room)
            say(
                f"time for {room} of them: those with a margin below {left_out_margin:,.2f} "
                "(a partial proof)"
            )
        added = sum(columns.add(units, u, fi, di) for u, fi, di, _ in excluded)
        if added == 0:
            break
    if status is not PlanStatus.OPTIMAL:
        best_placed, best_objective = _search_rest(
            problem, view, compact, (best_placed, best_objective), (rho, mu), keep_bonus,
            started, deadline, say,
        )  # fmt: skip
        if _proven_optimal(problem, best_objective, final_bound, keep_bonus):
            status = PlanStatus.OPTIMAL
    facility, day, _ = back_to_current(
        problem, view, *placement_arrays(problem, best_placed), best_objective, say,
        _work_end(problem, started, deadline, 0.0),
    )  # fmt: skip
    return assemble_plan_arrays(
        problem, view, facility, day, status=status, bound=final_bound,
        solver=f"exact (aggregated column generation + MIP), {SOLVER_NAME}", started=started,
    )  # fmt: skip


def _work_end(
    problem: Problem, started: float, deadline: float, share: float = END_MARGIN_SHARE
) -> float:
    """When solver work must end: the time to assemble the plan (reasons for the unplaced,
    breakdown) and ``share`` of the limit, for a solver stopping late, are kept."""
    return (
        deadline
        - ASSEMBLY_SECONDS_PER_PATIENT * len(problem.patients)
        - share * (deadline - started)
    )


def _mip_room(seconds_left: float, in_mip: int) -> int:
    """How many columns a MIP that already has ``in_mip`` can take on with the time left."""
    return int(PARTIAL_SHARE * seconds_left / MIP_SECONDS_PER_COLUMN) - in_mip


def _smallest_margins(
    excluded: list[tuple[int, IntArray, IntArray, FloatArray]], room: int
) -> tuple[list[tuple[int, IntArray, IntArray, FloatArray]], float]:
    """The columns of ``excluded`` with a margin below the smallest margin that leaves at most
    ``room`` of them, and that margin (a lower bound on every column not kept)."""
    margins = np.concatenate([e[3] for e in excluded])
    threshold = float(np.partition(margins, room)[room])
    kept = []
    for u, fi, di, margin in excluded:
        below = margin < threshold
        if below.any():
            kept.append((u, fi[below], di[below], margin[below]))
    return kept, threshold


def _hand_over_prices(
    lp_prices: tuple[FloatArray, FloatArray],
    lp_bound: float,
    seed_prices: tuple[FloatArray, FloatArray] | None,
    seed_bound: float,
) -> tuple[FloatArray, FloatArray] | None:
    """The prices the Lagrangian engine starts from when the LP hands over: those of the last
    LP's duals or of the seed's ascent, whichever gave the higher Lagrangian (None: neither).

    From the LP's duals: 1,500 x 60 in 10 s 1.12-1.87 % in three runs against 2.43-3.15 % from
    the pooled prices. But on 2,500 x 90 in 10 s a first LP round on the seed's columns gave
    duals worse than the seed's own prices, and plans of 55,991 against 55,423.
    """
    if lp_bound >= seed_bound and np.isfinite(lp_bound):
        return lp_prices
    return seed_prices


def _search_rest(
    problem: Problem,
    view: ProblemView,
    compact: Compact,
    best: tuple[dict[str, Placement], float],
    prices: tuple[FloatArray, FloatArray],
    keep_bonus: float,
    started: float,
    deadline: float,
    say: Callable[[str], None],
) -> tuple[dict[str, Placement], float]:
    """The time the MIPs left unused goes to the neighbourhood search on the best plan.

    That happens when no MIP fits (MIP_SECONDS_PER_COLUMN, PARTIAL_PROOF_COLUMNS) or one ended
    without proving the plan optimal: before partial proofs, 1,500 patients x 60 facilities
    with a 60-s limit ended at 22 s with a gap of 0.32 %.
    """
    end = _work_end(problem, started, deadline)
    if end - time.perf_counter() < SEARCH_SECONDS:
        return best
    say(f"{end - time.perf_counter():.0f} s left: neighbourhood search on the plan")
    better = improve_plan(problem, compact, best[0], *prices, end, say)
    if better is None:
        return best
    if view.n_quotas and not within_quotas(view, *placement_arrays(problem, better)):
        say("the neighbourhood search's plan goes beyond a quota: not kept")
        return best
    objective = _objective(problem, view, better)
    if _score(problem, better, objective, keep_bonus) >= _score(problem, *best, keep_bonus):
        return best
    say(f"plan after the neighbourhood search: {objective:,.2f}")
    return better, objective


def _solve_large(
    problem: Problem,
    view: ProblemView,
    compact: Compact,
    started: float,
    deadline: float,
    say: Callable[[str], None],
    *,
    incumbent: tuple[float, dict[str, Placement]] | None = None,
    bound_floor: float = -np.inf,
    prices: tuple[FloatArray, FloatArray] | None = None,
) -> Plan:
    n_current = sum(p.current is not None for p in problem.patients)
    end = _work_end(problem, started, deadline) - REPLAN_SECONDS_PER_CURRENT * n_current
    binding = binding_quotas(view, compact)
    quota_prices = None
    if binding:
        # quotas that may bind: first a bound that sees them (beds pooled by the quotas their
        # facilities lie under) and its LP's prices, where the ascent starts: at them the
        # problem's Lagrangian is at least that bound where every quota holds on every day (one
        # of some days only is not priced in the ascent, `lagrangian._Dual`), and the quotas'
        # prices are about right from the start; the fill, local and neighbourhood searches
        # keep to the rooms (docs/planning.md, "Quotas of agreements")
        say(f"{len(binding)} quota(s) may bind: prices from the LP with beds pooled under them")
        pooled = pooled_prices(view, compact, POOLED_SHARE * (end - time.perf_counter()))
        if pooled is not None:
            bound_floor = max(bound_floor, pooled.bound)
            say(f"bound with beds pooled under the quotas: {pooled.bound:,.2f}")
            if prices is None:
                prices = (pooled.bed_prices, np.zeros((view.n_facilities, view.horizon)))
            quota_prices = pooled.quota_prices
    result = solve_lagrangian(problem, view, end, say, compact, prices, quota_prices)
    bound = max(result.bound, bound_floor)
    facility, day, objective = result.facility, result.day, result.objective
    if not within_quotas(view, facility, day):  # a safeguard: its searches keep to the rooms
        facility, day, moved = keep_to_quotas(view, facility, day)
        objective = breakdown_of_arrays(problem, view, facility, day).total
        say(f"{moved} patient(s) beyond quotas placed again: plan {objective:,.2f}")
    if incumbent is not None and incumbent[0] < objective:  # the LP's plan, handed over
        facility, day = placement_arrays(problem, incumbent[1])
        objective = incumbent[0]
    # whichever plan it is, its moves at no gain are undone
    facility, day, objective = back_to_current(
        problem, view, facility, day, objective, say, _work_end(problem, started, deadline, 0.0)
    )
    # no tie-breaking bonus here: optimal only when the bound meets the objective itself
    status = PlanStatus.FEASIBLE
    if relative_gap(objective, bound) <= OPTIMAL_GAP:
        status = PlanStatus.OPTIMAL
    return assemble_plan_arrays(
        problem, view, facility, day, status=status, bound=bound,
        solver=LARGE_SOLVER, started=started,
    )  # fmt: skip


def _columns_left_out_of_mip(
    view: ProblemView,
    units: _Units,
    columns: _Columns,
    master: _Master,
    prices: tuple[FloatArray, FloatArray, FloatArray],
    pricing: _Pricing,
    lp_values: FloatArray,
) -> IntArray:
    """Master columns to leave out of the MIP: neither used by the LP nor among the few with the
    smallest Lagrangian margin of their unit. They are marked as not generated, so the proof
    step treats them like any other left-out column (their margins bound what they could gain).
    """
    horizon = view.horizon
    rho, mu, kappa = prices
    cu, cf, ca = columns.arrays()
    spec = np.array(units.specialty, dtype=np.int64)[cu]
    stay = master.stay[cu]
    cum = np.concatenate([np.zeros((*rho.shape[:2], 1)), np.cumsum(rho, axis=2)], axis=2)
    occupancy = cum[cf, spec, np.minimum(ca + stay, horizon)] - cum[cf, spec, ca] + mu[cf, ca]
    margin = master.cost + occupancy - pricing.best[cu] + pricing.slack[cu]
    if kappa.any():
        by_unit = np.argsort(cu, kind="stable")
        for mine in np.split(by_unit, np.flatnonzero(np.diff(cu[by_unit])) + 1):
            u = int(cu[mine[0]]) if len(mine) else -1
            if u >= 0 and len(units.quotas[u]):
                at = np.searchsorted(units.eligible[u], cf[mine])
                quota_cost = np.asarray(_quota_costs(view, units, kappa, u))
                # [local facility, 1] where quotas hold on every day, else [.., day]
                margin[mine] += quota_cost[at, np.minimum(ca[mine], quota_cost.shape[1] - 1)]
    order = np.lexsort((margin, cu))
    first_of_unit = np.searchsorted(cu[order], cu[order])
    rank = np.empty(len(cu), dtype=np.int64)
    rank[order] = np.arange(len(cu)) - first_of_unit
    keep = (rank < MIP_COLUMNS_PER_UNIT) | (lp_values > 1e-6)
    leave = np.flatnonzero(~keep)
    for j in leave:
        u = int(cu[j])
        local = int(np.searchsorted(units.eligible[u], cf[j]))
        units.included[u][local, ca[j]] = False
    return master.x[leave]


def _round_and_repair(
    problem: Problem,
    view: ProblemView,
    units: _Units,
    cols: tuple[IntArray, IntArray, IntArray],
    values: FloatArray,
) -> dict[str, Placement]:
    """LP-guided rounding: round every LP count down (always feasible), round fractional
    columns up, most urgent first, while beds, admission slots and quotas allow; then place
    whoever is left at their cheapest free place, most urgent first."""
    horizon = view.horizon
    cu, cf, ca = cols
    used = np.zeros_like(view.beds)
    admitted = np.zeros((view.n_facilities, horizon), dtype=np.int64)
    limit = view.admission_limit
    quota_left = view.quota_room.copy()
    waiting = [list(members) for members in units.members]
    placed: dict[str, Placement] = {}

    def counted(u: int, f: int, day: int) -> IntArray:
        """The quotas admitting unit ``u``'s patient at ``f`` on ``day`` counts against."""
        quotas = units.quotas[u]
        mine: IntArray = quotas[view.quota_facility[quotas, f] & view.quota_days[quotas, day]]
        return mine

    def fits(u: int, f: int, day: int) -> bool:
        s = units.specialty[u]
        end = min(day + units.stay[u], horizon)
        if (used[f, s, day:end] >= view.beds[f, s, day:end]).any():
            return False
        if (quota_left[counted(u, f, day)] <= 0).any():
            return False
        return bool(limit[f, day] < 0 or admitted[f, day] < limit[f, day])

    def take(u: int, f: int, day: int) -> None:
        i = waiting[u].pop(0)
        used[f, units.specialty[u], day : min(day + units.stay[u], horizon)] += 1
        admitted[f, day] += 1
        quota_left[counted(u, f, day)] -= 1
        placed[problem.patients[i].id] = (problem.facilities[f].id, day)

    whole = np.floor(values + 1e-6)
    for j in np.flatnonzero(whole > 0):  # rounding down keeps every constraint satisfied
        for _ in range(int(whole[j])):
            take(int(cu[j]), int(cf[j]), int(ca[j]))
    fraction = values - whole
    unplaced_cost = np.array(units.unplaced)[cu]
    partial = np.flatnonzero(fraction > 1e-6)
    for j in partial[np.lexsort((-fraction[partial], -unplaced_cost[partial]))]:
        u, f, day = int(cu[j]), int(cf[j]), int(ca[j])
        if waiting[u] and fits(u, f, day):
            take(u, f, day)
    order = sorted(range(len(units)), key=lambda u: -units.unplaced[u])
    for u in order:
        while waiting[u]:
            eligible = units.eligible[u]
            ok = open_places(view, (used, admitted), units.specialty[u], eligible, units.stay[u])
            quotas = units.quotas[u]
            full = quota_left[quotas] <= 0
            if full.any():
                # [local facility, day]: closed where a quota without room counts the column
                closed = units.quota_at[u][full].T.astype(np.int64) @ view.quota_days[
                    quotas[full]
                ].astype(np.int64)
                ok &= closed == 0
            cost = np.where(ok, units.day_cost[u][None, :] + units.static[u][:, None], np.inf)
            if units.shut[u] is not None:
                cost = cost + units.shut[u]
            fi, day = divmod(int(np.argmin(cost)), horizon)
            if not cost[fi, day] < units.unplaced[u]:
                break
            take(u, int(eligible[fi]), day)
    return placed


def _objective(problem: Problem, view: ProblemView, placed: dict[str, Placement]) -> float:
    return breakdown_of(problem, view, placed).total

"""Pooled LPs: small relaxations in which facilities pool their beds and units pool into classes.

Two parts of the large engine solve such an LP: the price ascent starts from the bed duals of
the LP that pools every facility (`lagrangian._Dual.starting_prices`), and the bound that sees
quotas pools the facilities that lie under the same quotas (`quotas.pooled_prices`). Both are
built here (`pooled_lp`); each caller adds or reads what is its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medevac.planning.compact import Compact, FloatArray, IntArray, stay_days
from medevac.planning.highs_model import LinearModel


@dataclass(frozen=True, slots=True)
class PooledLP:
    """The model and where its parts are: the bed row of (pool g, specialty s, day d) is
    ``bed_rows[(g * n_specialties + s) * horizon + d]``; column ``x[j]`` admits patients of
    class ``k[j]`` in pool ``g[j]`` on day ``a[j]``."""

    model: LinearModel
    bed_rows: IntArray
    x: IntArray
    k: IntArray
    g: IntArray
    a: IntArray

    def bed_prices(self, row_duals: FloatArray, shape: tuple[int, ...]) -> FloatArray:
        """The bed prices [pool, specialty, day] (>= 0) of the LP's row duals; ``shape`` is
        the bed table's (facilities, specialties, horizon)."""
        prices: FloatArray = np.maximum(0.0, -row_duals[self.bed_rows])
        return prices.reshape(-1, *shape[1:])


def pooled_lp(c: Compact, class_of: IntArray, pool_of: IntArray) -> PooledLP:
    """The LP in which the units of each class (``class_of``, per unit: classes whose units
    share specialty, stay and day costs) are one demand, with the cheapest travel of any of
    them to each pool of facilities (``pool_of``, per facility), and the beds of each pool are
    summed per (specialty, day). A class may stay out at its units' smallest cost of being
    left out; admission limits and groups are left out. Every plan maps onto a solution that
    costs no more, so its optimum is a lower bound (less the patients no facility can take)."""
    horizon = c.horizon
    n_spec = c.beds.shape[1]
    n_class = int(class_of.max()) + 1 if len(class_of) else 0
    n_pool = int(pool_of.max()) + 1 if len(pool_of) else 0
    representative = np.zeros(n_class, dtype=np.int64)
    representative[class_of] = np.arange(c.n_units)
    spec = c.unit_specialty[representative]
    stay = c.unit_stay[representative]
    day_row = c.unit_day_cost[representative]
    travel = _cheapest_travel(c, class_of, n_class, pool_of, n_pool)
    unplaced = np.full(n_class, np.inf)
    np.minimum.at(unplaced, class_of, c.unit_unplaced)
    count = np.bincount(class_of, weights=c.unit_count, minlength=n_class).astype(float)
    cost = travel[:, :, None] + c.day_cost[day_row][:, None, :]  # [class, pool, day]
    k, g, a = np.nonzero(np.isfinite(cost) & (cost < unplaced[:, None, None]))
    model = LinearModel()
    rows = model.add_rows(count, count)
    beds = np.zeros((n_pool, n_spec, horizon))
    np.add.at(beds, pool_of, c.beds.astype(float))
    bed_rows = model.add_rows(np.full(beds.size, -np.inf), beds.ravel())
    x = model.add_columns(cost[k, g, a], 0.0, np.inf, integer=False)
    out = model.add_columns(unplaced, 0.0, np.inf, integer=False)
    model.add_entries(rows[k], x, 1.0)
    model.add_entries(rows, out, 1.0)
    column, day = stay_days(a, np.minimum(stay[k], horizon - a))
    bed_of = (g[column] * n_spec + spec[k[column]]) * horizon + day
    model.add_entries(bed_rows[bed_of], x[column], 1.0)
    return PooledLP(model, bed_rows, x, k, g, a)


def _cheapest_travel(
    c: Compact, class_of: IntArray, n_class: int, pool_of: IntArray, n_pool: int
) -> FloatArray:
    """[class, pool]: the cheapest travel of any unit of the class to a facility of the pool
    it may use (inf: none)."""
    travel = np.full((n_class, n_pool), np.inf)
    if n_pool == 1:  # a unit's profile lists its facilities cheapest travel first
        nearest = c.profile_facility[c.profile_start[c.unit_profile]]
        np.minimum.at(travel[:, 0], class_of, c.travel[c.unit_origin, nearest])
        return travel
    by_profile: dict[tuple[int, int], FloatArray] = {}
    for u in range(c.n_units):
        profile, origin = int(c.unit_profile[u]), int(c.unit_origin[u])
        cheapest = by_profile.get((profile, origin))
        if cheapest is None:
            places = c.places(u)
            cheapest = np.full(n_pool, np.inf)
            np.minimum.at(cheapest, pool_of[places], c.travel[origin, places])
            by_profile[(profile, origin)] = cheapest
        np.minimum(travel[class_of[u]], cheapest, out=travel[class_of[u]])
    return travel

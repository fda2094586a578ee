"""Compile the large-problem engine's kernels ahead of the first real solve.

The kernels (kernels.py) are compiled by numba on first use and cached on disk beside the code.
Compiling them takes 40-50 s, which a first solve with a short time limit would otherwise
spend compiling instead of planning. `make install` runs this module once:

    python -m medevac.planning.warmup

It solves a small seeded problem with the large-problem engine, which calls every kernel,
by turns without and under a quota of some days only (for the kernels that price those), and
with the greedy baseline (whose placement loop is a kernel too), again while some kernel is
still uncompiled (compiling eats the first solve's time), and fails if one still is after
WARM_UP_SOLVES solves. It then records the kernels' signatures, so that a solve can load
them from the cache in a second thread before it times anything (preload.py).
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from typing import Any

from medevac.planning import greedy, preload
from medevac.planning.exact import solve_exact
from medevac.planning.loader import parse_problem
from medevac.planning.problem import DEFAULT_WEIGHTS, Quota, with_quotas

SPECIALTIES = ("orthopaedics", "neurology", "burns")
# The first solve compiles as it goes, and compiling counts against its time limit: on a slow
# fresh machine (numba compiling for 60 s and more) the ascent's time was gone before its first
# gradient, so `spread_weights` never ran and `make install` failed. Later solves find the
# kernels compiled and run the whole route in a few seconds.
WARM_UP_SOLVES = 4


def warm_up_problem(seed: int = 3, n_patients: int = 60, n_facilities: int = 6) -> dict[str, Any]:
    """A small problem with scarce beds, admission limits, groups, needs and current places."""
    rng = random.Random(seed)
    horizon = 6
    facilities = []
    for k in range(n_facilities):
        beds = {s: rng.randint(0, 3) for s in rng.sample(SPECIALTIES, rng.randint(1, 3))}
        facility: dict[str, Any] = {
            "id": f"F{k}",
            "lat": 50 + rng.uniform(-8, 8),
            "lon": 20 + rng.uniform(-10, 10),
            "beds": beds,
        }
        if k % 2 == 0:
            facility["daily_admission_limit"] = rng.randint(1, 2)
        if k % 3 == 0:
            facility["capabilities"] = ["paediatric"]
        facilities.append(facility)
    patients = []
    for k in range(n_patients):
        patient: dict[str, Any] = {
            "id": f"P{k}",
            "lat": rng.choice([49.0, 50.0]),
            "lon": rng.choice([30.0, 31.0]),
            "specialty": rng.choice(SPECIALTIES),
            "precedence": rng.choice(["urgent", "priority", "routine", "routine"]),
            "length_of_stay_days": rng.randint(1, 6),
        }
        if k % 4 == 0:
            patient["group"] = f"G{k % 3}"
        if k % 7 == 0:
            patient["needs"] = ["paediatric"]
        if k % 9 == 0:
            patient["current"] = {"facility": f"F{k % n_facilities}", "day": k % horizon}
        patients.append(patient)
    return {
        "horizon_days": horizon,
        "precedences": {
            "urgent": {"weight": 100, "deadline_day": 0},
            "priority": {"weight": 10, "deadline_day": 1},
            "routine": {"weight": 1, "deadline_day": 3},
        },
        "weights": dict(DEFAULT_WEIGHTS),
        "facilities": facilities,
        "patients": patients,
    }


def uncompiled_kernels() -> list[str]:
    """Names of the kernels numba has not compiled (or loaded from its cache) in this process.

    Private helpers (leading underscore) are compiled into the kernels that call them, and a
    kernel loaded from the cache does not load them separately: they are not counted.
    """
    return sorted(name for name, kernel in preload.dispatchers().items() if not kernel.signatures)


def compile_kernels() -> float:
    """Run every kernel once (compiling or loading it from the cache); return the seconds taken.

    Raises RuntimeError naming the kernels the warm-up problem did not reach.
    """
    started = time.perf_counter()
    problem = parse_problem(warm_up_problem())
    # the same patients sent by one organisation, under a quota of some days only: the kernels
    # that price such quotas (`kernels.combo_prices_days`, `spread_weights_days`) run only
    # then, and `combo_prices` and `spread_weights` only without it
    sent = replace(
        problem, patients=tuple(replace(p, organisation="ORG-W") for p in problem.patients)
    )
    some_days = Quota(
        "Q-W", 5, frozenset({"ORG-W"}), frozenset({"F0", "F1"}), days=frozenset({0, 1})
    )
    with_days = with_quotas(sent, [some_days])
    missed: list[str] = []
    for solve in range(WARM_UP_SOLVES):
        # by turns: the kernels without such quotas run only on the problem without it
        solve_exact((problem, with_days)[solve % 2], time_limit=60.0, large_units=0)
        greedy.solve_greedy(problem)
        missed = uncompiled_kernels()
        if not missed:
            return time.perf_counter() - started
    raise RuntimeError(
        f"the warm-up problem did not run these kernels in {WARM_UP_SOLVES} solves: "
        f"{', '.join(missed)}"
    )


def main() -> None:
    seconds = compile_kernels()
    signatures = preload.record()
    print(
        f"planning kernels ready (compiled, or loaded from the cache) in {seconds:.1f} s; "
        f"{signatures} signatures recorded for preloading in {preload.RECORD}"
    )


if __name__ == "__main__":
    main()

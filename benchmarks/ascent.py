"""How far the Lagrangian engine's price ascent gets, stage by stage, with and without its
per-row step scale (`lagrangian.STEP_SCALE_POWER`), against the exact engine's bound.

    .venv/bin/python benchmarks/ascent.py --size S --powers 0,0.5,1 --reference-time-limit 60

For each power the ascent starts from the pooled beds' prices and runs every temperature stage
of `lagrangian.TEMPERATURES` to its full length (`STAGE_ITERATIONS` iterations, or until the
stage only creeps, as in a solve), with no time limit; after each stage it prints the exact
Lagrangian (the bound a solve would report), the evaluations and seconds so far, and how far
the bound lies below the reference. The reference is the bound of the exact engine (the LP
master with its proof MIPs) given --reference-time-limit seconds: on S it proves the optimum.
Without a reference (0, the default for sizes above S, whose exact solve goes through this same
ascent) the table shows the bounds alone.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generators.allocation_instances import named_problem
from medevac.planning import lagrangian, parse_problem, solve_exact
from medevac.planning.compact import build_compact
from medevac.planning.model import ProblemView


def ascent_rows(
    problem_data: dict[str, object], power: float
) -> list[tuple[float, int, float, float]]:
    """(tau, evaluations, seconds, bound) after each stage, the step scale at ``power``."""
    problem = parse_problem(problem_data)
    view = ProblemView(problem)
    compact = build_compact(view)
    hopeless = float(sum(view.unplaced_cost(problem.patients[int(i)]) for i in compact.hopeless))
    saved = lagrangian.STEP_SCALE_POWER
    lagrangian.STEP_SCALE_POWER = power
    try:
        dual = lagrangian._Dual(compact, hopeless)
    finally:
        lagrangian.STEP_SCALE_POWER = saved
    x = dual.starting_prices(60.0)
    _, _, bound = dual.evaluate(x, 0.0, slope=False)
    ascent = lagrangian._Ascent(dual, lagrangian.TEMPERATURES, x, bound)
    rows = []
    started = time.perf_counter()
    for _ in lagrangian.TEMPERATURES:
        tau, _, _ = ascent.stage_once(lambda: math.inf)
        rows.append((tau, dual.evaluations, time.perf_counter() - started, ascent.bound))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S", help="S, M, L or PATIENTSxFACILITIES")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--powers", default="0,1", help="step scale powers, comma-separated")
    parser.add_argument(
        "--reference-time-limit",
        type=float,
        default=None,
        help="seconds for the exact engine's reference bound (default 60 on S, else none)",
    )
    args = parser.parse_args()
    size = args.size.strip().upper()
    try:
        data = named_problem(size, args.seed)
    except ValueError as error:
        parser.error(str(error))
    try:
        powers = [float(p) for p in args.powers.split(",")]
    except ValueError:
        parser.error(f"--powers {args.powers!r}: give numbers, comma-separated")
    limit = args.reference_time_limit
    if limit is None:
        limit = 60.0 if size == "S" else 0.0
    reference = None
    if limit > 0:
        plan = solve_exact(parse_problem(data), limit)
        reference = plan.bound
        print(
            f"<!-- reference: the exact engine in {limit:g} s, bound {plan.bound:,.2f}, "
            f"plan {plan.objective:,.2f}, {plan.status.value} -->"
        )
    print("| step scale power | stage tau | evaluations | seconds | bound | below the reference |")
    print("|---|---|---|---|---|---|")
    for power in powers:
        for tau, evaluations, seconds, bound in ascent_rows(data, power):
            below = "-" if reference is None else f"{(reference - bound) / abs(reference):.3%}"
            print(
                f"| {power:g} | {tau:g} | {evaluations} | {seconds:.2f} | {bound:,.2f} | {below} |",
                flush=True,
            )


if __name__ == "__main__":
    main()

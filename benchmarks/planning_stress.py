"""Stress the regulating engines on many random problems and report every fault found.

    .venv/bin/python benchmarks/planning_stress.py --seconds 600
    .venv/bin/python benchmarks/planning_stress.py --seconds 600 --seed 304651 --problems 1

Each problem comes from the wider random builder of the tests (`wide_random_problem_data`:
horizons of 1-14 days, up to 45 patients, 10 facilities and 6 specialties, groups, needs,
agreements, distance limits, current places; every other one with admissions already due at
its facilities with a daily limit, every third with one to three agreements' quotas and every
fifth with one to three facilities that stop admitting an organisation's patients). The
per-patient MIP proves its optimum; then:

- the greedy plan, the exact engine's plan, the Lagrangian engine's plan (the engine of
  large problems, forced with `large_units=0`), and four more plans of the exact engine: one
  with its LP master seeded from a price ascent, one whose proof MIPs may take only 30
  columns more (partial proofs), one that hands over to the Lagrangian engine at once
  (which then starts from the seed's prices) and one that goes through the Lagrangian
  engine and then, where it comes to rest short of a proof, through the LP master
  (`exact.lp_master_after_rest`) or, for every other pair of seeds, through specialty passes
  (`specialty_passes.py`), must pass the checker with the reported objective;
- no bound may exceed the optimum, and a plan called optimal must cost the optimum;
- the exact engine, also seeded, must prove the optimum and cost no more than greedy;
- `explain` must answer for every patient;
- solving again with the exact plan as every placed patient's current place must move nobody.

Problem k uses seed `--seed + k`, so a fault is reproduced with `--seed SEED-1 --problems 1`.
This run found the four faults fixed on 2026-12-04 (docs/benchmarks.md). It prints a line per
fault and a summary, and exits with status 1 when it found any.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.planning.builders import (
    placement,
    random_acceptance_ends,
    random_admissions_due,
    random_quotas,
    wide_random_problem_data,
    with_current,
)

from medevac.planning import (
    Plan,
    PlanStatus,
    Problem,
    check_plan,
    explain,
    parse_problem,
    solve_exact,
    solve_greedy,
    solve_patient_mip,
    with_acceptance_ends,
    with_admissions_taken,
    with_quotas,
)
from medevac.planning import exact as exact_engine

#: how many problems went on to the LP master after the Lagrangian engine's rest, and how many
#: to the specialty passes
HANDED_OVER = [0]
PASSED_ON = [0]


@contextlib.contextmanager
def exact_settings(**settings: object) -> Iterator[None]:
    """The exact engine's module settings changed for the duration."""
    before = {name: getattr(exact_engine, name) for name in settings}
    for name, value in settings.items():
        setattr(exact_engine, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(exact_engine, name, value)


def faults(seed: int) -> list[str]:
    """What is wrong on the problem of ``seed`` (empty when nothing is)."""
    rng = random.Random(seed)
    data = wide_random_problem_data(rng)
    # every other problem has admissions already due at its facilities with a daily limit
    due = random_admissions_due(rng, parse_problem(data)) if seed % 2 else []
    # and every third quotas of agreements
    quotas = random_quotas(rng, parse_problem(data)) if seed % 3 == 0 else []
    # and every fifth ends of acceptance
    ends = random_acceptance_ends(rng, parse_problem(data)) if seed % 5 == 0 else []

    def extended(data: dict[str, object]) -> Problem:
        """The problem of ``data`` with this seed's admissions due, quotas and ends."""
        problem = with_admissions_taken(parse_problem(data), due)
        return with_acceptance_ends(with_quotas(problem, quotas), ends)

    problem = extended(data)
    mip = solve_patient_mip(problem, 60)
    if mip.status is not PlanStatus.OPTIMAL:
        return [f"per-patient MIP not optimal ({mip.status.value}); nothing to compare with"]
    tolerance = 1e-6 * max(1.0, abs(mip.objective))
    plans: dict[str, Plan] = {
        "greedy": solve_greedy(problem),
        "exact": solve_exact(problem, 30),
        "lagrangian": solve_exact(problem, 2, large_units=0),
    }
    with exact_settings(LP_REFERENCE_SECONDS=1e9):  # every LP expected too slow: seeded
        plans["exact, seeded"] = solve_exact(problem, 30)
    with exact_settings(PARTIAL_PROOF_COLUMNS=1, _mip_room=lambda seconds, in_mip: 30):
        plans["exact, partial proofs"] = solve_exact(problem, 30)
    # no time for the LP at all: the Lagrangian engine starts from the seed's prices
    with exact_settings(LP_REFERENCE_SECONDS=1e9, LP_SHARE=0.0):
        plans["exact, handed over"] = solve_exact(problem, 5)
    # every problem of more than one unit large, and the LP master after its rest expected to
    # take a millisecond: where the Lagrangian engine's rest is not proven optimal, the LP
    # master gets the time left and the better of the two plans and bounds is kept
    # (every other pair of seeds without the LP master: the specialty passes get the time)
    said: list[str] = []
    largest = 0 if (seed // 2) % 2 else exact_engine.LP_MASTER_MAX_UNITS
    with exact_settings(
        LARGE_UNITS=1, SEEDED_LP_REFERENCE_SECONDS=1e-3, LP_MASTER_MAX_UNITS=largest
    ):
        plans["exact, after the rest"] = solve_exact(problem, 10, said.append)
    HANDED_OVER[0] += any("left for the LP master" in line for line in said)
    PASSED_ON[0] += any("left for specialty passes" in line for line in said)
    found = []
    for name, plan in plans.items():
        report = check_plan(problem, plan)
        if not report.feasible:
            found.append(f"{name}: infeasible plan ({report.violations[0]})")
        elif not report.objective_matches(plan.objective):
            found.append(
                f"{name}: reports {plan.objective} where the checker finds {report.objective}"
            )
        elif report.terms_apart(plan.breakdown):
            found.append(f"{name}: terms {'; '.join(report.terms_apart(plan.breakdown))}")
        if plan.bound > mip.objective + tolerance:
            found.append(f"{name}: bound {plan.bound} above the optimum {mip.objective}")
        if plan.status is PlanStatus.OPTIMAL and abs(plan.objective - mip.objective) > tolerance:
            found.append(f"{name}: {plan.objective} called optimal; the optimum is {mip.objective}")
    for name in ("exact", "exact, seeded"):
        if plans[name].status is not PlanStatus.OPTIMAL:
            found.append(
                f"{name}: not proven optimal ({plans[name].objective}, bound {plans[name].bound})"
            )
    exact = plans["exact"]
    if exact.objective > plans["greedy"].objective + tolerance:
        found.append(
            f"exact: {exact.objective} costs more than greedy's {plans['greedy'].objective}"
        )
    for patient in problem.patients:
        explain(problem, exact, patient.id).lines()
    again = solve_exact(extended(with_current(data, exact)), 30)
    moved = sorted(set(placement(again).items()) ^ set(placement(exact).items()))
    if moved:
        found.append(f"exact: a re-plan with the plan as current moved {moved[:4]}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="stop after this long")
    parser.add_argument("--problems", type=int, default=0, help="stop after this many (0: no cap)")
    parser.add_argument("--seed", type=int, default=0, help="problem k uses seed SEED + k")
    args = parser.parse_args()
    end = time.monotonic() + args.seconds
    done = failed = 0
    while time.monotonic() < end and (args.problems == 0 or done < args.problems):
        seed = args.seed + done + 1
        try:
            found = faults(seed)
        except Exception:  # a crash is a fault too: show it and go on
            found = ["crashed:\n" + traceback.format_exc()]
        done += 1
        if found:
            failed += 1
            for line in found:
                print(f"seed {seed}: {line}", flush=True)
        if done % 100 == 0:
            print(f"{done} problems, {failed} with faults", flush=True)
    print(
        f"{done} problems (seeds {args.seed + 1}-{args.seed + done}), {failed} with faults; "
        f"after the Lagrangian engine's rest {HANDED_OVER[0]} went on to the LP master and "
        f"{PASSED_ON[0]} to specialty passes"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Allocation benchmark: exact engine vs greedy and per-patient MIP on seeded S/M/L instances.

    .venv/bin/python benchmarks/allocation.py --sizes S,M --time-limit 60
    .venv/bin/python benchmarks/allocation.py --sizes 3000x100 --time-limit 10 --no-mip
    .venv/bin/python benchmarks/allocation.py --sizes M,L --time-limit 10,20,30,60 --no-mip
    .venv/bin/python benchmarks/allocation.py --sizes L --time-limit 10,30 --beds-divided-by 3
    .venv/bin/python benchmarks/allocation.py --sizes L --time-limit 10 --no-mip \
        --set lagrangian.STEP_SCALE_POWER=0

Sizes other than S, M and L come from the same generator and seed (PATIENTSxFACILITIES).
--beds-divided-by N divides every facility's free beds by N (rounded down): an oversubscribed
variant, where most patients cannot be placed (the rows are labelled L/3 and so on).
Several time limits give the exact engine one solve and one row each ("exact, 10 s").
--set MODULE.NAME=VALUE changes a constant of a module of medevac.planning for this run (a
Python literal; repeatable), to compare the engine with and without a rule in turns.

With --replan the exact engine solves each size a second time with its first plan as every
placed patient's current place (the daily re-plan with nothing changed) and the benchmark says
how many patients that moves and what it costs against keeping every place
(--replan-time-limit gives the second solve its own limit). With --replan-new N the first
solve leaves out N of the patients, drawn at random with the seed, and the re-plan has them as
new patients beside the others' places (the daily re-plan after N referrals).

With --quotas SHARE the instance gets agreements' quotas (`with_quotas`): one for each of the
--quota-pairs (sending organisation, receiving country) pairs to which the greedy plan sends
most patients, over that organisation's patients at the facilities of that country (the
nearest of the generator's country centres), with room for SHARE of the patients the greedy
plan sends there; the rows are labelled M+q and so on. Greedy runs again on the problem with
the quotas and gives the ratio. With --quota-days FIRST-LAST the quotas hold on those
admission days only (`Quota.days`: an agreement that ends on day LAST, a renewal without a
quota taking over; rows M+q0-6).

Every plan is run through the independent checker; a plan that fails it, or whose reported
objective differs from the checker's by more than 1e-6 relative, is flagged in the table.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generators.allocation_instances import (
    COUNTRIES,
    named_problem,
    unknown_size,
    with_beds_divided,
)
from medevac.planning import (
    ChangeKind,
    Engine,
    Plan,
    PlanStatus,
    Problem,
    Quota,
    check_plan,
    parse_problem,
    plan_changes,
    prepare,
    solve_exact,
    solve_greedy,
    solve_patient_mip,
    with_quotas,
)

PRECEDENCES = ("urgent", "priority", "routine")


def placed_by_precedence(problem: Problem, plan: Plan) -> dict[str, int]:
    placed = {a.patient for a in plan.assignments}
    counts = Counter(p.precedence for p in problem.patients if p.id in placed)
    return {name: counts[name] for name in PRECEDENCES}


def row(
    size: str, engine: str, problem: Problem, plan: Plan, greedy: Plan, mip: Plan | None
) -> str:
    report = check_plan(problem, plan)
    agrees = report.objective_matches(plan.objective) and not report.terms_apart(plan.breakdown)
    verdict = "ok" if report.feasible and agrees else "FAIL"
    placed = placed_by_precedence(problem, plan)
    totals = Counter(p.precedence for p in problem.patients)
    by_prec = " ".join(f"{placed[n]}/{totals[n]}" for n in PRECEDENCES)
    vs_greedy = plan.objective / greedy.objective if greedy.objective else float("nan")
    vs_mip = f"{plan.objective / mip.objective:.6f}" if mip is not None and mip.objective else "-"
    return (
        f"| {size} | {engine} | {plan.wall_seconds:.2f} | {plan.objective:,.2f} | "
        f"{plan.gap:.2%} | {plan.status.value} | {by_prec} | {vs_greedy:.4f} | {vs_mip} "
        f"| {verdict} |"
    )


def speed_ratio(size: str, mip: Plan, exact: Plan) -> str:
    """The per-patient MIP's wall time over the exact engine's, when both proved the same
    optimum; otherwise why the two times do not compare."""
    both_optimal = mip.status is PlanStatus.OPTIMAL and exact.status is PlanStatus.OPTIMAL
    same = abs(mip.objective - exact.objective) <= 1e-6 * max(1.0, abs(mip.objective))
    if both_optimal and same:
        ratio = f"{mip.wall_seconds / exact.wall_seconds:.1f}x"
        return f"<!-- {size}: per-patient MIP / exact wall time = {ratio} -->"
    longer = [
        option
        for option, plan in (("--mip-time-limit", mip), ("--time-limit", exact))
        if plan.status is not PlanStatus.OPTIMAL
    ]
    return (
        f"<!-- {size}: no speed ratio: per-patient MIP {mip.status.value} at "
        f"{mip.objective:,.2f} in {mip.wall_seconds:.2f} s, exact {exact.status.value} at "
        f"{exact.objective:,.2f} (gap {exact.gap:.2%}) in {exact.wall_seconds:.2f} s; rerun "
        f"with a longer {' and '.join(longer) or 'limit'} -->"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="S",
        help="comma-separated subset of S,M,L; PATIENTSxFACILITIES (3000x100) for another size",
    )
    parser.add_argument(
        "--time-limit",
        default="60",
        help="exact engine, seconds; several, comma-separated (10,20,30), solve once each",
    )
    parser.add_argument("--mip-time-limit", type=float, default=600.0, help="per-patient MIP")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-mip", action="store_true", help="skip the per-patient MIP on S")
    parser.add_argument(
        "--replan", action="store_true", help="solve again with the first plan as current"
    )
    parser.add_argument(
        "--replan-time-limit", type=float, help="second solve, seconds (default: --time-limit)"
    )
    parser.add_argument(
        "--replan-new",
        type=int,
        default=0,
        metavar="N",
        help="with --replan: leave N patients out of the first solve, new in the re-plan",
    )
    parser.add_argument(
        "--beds-divided-by",
        type=int,
        default=1,
        metavar="N",
        help="divide every facility's free beds by N (an oversubscribed variant)",
    )
    parser.add_argument(
        "--quotas",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="add quotas with room for SHARE of the greedy plan's patients of the busiest pairs",
    )
    parser.add_argument(
        "--quota-pairs", type=int, default=6, help="how many quotas --quotas adds (default 6)"
    )
    parser.add_argument(
        "--quota-days",
        default="",
        metavar="FIRST-LAST",
        help="with --quotas: the quotas hold on admission days FIRST to LAST only",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODULE.NAME=VALUE",
        help="change a constant of medevac.planning.MODULE for this run (repeatable)",
    )
    args = parser.parse_args()
    # as `medevac plan solve` does before it reads the problem: the exact engine's kernels
    # load from numba's cache beside the generation
    prepare(Engine.EXACT)
    for setting in args.set:
        try:
            apply_setting(setting)
        except ValueError as error:
            parser.error(f"--set {setting}: {error}")
    if not 0.0 <= args.quotas < 1.0:
        parser.error(f"--quotas {args.quotas}: give a share from 0 up to, not including, 1")
    quota_days = _quota_days(args.quota_days)
    if args.quota_days and (quota_days is None or not args.quotas):
        parser.error(
            f"--quota-days {args.quota_days!r}: give two days FIRST-LAST (0-6), with --quotas"
        )
    if args.replan_new < 0 or (args.replan_new and not args.replan):
        parser.error(
            f"--replan-new {args.replan_new}: give a whole number from 0 up, with --replan"
        )
    if args.beds_divided_by < 1:
        parser.error(f"--beds-divided-by {args.beds_divided_by}: give a whole number from 1 up")
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    limits = _limits(args.time_limit)
    if not limits:
        parser.error(f"--time-limit {args.time_limit!r}: give seconds above 0, comma-separated")
    for size in sizes:
        wrong = unknown_size(size)
        if wrong:
            parser.error(wrong)

    for setting in args.set:
        print(f"<!-- with {setting} -->")
    print(
        "| size | engine | wall s | objective | gap | status | placed urgent priority routine "
        "| / greedy | / MIP | checker |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in sizes:
        started = time.perf_counter()
        data = named_problem(name, args.seed)
        size = name
        if args.beds_divided_by > 1:
            data = with_beds_divided(data, args.beds_divided_by)
            size = f"{name}/{args.beds_divided_by}"
        problem = parse_problem(held_back(data, args.replan_new, args.seed))
        if args.quotas > 0:
            problem = with_busiest_quotas(problem, args.quotas, args.quota_pairs, quota_days)
            size = f"{size}+q" + ("" if quota_days is None else args.quota_days)
            print(f"<!-- {size}: {describe_quotas(problem)} -->", flush=True)
        built = time.perf_counter() - started
        print(
            f"<!-- {size}: {len(problem.patients)} patients, {len(problem.facilities)} "
            f"facilities, generated and validated in {built:.1f} s -->",
            flush=True,
        )
        greedy = solve_greedy(problem)
        mip = None
        if name == "S" and not args.no_mip:
            mip = solve_patient_mip(problem, args.mip_time_limit)
        print(row(size, "greedy", problem, greedy, greedy, mip), flush=True)
        if mip is not None:
            print(row(size, "per-patient MIP", problem, mip, greedy, mip), flush=True)
        for limit in limits:
            exact = solve_exact(problem, limit)
            engine = "exact" if len(limits) == 1 else f"exact, {limit:g} s"
            print(row(size, engine, problem, exact, greedy, mip), flush=True)
            if mip is not None and exact.wall_seconds > 0:
                print(speed_ratio(size, mip, exact), flush=True)
        if args.replan:  # from the plan of the last limit
            print(
                replan(size, data, exact, args.replan_time_limit or limits[-1], args.replan_new),
                flush=True,
            )


def held_back(data: dict[str, Any], count: int, seed: int) -> dict[str, Any]:
    """``data`` without ``count`` of its patients, drawn at random from ``seed`` (the patients
    new in the re-plan of --replan-new); ``data`` itself where ``count`` is 0."""
    if count == 0:
        return data
    patients = data["patients"]
    if count >= len(patients):
        raise SystemExit(f"--replan-new {count}: the problem has {len(patients)} patients")
    new = set(np.random.default_rng(seed).choice(len(patients), size=count, replace=False).tolist())
    return {**data, "patients": [p for k, p in enumerate(patients) if k not in new]}


def country_of(facility_lat: float, facility_lon: float) -> int:
    """The generator's country whose centre is nearest (in degrees) to a facility."""
    return min(
        range(len(COUNTRIES)),
        key=lambda k: (COUNTRIES[k][0] - facility_lat) ** 2 + (COUNTRIES[k][1] - facility_lon) ** 2,
    )


def _quota_days(text: str) -> frozenset[int] | None:
    """The days of --quota-days ("0-6"), None where not given or not two days in order."""
    first, dash, last = text.partition("-")
    if not (dash and first.isdigit() and last.isdigit() and int(first) <= int(last)):
        return None
    return frozenset(range(int(first), int(last) + 1))


def with_busiest_quotas(
    problem: Problem, share: float, pairs: int, days: frozenset[int] | None = None
) -> Problem:
    """``problem`` with a quota for each of the ``pairs`` (organisation, country) pairs the
    greedy plan sends most patients to, with room for ``share`` of them (see --quotas), on
    ``days`` only where given."""
    country = {f.id: country_of(f.lat, f.lon) for f in problem.facilities}
    greedy = solve_greedy(problem)
    sent = Counter(
        (problem.patient(a.patient).organisation, country[a.facility]) for a in greedy.assignments
    )
    quotas = [
        Quota(
            f"Q-{organisation}-C{land:02d}",
            int(share * count),
            frozenset({organisation}),
            frozenset(f for f, c in country.items() if c == land),
            days=days,
        )
        for (organisation, land), count in sent.most_common(pairs)
        if organisation is not None
    ]
    return with_quotas(problem, quotas)


def describe_quotas(problem: Problem) -> str:
    """The quotas of ``problem`` in a line: id, room and facilities of each."""
    return "; ".join(
        f"{q.id} room {q.room} over {len(q.facilities)} facilities"
        + ("" if q.days is None else f" on days {min(q.days)}-{max(q.days)}")
        for q in problem.quotas
    )


def apply_setting(setting: str) -> None:
    """Set ``MODULE.NAME=VALUE`` on medevac.planning.MODULE; ValueError says what is wrong."""
    target, equals, text = setting.partition("=")
    module_name, dot, name = target.strip().rpartition(".")
    if not equals or not dot or not module_name or not name:
        raise ValueError("write it as MODULE.NAME=VALUE (lagrangian.STEP_SCALE_POWER=0)")
    try:
        module = importlib.import_module(f"medevac.planning.{module_name}")
    except ImportError as error:
        raise ValueError(f"no module medevac.planning.{module_name}") from error
    if not hasattr(module, name):
        raise ValueError(f"medevac.planning.{module_name} has no {name}")
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError) as error:
        raise ValueError(f"{text!r} is not a Python literal") from error
    old = getattr(module, name)
    if type(value) is not type(old) and not (isinstance(old, float) and isinstance(value, int)):
        raise ValueError(f"{name} is a {type(old).__name__}, {text!r} is not")
    setattr(module, name, float(value) if isinstance(old, float) else value)


def _limits(text: str) -> list[float]:
    """The time limits of a comma-separated list (seconds, each above 0); empty if any is not."""
    limits = []
    for part in text.split(","):
        try:
            limit = float(part)
        except ValueError:
            return []
        if not limit > 0:
            return []
        limits.append(limit)
    return limits


def replan(size: str, data: dict[str, Any], first: Plan, time_limit: float, new: int) -> str:
    """Solve again with ``first`` as every placed patient's current place (and none for those
    it leaves out, nor for the ``new`` patients it did not have: --replan-new); describe the
    moves, against greedy on the same re-plan."""
    where = {a.patient: (a.facility, a.day) for a in first.assignments}
    for p in data["patients"]:
        if p["id"] in where:
            p["current"] = {"facility": where[p["id"]][0], "day": where[p["id"]][1]}
        else:
            p.pop("current", None)
    again = parse_problem(data)
    greedy = solve_greedy(again)
    second = solve_exact(again, time_limit)
    report = check_plan(again, second)
    verdict = "ok" if report.feasible and report.objective_matches(second.objective) else "FAIL"
    changes = plan_changes(again, second)
    moved = changes.count(ChangeKind.MOVED)
    shifted = changes.count(ChangeKind.DAY)
    dropped = changes.count(ChangeKind.DROPPED)
    added = changes.newly_placed
    against = (
        f"keeping every place: {first.objective:,.2f}"
        if new == 0
        else f"{new} new patients; greedy {greedy.objective:,.2f}, "
        f"ratio {second.objective / greedy.objective:.4f}"
    )
    return (
        f"<!-- {size} re-plan with the first plan as current: {second.objective:,.2f} "
        f"({against}), gap {second.gap:.2%}, "
        f"{second.wall_seconds:.1f} s; {moved} change facility, {shifted} change day only, "
        f"{dropped} dropped, {added} newly placed; checker {verdict} -->"
    )


if __name__ == "__main__":
    main()

"""Time the registry side of regulating at national scale: build, solve, approve.

Usage:
    .venv/bin/python benchmarks/regulating.py [--patients 100000] [--facilities 1000]
        [--backends sqlite,postgresql] [--time-limit 10]

For each backend it makes a fresh database (a SQLite file, or a uniquely named PostgreSQL
database on the server of MEDEVAC_TEST_POSTGRES_URL, dropped afterwards) and writes, through
the repositories, a seeded registry: a sending ministry with origin hospitals clustered in three
regions, receiving facilities spread over Europe with a capacity report per specialty, and the
given number of patients already selected for evacuation. It then times the three steps of
`medevac plan build / solve / approve`:

- build: `build_problem` reads the selected and referred patients, the latest capacity and the
  agreements and writes the problem with its manifest;
- solve: the exact engine under the time limit (the plan goes through the checker);
- approve: `approve_plan` checks the plan and the registry against the manifest, stores the
  plan and refers every placed patient, with one audit record each, in one serialized
  transaction.

Prints a table of seconds per step and patients per second of each step.

With `--replan-accepted SHARE`, that share of the placed patients is then accepted by their
facilities (in one bulk move, after the capacity reports), and the re-plan is timed the same
way: `build_problem` now takes their beds off the reports (`held_beds`) and records them in
the manifest, the exact engine solves the rest, and `approve_plan` computes the held beds
again to compare them with the manifest. A second table gives those seconds.

With `--quotas SHARE`, the sending ministry has an agreement with each receiving ministry
whose quota lets it send that share of the patients, spread evenly over the receivers: every
agreement then has room for fewer patients than could go under it. `build_problem` carries
each as a quota in the manifest (the agreements bind different receivers, so none overlaps
another), the exact engine keeps to them (`BuiltProblem.for_engines`, as `plan solve` does),
choosing who uses each room, and `approve_plan` approves the plan with `--within-quotas`,
which should leave nobody out. A third table gives the agreements short of room, those
carried as quotas, the patients placed, those left out at approval (0 expected), and the
times of the build, the solve and the approval.

With `--triage-changed`, every patient's triage category is corrected after the build (in
bulk, with one audit record each, as an import writes them): a change no problem reads, so
the approval reads each patient's audit trail back to the version the build saw
(`changed_since`) and goes ahead, noting every patient. The "approve" column then includes
that reading.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine as SqlEngine

from bench_databases import fresh_database
from medevac.domain.agreements import Agreement
from medevac.domain.audit import AuditRecord, snapshot
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient
from medevac.domain.vocabulary import (
    FacilityKind,
    Mobility,
    OrganisationKind,
    Precedence,
    Specialty,
    TriageCategory,
)
from medevac.planning import Engine, Plan, check_plan, prepare, solve_exact
from medevac.services.auditing import utc_now
from medevac.services.patients import apply_moves
from medevac.services.regulating import approve, approve_plan, build_problem
from medevac.store.database import create_engine_for
from medevac.store.unit_of_work import SqlUnitOfWork

SPECIALTIES = list(Specialty)
COUNTRIES = ("PL", "DE", "CZ", "SK", "HU", "RO", "AT", "LT", "LV", "EE", "FR", "NL", "BE", "IT")
REGIONS = ((50.45, 30.52), (49.84, 24.03), (46.48, 30.72))  # origin hospitals cluster here
PRECEDENCE_MIX = (
    (Precedence.URGENT, 0.10),
    (Precedence.PRIORITY, 0.30),
    (Precedence.ROUTINE, 0.60),
)


def make_registry(
    n_patients: int, n_facilities: int, seed: int = 20261203
) -> tuple[list[Organisation], list[Facility], list[CapacityReport], list[Patient]]:
    """A seeded registry: organisations, origin and receiving facilities, capacity, patients."""
    rng = random.Random(seed)
    now = utc_now()
    organisations = [
        Organisation("MOH-UA", "Sending ministry", OrganisationKind.MINISTRY_OF_HEALTH, "UA")
    ] + [
        Organisation(f"MOH-{c}", f"Ministry {c}", OrganisationKind.MINISTRY_OF_HEALTH, c)
        for c in COUNTRIES
    ]
    origins = [
        Facility(
            f"ORIGIN-{k:02d}",
            f"Origin hospital {k}",
            FacilityKind.HOSPITAL,
            "MOH-UA",
            "UA",
            Coordinates(lat + rng.uniform(-0.3, 0.3), lon + rng.uniform(-0.3, 0.3)),
        )
        for k, (lat, lon) in enumerate(REGIONS[k % len(REGIONS)] for k in range(12))
    ]
    receiving = []
    reports = []
    for k in range(n_facilities):
        country = COUNTRIES[k % len(COUNTRIES)]
        offered = frozenset(rng.sample(SPECIALTIES, rng.randint(3, 8)))
        facility = Facility(
            f"FAC-{k:04d}",
            f"Hospital {k}",
            FacilityKind.HOSPITAL,
            f"MOH-{country}",
            country,
            Coordinates(rng.uniform(44.0, 56.0), rng.uniform(2.0, 26.0)),
            offered,
            daily_admission_limit=rng.choice([None, 20, 40]),
        )
        receiving.append(facility)
        for specialty in sorted(offered):
            beds = rng.randint(2, 40)
            reports.append(CapacityReport(facility.id, specialty, beds, beds, 0, 0, now))
    patients = []
    for i in range(n_patients):
        draw = rng.random()
        precedence = next(
            (p for p, share in _cumulative(PRECEDENCE_MIX) if draw < share), Precedence.ROUTINE
        )
        patient = Patient(
            id=f"P-{i:07d}",
            organisation_id="MOH-UA",
            required_specialties=(rng.choice(SPECIALTIES),),
            precedence=precedence,
            mobility=Mobility.LITTER if rng.random() < 0.4 else Mobility.AMBULATORY,
            fit_to_transport=True,
            expected_length_of_stay_days=rng.randint(3, 30),
            location_id=origins[rng.randrange(len(origins))].id,
        )
        at = now - timedelta(days=2)
        patient.transition_to(PatientStatus.SCREENING, actor="bench", at=at)
        patient.transition_to(PatientStatus.SELECTED, actor="bench", at=at + timedelta(hours=1))
        patients.append(patient)
    return organisations, origins + receiving, reports, patients


def agreements(organisations: list[Organisation], n_patients: int, share: float) -> list[Agreement]:
    """With ``share`` > 0, an agreement of the sending ministry with each receiving one, each
    with a quota of its part of ``share`` of the patients."""
    if share <= 0:
        return []
    receivers = [o for o in organisations if o.id != "MOH-UA"]
    quota = max(1, int(share * n_patients / len(receivers)))
    return [
        Agreement(
            f"AGR-{o.id}",
            "MOH-UA",
            o.id,
            frozenset(SPECIALTIES),
            quota=quota,
            cost_policy=CostPolicy.free(),
            valid_from=utc_now().date() - timedelta(days=1),
        )
        for o in receivers
    ]


def _cumulative(mix: tuple[tuple[Precedence, float], ...]) -> list[tuple[Precedence, float]]:
    total = 0.0
    out = []
    for precedence, share in mix:
        total += share
        out.append((precedence, total))
    return out


def run(
    url: str,
    n_patients: int,
    n_facilities: int,
    time_limit: float,
    accepted_share: float = 0.0,
    quota_share: float = 0.0,
    triage_changed: bool = False,
) -> dict[str, float]:
    """Write the registry to ``url``, then time build, solve and approve; return seconds. With
    ``accepted_share``, accept that share of the placed patients and time the re-plan too
    ("rebuild", "resolve", "reapprove", "held")."""
    engine = create_engine_for(url)
    organisations, facilities, reports, patients = make_registry(n_patients, n_facilities)
    with SqlUnitOfWork(engine) as uow:
        uow.organisations.add_many(organisations)
        for facility in facilities:
            uow.facilities.add(facility)
        for capacity in reports:
            uow.capacity.add(capacity)
        uow.patients.add_many(patients)
        for agreement in agreements(organisations, n_patients, quota_share):
            uow.agreements.add(agreement)
        uow.commit()
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    built = build_problem(SqlUnitOfWork(engine), now=utc_now(), stale_after=timedelta(hours=24))
    seconds["build"] = time.perf_counter() - started
    seconds["tight"] = float(len(built.quotas_tight))
    seconds["carried"] = float(len(built.quotas_held))

    started = time.perf_counter()
    problem = built.for_engines()
    plan = solve_exact(problem, time_limit=time_limit)
    seconds["solve"] = time.perf_counter() - started
    report = check_plan(problem, plan)
    if not report.feasible:
        raise SystemExit(f"the plan does not pass the checker: {report.violations[:3]}")
    seconds["placed"] = float(len(plan.assignments))
    seconds["gap"] = plan.gap

    if triage_changed:
        _correct_triage(engine)
    started = time.perf_counter()
    approval = approve(
        SqlUnitOfWork(engine),
        problem=built.problem,
        manifest=built.manifest,
        plan=plan,
        actor="bench",
        within_quotas=quota_share > 0,  # leaving out whom a plan places beyond them (none)
    )
    seconds["approve"] = time.perf_counter() - started
    approved = approval.plan
    if triage_changed and len(approval.noted) != n_patients:
        raise SystemExit(f"{len(approval.noted)} changes noted for {n_patients} patients")
    seconds["left out"] = float(len(plan.assignments) - len(approved.admissions))
    with SqlUnitOfWork(engine) as uow:
        referred = len(uow.patients.list(status=PatientStatus.REFERRED))
    if referred != len(approved.admissions):
        raise SystemExit(f"{referred} patients referred for {len(approved.admissions)} approved")
    if accepted_share > 0:
        seconds |= _replan(engine, plan, accepted_share, time_limit)
    engine.dispose()
    return seconds


def _correct_triage(engine: SqlEngine) -> None:
    """Give every patient another triage category, with its audit record (as imports do)."""
    with SqlUnitOfWork(engine) as uow:
        patients = uow.patients.list()
        records = []
        for patient in patients:
            before = snapshot(patient)
            patient.triage = next(t for t in TriageCategory if t is not patient.triage)
            records.append(
                AuditRecord(
                    "bench", utc_now(), "patient", patient.id, "update", before, snapshot(patient)
                )
            )
        uow.patients.update_many(patients)
        uow.audit.add_many(records)
        uow.commit()


def _replan(engine: SqlEngine, plan: Plan, share: float, time_limit: float) -> dict[str, float]:
    """Accept ``share`` of the plan's patients, then time the next build, solve and approval."""
    chosen = sorted(a.patient for a in plan.assignments)
    chosen = chosen[: int(len(chosen) * share)]
    with SqlUnitOfWork(engine) as uow:
        stored = uow.patients.get_many(chosen)
        moves = [(stored[i], "bed confirmed") for i in chosen]
        apply_moves(
            uow,
            moves,
            PatientStatus.ACCEPTED,
            actor="bench",
            role=ActorRole.RECEIVING_FACILITY,
            at=utc_now(),
        )
        uow.commit()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    built = build_problem(SqlUnitOfWork(engine), now=utc_now(), stale_after=timedelta(hours=24))
    seconds["rebuild"] = time.perf_counter() - started
    seconds["held"] = float(len(built.manifest["held"]))
    if len(built.manifest["held"]) != len(chosen):
        raise SystemExit(f"{len(built.manifest['held'])} beds held for {len(chosen)} accepted")
    started = time.perf_counter()
    replan = solve_exact(built.for_engines(), time_limit=time_limit)
    seconds["resolve"] = time.perf_counter() - started
    started = time.perf_counter()
    approve_plan(
        SqlUnitOfWork(engine),
        problem=built.problem,
        manifest=built.manifest,
        plan=replan,
        actor="bench",
    )
    seconds["reapprove"] = time.perf_counter() - started
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--facilities", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument(
        "--quotas",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="give every receiving ministry an agreement whose quota is its part of this share "
        "of the patients",
    )
    parser.add_argument(
        "--replan-accepted",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="accept this share of the placed patients, then time the re-plan too",
    )
    parser.add_argument(
        "--triage-changed",
        action="store_true",
        help="correct every patient's triage category after the build (a change no problem "
        "reads), so that the approval reads every patient's audit trail",
    )
    args = parser.parse_args()
    prepare(Engine.EXACT)  # as `medevac plan solve` does before it reads the problem
    print(
        "| backend | patients | facilities | build s | solve s | approve s | placed | gap "
        "| approve patients/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    replans, quotas = [], []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as folder, fresh_database(backend, Path(folder)) as url:
            seconds = run(
                url,
                args.patients,
                args.facilities,
                args.time_limit,
                args.replan_accepted,
                args.quotas,
                args.triage_changed,
            )
        placed = int(seconds["placed"])
        print(
            f"| {backend} | {args.patients:,} | {args.facilities:,} | {seconds['build']:.2f} "
            f"| {seconds['solve']:.2f} | {seconds['approve']:.2f} | {placed:,} "
            f"| {seconds['gap']:.2%} | {placed / seconds['approve']:,.0f} |",
            flush=True,
        )
        if args.quotas > 0:
            quotas.append(
                f"| {backend} | {int(seconds['tight'])} | {int(seconds['carried'])} "
                f"| {placed:,} | {int(seconds['left out']):,} | {seconds['build']:.2f} "
                f"| {seconds['solve']:.2f} | {seconds['approve']:.2f} |"
            )
        if "rebuild" in seconds:
            replans.append(
                f"| {backend} | {int(seconds['held']):,} | {seconds['rebuild']:.2f} "
                f"| {seconds['resolve']:.2f} | {seconds['reapprove']:.2f} |"
            )
    if quotas:
        print()
        print(
            "| backend | agreements short of room | carried as quotas | placed "
            "| left out at approval | build s | solve s | approve s |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        print("\n".join(quotas))
    if replans:
        print()
        print("| backend | accepted (beds held) | rebuild s | resolve s | reapprove s |")
        print("|---|---:|---:|---:|---:|")
        print("\n".join(replans))


if __name__ == "__main__":
    main()

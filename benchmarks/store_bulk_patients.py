"""Time the storage adapter's bulk patient operations on SQLite and PostgreSQL.

Usage: .venv/bin/python benchmarks/store_bulk_patients.py [--count 100000] [--postgres URL]

Creates a fresh SQLite file and a fresh PostgreSQL database (on the server of
MEDEVAC_TEST_POSTGRES_URL unless --postgres is given), migrates them, then times, each in its
own unit of work: add_many of N patients with one audit record each (what a first import
writes), get_many of all N, and update_many of all N with one new history entry and one audit
record each (what a re-import writes). Prints a table of seconds and rows per second.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench_databases import fresh_database, postgres_server
from medevac.domain.audit import AuditRecord, snapshot
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Condition, Identity, Patient, StatusChange
from medevac.domain.vocabulary import (
    BodyRegion,
    InjuryMechanism,
    Mobility,
    OrganisationKind,
    Precedence,
    Sex,
    SpecialNeed,
    Specialty,
)
from medevac.store.database import create_engine_for, upgrade
from medevac.store.unit_of_work import SqlUnitOfWork

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SPECIALTIES = list(Specialty)
PRECEDENCES = list(Precedence)


def make_patients(count: int) -> list[Patient]:
    """Patients shaped like an import: identity, two conditions, two specialties, one move."""
    patients = []
    for i in range(count):
        patient = Patient(
            id=f"P-{i:07d}",
            organisation_id="ORG-UA",
            required_specialties=(SPECIALTIES[i % 15], SPECIALTIES[(i + 5) % 15]),
            precedence=PRECEDENCES[i % 5],
            mobility=Mobility.LITTER if i % 3 else Mobility.AMBULATORY,
            identity=Identity(
                name=f"Patient {i}", birth_date=date(1990, 1, 1), sex=Sex.MALE, nationality="UA"
            ),
            conditions=(
                Condition(BodyRegion.LOWER_LIMB, "fracture", InjuryMechanism.BLAST),
                Condition(BodyRegion.HEAD, "concussion", InjuryMechanism.BLAST),
            ),
            special_needs=frozenset({SpecialNeed.OXYGEN}) if i % 7 == 0 else frozenset(),
            companions=i % 2,
            expected_length_of_stay_days=14,
        )
        patient.history = [StatusChange(None, patient.status, "import", T0, "imported")]
        patients.append(patient)
    return patients


class Clock:
    """Wall and CPU seconds (of this process) per named phase."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def time(self, phase: str, action: Callable[[], object]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        self.wall[phase] = self.wall.get(phase, 0.0) + time.perf_counter() - wall
        self.cpu[phase] = self.cpu.get(phase, 0.0) + time.process_time() - cpu


def run(url: str, count: int) -> Clock:
    upgrade(url)
    engine = create_engine_for(url)
    with SqlUnitOfWork(engine) as uow:
        uow.organisations.add(
            Organisation("ORG-UA", "Ministry", OrganisationKind.MINISTRY_OF_HEALTH, "UA")
        )
        uow.commit()
    patients = make_patients(count)
    created = [
        AuditRecord("import", T0, "patient", p.id, "create", None, snapshot(p), "bench")
        for p in patients
    ]
    ids = [p.id for p in patients]
    clock = Clock()

    with SqlUnitOfWork(engine) as uow:
        clock.time("add_many alone", lambda: uow.patients.add_many(patients))
        uow.rollback()

    def first_import() -> None:
        with SqlUnitOfWork(engine) as uow:
            uow.patients.get_many(ids)
            uow.patients.add_many(patients)
            uow.audit.add_many(created)
            uow.commit()

    clock.time("first import", first_import)

    def re_import() -> None:
        with SqlUnitOfWork(engine) as uow:
            current: dict[str, Patient] = {}
            clock.time("get_many", lambda: current.update(uow.patients.get_many(ids)))
            records: list[AuditRecord] = []

            def move_all() -> None:
                for patient in current.values():
                    before = snapshot(patient)
                    patient.transition_to(
                        PatientStatus.SCREENING, actor="import", at=T0 + timedelta(1)
                    )
                    records.append(
                        AuditRecord(
                            "import", T0, "patient", patient.id, "update", before, snapshot(patient)
                        )
                    )

            clock.time("(caller: move+snapshots)", move_all)
            clock.time("update_many", lambda: uow.patients.update_many(list(current.values())))
            clock.time("audit add_many", lambda: uow.audit.add_many(records))
            clock.time("commit", uow.commit)

    clock.time("re-import", re_import)
    engine.dispose()
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument(
        "--postgres",
        default=postgres_server(),
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    rows: list[tuple[str, Clock]] = []
    for backend in ("sqlite", "postgresql"):
        if args.only in (None, backend):
            with (
                tempfile.TemporaryDirectory() as folder,
                fresh_database(backend, Path(folder), args.postgres) as url,
            ):
                rows.append((backend, run(url, args.count)))
    phases = list(rows[0][1].wall) if rows else []
    load = os.getloadavg()[0]
    print(f"\n{args.count:,} patients; {os.cpu_count()} cores; load average {load:.1f}")
    header = "".join(f"{backend + ' wall':>17}{'cpu':>8}" for backend, _ in rows)
    print(f"{'phase':<26}{header}")
    for phase in phases:
        cells = "".join(f"{c.wall[phase]:>17.2f}{c.cpu[phase]:>8.2f}" for _, c in rows)
        print(f"{phase:<26}{cells}")
    print("seconds; cpu = this Python process only (PostgreSQL's server time is not in it)")
    print("first import = get_many (none found) + add_many + audit add_many + commit")
    print("re-import = get_many + caller's moves/snapshots + update_many + audit add_many + commit")


if __name__ == "__main__":
    main()

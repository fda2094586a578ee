"""Time `import_file` on 100,000 patients into fresh SQLite and PostgreSQL databases.

Usage:
    .venv/bin/python benchmarks/import.py [--patients 100000] [--seed 20261122]
        [--formats csv json] [--backends sqlite postgresql] [--profile]

A seeded generator (medevac.interop.samples) writes the organisations, facilities and patients
as CSV and JSON. For each backend and format a fresh database is made and migrated (SQLite: a
file in a temporary folder; PostgreSQL: a uniquely named database on the server of
MEDEVAC_TEST_POSTGRES_URL, dropped afterwards), the organisations and facilities are imported,
and then the patients file is imported and timed: reading, validation, reference checks,
writes of patients, specialties, history and audit records, and the commit. A second import
of the same file (everything unchanged) is timed as well. Target: 20 s per import.

Columns: `seconds` is wall time; `store s` the part of it spent inside repository methods and
commit (SQL building, the driver and the database); `cpu s` the CPU time of this process (it
excludes the PostgreSQL server's work, and is steadier than wall time on a loaded machine).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench_databases import fresh_database
from medevac.interop.records import RecordKind
from medevac.interop.samples import sample_registry
from medevac.interop.tables import write_records
from medevac.services.imports import import_file
from medevac.store.unit_of_work import SqlUnitOfWork

TARGET_SECONDS = 20.0
ACTOR = "benchmark"


class TimedUnitOfWork:
    """A SqlUnitOfWork whose repository calls and commit are timed, to split store time
    (SQL building, drivers, database) from the import's own work (parsing, checks, domain)."""

    def __init__(self, url: str, spent: dict[str, float]) -> None:
        self._inner = SqlUnitOfWork(url)
        self._spent = spent

    def __enter__(self) -> TimedUnitOfWork:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)  # type: ignore[arg-type]

    def commit(self) -> None:
        start = time.perf_counter()
        self._inner.commit()
        self._spent["commit"] = self._spent.get("commit", 0.0) + time.perf_counter() - start

    def __getattr__(self, name: str) -> Any:
        return _TimedRepository(name, getattr(self._inner, name), self._spent)


class _TimedRepository:
    def __init__(self, name: str, inner: Any, spent: dict[str, float]) -> None:
        self._name, self._inner, self._spent = name, inner, spent

    def __getattr__(self, method: str) -> Any:
        call = getattr(self._inner, method)
        key = f"{self._name}.{method}"

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self._spent[key] = self._spent.get(key, 0.0) + time.perf_counter() - start

        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--formats", nargs="+", default=["csv", "json"], choices=["csv", "json"])
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    console = Console(width=130)

    registry = sample_registry(args.patients, seed=args.seed)
    table = Table(title=f"Import of {args.patients:,} patients (seed {args.seed})")
    columns = ("backend", "format", "run", "rows", "seconds", "rows/s", "target s", "ratio")
    for column in (*columns, "store s", "cpu s"):
        table.add_column(
            column, justify="left" if column in ("backend", "format", "run") else "right"
        )

    with tempfile.TemporaryDirectory(prefix="medevac-import-") as tmp:
        folder = Path(tmp)
        files = {}
        for file_format in args.formats:
            for kind in (RecordKind.ORGANISATIONS, RecordKind.FACILITIES, RecordKind.PATIENTS):
                path = folder / f"{kind.value}.{file_format}"
                write_records(path, kind, registry.rows(kind))
                files[kind, file_format] = path
        for backend in args.backends:
            for file_format in args.formats:
                with fresh_database(backend, folder) as url:
                    for kind in (RecordKind.ORGANISATIONS, RecordKind.FACILITIES):
                        import_file(SqlUnitOfWork(url), kind, files[kind, file_format], actor=ACTOR)
                    patients = files[RecordKind.PATIENTS, file_format]
                    for run in ("first", "again"):
                        profiler = cProfile.Profile() if args.profile else None
                        spent: dict[str, float] = {}
                        cpu = time.process_time()
                        start = time.perf_counter()
                        if profiler is not None:
                            profiler.enable()
                        result = import_file(
                            TimedUnitOfWork(url, spent),
                            RecordKind.PATIENTS,
                            patients,
                            actor=ACTOR,
                        )
                        if profiler is not None:
                            profiler.disable()
                        seconds = time.perf_counter() - start
                        cpu_seconds = time.process_time() - cpu
                        expected = (
                            (args.patients, 0, 0) if run == "first" else (0, 0, args.patients)
                        )
                        got = (result.created, result.updated, result.unchanged)
                        if got != expected:
                            raise SystemExit(f"{backend}/{file_format}/{run}: {got} != {expected}")
                        table.add_row(
                            backend,
                            file_format,
                            run,
                            f"{result.rows:,}",
                            f"{seconds:.1f}",
                            f"{result.rows / seconds:,.0f}",
                            f"{TARGET_SECONDS:.0f}",
                            f"{seconds / TARGET_SECONDS:.2f}",
                            f"{sum(spent.values()):.1f}",
                            f"{cpu_seconds:.1f}",
                        )
                        calls = ", ".join(
                            f"{k} {v:.1f}" for k, v in sorted(spent.items(), key=lambda i: -i[1])
                        )
                        console.print(
                            f"{backend} {file_format} {run}: {seconds:.1f} s; store: {calls}"
                        )
                        if profiler is not None:
                            console.print(f"[bold]{backend} {file_format} {run}: top functions[/]")
                            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    console.print(table)
    load = os.getloadavg()
    console.print(
        f"{os.cpu_count()} CPUs; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end"
    )


if __name__ == "__main__":
    main()

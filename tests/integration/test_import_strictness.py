"""Bad input refused on SQLite and PostgreSQL, naming row, column and reason, losing nothing:
a truncated CSV row of a stored patient, JSON true/false as counts and coordinates, and the
`import` and `export` commands saying which row or patient is at fault."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from medevac.cli import context
from medevac.cli.main import app
from medevac.config import get_settings
from medevac.domain.repositories import UnitOfWork
from medevac.interop.records import ImportRejected, RecordKind, RowError
from medevac.interop.rows import patient_row
from medevac.interop.samples import SampleRegistry, sample_registry
from medevac.interop.tables import write_records
from medevac.services.exports import export_file
from medevac.services.imports import import_file

pytestmark = pytest.mark.storage

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
UowFactory = Callable[[], UnitOfWork]
REFERENCES = (RecordKind.ORGANISATIONS, RecordKind.FACILITIES)


@pytest.fixture(scope="module")
def registry() -> SampleRegistry:
    return sample_registry(20, seed=7)


def load(
    uow_factory: UowFactory, registry: SampleRegistry, folder: Path, *kinds: RecordKind
) -> None:
    for kind in kinds:
        path = folder / f"seed-{kind.value}.csv"
        write_records(path, kind, registry.rows(kind))
        import_file(uow_factory(), kind, path, actor="importer", now=NOW)


def stored(uow_factory: UowFactory) -> dict[str, Any]:
    """What an import could change: every patient's row, the organisations and their contacts,
    the facilities, the capacity reports and the audit trail."""
    with uow_factory() as uow:
        return {
            "patients": sorted((patient_row(p) for p in uow.patients.list()), key=str),
            "organisations": sorted((o.id, o.contact) for o in uow.organisations.list()),
            "facilities": sorted(f.id for f in uow.facilities.list()),
            "capacity": len(uow.capacity.latest()),
            "audit": len(uow.audit.list()),
        }


def refused(uow_factory: UowFactory, kind: RecordKind, path: Path) -> list[RowError]:
    before = stored(uow_factory)
    with pytest.raises(ImportRejected) as rejected:
        import_file(uow_factory(), kind, path, actor="importer", now=NOW)
    assert stored(uow_factory) == before
    return rejected.value.errors


def truncated_patient_file(uow_factory: UowFactory, folder: Path) -> Path:
    """The first row of an exported patients.csv cut after its 6th of 19 cells."""
    export_file(uow_factory(), RecordKind.PATIENTS, folder / "all.csv")
    header, first, *_ = (folder / "all.csv").read_text(encoding="utf-8").splitlines()
    path = folder / "short.csv"
    path.write_text(f"{header}\n{','.join(first.split(',')[:6])}\n", encoding="utf-8")
    return path


def test_a_truncated_row_of_a_stored_patient_is_refused_and_clears_nothing(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES, RecordKind.PATIENTS)
    path = truncated_patient_file(uow_factory, tmp_path)

    errors = refused(uow_factory, RecordKind.PATIENTS, path)

    assert [(e.row, e.column) for e in errors] == [(2, "-")]
    assert errors[0].reason.startswith("has 6 cells, the header has 19")


def test_json_true_and_false_are_no_bed_counts_or_coordinates(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES)
    report = dict(registry.capacity[0]) | {"available": True, "baseline": True, "plus_24h": False}
    capacity = tmp_path / "capacity.json"
    capacity.write_text(json.dumps([report]), encoding="utf-8")
    facility = dict(registry.facilities[0]) | {
        "id": "FAC-NEW",
        "lat": True,
        "lon": False,
        "total_beds": True,
    }
    facilities = tmp_path / "facilities.json"
    facilities.write_text(json.dumps([facility]), encoding="utf-8")

    assert [str(e) for e in refused(uow_factory, RecordKind.CAPACITY, capacity)] == [
        "row 1, column available: must be a whole number (got true)",
        "row 1, column baseline: must be a whole number (got true)",
        "row 1, column plus_24h: must be a whole number (got false)",
    ]
    assert [str(e) for e in refused(uow_factory, RecordKind.FACILITIES, facilities)] == [
        "row 1, column lat: must be a number (got true)",
        "row 1, column lon: must be a number (got false)",
        "row 1, column total_beds: must be a whole number (got true)",
    ]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The `medevac` command on the test database."""
    monkeypatch.setenv("MEDEVAC_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    context._checked.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
    context._checked.cache_clear()


def test_cli_names_the_row_of_a_truncated_line_and_the_patient_csv_cannot_export(
    cli: CliRunner, uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES, RecordKind.PATIENTS)
    short = truncated_patient_file(uow_factory, tmp_path)
    piped = dict(registry.patients[1]) | {
        "conditions": [{"body_region": "skin", "mechanism": "burn", "description": "burn | scald"}]
    }
    path = tmp_path / "piped.json"
    write_records(path, RecordKind.PATIENTS, [piped])
    import_file(uow_factory(), RecordKind.PATIENTS, path, actor="importer", now=NOW)

    imported = cli.invoke(app, ["import", "patients", str(short)])
    exported = cli.invoke(app, ["export", "patients", str(tmp_path / "out.csv")])

    assert imported.exit_code == 1
    assert "row 2: has 6 cells, the header has 19" in imported.output
    assert "1 error in 1 row; nothing was imported" in imported.output
    assert exported.exit_code == 1
    assert (
        f"error: patient {piped['id']}, conditions: description 'burn | scald' contains '|'"
        in exported.output
    )
    assert "Traceback" not in imported.output + exported.output
    assert not (tmp_path / "out.csv").exists()


# A time a zone cannot show (9999-12-31T23:59Z at UTC+2), one beyond year 9999 in UTC and one
# before year 1 in UTC: the first two had crashed with an OverflowError, the last had failed
# at the database write naming no row or field.
IMPLAUSIBLE_TIMES = (
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
)


def imported_and_reported(
    cli: CliRunner, uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path, moment: str
) -> tuple[Result, Result, list[str]]:
    """A capacity report of ``moment`` imported from a CSV file, then given to `facilities
    capacity report --at`, on a registry that nothing changed (checked): both results, and
    the command line that reported it."""
    load(uow_factory, registry, tmp_path, *REFERENCES)
    facility, specialty = registry.capacity[0]["facility_id"], registry.capacity[0]["specialty"]
    path = tmp_path / "capacity.csv"
    path.write_text(
        "facility_id,specialty,available,baseline,plus_24h,plus_72h,reported_at\n"
        f"{facility},{specialty},1,8,0,0,{moment}\n",
        encoding="utf-8",
    )
    before = stored(uow_factory)
    imported = cli.invoke(app, ["import", "capacity", str(path)])
    command = ["facilities", "capacity", "report", facility, specialty, "--available", "1"]
    reported = cli.invoke(app, [*command, "--baseline", "8", "--at", moment])
    assert stored(uow_factory) == before
    return imported, reported, [*command, "--baseline", "8"]


@pytest.mark.parametrize("moment", IMPLAUSIBLE_TIMES)
def test_a_capacity_time_out_of_range_is_refused_in_one_line_by_import_and_by_report(
    cli: CliRunner,
    uow_factory: UowFactory,
    registry: SampleRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    moment: str,
) -> None:
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", "Europe/Kyiv")
    get_settings.cache_clear()
    imported, reported, _ = imported_and_reported(cli, uow_factory, registry, tmp_path, moment)

    assert (imported.exit_code, type(imported.exception)) == (1, SystemExit), imported.output
    assert (
        "row 2, column reported_at: must lie between 1900-01-01T00:00:00Z and"
        f" 2200-12-31T23:59:59Z (got '{moment}')"
    ) in imported.output
    assert (reported.exit_code, type(reported.exception)) == (1, SystemExit), reported.output
    assert reported.output.strip().splitlines() == [
        f"error: reported_at: {datetime.fromisoformat(moment).isoformat()} must lie between"
        " 1900-01-01T00:00:00Z and 2200-12-31T23:59:59Z"
    ]


def test_a_capacity_time_finer_than_microseconds_is_refused_by_import_and_by_report_alike(
    cli: CliRunner,
    uow_factory: UowFactory,
    registry: SampleRegistry,
    tmp_path: Path,
) -> None:
    # the import refused it; `capacity report --at` cut the seventh digit off unsaid
    moment = "2026-11-20T08:00:00.1234567+00:00"
    imported, reported, command = imported_and_reported(
        cli, uow_factory, registry, tmp_path, moment
    )

    reason = "has more precision than microseconds (7 digits after the second's point; at most 6)"
    assert imported.exit_code == 1, imported.output
    assert f"row 2, column reported_at: {reason}" in imported.output
    assert reported.exit_code == 1, reported.output
    assert reported.output.strip().splitlines() == [f"error: --at: {moment!r} {reason}"]
    basic = "20261120T080000.1234567+0000"  # the basic form, which Python reads too
    reported = cli.invoke(app, [*command, "--at", basic])
    assert reported.output.strip().splitlines() == [f"error: --at: {basic!r} {reason}"]
    # zeros after the sixth digit lose nothing
    zeros = "2026-11-20T08:00:00.123456000+00:00"
    reported = cli.invoke(app, [*command, "--at", zeros])
    assert reported.exit_code == 0, reported.output

"""Imports and exports on SQLite and PostgreSQL: all or nothing, idempotent, round trips."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medevac.cli import context
from medevac.cli.main import app
from medevac.config import get_settings
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.repositories import UnitOfWork
from medevac.interop.records import ImportRejected, RecordKind, RowError
from medevac.interop.samples import SampleRegistry, sample_registry
from medevac.interop.tables import write_records
from medevac.services.exports import export_file
from medevac.services.imports import import_file

pytestmark = pytest.mark.storage

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
UowFactory = Callable[[], UnitOfWork]


@pytest.fixture(scope="module")
def registry() -> SampleRegistry:
    return sample_registry(1000, seed=11)


def run_import(uow_factory: UowFactory, kind: RecordKind, path: Path) -> tuple[int, int, int]:
    result = import_file(uow_factory(), kind, path, actor="importer", now=NOW)
    return result.created, result.updated, result.unchanged


def load(
    uow_factory: UowFactory, registry: SampleRegistry, folder: Path, *kinds: RecordKind
) -> None:
    for kind in kinds:
        path = folder / f"seed-{kind.value}.csv"
        write_records(path, kind, registry.rows(kind))
        run_import(uow_factory, kind, path)


def snapshot(uow_factory: UowFactory) -> dict[str, Any]:
    """What an import could change: record counts per kind and the whole audit trail."""
    with uow_factory() as uow:
        return {
            "organisations": len(uow.organisations.list()),
            "facilities": len(uow.facilities.list()),
            "capacity": len(uow.capacity.latest()),
            "patients": uow.patients.count_by_status(),
            "audit": uow.audit.list(),
        }


REFERENCES = (RecordKind.ORGANISATIONS, RecordKind.FACILITIES)


def refused(
    uow_factory: UowFactory, kind: RecordKind, rows: list[dict[str, Any]], path: Path
) -> list[RowError]:
    """Write `rows` to `path`, import it, and return the row errors of its refusal (checking
    that the refused import changed nothing)."""
    write_records(path, kind, rows)
    before = snapshot(uow_factory)
    with pytest.raises(ImportRejected) as rejected:
        run_import(uow_factory, kind, path)
    assert snapshot(uow_factory) == before
    return rejected.value.errors


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_file_with_three_bad_rows_among_a_thousand_reports_all_and_changes_nothing(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path, suffix: str
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES)
    rows = [dict(row) for row in registry.patients]
    rows[0] = rows[0] | {"id": "P-NEW-0"}  # would be created if the file were accepted
    rows[99]["organisation_id"] = "NO-SUCH-ORG"
    rows[500]["mobility"] = "flying"
    rows[999]["location_id"] = "NO-SUCH-FACILITY"
    errors = refused(uow_factory, RecordKind.PATIENTS, rows, tmp_path / f"patients.{suffix}")

    first_row = 2 if suffix == "csv" else 1
    assert [(e.row, e.column) for e in errors] == [
        (first_row + 99, "organisation_id"),
        (first_row + 500, "mobility"),
        (first_row + 999, "location_id"),
    ]


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_importing_a_good_file_twice_is_idempotent(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path, suffix: str
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES)
    path = tmp_path / f"patients.{suffix}"
    write_records(path, RecordKind.PATIENTS, registry.patients)

    assert run_import(uow_factory, RecordKind.PATIENTS, path) == (1000, 0, 0)
    after_first = snapshot(uow_factory)
    assert run_import(uow_factory, RecordKind.PATIENTS, path) == (0, 0, 1000)

    assert snapshot(uow_factory) == after_first
    assert after_first["patients"] == {PatientStatus.REPORTED: 1000}
    with uow_factory() as uow:
        created = uow.audit.list(entity_type="patient")
        stored = uow.patients.get(registry.patients[0]["id"])
    assert len(created) == 1000
    assert {r.action for r in created} == {"create"}
    assert [c.reason for c in stored.history] == [f"imported from patients.{suffix}"]


@pytest.mark.parametrize("suffix", ["csv", "json"])
@pytest.mark.parametrize("kind", list(RecordKind))
def test_export_then_import_is_unchanged(
    uow_factory: UowFactory, tmp_path: Path, kind: RecordKind, suffix: str
) -> None:
    small = sample_registry(60, seed=4)
    load(uow_factory, small, tmp_path, *REFERENCES, RecordKind.CAPACITY, RecordKind.PATIENTS)
    path = tmp_path / f"export.{suffix}"

    written = export_file(uow_factory(), kind, path)

    assert written == len(small.rows(kind))
    before = snapshot(uow_factory)
    assert run_import(uow_factory, kind, path) == (0, 0, written)
    assert snapshot(uow_factory) == before


def test_changed_rows_update_records_and_keep_patient_history(
    uow_factory: UowFactory, tmp_path: Path
) -> None:
    small = sample_registry(20, seed=4)
    load(uow_factory, small, tmp_path, *REFERENCES, RecordKind.PATIENTS)
    rows = [dict(row) for row in small.patients]
    rows[3]["required_specialties"] = ["burns", "intensive_care"]
    rows[3]["companions"] = 2
    path = tmp_path / "changed.json"
    write_records(path, RecordKind.PATIENTS, rows)

    assert run_import(uow_factory, RecordKind.PATIENTS, path) == (0, 1, 19)

    with uow_factory() as uow:
        stored = uow.patients.get(rows[3]["id"])
        [update] = uow.audit.list(entity_id=rows[3]["id"], limit=1)
    assert stored.required_specialties[0].value == "burns"
    assert stored.companions == 2
    assert stored.version == 2
    assert len(stored.history) == 1
    assert update.action == "update"
    assert update.before is not None
    assert update.before["companions"] == small.patients[3]["companions"]


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


def test_cli_import_prints_counts_and_export_reimports_unchanged(
    cli: CliRunner, registry: SampleRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "organisations.csv"
    write_records(path, RecordKind.ORGANISATIONS, registry.organisations)
    count = len(registry.organisations)

    first = cli.invoke(app, ["import", "organisations", str(path), "--actor", "carol"])
    exported = cli.invoke(app, ["export", "organisations", str(tmp_path / "out.json")])
    again = cli.invoke(app, ["import", "organisations", str(tmp_path / "out.json")])

    assert first.exit_code == 0, first.output
    assert f"{count} created, 0 updated, 0 unchanged" in first.output
    assert f"Exported {count} organisations" in exported.output
    assert f"0 created, 0 updated, {count} unchanged" in again.output


def test_cli_import_of_a_bad_file_lists_every_error_and_exits_1(
    cli: CliRunner, registry: SampleRegistry, tmp_path: Path
) -> None:
    rows = [dict(row) for row in registry.organisations]
    rows[0]["kind"] = "church"
    rows[2]["country"] = "Atlantis"
    path = tmp_path / "organisations.csv"
    write_records(path, RecordKind.ORGANISATIONS, rows)

    result = cli.invoke(app, ["import", "organisations", str(path)])

    assert result.exit_code == 1
    assert "row 2, column kind: input should be" in result.output
    assert "row 4, column country: 'Atlantis' is not an ISO 3166 country code" in result.output
    assert "2 errors in 2 rows; nothing was imported" in result.output
    assert "Traceback" not in result.output


def test_cli_refuses_an_unsupported_file_type_in_one_line(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "organisations.xlsx"
    path.write_bytes(b"PK")
    result = cli.invoke(app, ["import", "organisations", str(path)])
    assert result.exit_code == 1
    assert "unsupported file type '.xlsx'" in result.output


def test_counts_beyond_the_registrys_limits_are_refused_alike_on_every_backend(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path
) -> None:
    # SQLite stored a stay of 30,000,000,000 days that PostgreSQL refused without naming the
    # row ("integer out of range"); a stay of 200,000 days was stored on both and then made
    # `plan build` fail for every patient
    load(uow_factory, registry, tmp_path, *REFERENCES)
    patients = [dict(row) for row in registry.patients[:3]]
    patients[0]["expected_length_of_stay_days"] = 200_000
    patients[2]["expected_length_of_stay_days"] = 30_000_000_000
    facilities = [dict(row) for row in registry.facilities[:3]]
    facilities[1] |= {"tariff_per_bed_day": "1E+20", "currency": "EUR"}
    facilities[2] |= {"tariff_per_bed_day": "0.12345", "currency": "EUR"}
    reports = [dict(row) for row in registry.capacity[:2]]
    reports[1] |= {"available": 3_000_000_000, "baseline": 3_000_000_000}
    for kind, rows, bad in (
        (
            RecordKind.PATIENTS,
            patients,
            [(2, "expected_length_of_stay_days"), (4, "expected_length_of_stay_days")],
        ),
        (RecordKind.CAPACITY, reports, [(3, "available"), (3, "baseline")]),
        (RecordKind.FACILITIES, facilities, [(3, "tariff_per_bed_day"), (4, "tariff_per_bed_day")]),
    ):
        errors = refused(uow_factory, kind, rows, tmp_path / f"{kind.value}.csv")
        assert [(e.row, e.column) for e in errors] == bad
        assert all(
            "less than or equal to" in e.reason or "decimal places" in e.reason for e in errors
        ), [str(e) for e in errors]


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_a_nul_or_control_character_is_refused_alike_on_every_backend_naming_row_and_column(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path, suffix: str
) -> None:
    # PostgreSQL refused the whole file naming no row ("text fields cannot contain NUL");
    # SQLite stored it
    rows = [dict(row) for row in registry.organisations]
    rows[1]["name"] = "Ministry\x00of health"
    # other control characters: an ESC sequence was stored, and printed by every listing
    rows[2]["name"] = "Ministry\x1b[2J of health"
    rows[0]["id"] = "ORG\x07"
    path = tmp_path / f"organisations.{suffix}"
    errors = refused(uow_factory, RecordKind.ORGANISATIONS, rows, path)
    row = 3 if suffix == "csv" else 2
    said = {(e.row, e.column): e.reason for e in errors}
    assert sorted(said) == [(row - 1, "id"), (row, "name"), (row + 1, "name")]
    assert "NUL character" in said[(row, "name")]
    assert "control character (U+001B, character 9)" in said[(row + 1, "name")]
    assert "control character (U+0007, character 4)" in said[(row - 1, "id")]
    # in a reference, which a refused row's check still looks up (PostgreSQL cannot be asked)
    load(uow_factory, registry, tmp_path, *REFERENCES)
    patients = [dict(row) for row in registry.patients[:3]]
    patients[1]["organisation_id"] = "ORG\x00-0001"
    path = tmp_path / f"patients.{suffix}"
    errors = refused(uow_factory, RecordKind.PATIENTS, patients, path)
    assert [(e.row, e.column) for e in errors] == [(row, "organisation_id")]
    assert "NUL character" in errors[0].reason


def test_texts_a_spreadsheet_would_run_as_formulas_are_exported_marked_and_read_back_exact(
    uow_factory: UowFactory, tmp_path: Path
) -> None:
    small = sample_registry(20, seed=5)
    texts = [
        '=HYPERLINK("http://example.org","open")',
        "+1 555 0100",
        "@SUM(A1:A3)",
        "-minus",
        "'=already marked by hand",
        "'s-Hertogenbosch",
    ]
    template = small.organisations[0]
    small.organisations += [
        template | {"id": f"ORG-TEXT-{n}", "name": text} for n, text in enumerate(texts)
    ]
    small.facilities[0]["lat"], small.facilities[0]["lon"] = -34.6, -58.4
    load(uow_factory, small, tmp_path, *REFERENCES)
    with uow_factory() as uow:
        stored = {o.id: o.name for o in uow.organisations.list()}
    assert [stored[f"ORG-TEXT-{n}"] for n in range(len(texts))] == texts

    path = tmp_path / "organisations.csv"
    export_file(uow_factory(), RecordKind.ORGANISATIONS, path)
    written = path.read_text(encoding="utf-8")
    for n, cell in enumerate(
        ["'=HYPERLINK(", "'+1 555 0100", "'@SUM(A1:A3)", "'-minus", "''=already", "'s-Hert"]
    ):
        assert f"ORG-TEXT-{n},{cell}" in written or f'ORG-TEXT-{n},"{cell}' in written, cell
    facilities = tmp_path / "facilities.csv"
    export_file(uow_factory(), RecordKind.FACILITIES, facilities)
    assert ",-34.6,-58.4," in facilities.read_text(encoding="utf-8")  # numbers are not marked

    before = snapshot(uow_factory)
    count = len(small.organisations)
    assert run_import(uow_factory, RecordKind.ORGANISATIONS, path) == (0, 0, count)
    assert run_import(uow_factory, RecordKind.FACILITIES, facilities) == (
        0,
        0,
        len(small.facilities),
    )
    assert snapshot(uow_factory) == before


def test_an_import_does_not_move_a_patient_on_a_live_request_to_another_organisation(
    uow_factory: UowFactory, tmp_path: Path
) -> None:
    # the demo's PT-0001 is pending on REQ-DEMO-001 from ORG-ORIGIN-MOH: an import had made
    # it ORG-PARTNER-EMT's patient unsaid (a request refuses another organisation's patient)
    import json

    from medevac.services.demo import build_demo

    build_demo(uow_factory(), actor="demo")
    exported = tmp_path / "patients.json"
    export_file(uow_factory(), RecordKind.PATIENTS, exported)
    rows = json.loads(exported.read_text())["patients"]
    with uow_factory() as uow:
        statuses = {p.id: p.status for p in uow.patients.list()}
        on_requests = {r.patient_id for q in uow.requests.list() for r in q.patients}
    free = next(
        row["id"] for row in rows
        if statuses[row["id"]] in (PatientStatus.DEFERRED, PatientStatus.SELECTED)
        and row["id"] not in on_requests and row["organisation_id"] != "ORG-PARTNER-EMT"
    )  # fmt: skip
    for row in rows:
        if row["id"] in ("PT-0001", free):
            row["organisation_id"] = "ORG-PARTNER-EMT"
    [error] = refused(uow_factory, RecordKind.PATIENTS, rows, tmp_path / "moved.json")
    assert error.column == "organisation_id"
    assert "PT-0001 is on live request REQ-DEMO-001 from ORG-ORIGIN-MOH" in error.reason
    # a patient on no request, not referred, may change organisation
    only_free = [row for row in rows if row["id"] != "PT-0001"]
    write_records(tmp_path / "free.json", RecordKind.PATIENTS, only_free)
    assert run_import(uow_factory, RecordKind.PATIENTS, tmp_path / "free.json")[1] == 1

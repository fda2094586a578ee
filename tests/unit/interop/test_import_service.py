"""The import service on the in-memory unit of work: upserts, audit, all-or-nothing, references."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from medevac.config import get_settings
from medevac.domain.audit import snapshot
from medevac.domain.errors import InvalidValue
from medevac.domain.lifecycle import PatientStatus
from medevac.interop.records import ImportFileError, ImportRejected, RecordKind
from medevac.interop.samples import SampleRegistry, sample_registry
from medevac.interop.tables import write_records
from medevac.services.exports import export_file
from medevac.services.imports import import_file, import_files
from medevac.services.patients import move_patient
from tests.fakes import FakeDatabase

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
REFERENCE_KINDS = (RecordKind.ORGANISATIONS, RecordKind.FACILITIES)


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def registry() -> SampleRegistry:
    return sample_registry(40, seed=3)


def run_import(
    database: FakeDatabase, kind: RecordKind, path: Path, **options: Any
) -> tuple[int, int, int]:
    result = import_file(database.unit_of_work(), kind, path, actor="alice", now=NOW, **options)
    return result.created, result.updated, result.unchanged


def load(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, *kinds: RecordKind
) -> None:
    for kind in kinds:
        path = tmp_path / f"seed-{kind.value}.json"
        write_records(path, kind, registry.rows(kind))
        run_import(database, kind, path)


def write(tmp_path: Path, name: str, kind: RecordKind, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / name
    write_records(path, kind, rows)
    return path


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_importing_the_same_file_twice_creates_no_duplicates(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, suffix: str
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    path = write(tmp_path, f"patients.{suffix}", RecordKind.PATIENTS, registry.patients)
    assert run_import(database, RecordKind.PATIENTS, path) == (40, 0, 0)
    audit_before = len(database.state.audit)
    assert run_import(database, RecordKind.PATIENTS, path) == (0, 0, 40)
    assert len(database.state.patients) == 40
    assert len(database.state.audit) == audit_before


def test_every_created_record_leaves_an_audit_record(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    path = write(tmp_path, "orgs.csv", RecordKind.ORGANISATIONS, registry.organisations)
    run_import(database, RecordKind.ORGANISATIONS, path)
    records = database.state.audit
    assert len(records) == len(registry.organisations)
    first = records[0]
    assert (first.actor, first.at, first.entity_type, first.action) == (
        "alice",
        NOW,
        "organisation",
        "create",
    )
    assert first.before is None
    assert first.after == registry.organisations[0]
    assert first.reason == "imported from orgs.csv"
    json.dumps([r.after for r in records])


def test_changed_row_updates_the_record_and_audits_before_and_after(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    changed = [dict(row) for row in registry.facilities]
    changed[1]["total_beds"] = 999
    changed[1]["specialties"] = ["burns"]
    path = write(tmp_path, "facilities.csv", RecordKind.FACILITIES, changed)
    assert run_import(database, RecordKind.FACILITIES, path) == (0, 1, len(changed) - 1)
    stored = database.state.facilities[changed[1]["id"]]
    assert stored.total_beds == 999
    assert stored.version == 2
    update = database.state.audit[-1]
    assert update.action == "update"
    assert update.before is not None
    assert update.after is not None
    assert update.before["total_beds"] == registry.facilities[1]["total_beds"]
    assert update.after["total_beds"] == 999
    assert update.after["specialties"] == ["burns"]


def test_json_object_leaving_out_a_column_keeps_the_stored_value(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, RecordKind.ORGANISATIONS)
    row = {k: v for k, v in registry.organisations[0].items() if k != "contact"}
    path = tmp_path / "partial.json"
    path.write_text(json.dumps([row | {"name": "Renamed"}]))
    assert run_import(database, RecordKind.ORGANISATIONS, path) == (0, 1, 0)
    stored = database.state.organisations[row["id"]]
    assert stored.name == "Renamed"
    assert stored.contact == registry.organisations[0]["contact"]


def test_file_with_bad_rows_changes_nothing_and_reports_every_bad_row(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    rows = [dict(row) for row in sample_registry(1000, seed=3).patients]
    rows[10]["organisation_id"] = "NO-SUCH-ORG"
    rows[500]["required_specialties"] = ["orthopaedics", "dentistry"]
    rows[998]["location_id"] = "NO-SUCH-FACILITY"
    path = write(tmp_path, "patients.csv", RecordKind.PATIENTS, rows)
    commits = database.commits
    with pytest.raises(ImportRejected) as rejected:
        run_import(database, RecordKind.PATIENTS, path)
    assert [(e.row, e.column) for e in rejected.value.errors] == [
        (12, "organisation_id"),
        (502, "required_specialties"),
        (1000, "location_id"),
    ]
    assert "row 12, column organisation_id: unknown organisation 'NO-SUCH-ORG'" in str(
        rejected.value
    )
    assert database.commits == commits
    assert database.state.patients == {}


def test_references_are_checked_even_on_rows_with_other_errors(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = dict(registry.patients[0]) | {"organisation_id": "NOPE", "precedence": "soon"}
    path = write(tmp_path, "p.json", RecordKind.PATIENTS, [row])
    with pytest.raises(ImportRejected) as rejected:
        run_import(database, RecordKind.PATIENTS, path)
    assert {e.column for e in rejected.value.errors} == {"organisation_id", "precedence"}


def test_facility_of_unknown_operator_is_refused(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, RecordKind.ORGANISATIONS)
    rows = [dict(registry.facilities[0]) | {"operator_id": "GHOST"}]
    with pytest.raises(ImportRejected) as rejected:
        run_import(
            database, RecordKind.FACILITIES, write(tmp_path, "f.csv", RecordKind.FACILITIES, rows)
        )
    assert [str(e) for e in rejected.value.errors] == [
        "row 2, column operator_id: unknown organisation 'GHOST'"
    ]


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        ({"country": "Atlantis"}, "country", "not an ISO 3166 country code"),
        ({"tariff_per_bed_day": "100", "currency": ""}, "currency", "ISO 4217"),
        (
            {"kind": "hospital", "daily_outpatient_throughput": 50},
            "daily_outpatient_throughput",
            "field hospitals",
        ),
    ],
)
def test_domain_rules_become_row_errors_on_the_right_column(
    database: FakeDatabase,
    registry: SampleRegistry,
    tmp_path: Path,
    change: dict[str, Any],
    column: str,
    reason: str,
) -> None:
    load(database, registry, tmp_path, RecordKind.ORGANISATIONS)
    rows = [dict(registry.facilities[0]) | change]
    with pytest.raises(ImportRejected) as rejected:
        run_import(
            database, RecordKind.FACILITIES, write(tmp_path, "f.csv", RecordKind.FACILITIES, rows)
        )
    [error] = rejected.value.errors
    assert (error.row, error.column) == (2, column)
    assert reason in error.reason


def test_new_patients_start_reported_with_a_first_history_entry(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    rows = [dict(registry.patients[0]), dict(registry.patients[1]) | {"status": "selected"}]
    run_import(database, RecordKind.PATIENTS, write(tmp_path, "p.csv", RecordKind.PATIENTS, rows))
    first = database.state.patients[rows[0]["id"]]
    second = database.state.patients[rows[1]["id"]]
    assert first.status is PatientStatus.REPORTED
    assert second.status is PatientStatus.SELECTED
    [entry] = first.history
    assert (entry.from_status, entry.to_status, entry.actor, entry.at, entry.reason) == (
        None,
        PatientStatus.REPORTED,
        "alice",
        NOW,
        "imported from p.csv",
    )


def test_status_of_an_existing_patient_cannot_be_changed_by_import(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS, RecordKind.PATIENTS)
    rows = [dict(registry.patients[0]) | {"status": "admitted"}]
    with pytest.raises(ImportRejected) as rejected:
        run_import(
            database, RecordKind.PATIENTS, write(tmp_path, "p.csv", RecordKind.PATIENTS, rows)
        )
    [error] = rejected.value.errors
    assert error.column == "status"
    assert "medevac patients move" in error.reason
    unchanged = [dict(registry.patients[0]) | {"status": "reported"}]
    path = write(tmp_path, "same.csv", RecordKind.PATIENTS, unchanged)
    assert run_import(database, RecordKind.PATIENTS, path) == (0, 0, 1)


def test_capacity_reports_are_appended_once_and_never_changed(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    path = write(tmp_path, "capacity.csv", RecordKind.CAPACITY, registry.capacity)
    count = len(registry.capacity)
    assert run_import(database, RecordKind.CAPACITY, path) == (count, 0, 0)
    assert run_import(database, RecordKind.CAPACITY, path) == (0, 0, count)
    changed = [dict(registry.capacity[0]) | {"available": 0, "baseline": 1}]
    with pytest.raises(ImportRejected, match="reports are never changed"):
        run_import(
            database, RecordKind.CAPACITY, write(tmp_path, "c.csv", RecordKind.CAPACITY, changed)
        )
    assert len(database.state.capacity) == count


def recorded_without_surge(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, **figures: int
) -> dict[str, Any]:
    """A capacity report with ``figures`` imported, then its row without plus_24h and
    plus_72h imported again as a JSON file, unchanged; that row."""
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    first = dict(registry.capacity[0]) | figures
    assert run_import(
        database, RecordKind.CAPACITY, write(tmp_path, "c.json", RecordKind.CAPACITY, [first])
    ) == (1, 0, 0)
    short = {k: v for k, v in first.items() if k not in ("plus_24h", "plus_72h")}
    path = write(tmp_path, "short.json", RecordKind.CAPACITY, [short])
    assert run_import(database, RecordKind.CAPACITY, path) == (0, 0, 1)
    return short


def test_a_capacity_row_leaving_out_optional_figures_of_a_recorded_report_is_unchanged(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    # plus_24h and plus_72h left out of the file had been read as 0 and the row refused as
    # "other figures", quoting the recorded ones only (equal to all the row gave)
    short = recorded_without_surge(database, registry, tmp_path, plus_24h=3, plus_72h=5)
    path = tmp_path / "short.csv"  # without the columns (a CSV written for it has them empty)
    path.write_text(
        ",".join(short) + "\n" + ",".join(str(v) for v in short.values()) + "\n", encoding="utf-8"
    )
    assert run_import(database, RecordKind.CAPACITY, path) == (0, 0, 1)
    other = short | {"plus_24h": 4}
    with pytest.raises(ImportRejected) as refused:
        run_import(
            database, RecordKind.CAPACITY, write(tmp_path, "o.json", RecordKind.CAPACITY, [other])
        )
    assert "other figures (plus_24h 3 recorded, 4 in the file)" in str(refused.value.errors[0])


def test_a_capacity_row_leaving_out_the_surge_of_a_recorded_report_is_unchanged(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    # more beds available than the baseline, the difference in plus_72h: left out, the surge
    # had been read as 0 and the row refused as "available exceeds baseline plus surge"
    recorded_without_surge(database, registry, tmp_path, available=10, baseline=8, plus_72h=4)


def test_capacity_rows_are_checked_against_the_facility(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    facility = registry.facilities[0]
    not_offered = next(
        s for s in ("burns", "psychiatry", "oncology") if s not in facility["specialties"]
    )
    base = dict(registry.capacity[0])
    rows = [
        base | {"facility_id": "GHOST"},
        # made since the facility was recorded (an older one is history: it imports)
        base | {"specialty": not_offered, "reported_at": NOW.isoformat()},
        base | {"reported_at": "2030-01-01T00:00:00+00:00"},
        base | {"available": -1},
        base,
        base,
    ]
    with pytest.raises(ImportRejected) as rejected:
        run_import(
            database, RecordKind.CAPACITY, write(tmp_path, "c.csv", RecordKind.CAPACITY, rows)
        )
    assert [(e.row, e.column) for e in rejected.value.errors] == [
        (2, "facility_id"),
        (3, "specialty"),
        (4, "reported_at"),
        (5, "available"),
        (6, "reported_at"),
        (7, "reported_at"),
    ]
    # row 5 has the key of rows 6 and 7: its other error does not hide that they repeat it
    assert all("duplicate of row 5" in e.reason for e in rejected.value.errors[-2:])


def test_progress_is_reported_up_to_the_total(database: FakeDatabase, tmp_path: Path) -> None:
    big = sample_registry(2500, seed=3)
    load(database, big, tmp_path, *REFERENCE_KINDS)
    calls: list[tuple[int, int]] = []
    path = write(tmp_path, "p.json", RecordKind.PATIENTS, big.patients)
    run_import(database, RecordKind.PATIENTS, path, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 5000)
    assert calls[-1] == (5000, 5000)
    assert len(calls) > 3
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))


def test_file_with_an_unsupported_suffix_is_refused(database: FakeDatabase, tmp_path: Path) -> None:
    path = tmp_path / "patients.txt"
    path.write_text("id\n")
    with pytest.raises(ImportFileError, match=r"use a \.csv or \.json file"):
        run_import(database, RecordKind.PATIENTS, path)


def test_import_needs_an_actor(database: FakeDatabase, tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match="actor"):
        import_file(database.unit_of_work(), RecordKind.PATIENTS, tmp_path / "p.csv", actor=" ")


@pytest.mark.parametrize("kind", list(RecordKind))
@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_export_then_import_is_unchanged(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, kind: RecordKind, suffix: str
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS, RecordKind.CAPACITY, RecordKind.PATIENTS)
    path = tmp_path / f"export.{suffix}"
    written = export_file(database.unit_of_work(), kind, path)
    assert written == len(registry.rows(kind))
    assert run_import(database, kind, path) == (0, 0, written)


def test_exported_patients_carry_their_status(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS, RecordKind.PATIENTS)
    path = tmp_path / "export.json"
    export_file(database.unit_of_work(), RecordKind.PATIENTS, path)
    rows = json.loads(path.read_text())["patients"]
    assert {row["status"] for row in rows} == {"reported"}


def test_condition_text_with_the_csv_separator_exports_to_json_only(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = dict(registry.patients[0])
    row["conditions"] = [{"body_region": "head", "mechanism": "blast", "description": "a | b"}]
    run_import(database, RecordKind.PATIENTS, write(tmp_path, "p.json", RecordKind.PATIENTS, [row]))
    with pytest.raises(InvalidValue, match="export to JSON instead"):
        export_file(database.unit_of_work(), RecordKind.PATIENTS, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()
    assert export_file(database.unit_of_work(), RecordKind.PATIENTS, tmp_path / "out.json") == 1


def test_several_files_import_together_and_may_refer_to_earlier_ones(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    kinds = (RecordKind.ORGANISATIONS, RecordKind.FACILITIES, RecordKind.PATIENTS)
    files = [(k, write(tmp_path, f"{k.value}.csv", k, registry.rows(k))) for k in kinds]
    results = import_files(database.unit_of_work(), files, actor="alice", now=NOW)
    assert [(r.kind, r.created) for r in results] == [(k, len(registry.rows(k))) for k in kinds]
    assert database.commits == 1


def test_a_bad_later_file_undoes_the_earlier_ones(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    bad_patients = [dict(registry.patients[0]) | {"mobility": "flying"}]
    files = [
        (
            RecordKind.ORGANISATIONS,
            write(tmp_path, "o.csv", RecordKind.ORGANISATIONS, registry.organisations),
        ),
        (RecordKind.PATIENTS, write(tmp_path, "p.csv", RecordKind.PATIENTS, bad_patients)),
    ]
    with pytest.raises(ImportRejected, match=r"p\.csv: 1 error"):
        import_files(database.unit_of_work(), files, actor="alice", now=NOW)
    assert database.state.organisations == {}
    assert database.state.audit == []


def test_imported_records_are_audited_in_the_shape_the_services_audit_them(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS, RecordKind.PATIENTS)
    patient_id = registry.patients[0]["id"]
    move_patient(
        database.unit_of_work(), patient_id, PatientStatus.SCREENING, actor="team", reason="seen"
    )
    created, moved = (r for r in database.state.audit if r.entity_id == patient_id)
    assert (created.action, moved.action) == ("create", "move:reported->screening")
    # one trail: the import's after-image is what the next change saw before
    assert created.after == moved.before
    with database.unit_of_work() as uow:
        assert moved.after == snapshot(uow.patients.get(patient_id))


def test_a_birth_date_after_the_cells_today_is_refused_with_its_row(
    database: FakeDatabase,
    registry: SampleRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = dict(registry.patients[0]) | {"birth_date": "2026-11-23"}
    path = write(tmp_path, "p.json", RecordKind.PATIENTS, [row])
    # 11:00 UTC on 22 November: 23 November is tomorrow in UTC, today at UTC+14
    at = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    with pytest.raises(ImportRejected) as rejected:
        import_file(database.unit_of_work(), RecordKind.PATIENTS, path, actor="a", now=at)
    assert [str(e) for e in rejected.value.errors] == [
        "row 1, column birth_date: 2026-11-23 is after today (2026-11-22)"
    ]
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", "Pacific/Kiritimati")
    get_settings.cache_clear()
    try:
        done = import_file(database.unit_of_work(), RecordKind.PATIENTS, path, actor="a", now=at)
    finally:
        get_settings.cache_clear()
    assert done.created == 1
    # a date on record is not checked again: the same file, read where it is still the 22nd
    again = import_file(database.unit_of_work(), RecordKind.PATIENTS, path, actor="a", now=at)
    assert again.unchanged == 1

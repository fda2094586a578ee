"""Bad input is refused naming row, column and reason, and loses nothing: rows with cells
missing or too many, JSON true/false in number columns, unreadable CSV, errors one run must
show together, and cells of nothing but the spreadsheet text mark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medevac.domain.errors import InvalidValue
from medevac.interop.records import ImportFileError, RecordKind
from medevac.interop.rows import SPECS, decode_csv_row, patient_row
from medevac.interop.samples import SampleRegistry, sample_registry
from medevac.interop.tables import read_table, write_records
from medevac.interop.validation import ParsedTable, parse_table
from medevac.services.exports import export_file
from medevac.services.imports import import_file
from tests.fakes import FakeDatabase
from tests.unit.interop.importing import NOW, REFERENCE_KINDS, load, rejected

ORGANISATION_HEADER = "id,name,kind,country,contact"


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def registry() -> SampleRegistry:
    return sample_registry(20, seed=3)


def write_records_at(path: Path, kind: RecordKind, rows: list[dict[str, Any]]) -> Path:
    write_records(path, kind, rows)
    return path


def parse_csv(tmp_path: Path, kind: RecordKind, text: str) -> ParsedTable:
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")
    return parse_table(SPECS[kind], read_table(path, kind))


def parse_json(tmp_path: Path, kind: RecordKind, rows: list[dict[str, Any]]) -> ParsedTable:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return parse_table(SPECS[kind], read_table(path, kind))


# --- rows with cells missing or too many ---------------------------------------------------


def test_a_truncated_csv_row_is_refused_and_leaves_the_patient_as_it_was(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    # Padding the missing cells with empty ones had cleared fitness to transport, stay,
    # conditions, birth date, sex and nationality: "0 created, 1 updated"
    patient = dict(registry.patients[0]) | {
        "fit_to_transport": True,
        "expected_length_of_stay_days": 32,
        "conditions": [{"body_region": "spine", "mechanism": "gunshot", "description": "sci"}],
        "birth_date": "1981-04-01",
        "sex": "male",
        "nationality": "UA",
    }
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    import_file(
        database.unit_of_work(),
        RecordKind.PATIENTS,
        write_records_at(tmp_path / "one.json", RecordKind.PATIENTS, [patient]),
        actor="alice",
        now=NOW,
    )
    before = patient_row(database.state.patients[patient["id"]])
    export_file(database.unit_of_work(), RecordKind.PATIENTS, tmp_path / "all.csv")
    header, row = (tmp_path / "all.csv").read_text(encoding="utf-8").splitlines()
    short = tmp_path / "short.csv"
    short.write_text(f"{header}\n{','.join(row.split(',')[:6])}\n", encoding="utf-8")

    errors = rejected(database, RecordKind.PATIENTS, short)

    assert [(e.row, e.column) for e in errors] == [(2, "-")]
    assert str(errors[0]).startswith("row 2: has 6 cells, the header has 19")
    assert patient_row(database.state.patients[patient["id"]]) == before


def test_a_csv_row_with_a_cell_too_many_is_refused_even_when_it_is_empty(
    tmp_path: Path,
) -> None:
    # an unquoted comma in a text shifts every later cell one column to the right
    text = (
        f"{ORGANISATION_HEADER}\n"
        "O1,Ministry, of Health,ministry_of_health,UA,\n"
        "O2,Two,ministry_of_health,UA,,\n"
        "O3,Three,ministry_of_health,UA,desk@example.org\n"
    )
    parsed = parse_csv(tmp_path, RecordKind.ORGANISATIONS, text)
    assert [str(e) for e in parsed.errors] == [
        "row 2: has 6 cells, the header has 5 (a text holding a comma must be in double quotes)",
        "row 3: has 6 cells, the header has 5 (a text holding a comma must be in double quotes)",
    ]
    assert [r.row for r in parsed.rows] == [4]


def test_a_csv_row_with_cells_missing_is_refused_among_the_others(tmp_path: Path) -> None:
    text = (
        f"{ORGANISATION_HEADER}\n"
        "O1,One,ministry_of_health,UA,\n"
        "O2,Two,ministry_of_health\n"
        "O3,Three,church,UA,\n"
    )
    parsed = parse_csv(tmp_path, RecordKind.ORGANISATIONS, text)
    assert [(e.row, e.column) for e in parsed.errors] == [(3, "-"), (4, "kind")]
    assert parsed.errors[0].reason.startswith("has 3 cells, the header has 5")
    assert [r.row for r in parsed.rows] == [2]


def test_cells_under_blank_trailing_header_cells_may_be_left_out(tmp_path: Path) -> None:
    # spreadsheets save empty columns at the end; leaving them out of a row loses nothing
    text = "id,name,kind,country,,\nO1,One,ministry_of_health,UA\nO2,Two,ministry_of_health\n"
    parsed = parse_csv(tmp_path, RecordKind.ORGANISATIONS, text)
    assert [r.values["id"] for r in parsed.rows] == ["O1"]
    assert [(e.row, e.column) for e in parsed.errors] == [(3, "-")]


# --- JSON true and false are no numbers ----------------------------------------------------

NUMBER_COLUMNS = [
    (RecordKind.FACILITIES, "lat", "must be a number"),
    (RecordKind.FACILITIES, "lon", "must be a number"),
    (RecordKind.FACILITIES, "total_beds", "must be a whole number"),
    (RecordKind.FACILITIES, "daily_admission_limit", "must be a whole number"),
    (RecordKind.FACILITIES, "daily_outpatient_throughput", "must be a whole number"),
    (RecordKind.FACILITIES, "tariff_per_bed_day", "must be a number"),
    (RecordKind.CAPACITY, "available", "must be a whole number"),
    (RecordKind.CAPACITY, "baseline", "must be a whole number"),
    (RecordKind.CAPACITY, "plus_24h", "must be a whole number"),
    (RecordKind.CAPACITY, "plus_72h", "must be a whole number"),
    (RecordKind.PATIENTS, "expected_length_of_stay_days", "must be a whole number"),
    (RecordKind.PATIENTS, "companions", "must be a whole number"),
]


def test_every_number_column_of_every_kind_is_listed() -> None:
    def types(schema: dict[str, Any]) -> set[str]:
        found = {schema["type"]} if "type" in schema else set()
        return found.union(*(types(option) for option in schema.get("anyOf", [])))

    numeric = {
        (kind, name)
        for kind, spec in SPECS.items()
        for name, schema in spec.row_model.model_json_schema()["properties"].items()
        if types(schema) & {"integer", "number"}
    }
    assert numeric == {(kind, column) for kind, column, _ in NUMBER_COLUMNS}


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize(("kind", "column", "reason"), NUMBER_COLUMNS)
def test_json_true_or_false_in_a_number_column_is_refused_naming_row_and_column(
    registry: SampleRegistry,
    tmp_path: Path,
    kind: RecordKind,
    column: str,
    reason: str,
    value: bool,
) -> None:
    # pydantic's lax mode had read true as 1 bed and latitude 1.0
    rows = [dict(row) for row in registry.rows(kind)[:2]]
    rows[1][column] = value
    if column == "tariff_per_bed_day":
        rows[1]["currency"] = "EUR"
    parsed = parse_json(tmp_path, kind, rows)
    shown = "true" if value else "false"
    assert [str(e) for e in parsed.errors] == [f"row 2, column {column}: {reason} (got {shown})"]


def test_a_capacity_report_of_true_beds_is_not_imported(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    report = dict(registry.capacity[0]) | {"available": True, "baseline": True, "plus_24h": False}
    path = tmp_path / "capacity.json"
    path.write_text(json.dumps([report]), encoding="utf-8")
    errors = rejected(database, RecordKind.CAPACITY, path)
    assert [str(e) for e in errors] == [
        "row 1, column available: must be a whole number (got true)",
        "row 1, column baseline: must be a whole number (got true)",
        "row 1, column plus_24h: must be a whole number (got false)",
    ]
    assert database.state.capacity == []


def test_json_numbers_and_csv_texts_are_still_read_as_numbers(
    registry: SampleRegistry, tmp_path: Path
) -> None:
    facility = dict(registry.facilities[0]) | {"lat": 52, "lon": -13.5, "total_beds": 4.0}
    [row] = parse_json(tmp_path, RecordKind.FACILITIES, [facility]).rows
    assert (row.values["lat"], row.values["lon"], row.values["total_beds"]) == (52.0, -13.5, 4)
    text = "facility_id,specialty,available,baseline,reported_at\nF1,burns,1,2,2026-11-20T08:00Z\n"
    [report] = parse_csv(tmp_path, RecordKind.CAPACITY, text).rows
    assert (report.values["available"], report.values["baseline"]) == (1, 2)


@pytest.mark.parametrize(
    ("kind", "column", "value", "reason"),
    [
        (RecordKind.PATIENTS, "birth_date", 0, "must be a date written YYYY-MM-DD (got 0)"),
        (
            RecordKind.CAPACITY,
            "reported_at",
            1764000000,
            "must be a time written in ISO 8601 with a zone (got 1764000000)",
        ),
    ],
)
def test_a_json_number_is_no_date_or_time(
    registry: SampleRegistry, tmp_path: Path, kind: RecordKind, column: str, value: int, reason: str
) -> None:
    # lax mode had read 0 as 1970-01-01 and 1764000000 as seconds since 1970
    row = dict(registry.rows(kind)[0]) | {column: value}
    parsed = parse_json(tmp_path, kind, [row])
    assert [str(e) for e in parsed.errors] == [f"row 1, column {column}: {reason}"]


# --- files that cannot be read name the row -------------------------------------------------


def fifty_rows() -> str:
    return "".join(f"ORG-{n},Name {n},ministry_of_health,PL,\n" for n in range(50))


def read_error(path: Path) -> str:
    with pytest.raises(ImportFileError) as error:
        read_table(path, RecordKind.ORGANISATIONS)
    return str(error.value)


def test_a_csv_quoting_error_names_its_row(tmp_path: Path) -> None:
    path = tmp_path / "badquote.csv"
    path.write_text(
        f'{ORGANISATION_HEADER}\n{fifty_rows()}ORG-BAD,"Bad"name,ministry_of_health,PL,\n',
        encoding="utf-8",
    )
    assert read_error(path) == ("badquote.csv: row 52: not valid CSV: ',' expected after '\"'")


def test_an_unclosed_quote_names_the_row_it_starts_and_the_line_reached(tmp_path: Path) -> None:
    path = tmp_path / "open.csv"
    path.write_text(
        f'{ORGANISATION_HEADER}\nO1,"two\nlines",ministry_of_health,PL,\n'
        'O2,"never closed,ministry_of_health,PL,\nO3,x,ministry_of_health,PL,\n',
        encoding="utf-8",
    )
    assert read_error(path) == "open.csv: row 3 (line 5): not valid CSV: unexpected end of data"


def test_bytes_that_are_not_utf8_name_their_row(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        f"{ORGANISATION_HEADER}\n{fifty_rows()}".encode()
        + b"ORG-L1,Caf\xe9,ministry_of_health,PL,\n"
    )
    assert read_error(path) == "latin1.csv: row 52: not UTF-8 text (invalid continuation byte)"


def test_bytes_that_are_not_utf8_after_a_cell_over_two_lines_name_row_and_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + f'{ORGANISATION_HEADER}\nO1,"two\nlines",ministry_of_health,PL,\n\n'.encode()
        + b"O2,Caf\xe9,ministry_of_health,PL,\n"
    )
    assert read_error(path) == (
        "latin1.csv: row 4 (line 5): not UTF-8 text (invalid continuation byte)"
    )


def test_bytes_that_are_not_utf8_in_json_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'[\n{"id": "O1",\n "name": "Caf\xe9"}]')
    assert read_error(path) == "latin1.json: line 3: not UTF-8 text (invalid continuation byte)"


# --- one run lists every error -------------------------------------------------------------


def test_a_row_with_an_unknown_organisation_shows_its_other_errors_too(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = dict(registry.patients[0]) | {
        "organisation_id": "ORG-NOPE",
        "required_specialties": ["neurology", "neurology"],
    }
    path = write_records_at(tmp_path / "p.csv", RecordKind.PATIENTS, [row])
    errors = rejected(database, RecordKind.PATIENTS, path)
    assert [str(e) for e in errors] == [
        "row 2, column organisation_id: unknown organisation 'ORG-NOPE'",
        "row 2, column required_specialties: lists a specialty twice",
    ]


def test_a_status_change_is_refused_with_the_rows_other_errors(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS, RecordKind.PATIENTS)
    row = dict(registry.patients[0]) | {
        "status": "admitted",
        "location_id": "NO-SUCH-FACILITY",
        "required_specialties": ["burns", "burns"],
    }
    path = write_records_at(tmp_path / "p.json", RecordKind.PATIENTS, [row])
    errors = rejected(database, RecordKind.PATIENTS, path)
    assert [(e.row, e.column) for e in errors] == [
        (1, "location_id"),
        (1, "required_specialties"),
        (1, "status"),
    ]


def test_a_capacity_row_of_an_unknown_facility_shows_its_other_errors_too(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = dict(registry.capacity[0]) | {
        "facility_id": "GHOST",
        "available": 9,
        "baseline": 1,
        "plus_72h": 0,
        "reported_at": "2030-01-01T00:00:00+00:00",
    }
    path = write_records_at(tmp_path / "c.csv", RecordKind.CAPACITY, [row])
    errors = rejected(database, RecordKind.CAPACITY, path)
    assert [(e.row, e.column) for e in errors] == [
        (2, "available"),
        (2, "facility_id"),
        (2, "reported_at"),
    ]


def test_a_repeated_id_is_reported_when_both_rows_have_other_errors(tmp_path: Path) -> None:
    rows = [{"id": "O1", "name": "a", "country": "PL"}, {"id": "O1", "name": "c", "country": "PL"}]
    parsed = parse_json(tmp_path, RecordKind.ORGANISATIONS, rows)
    assert [str(e) for e in parsed.errors] == [
        "file, column kind: required column is missing",
        "row 2, column id: duplicate of row 1 (same id)",
    ]


def test_a_valid_row_repeating_the_id_of_a_bad_row_is_reported(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    first = dict(registry.patients[0]) | {"mobility": "flying"}
    second = dict(registry.patients[0]) | {"organisation_id": "ORG-NOPE"}
    path = write_records_at(tmp_path / "p.csv", RecordKind.PATIENTS, [first, second])
    errors = rejected(database, RecordKind.PATIENTS, path)
    assert [(e.row, e.column) for e in errors] == [
        (2, "mobility"),
        (3, "id"),
        (3, "organisation_id"),
    ]
    assert errors[1].reason == "duplicate of row 2 (same id)"


def test_a_csv_export_names_every_patient_whose_condition_csv_cannot_carry(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    rows = [dict(row) for row in registry.patients[:3]]
    for row in (rows[0], rows[2]):
        row["conditions"] = [{"body_region": "skin", "mechanism": "burn", "description": "a | b"}]
    path = write_records_at(tmp_path / "p.json", RecordKind.PATIENTS, rows)
    import_file(database.unit_of_work(), RecordKind.PATIENTS, path, actor="alice", now=NOW)
    first, second = sorted(row["id"] for row in (rows[0], rows[2]))

    with pytest.raises(InvalidValue) as error:
        export_file(database.unit_of_work(), RecordKind.PATIENTS, tmp_path / "out.csv")

    reason = "description 'a | b' contains '|', which CSV uses between conditions"
    lines = str(error.value).splitlines()
    assert [line.split("; export")[0] for line in lines] == [
        f"patient {first}, conditions: {reason}",
        f"patient {second}, conditions: {reason}",
    ]
    assert not (tmp_path / "out.csv").exists()


# --- a cell of nothing but the text mark ---------------------------------------------------


@pytest.mark.parametrize("cell", ["'", "'  ", "'\t", "  '  ", "' \t "])
def test_a_cell_of_the_text_mark_and_blanks_is_empty(cell: str) -> None:
    # "'  " had been read as the text "'" while "'\t" was empty
    spec = SPECS[RecordKind.ORGANISATIONS]
    decoded, problems = decode_csv_row(spec, {"contact": cell})
    assert (decoded["contact"], problems) == ("", {})


def test_a_required_cell_of_only_the_mark_is_empty(tmp_path: Path) -> None:
    parsed = parse_csv(tmp_path, RecordKind.ORGANISATIONS, f"{ORGANISATION_HEADER}\nO1,'  ,x,UA,\n")
    assert [str(e) for e in parsed.errors if e.column == "name"] == [
        "row 2, column name: is required but empty"
    ]


def test_a_text_of_only_apostrophes_goes_through_a_csv_file_exactly(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    rows = [dict(row) for row in registry.organisations[:3]]
    rows[0]["contact"], rows[1]["name"], rows[2]["contact"] = "'", "''", "'s-Hertogenbosch"
    path = write_records_at(tmp_path / "o.json", RecordKind.ORGANISATIONS, rows)
    import_file(database.unit_of_work(), RecordKind.ORGANISATIONS, path, actor="alice", now=NOW)
    export_file(database.unit_of_work(), RecordKind.ORGANISATIONS, tmp_path / "o.csv")
    written = (tmp_path / "o.csv").read_text(encoding="utf-8")
    assert f"{rows[0]['id']},{rows[0]['name']},{rows[0]['kind']},{rows[0]['country']},''\n" in (
        written.replace("\r\n", "\n")
    )

    result = import_file(
        database.unit_of_work(), RecordKind.ORGANISATIONS, tmp_path / "o.csv", actor="a", now=NOW
    )

    assert (result.created, result.updated, result.unchanged) == (0, 0, 3)
    stored = database.state.organisations
    assert (stored[rows[0]["id"]].contact, stored[rows[1]["id"]].name) == ("'", "''")

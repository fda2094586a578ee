"""Numbers a float does not hold as written are refused by every import, naming row, column
and what was written, and nothing is written: `1e-400` beds had been stored as 0, a stay of
`3.00000000000000000001` days as 3, a latitude `1e-400` as 0.0 (in a CSV cell too), and a
tariff `0.30000000000000001` given as a JSON number as 0.3, which the same CSV cell is refused
for. Whole numbers written `3.0` or `1e2` in JSON, and zero written `0e-5`, still import."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from medevac.interop.records import RecordKind
from medevac.interop.samples import SampleRegistry, sample_registry
from medevac.interop.tables import write_records
from medevac.services.imports import import_file
from tests.fakes import FakeDatabase
from tests.unit.interop.importing import NOW, REFERENCE_KINDS, load, rejected

#: Stands for a number in a row until the file is written, then is replaced by its text.
HOLE = "NUMBER-AS-WRITTEN"

WHOLE_NUMBER_COLUMNS = [
    (RecordKind.FACILITIES, "total_beds"),
    (RecordKind.FACILITIES, "daily_admission_limit"),
    (RecordKind.FACILITIES, "daily_outpatient_throughput"),
    (RecordKind.CAPACITY, "available"),
    (RecordKind.CAPACITY, "baseline"),
    (RecordKind.CAPACITY, "plus_24h"),
    (RecordKind.CAPACITY, "plus_72h"),
    (RecordKind.PATIENTS, "expected_length_of_stay_days"),
    (RecordKind.PATIENTS, "companions"),
]
#: Numbers a float rounds to a whole number they are not: (as written, the float).
ROUNDED = [
    ("1e-400", "0.0"),
    ("2.0000000000000000001", "2.0"),
    ("3.00000000000000000001", "3.0"),
    ("1.9999999999999999", "2.0"),
]


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def registry() -> SampleRegistry:
    return sample_registry(20, seed=3)


def new_row(registry: SampleRegistry, kind: RecordKind, column: str) -> dict[str, Any]:
    """A valid row of ``kind`` that creates a record, fit to take any number in ``column``."""
    row = dict(registry.rows(kind)[0])
    if kind is RecordKind.FACILITIES:
        row["id"] = "F-NEW"
        if column == "daily_outpatient_throughput":
            row["kind"] = "emt_type_2"  # field hospitals only
        if column == "tariff_per_bed_day":
            row["currency"] = "EUR"
    elif kind is RecordKind.PATIENTS:
        row["id"] = "P-NEW"
    else:
        row["reported_at"] = "2026-11-21T08:00:00+00:00"
        row["available"] = 0
    return row


def json_file(tmp_path: Path, rows: list[dict[str, Any]], number: str) -> Path:
    """A JSON file of ``rows`` with ``number`` written as it is where a row holds HOLE."""
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows).replace(json.dumps(HOLE), number), encoding="utf-8")
    return path


def csv_file(tmp_path: Path, kind: RecordKind, rows: list[dict[str, Any]], number: str) -> Path:
    """A CSV file of ``rows`` with ``number`` as the text of every cell holding HOLE."""
    path = tmp_path / "rows.csv"
    write_records(path, kind, rows)
    path.write_text(path.read_text(encoding="utf-8").replace(HOLE, number), encoding="utf-8")
    return path


def imported(database: FakeDatabase, kind: RecordKind, path: Path) -> None:
    result = import_file(database.unit_of_work(), kind, path, actor="alice", now=NOW)
    assert (result.created, result.updated) == (1, 0)


# --- whole numbers: counts, limits, stays --------------------------------------------------


@pytest.mark.parametrize(("written", "rounded"), ROUNDED)
@pytest.mark.parametrize(("kind", "column"), WHOLE_NUMBER_COLUMNS)
def test_a_json_count_a_float_rounds_to_a_whole_number_is_refused(
    database: FakeDatabase,
    registry: SampleRegistry,
    tmp_path: Path,
    kind: RecordKind,
    column: str,
    written: str,
    rounded: str,
) -> None:
    # `2.0000000000000000001` beds had been stored as 2, `1e-400` admissions a day as 0
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, kind, column) | {column: HOLE}
    errors = rejected(database, kind, json_file(tmp_path, [row], written))
    assert [str(e) for e in errors] == [
        f"row 1, column {column}: must be a whole number; a float rounds it to {rounded}"
        f" (got {written})"
    ]


@pytest.mark.parametrize(("written", "stored"), [("3.0", 3), ("3e0", 3), ("1e2", 100), ("7", 7)])
@pytest.mark.parametrize(("kind", "column"), WHOLE_NUMBER_COLUMNS)
def test_a_json_count_that_is_whole_as_written_still_imports(
    database: FakeDatabase,
    registry: SampleRegistry,
    tmp_path: Path,
    kind: RecordKind,
    column: str,
    written: str,
    stored: int,
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, kind, column) | {column: HOLE}
    if kind is RecordKind.CAPACITY:
        row |= {"baseline": 100} if column != "baseline" else {}
    imported(database, kind, json_file(tmp_path, [row], written))
    if kind is RecordKind.FACILITIES:
        record: Any = database.state.facilities["F-NEW"]
    elif kind is RecordKind.PATIENTS:
        record = database.state.patients["P-NEW"]
    else:
        [record] = [c for c in database.state.capacity if c.reported_at.day == 21]
    assert getattr(record, column) == stored
    assert type(getattr(record, column)) is int


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("1e400", "input should be a finite number (got 1e400)"),
        ("-1e400", "input should be a finite number (got -1e400)"),
        (
            "100000000000000000000000",
            "input should be less than or equal to 1000000 (got 100000000000000000000000)",
        ),
    ],
)
def test_a_json_count_too_large_is_refused_quoting_the_file(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, written: str, reason: str
) -> None:
    # refused before too, but `1e400` was shown as the decoder's `inf`
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, RecordKind.FACILITIES, "total_beds") | {"total_beds": HOLE}
    errors = rejected(database, RecordKind.FACILITIES, json_file(tmp_path, [row], written))
    assert [str(e) for e in errors] == [f"row 1, column total_beds: {reason}"]


def test_a_capacity_report_names_the_rounded_baseline_not_the_beds_available(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    # a baseline of `2.0000000000000000001` had been read as 2 and the row refused for its
    # 30 beds available, which exceed 2 plus surge: the wrong column and the wrong reason
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, RecordKind.CAPACITY, "baseline") | {"available": 30, "baseline": HOLE}
    errors = rejected(
        database, RecordKind.CAPACITY, json_file(tmp_path, [row], "2.0000000000000000001")
    )
    assert [(e.row, e.column) for e in errors] == [(1, "baseline")]


def test_one_rounded_count_among_good_rows_imports_none_of_them(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    rows = [dict(row) for row in registry.patients[:5]]
    rows[3]["expected_length_of_stay_days"] = HOLE
    errors = rejected(
        database, RecordKind.PATIENTS, json_file(tmp_path, rows, "3.00000000000000000001")
    )
    assert [str(e) for e in errors] == [
        "row 4, column expected_length_of_stay_days: must be a whole number; a float rounds it"
        " to 3.0 (got 3.00000000000000000001)"
    ]
    assert database.state.patients == {}


# --- coordinates: JSON numbers and CSV cells ------------------------------------------------

ROUNDED_COORDINATES = [*ROUNDED, ("90.000000000000001", "90.0"), ("-1E-400", "-0.0")]


@pytest.mark.parametrize("column", ["lat", "lon"])
@pytest.mark.parametrize(("written", "rounded"), ROUNDED_COORDINATES)
@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_a_coordinate_a_float_rounds_to_a_whole_number_is_refused(
    database: FakeDatabase,
    registry: SampleRegistry,
    tmp_path: Path,
    suffix: str,
    written: str,
    rounded: str,
    column: str,
) -> None:
    # a latitude `1e-400` had been stored as 0.0, `90.000000000000001` as 90.0, within the
    # limit it is beyond as written; float() of the CSV cell had rounded it alike
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, RecordKind.FACILITIES, column) | {column: HOLE}
    if suffix == "json":
        path, row_number, shown = json_file(tmp_path, [row], written), 1, written
    else:
        path = csv_file(tmp_path, RecordKind.FACILITIES, [row], written)
        row_number, shown = 2, repr(written)
    errors = rejected(database, RecordKind.FACILITIES, path)
    assert [str(e) for e in errors] == [
        f"row {row_number}, column {column}: cannot be stored as written; a float rounds it"
        f" to {rounded} (got {shown})"
    ]


HELD_COORDINATES = [("52.52", 52.52), ("-0.0", -0.0), ("0e-5", 0.0), ("1e1", 10.0), ("45", 45.0)]


@pytest.mark.parametrize(
    ("suffix", "written", "stored"),
    [
        *(("json", written, stored) for written, stored in HELD_COORDINATES),
        *(("csv", written, stored) for written, stored in HELD_COORDINATES),
        ("csv", ".5", 0.5),  # no JSON number
        ("csv", "+0.000", 0.0),
    ],
)
def test_a_coordinate_as_its_float_holds_it_still_imports(
    database: FakeDatabase,
    registry: SampleRegistry,
    tmp_path: Path,
    suffix: str,
    written: str,
    stored: float,
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, RecordKind.FACILITIES, "lat") | {"lat": HOLE}
    if suffix == "json":
        path = json_file(tmp_path, [row], written)
    else:
        path = csv_file(tmp_path, RecordKind.FACILITIES, [row], written)
    imported(database, RecordKind.FACILITIES, path)
    assert database.state.facilities["F-NEW"].location.lat == stored


# --- tariffs: a JSON number is read as written, as a CSV cell is ----------------------------


@pytest.mark.parametrize(
    "written",
    ["0.30000000000000001", "650.12999999999999999", "2.0000000000000000001", "1e-400"],
)
@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_a_tariff_with_more_decimals_than_its_float_is_refused_in_both_formats(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, suffix: str, written: str
) -> None:
    # a JSON number `0.30000000000000001` had been stored as a tariff of 0.3, `1e-400` as 0.0,
    # where the same CSV cell is refused for its decimal places
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, RecordKind.FACILITIES, "tariff_per_bed_day") | {
        "tariff_per_bed_day": HOLE
    }
    if suffix == "json":
        path, row_number = json_file(tmp_path, [row], written), 1
    else:
        path, row_number = csv_file(tmp_path, RecordKind.FACILITIES, [row], written), 2
    errors = rejected(database, RecordKind.FACILITIES, path)
    assert [(e.row, e.column) for e in errors] == [(row_number, "tariff_per_bed_day")]
    assert errors[0].reason.startswith("decimal input should have no more than 4 decimal places")
    # as written (a decimal writes `1E-400`); a CSV cell is quoted as the text it is
    quoted = written if suffix == "json" else repr(written)
    assert errors[0].reason.endswith(f"(got {quoted})"), errors[0].reason


@pytest.mark.parametrize(
    ("written", "stored"),
    [("650.5", Decimal("650.5")), ("650.1234", Decimal("650.1234")), ("1e3", Decimal("1000"))],
)
def test_a_json_tariff_its_float_holds_still_imports(
    database: FakeDatabase,
    registry: SampleRegistry,
    tmp_path: Path,
    written: str,
    stored: Decimal,
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, RecordKind.FACILITIES, "tariff_per_bed_day") | {
        "tariff_per_bed_day": HOLE
    }
    imported(database, RecordKind.FACILITIES, json_file(tmp_path, [row], written))
    assert database.state.facilities["F-NEW"].cost_policy.tariff_per_bed_day == stored


# --- other numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "rounded"), [("1.0000000000000000001", "1.0"), ("1e-400", "0.0")]
)
def test_a_json_number_a_float_rounds_to_true_or_false_is_refused_as_a_flag(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, written: str, rounded: str
) -> None:
    # pydantic takes 1.0 for true: `1.0000000000000000001` had made a patient fit to transport
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, RecordKind.PATIENTS, "fit_to_transport") | {"fit_to_transport": HOLE}
    errors = rejected(database, RecordKind.PATIENTS, json_file(tmp_path, [row], written))
    assert [str(e) for e in errors] == [
        f"row 1, column fit_to_transport: cannot be stored as written; a float rounds it to"
        f" {rounded} (got {written})"
    ]


def test_a_key_given_twice_in_one_row_hides_no_rounded_number_in_another(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    # a key given twice had the file decoded again without the marks of rounded numbers, so
    # that the one run did not name the latitude of row 2
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    first = new_row(registry, RecordKind.FACILITIES, "lat")
    second = dict(registry.facilities[1]) | {"id": "F-NEW-2", "lat": HOLE}
    text = json_file(tmp_path, [first, second], "1e-400").read_text(encoding="utf-8")
    path = tmp_path / "twice.json"
    path.write_text(text.replace('"id": ', '"id": "F-X", "id": ', 1), encoding="utf-8")
    errors = rejected(database, RecordKind.FACILITIES, path)
    assert [str(e) for e in errors] == [
        "row 1, column id: is given more than once in its object; give each key once",
        "row 2, column lat: cannot be stored as written; a float rounds it to 0.0 (got 1e-400)",
    ]


@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_a_tariff_with_trailing_zeros_is_the_same_amount_in_both_formats(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, suffix: str
) -> None:
    # `650.00000` was taken as a JSON number and refused in a CSV cell for its decimal places
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, RecordKind.FACILITIES, "tariff_per_bed_day") | {
        "tariff_per_bed_day": HOLE
    }
    if suffix == "json":
        path = json_file(tmp_path, [row], "650.00000")
    else:
        path = csv_file(tmp_path, RecordKind.FACILITIES, [row], "650.00000")
    import_file(database.unit_of_work(), RecordKind.FACILITIES, path, actor="alice", now=NOW)
    stored = database.state.facilities[row["id"]].cost_policy.tariff_per_bed_day
    assert stored == Decimal(650)


# --- JSON types the schemas give ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "column", "written", "reason"),
    [
        (RecordKind.PATIENTS, "fit_to_transport", "1", "must be true or false (got 1)"),
        (RecordKind.PATIENTS, "fit_to_transport", '"yes"', "must be true or false (got 'yes')"),
        (
            RecordKind.FACILITIES,
            "lat",
            '"52.52"',
            "must be a number, a JSON number not a string (got '52.52')",
        ),
    ],
)
def test_a_json_value_of_another_type_than_the_schema_s_is_refused(
    database: FakeDatabase,
    registry: SampleRegistry,
    tmp_path: Path,
    kind: RecordKind,
    column: str,
    written: str,
    reason: str,
) -> None:
    # `1` and `"yes"` had made a patient fit to transport, `"52.52"` had been a latitude
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, kind, column) | {column: HOLE}
    errors = rejected(database, kind, json_file(tmp_path, [row], written))
    assert [str(e) for e in errors] == [f"row 1, column {column}: {reason}"]


# --- numbers quoted as written: NaN and Infinity, whole numbers, long cells -----------------

NOT_JSON = "must be a number; NaN and Infinity are not JSON numbers"


@pytest.mark.parametrize(
    ("kind", "column", "written", "reason"),
    [
        # Python's decoder takes them: a latitude NaN was refused as above 90 (got nan)
        *(
            (kind, column, written, f"{NOT_JSON} (got {written})")
            for kind, column in [*WHOLE_NUMBER_COLUMNS[:2], (RecordKind.FACILITIES, "lat")]
            for written in ("NaN", "Infinity", "-Infinity")
        ),
        # a float writes `1e7` as 10000000.0
        *(
            (RecordKind.FACILITIES, column, written, reason)
            for column, written, reason in [
                ("total_beds", "1e7", "input should be less than or equal to 1000000 (got 1e7)"),
                ("lat", "1E3", "input should be less than or equal to 90 (got 1E3)"),
                ("lat", "-9.1e1", "input should be greater than or equal to -90 (got -9.1e1)"),
            ]
        ),
    ],
)
def test_a_json_number_refused_is_quoted_as_written(
    database: FakeDatabase,
    registry: SampleRegistry,
    tmp_path: Path,
    kind: RecordKind,
    column: str,
    written: str,
    reason: str,
) -> None:
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, kind, column) | {column: HOLE}
    errors = rejected(database, kind, json_file(tmp_path, [row], written))
    assert [str(e) for e in errors] == [f"row 1, column {column}: {reason}"]


def test_a_long_csv_cell_is_quoted_by_its_start_and_length(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    # a latitude of 3,000 digits gave a message of 3,077 characters
    load(database, registry, tmp_path, *REFERENCE_KINDS)
    row = new_row(registry, RecordKind.FACILITIES, "lat") | {"lat": HOLE}
    path = csv_file(tmp_path, RecordKind.FACILITIES, [row], "1" * 3000)
    [error] = rejected(database, RecordKind.FACILITIES, path)
    assert str(error) == (
        f"row 2, column lat: input should be less than or equal to 90 (got '{'1' * 37}'... "
        "3,000 characters)"
    )

"""Input the importers had taken wrongly, crashed on or named badly: keys given twice in a JSON
object, times out of any plausible range, numbers and times written as other text, ids with
invisible characters, control characters in column names, Python type names, ids of 65 to 100
characters, and CSV files in UTF-16."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from medevac.config import get_settings
from medevac.domain import limits
from medevac.domain.errors import InvalidValue
from medevac.domain.organisations import Organisation
from medevac.interop.records import ImportFileError, ImportRejected, RecordKind
from medevac.interop.rows import SPECS
from medevac.interop.samples import SampleRegistry, sample_registry
from medevac.interop.tables import read_table, write_records
from medevac.interop.validation import ParsedTable, parse_table
from medevac.services.clock import shown
from medevac.services.exports import export_file
from medevac.services.imports import import_file
from medevac.services.registry import register_organisation
from tests.fakes import FakeDatabase
from tests.unit.interop import importing
from tests.unit.interop.importing import NOW, load

ORGANISATION_HEADER = "id,name,kind,country,contact"
CAPACITY_HEADER = "facility_id,specialty,available,baseline,plus_24h,plus_72h,reported_at"


@pytest.fixture
def database() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def registry() -> SampleRegistry:
    return sample_registry(20, seed=5)


@pytest.fixture
def kyiv(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The operation's time zone is Europe/Kyiv (UTC+2), where 9999-12-31T23:59Z overflows."""
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", "Europe/Kyiv")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def rejected(database: FakeDatabase, kind: RecordKind, path: Path) -> list[str]:
    """The row errors, as text, of an import that must be refused (`importing.rejected`)."""
    return [str(e) for e in importing.rejected(database, kind, path)]


def parse_text(tmp_path: Path, kind: RecordKind, name: str, text: str) -> ParsedTable:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return parse_table(SPECS[kind], read_table(path, kind))


def parse_json(tmp_path: Path, kind: RecordKind, rows: list[dict[str, Any]]) -> ParsedTable:
    return parse_text(tmp_path, kind, "rows.json", json.dumps(rows))


def errors_of(parsed: ParsedTable) -> list[str]:
    return [str(e) for e in sorted(parsed.errors, key=lambda e: e.sort_key)]


def organisation(n: str) -> str:
    return f'"id": "{n}", "name": "N", "kind": "ministry_of_health", "country": "PL"'


# --- 1. a key given twice in a JSON object --------------------------------------------------


def test_a_key_given_twice_in_a_json_row_is_refused_naming_row_and_key(
    database: FakeDatabase, tmp_path: Path
) -> None:
    # the decoder had kept the last: {"id": "ORG-A", ..., "id": "ORG-B"} created ORG-B
    path = tmp_path / "o.json"
    path.write_text(
        f'[{{{organisation("ORG-1")}}},\n {{{organisation("ORG-A")}, "id": "ORG-B"}}]',
        encoding="utf-8",
    )
    assert rejected(database, RecordKind.ORGANISATIONS, path) == [
        "row 2, column id: is given more than once in its object; give each key once"
    ]
    assert database.state.organisations == {}


def test_a_key_given_twice_inside_a_patient_condition_names_its_place(tmp_path: Path) -> None:
    registry = sample_registry(3, seed=5)
    row = json.dumps(dict(registry.patients[0]) | {"conditions": [{"body_region": "skin"}]})
    text = "[" + row.replace('"body_region": "skin"', '"body_region": "skin", "body_region": "x"')
    parsed = parse_text(tmp_path, RecordKind.PATIENTS, "p.json", text + "]")
    assert [str(e) for e in parsed.errors if "more than once" in e.reason] == [
        "row 1, column conditions[0].body_region: is given more than once in its object;"
        " give each key once"
    ]


def test_a_kind_given_twice_at_the_top_of_a_json_file_is_refused(
    database: FakeDatabase, tmp_path: Path
) -> None:
    # {"organisations": [A], "organisations": [B]} had imported B and lost A unsaid
    path = tmp_path / "o.json"
    path.write_text(
        f'{{"organisations": [{{{organisation("ORG-A1")}}}],\n'
        f' "organisations": [{{{organisation("ORG-B1")}}}]}}',
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError) as error:
        import_file(database.unit_of_work(), RecordKind.ORGANISATIONS, path, actor="a", now=NOW)
    assert str(error.value) == (
        "o.json: the key organisations is given more than once in the file's object;"
        " give each key once"
    )
    assert database.state.organisations == {}


# --- 2. times out of any plausible range ----------------------------------------------------

OUT_OF_RANGE = [
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",  # after 9999 in UTC: converting it had overflowed
    "0001-01-01T00:00:00+23:59",  # before year 1 in UTC: the database write had failed
    "1899-12-31T23:59:59Z",
    "2201-01-01T00:00:00Z",
    "2200-12-31T23:59:59-01:00",  # 2201 in UTC
]


@pytest.mark.usefixtures("kyiv")
@pytest.mark.parametrize("moment", OUT_OF_RANGE)
def test_a_capacity_time_out_of_range_is_refused_naming_row_and_column(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, moment: str
) -> None:
    # in Europe/Kyiv, 9999-12-31T23:59:59Z had crashed the import with an OverflowError
    load(database, registry, tmp_path, RecordKind.ORGANISATIONS, RecordKind.FACILITIES)
    report = registry.capacity[0]
    path = tmp_path / "c.csv"
    path.write_text(
        f"{CAPACITY_HEADER}\n{report['facility_id']},{report['specialty']},1,8,0,0,{moment}\n",
        encoding="utf-8",
    )
    assert rejected(database, RecordKind.CAPACITY, path) == [
        "row 2, column reported_at: must lie between 1900-01-01T00:00:00Z and"
        f" 2200-12-31T23:59:59Z (got {moment!r})"
    ]


@pytest.mark.parametrize("moment", ["1900-01-01T00:00:00Z", "2200-12-31T23:59:59.999999Z"])
def test_times_at_the_ends_of_the_range_are_read(tmp_path: Path, moment: str) -> None:
    parsed = parse_text(
        tmp_path, RecordKind.CAPACITY, "c.csv", f"{CAPACITY_HEADER}\nF1,burns,1,8,0,0,{moment}\n"
    )
    assert (parsed.errors, len(parsed.rows)) == ([], 1)


@pytest.mark.usefixtures("kyiv")
def test_a_moment_the_zone_cannot_hold_is_shown_in_utc() -> None:
    # local() had raised OverflowError for the last moments of year 9999
    assert shown(datetime(9999, 12, 31, 23, 59, tzinfo=UTC)) == "9999-12-31 23:59 UTC"
    assert shown(datetime(2026, 11, 22, 9, 0, tzinfo=UTC)) == "2026-11-22 11:00 EET"


# --- 3. numbers and times written as other text ---------------------------------------------


def test_csv_numbers_with_underscores_and_unix_times_are_refused(tmp_path: Path) -> None:
    # lax mode had read "1_0" as 10 beds and "1700000000" as 2023-11-14T22:13:20Z
    parsed = parse_text(
        tmp_path,
        RecordKind.CAPACITY,
        "c.csv",
        f"{CAPACITY_HEADER}\nF1,burns,1_0,12,4.0,+1,1700000000\nF2,burns,-1,2,0,0,2026-11-20\n",
    )
    assert errors_of(parsed) == [
        "row 2, column available: must be a whole number written in decimal digits (got '1_0')",
        "row 2, column plus_24h: must be a whole number written in decimal digits (got '4.0')",
        "row 2, column plus_72h: must be a whole number written in decimal digits (got '+1')",
        "row 2, column reported_at: must be a time written in ISO 8601 with a zone"
        " (got '1700000000')",
        "row 3, column available: input should be greater than or equal to 0 (got '-1')",
        "row 3, column reported_at: must be a time written in ISO 8601 with a zone"
        " (got '2026-11-20')",
    ]


def test_json_strings_are_no_whole_numbers_and_numeric_text_no_time(
    registry: SampleRegistry, tmp_path: Path
) -> None:
    # the JSON Schema says integer: "5" had been read as 5 and "1_0" as 10
    report = dict(registry.capacity[0]) | {
        "available": "5",
        "plus_24h": "1_0",
        "reported_at": "1700000001",
    }
    assert errors_of(parse_json(tmp_path, RecordKind.CAPACITY, [report])) == [
        "row 1, column available: must be a whole number, a JSON number not a string (got '5')",
        "row 1, column plus_24h: must be a whole number, a JSON number not a string (got '1_0')",
        "row 1, column reported_at: must be a time written in ISO 8601 with a zone"
        " (got '1700000001')",
    ]


@pytest.mark.parametrize("cell", ["0", "19910412", "1991-04-12T00:00"])
def test_a_birth_date_must_be_written_yyyy_mm_dd(
    registry: SampleRegistry, tmp_path: Path, cell: str
) -> None:
    # "0" had been read as 1970-01-01
    path = tmp_path / "p.csv"
    write_records(path, RecordKind.PATIENTS, [dict(registry.patients[0]) | {"birth_date": cell}])
    parsed = parse_table(SPECS[RecordKind.PATIENTS], read_table(path, RecordKind.PATIENTS))
    assert errors_of(parsed) == [
        f"row 2, column birth_date: must be a date written YYYY-MM-DD (got {cell!r})"
    ]


def test_plain_digits_iso_dates_and_iso_times_are_still_read(
    registry: SampleRegistry, tmp_path: Path
) -> None:
    patient = dict(registry.patients[0]) | {"companions": 2, "birth_date": "1991-04-12"}
    path = tmp_path / "p.csv"
    write_records(path, RecordKind.PATIENTS, [patient])
    [row] = parse_table(SPECS[RecordKind.PATIENTS], read_table(path, RecordKind.PATIENTS)).rows
    assert (row.values["companions"], str(row.values["birth_date"])) == (2, "1991-04-12")
    text = f"{CAPACITY_HEADER}\nF1,burns, 10 ,12,0,0,2026-11-20 08:00:00.5+01:00\n"
    [report] = parse_text(tmp_path, RecordKind.CAPACITY, "c.csv", text).rows
    assert report.values["available"] == 10
    assert report.values["reported_at"] == datetime(2026, 11, 20, 7, 0, 0, 500000, tzinfo=UTC)


# --- 4. an exported capacity file imports back after a specialty is dropped -----------------


def specialty_dropped(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> tuple[dict[str, Any], str, list[str]]:
    """The whole sample loaded, then its first facility's first specialty dropped (at NOW):
    the facility's row as loaded, the specialty dropped and those kept."""
    load(database, registry, tmp_path, *RecordKind)
    facility = dict(registry.facilities[0])
    dropped, *kept = facility["specialties"]
    path = tmp_path / "f.json"
    write_records(path, RecordKind.FACILITIES, [facility | {"specialties": kept}])
    import_file(database.unit_of_work(), RecordKind.FACILITIES, path, actor="a", now=NOW)
    return facility, dropped, kept


def test_exported_capacity_imports_back_unchanged_after_a_facility_drops_a_specialty(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    facility, dropped, _ = specialty_dropped(database, registry, tmp_path)
    export_file(database.unit_of_work(), RecordKind.CAPACITY, tmp_path / "back.csv")

    result = import_file(
        database.unit_of_work(), RecordKind.CAPACITY, tmp_path / "back.csv", actor="a", now=NOW
    )

    assert (result.created, result.updated, result.unchanged) == (0, 0, len(registry.capacity))
    # a new report of the dropped specialty (made since the drop) is still refused
    fresh = dict(registry.capacity[0]) | {"reported_at": NOW.isoformat()}
    assert fresh["specialty"] == dropped
    new = tmp_path / "new.json"
    write_records(new, RecordKind.CAPACITY, [fresh])
    assert [e.split(" (it offers")[0] for e in rejected(database, RecordKind.CAPACITY, new)] == [
        f"row 1, column specialty: {facility['id']} does not offer {dropped}"
    ]


def test_a_full_export_restores_into_an_empty_registry_after_a_specialty_was_dropped(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    # the reports of the dropped specialty were refused in a registry that had never held
    # them: the whole capacity history was lost to one old report
    facility, dropped, kept = specialty_dropped(database, registry, tmp_path)
    for kind in RecordKind:
        export_file(database.unit_of_work(), kind, tmp_path / f"all-{kind.value}.json")
    fresh = FakeDatabase()
    for kind in (RecordKind.ORGANISATIONS, RecordKind.FACILITIES, RecordKind.CAPACITY):
        result = import_file(
            fresh.unit_of_work(), kind, tmp_path / f"all-{kind.value}.json", actor="a", now=NOW
        )
        assert result.created == result.rows
    assert len(fresh.state.capacity) == len(registry.capacity)
    assert any(r.specialty == dropped for r in fresh.state.capacity)
    # a report made after the facility was recorded there is refused for that specialty
    late = dict(registry.capacity[0]) | {"reported_at": NOW.isoformat()}
    assert late["specialty"] == dropped
    new = tmp_path / "late.json"
    write_records(new, RecordKind.CAPACITY, [late])
    [error] = importing.rejected(fresh, RecordKind.CAPACITY, new)
    assert f"does not offer {dropped}" in str(error)
    # so is one made after it was recorded here and before a later change of it (such a
    # report had passed as history, to become live beds were the specialty added again)
    later = NOW + timedelta(hours=2)
    renamed = tmp_path / "renamed.json"
    write_records(renamed, RecordKind.FACILITIES, [facility | {"specialties": kept, "name": "N"}])
    import_file(fresh.unit_of_work(), RecordKind.FACILITIES, renamed, actor="a", now=later)
    between = dict(late) | {"reported_at": (NOW + timedelta(hours=1)).isoformat()}
    write_records(new, RecordKind.CAPACITY, [between])
    with pytest.raises(ImportRejected) as refused:
        import_file(fresh.unit_of_work(), RecordKind.CAPACITY, new, actor="a", now=later)
    assert [str(e).split(" (it offers")[0] for e in refused.value.errors] == [
        f"row 1, column specialty: {facility['id']} does not offer {dropped}"
    ]


def test_an_import_review_s_control_characters_stay_escaped_and_ids_strip_as_the_rows_do(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, RecordKind.ORGANISATIONS, RecordKind.FACILITIES)
    # a currency without a tariff had printed its ESC sequence raw to the terminal
    facility = dict(registry.facilities[0]) | {"id": "F-ESC", "currency": "\x1b[2JEUR"}
    path = tmp_path / "f.json"
    path.write_text(json.dumps([facility]), encoding="utf-8")
    [error] = rejected(database, RecordKind.FACILITIES, path)
    assert error == (
        "row 1, column tariff_per_bed_day: currency '\\x1b[2JEUR' is given without a tariff"
    )
    # an id ending in U+001F: Python's strip had looked up another id than the row holds, and
    # the row was refused later naming neither row nor column
    report = dict(registry.capacity[0]) | {"facility_id": "FAC-00000\u001f"}
    path = tmp_path / "c.json"
    path.write_text(json.dumps([report]), encoding="utf-8")
    errors = rejected(database, RecordKind.CAPACITY, path)
    assert errors[0] == "row 1, column facility_id: unknown facility 'FAC-00000\\x1f'"
    # a file named with an ESC: the import's reason (free text, which refuses it) had refused
    # a good patients file naming no row, and stored it raw for other kinds
    patient = dict(registry.patients[0])
    path = tmp_path / "pat\x1b[8m.json"
    path.write_text(json.dumps([patient]), encoding="utf-8")
    result = import_file(database.unit_of_work(), RecordKind.PATIENTS, path, actor="a", now=NOW)
    assert result.created == 1
    reasons = {r.reason for r in database.state.audit if r.entity_id == patient["id"]}
    assert reasons == {"imported from pat\\u001b[8m.json"}


# --- 5. invisible characters in ids, bidi overrides in texts ---------------------------------


@pytest.mark.parametrize("char", ["\u200b", "\u202e", "\u2066", "\ufeff", "\u00ad"])
def test_an_id_holding_a_format_character_is_refused_naming_row_and_column(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, char: str
) -> None:
    # "PT-0001\u200b" had been created beside PT-0001, looking just like it
    load(database, registry, tmp_path, RecordKind.ORGANISATIONS, RecordKind.FACILITIES)
    patient = dict(registry.patients[0]) | {"id": f"PT-0001{char}"}
    path = tmp_path / "p.json"
    path.write_text(json.dumps([patient]), encoding="utf-8")
    assert rejected(database, RecordKind.PATIENTS, path) == [
        f"row 1, column id: holds an invisible format character (U+{ord(char):04X}, character 8)"
    ]
    assert database.state.patients == {}


def test_a_new_id_not_in_composed_unicode_is_refused_and_one_on_record_stays_usable(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    # "PT-Jose\u0301" (a combining accent, as macOS writes names) looks like "PT-José" and had
    # been created as a second patient beside it
    load(database, registry, tmp_path, RecordKind.ORGANISATIONS, RecordKind.FACILITIES)
    composed = dict(registry.patients[0]) | {"id": "PT-Jos\u00e9"}
    decomposed = dict(registry.patients[0]) | {"id": "PT-Jose\u0301"}
    path = tmp_path / "p.json"
    path.write_text(json.dumps([composed, decomposed]), encoding="utf-8")
    assert rejected(database, RecordKind.PATIENTS, path) == [
        "row 2, column id: is not in Unicode's composed form (NFC) at character 8 (U+0301): an "
        "id that looks the same written composed would be another record; write it as "
        "'PT-Jos\u00e9'"
    ]
    assert database.state.patients == {}
    # a record stored with such an id before the rule (the domain reads it) is updated in place
    with pytest.raises(InvalidValue) as error:
        register_organisation(
            database.unit_of_work(),
            Organisation("\u212b-MOH", "Name", "ministry_of_health", "PL"),
            actor="alice",
        )
    assert error.value.reason.startswith("is not in Unicode's composed form (NFC) at character 1")
    older = Organisation("\u212b-MOH", "Name", "ministry_of_health", "PL")
    database.state.organisations[older.id] = older
    path = tmp_path / "o.json"
    path.write_text(json.dumps([{**registry.organisations[0], "id": older.id}]), encoding="utf-8")
    result = import_file(database.unit_of_work(), RecordKind.ORGANISATIONS, path, actor="alice")
    assert (result.created, result.updated) == (0, 1)
    assert database.state.organisations[older.id].name == registry.organisations[0]["name"]


def test_the_domain_refuses_format_characters_in_ids_and_bidi_overrides_in_texts() -> None:
    with pytest.raises(InvalidValue) as error:
        Organisation("ORG\u200b1", "Name", "ministry_of_health", "PL")
    assert (error.value.field, error.value.reason) == (
        "id",
        "holds an invisible format character (U+200B, character 4)",
    )
    with pytest.raises(InvalidValue) as error:
        Organisation("ORG-1", "Evil \u202egnp.exe", "ministry_of_health", "PL")
    assert (error.value.field, error.value.reason) == (
        "name",
        "holds a bidirectional override (U+202E, character 6)",
    )
    # joiners and soft hyphens are part of ordinary names in several scripts
    Organisation(
        "ORG-1", "क्\u200dष Ara\u00adbic \U0001f468\u200d\u2695", "ministry_of_health", "PL"
    )
    assert limits.text_fault("\u2069") is not None
    assert limits.text_fault("PT\u200d") is None


def test_a_patient_name_with_a_bidi_override_is_refused_naming_row_and_column(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(database, registry, tmp_path, RecordKind.ORGANISATIONS, RecordKind.FACILITIES)
    patient = dict(registry.patients[0]) | {"name": "Olena \u202aK."}
    path = tmp_path / "p.json"
    write_records(path, RecordKind.PATIENTS, [patient])
    assert rejected(database, RecordKind.PATIENTS, path) == [
        "row 1, column name: holds a bidirectional override (U+202A, character 7)"
    ]


# --- 6. control characters in column names --------------------------------------------------


def test_an_unknown_column_name_is_shown_with_its_control_characters_escaped(
    tmp_path: Path,
) -> None:
    # the ESC sequence of the header had reached the terminal as it was
    parsed = parse_text(
        tmp_path,
        RecordKind.ORGANISATIONS,
        "o.csv",
        f"{ORGANISATION_HEADER},\x1b[31mEVIL,x\u200by,x\u200by\nO1,One,ministry_of_health,PL,,,,\n",
    )
    shown_errors = errors_of(parsed)
    assert all(line.isprintable() for line in shown_errors), shown_errors
    assert [e.split(";")[0] for e in shown_errors] == [
        "row 1, column '\\x1b[31mEVIL': unknown column",
        "row 1, column 'x\\u200by': column appears twice in the header",
        "row 1, column 'x\\u200by': unknown column",
    ]


def test_an_unknown_json_key_is_shown_escaped(tmp_path: Path) -> None:
    parsed = parse_text(
        tmp_path,
        RecordKind.ORGANISATIONS,
        "o.json",
        f'[{{{organisation("O1")}, "\\u001b]0;pwned\\u0007": 1}}]',
    )
    assert [str(e).split("; the columns")[0] for e in parsed.errors] == [
        "row 1, column '\\x1b]0;pwned\\x07': unknown column"
    ]


# --- 7. JSON's names for JSON's types --------------------------------------------------------


def test_array_items_that_are_no_objects_are_named_with_jsons_words(tmp_path: Path) -> None:
    # "is a JSON NoneType", "a JSON int", "a JSON list" had been shown
    parsed = parse_text(
        tmp_path, RecordKind.ORGANISATIONS, "o.json", '[1, 2.5, null, "a", [], true]'
    )
    assert errors_of(parsed) == [
        "row 1: is a JSON number, not an object",
        "row 2: is a JSON number, not an object",
        "row 3: is JSON null, not an object",
        "row 4: is a JSON string, not an object",
        "row 5: is a JSON array, not an object",
        "row 6: is a JSON boolean, not an object",
    ]


# --- 8. ids up to the domain's 100 characters ------------------------------------------------


def test_ids_of_up_to_100_characters_are_read_and_longer_ones_refused(tmp_path: Path) -> None:
    # the row model had refused ids over 64 characters, while the docs and the domain allow 100
    assert limits.MAX_ID_LENGTH == 100
    rows = [
        {"id": "O" * 100, "name": "A", "kind": "ministry_of_health", "country": "PL"},
        {"id": "P" * 101, "name": "B", "kind": "ministry_of_health", "country": "PL"},
    ]
    parsed = parse_json(tmp_path, RecordKind.ORGANISATIONS, rows)
    assert [r.values["id"] for r in parsed.rows] == ["O" * 100]
    assert [(e.row, e.column, e.reason.split(" (got")[0]) for e in parsed.errors] == [
        (2, "id", "string should have at most 100 characters")
    ]


# --- 9. UTF-16 CSV ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "reason"),
    [
        ("utf-16-le", "looks like UTF-16 text without a byte-order mark (NUL bytes"),
        ("utf-16-be", "looks like UTF-16 text without a byte-order mark (NUL bytes"),
        ("utf-16", "is UTF-16 text (it starts with a UTF-16 byte-order mark)"),
    ],
)
def test_a_utf16_csv_is_refused_as_utf16_not_as_unknown_columns(
    tmp_path: Path, encoding: str, reason: str
) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes(f"{ORGANISATION_HEADER}\nO1,One,ministry_of_health,PL,\n".encode(encoding))
    with pytest.raises(ImportFileError) as error:
        read_table(path, RecordKind.ORGANISATIONS)
    message = str(error.value)
    assert message.startswith(f"u16.csv: {reason}"), message
    assert message.endswith("; save it as UTF-8 and import it again")


def test_a_nul_in_a_csv_cell_is_still_named_by_row_and_column(tmp_path: Path) -> None:
    parsed = parse_text(
        tmp_path, RecordKind.ORGANISATIONS, "o.csv", f"{ORGANISATION_HEADER}\nO1,O\x00ne,x,PL,\n"
    )
    assert "row 2, column name: contains a NUL character, which cannot be stored" in errors_of(
        parsed
    )


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_an_export_that_fails_leaves_the_earlier_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    # written in place, a full disk had left the earlier export cut short
    import errno

    from medevac.interop.records import RecordKind
    from medevac.interop.tables import write_records
    from medevac.planning import plan as plan_files

    path = tmp_path / f"organisations.{suffix}"
    path.write_text("the earlier export\n", encoding="utf-8")

    def full(handle: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(plan_files, "_sync", full)
    row = {"id": "ORG-A", "name": "A", "kind": "ministry_of_health", "country": "PL"}
    with pytest.raises(OSError, match="No space left"):
        write_records(path, RecordKind.ORGANISATIONS, [row])
    assert path.read_text(encoding="utf-8") == "the earlier export\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_a_json_integer_too_long_to_read_is_named_by_line_and_column(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path
) -> None:
    # the whole file had been refused as "a number has more than 4300 digits", naming no place
    load(database, registry, tmp_path, RecordKind.ORGANISATIONS)
    path = tmp_path / "f.json"
    path.write_text('[\n {"id": "F1",\n  "total_beds": ' + "7" * 5000 + "}\n]\n", encoding="utf-8")
    with pytest.raises(ImportFileError) as refused:
        import_file(database.unit_of_work(), RecordKind.FACILITIES, path, actor="a", now=NOW)
    assert str(refused.value) == (
        "f.json: not valid JSON: line 3, column 17: a number has 5000 digits; at most 4300 are read"
    )


def test_a_json_file_past_the_size_limit_is_refused_in_one_line(
    database: FakeDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a JSON import from a device that never ends (/dev/zero) was read until memory ran out
    from medevac.planning import json_text

    monkeypatch.setattr(json_text, "MAX_FILE_BYTES", 1024 * 1024)
    path = tmp_path / "o.json"
    path.write_bytes(b'{"organisations": []}' + b" " * (1024 * 1024))
    with pytest.raises(ImportFileError) as error:
        import_file(database.unit_of_work(), RecordKind.ORGANISATIONS, path, actor="a", now=NOW)
    assert str(error.value) == ("o.json: holds more than 1 MiB, more than medevac reads")


def test_a_csv_file_past_the_size_limit_is_refused_in_one_line(
    database: FakeDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a CSV import from a device that never ends (/dev/urandom) was read until memory ran out
    from medevac.planning import json_text

    monkeypatch.setattr(json_text, "MAX_FILE_BYTES", 1024 * 1024)
    link = tmp_path / "u.csv"
    link.symlink_to("/dev/urandom")
    with pytest.raises(ImportFileError) as error:
        read_table(link, RecordKind.ORGANISATIONS)
    assert str(error.value) == "u.csv: holds more than 1 MiB, more than medevac reads"


def test_an_empty_json_object_is_said_to_have_no_keys(tmp_path: Path) -> None:
    # "found the keys none"
    path = tmp_path / "o.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ImportFileError) as error:
        read_table(path, RecordKind.ORGANISATIONS)
    assert str(error.value).endswith("; found an object without keys")

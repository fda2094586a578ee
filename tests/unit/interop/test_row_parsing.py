"""Reading CSV and JSON rows: row numbers, separators, column checks and collected errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medevac.domain.vocabulary import InjuryMechanism, Specialty
from medevac.interop.records import ImportFileError, RecordKind, RowError
from medevac.interop.rows import SPECS, decode_csv_row, encode_csv_cell, mark_text, unmark_text
from medevac.interop.tables import read_table
from medevac.interop.validation import ParsedTable, parse_table

PATIENT_HEADER = "id,organisation_id,required_specialties,precedence,mobility"


def parse_csv(tmp_path: Path, kind: RecordKind, text: str) -> ParsedTable:
    path = tmp_path / "rows.csv"
    path.write_text(text, encoding="utf-8")
    return parse_table(SPECS[kind], read_table(path, kind))


def parse_json(tmp_path: Path, kind: RecordKind, data: object) -> ParsedTable:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return parse_table(SPECS[kind], read_table(path, kind))


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path: Path) -> None:
    text = f"{PATIENT_HEADER}\nP1,ORG,neurology,urgent,litter\n\nP2,ORG,eyes,urgent,litter\n"
    parsed = parse_csv(tmp_path, RecordKind.PATIENTS, text)
    assert [r.row for r in parsed.rows] == [2]
    assert [(e.row, e.column) for e in parsed.errors] == [(4, "required_specialties")]


def test_every_bad_row_is_reported_not_only_the_first(tmp_path: Path) -> None:
    lines = [PATIENT_HEADER] + [f"P{n},ORG,neurology,urgent,litter" for n in range(50)]
    lines[10] = "P9x,ORG,neurology,soon,litter"
    lines[20] = "P19x,ORG,neurology,urgent,flying"
    lines[30] = "P29x,ORG,,urgent,litter"
    parsed = parse_csv(tmp_path, RecordKind.PATIENTS, "\n".join(lines) + "\n")
    assert sorted((e.row, e.column) for e in parsed.errors) == [
        (11, "precedence"),
        (21, "mobility"),
        (31, "required_specialties"),
    ]
    assert len(parsed.rows) == 47


def test_unknown_specialty_lists_the_valid_codes(tmp_path: Path) -> None:
    parsed = parse_csv(
        tmp_path, RecordKind.PATIENTS, f"{PATIENT_HEADER}\nP1,O,neurology;ortho,urgent,litter\n"
    )
    [error] = parsed.errors
    assert error.column == "required_specialties"
    assert "item 2" in error.reason
    assert all(s.value in error.reason for s in Specialty)


def test_code_lists_and_conditions_use_the_documented_separators(tmp_path: Path) -> None:
    text = (
        f"{PATIENT_HEADER},special_needs,conditions\n"
        "P1,O,orthopaedics; general_surgery,urgent,litter,oxygen;isolation,"
        "lower_limb:blast:open fracture | eye::corneal wound: left\n"
    )
    [row] = parse_csv(tmp_path, RecordKind.PATIENTS, text).rows
    assert row.values["required_specialties"] == [Specialty.ORTHOPAEDICS, Specialty.GENERAL_SURGERY]
    assert set(row.values["special_needs"]) == {"oxygen", "isolation"}
    first, second = row.values["conditions"]
    assert (first.body_region, first.mechanism, first.description) == (
        "lower_limb",
        InjuryMechanism.BLAST,
        "open fracture",
    )
    assert second.mechanism is InjuryMechanism.OTHER
    assert second.description == "corneal wound: left"


def test_malformed_condition_is_reported_with_the_other_errors_of_its_row(tmp_path: Path) -> None:
    text = f"{PATIENT_HEADER},conditions\nP1,O,neurology,soon,litter,head only\n"
    parsed = parse_csv(tmp_path, RecordKind.PATIENTS, text)
    assert {e.column for e in parsed.errors} == {"conditions", "precedence"}
    assert [number for number, _ in parsed.failed] == [2]


def test_empty_optional_cell_stands_for_the_empty_value(tmp_path: Path) -> None:
    text = (
        f"{PATIENT_HEADER},location_id,special_needs,companions\nP1,O,neurology,urgent,litter,,,\n"
    )
    [row] = parse_csv(tmp_path, RecordKind.PATIENTS, text).rows
    assert row.values["location_id"] is None
    assert row.values["special_needs"] == []
    assert row.values["companions"] == 0


def test_empty_required_cell_is_reported_as_required(tmp_path: Path) -> None:
    parsed = parse_csv(
        tmp_path, RecordKind.PATIENTS, f"{PATIENT_HEADER}\nP1,,neurology,urgent,litter\n"
    )
    assert parsed.errors == [RowError(2, "organisation_id", "is required but empty")]


def test_unknown_and_missing_columns_are_reported_once_for_the_file(tmp_path: Path) -> None:
    rows = "\n".join(f"P{n},neurology,urgent,litter,x" for n in range(5))
    parsed = parse_csv(
        tmp_path,
        RecordKind.PATIENTS,
        f"id,required_specialties,precedence,mobility,colour\n{rows}\n",
    )
    assert parsed.errors[0] == RowError(1, "colour", parsed.errors[0].reason)
    assert "the columns are: id, organisation_id" in parsed.errors[0].reason
    assert parsed.errors[1:] == [RowError(1, "organisation_id", "required column is missing")]


def test_duplicate_id_in_the_file_names_the_first_row(tmp_path: Path) -> None:
    text = (
        f"{PATIENT_HEADER}\n"
        "P1,O,neurology,urgent,litter\nP2,O,neurology,urgent,litter\nP1,O,burns,urgent,litter\n"
    )
    parsed = parse_csv(tmp_path, RecordKind.PATIENTS, text)
    assert parsed.errors == [RowError(4, "id", "duplicate of row 2 (same id)")]


def test_bad_coordinates_and_negative_beds_are_row_errors(tmp_path: Path) -> None:
    text = (
        "id,name,kind,operator_id,country,lat,lon,total_beds\n"
        "F1,One,hospital,O,DE,95,13,10\n"
        "F2,Two,hospital,O,DE,52,13,-4\n"
        "F3,Three,hospital,O,DE,north,13,4\n"
    )
    parsed = parse_csv(tmp_path, RecordKind.FACILITIES, text)
    assert [(e.row, e.column) for e in parsed.errors] == [(2, "lat"), (3, "total_beds"), (4, "lat")]
    assert "less than or equal to 90" in parsed.errors[0].reason


def test_cells_beyond_the_header_are_a_row_error(tmp_path: Path) -> None:
    parsed = parse_csv(
        tmp_path,
        RecordKind.ORGANISATIONS,
        "id,name,kind,country\nO1,One,ministry_of_health,UA,extra\n",
    )
    assert [(e.row, e.column) for e in parsed.errors] == [(2, "-")]
    assert str(parsed.errors[0]).startswith("row 2: has 5 cells, the header has 4")


def test_a_value_under_a_blank_header_cell_is_a_row_error(tmp_path: Path) -> None:
    parsed = parse_csv(
        tmp_path,
        RecordKind.ORGANISATIONS,
        "id,name,kind,country,,\nO1,One,ministry_of_health,UA,,extra\n",
    )
    assert [(e.row, e.column) for e in parsed.errors] == [(2, "#6")]


def test_capacity_time_without_zone_is_refused(tmp_path: Path) -> None:
    text = (
        "facility_id,specialty,available,baseline,reported_at\nF1,burns,1,2,2026-11-20T08:00:00\n"
    )
    [error] = parse_csv(tmp_path, RecordKind.CAPACITY, text).errors
    assert (error.row, error.column) == (2, "reported_at")
    assert "timezone" in error.reason


def test_json_rows_are_numbered_from_one_and_keep_real_lists(tmp_path: Path) -> None:
    good = {
        "id": "P1",
        "organisation_id": "O",
        "required_specialties": ["burns", "neurology"],
        "precedence": "urgent",
        "mobility": "litter",
        "conditions": [{"body_region": "skin", "description": "burn", "mechanism": "burn"}],
    }
    bad = good | {"id": "P2", "companions": -1}
    parsed = parse_json(tmp_path, RecordKind.PATIENTS, {"patients": [good, bad]})
    assert [r.row for r in parsed.rows] == [1]
    assert [(e.row, e.column) for e in parsed.errors] == [(2, "companions")]


def test_json_object_leaving_out_a_column_does_not_set_it(tmp_path: Path) -> None:
    row = {"id": "O1", "name": "One", "kind": "ministry_of_health", "country": "UA"}
    [parsed] = parse_json(tmp_path, RecordKind.ORGANISATIONS, [row]).rows
    assert "contact" not in parsed.values


def test_json_column_missing_from_every_object_is_reported_once(tmp_path: Path) -> None:
    rows = [{"id": f"O{n}", "name": "x", "kind": "ministry_of_health"} for n in range(3)]
    parsed = parse_json(tmp_path, RecordKind.ORGANISATIONS, rows)
    assert parsed.errors == [RowError(None, "country", "required column is missing")]
    assert str(parsed.errors[0]) == "file, column country: required column is missing"


def test_json_item_that_is_not_an_object_is_a_row_error(tmp_path: Path) -> None:
    parsed = parse_json(tmp_path, RecordKind.ORGANISATIONS, [["O1", "One"]])
    assert [(e.row, e.column) for e in parsed.errors] == [(1, "-")]


def test_json_wrapped_under_another_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="'patients'"):
        parse_json(tmp_path, RecordKind.ORGANISATIONS, {"patients": []})


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("rows.xlsx", "x", "unsupported file type '.xlsx'"),
        ("rows.json", "[{", "not valid JSON at line 1"),
        ("rows.csv", "", "empty file"),
    ],
)
def test_unreadable_files_raise_a_clear_error(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFileError, match=message):
        read_table(path, RecordKind.ORGANISATIONS)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        read_table(tmp_path / "absent.csv", RecordKind.ORGANISATIONS)


def test_empty_trailing_columns_of_a_spreadsheet_are_ignored(tmp_path: Path) -> None:
    text = "id,name,kind,country,,\nO1,One,ministry_of_health,UA,,\n"
    parsed = parse_csv(tmp_path, RecordKind.ORGANISATIONS, text)
    assert parsed.errors == []
    assert [r.values["id"] for r in parsed.rows] == ["O1"]


def test_id_with_spaces_is_refused_in_plain_words(tmp_path: Path) -> None:
    parsed = parse_csv(
        tmp_path, RecordKind.ORGANISATIONS, "id,name,kind,country\nO 1,One,ministry_of_health,UA\n"
    )
    assert parsed.errors == [RowError(2, "id", "must be one word without spaces (got 'O 1')")]


def test_a_quoted_cell_over_several_lines_is_one_row_and_a_bom_is_accepted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rows.csv"
    text = 'id,name,kind,country\nO1,"One\nline two",ministry_of_health,UA\nO2,Two,church,UA\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    parsed = parse_table(
        SPECS[RecordKind.ORGANISATIONS], read_table(path, RecordKind.ORGANISATIONS)
    )
    assert [r.row for r in parsed.rows] == [2]
    assert [(e.row, e.column) for e in parsed.errors] == [(3, "kind")]


@given(st.text(alphabet="'=+-@\t\rs ab1", max_size=8))
def test_texts_marked_against_spreadsheet_formulas_are_read_back_exactly(text: str) -> None:
    marked = mark_text(text)
    assert unmark_text(marked) == text
    assert not marked.startswith(("=", "+", "-", "@", "\t", "\r"))
    rest = text.lstrip("'")
    if not rest.startswith(("=", "+", "-", "@", "\t", "\r")) and (rest == text or rest.strip()):
        assert marked == text  # "'s-Hertogenbosch" keeps its apostrophe


def test_an_apostrophe_before_a_formula_character_marks_text_in_a_written_file(
    tmp_path: Path,
) -> None:
    # as in a spreadsheet: '=1+1 is the text =1+1; an apostrophe before anything else stays
    text = (
        "id,name,kind,country\n"
        "O1,'=1+1,ministry_of_health,UA\n"
        "O2,'s-Gravenhage,hospital_operator,NL\n"
    )
    first, second = parse_csv(tmp_path, RecordKind.ORGANISATIONS, text).rows
    assert first.values["name"] == "=1+1"
    assert second.values["name"] == "'s-Gravenhage"


@given(st.text(alphabet="'=+-@\t\r\n s1", max_size=8))
def test_a_stored_text_comes_back_exactly_through_a_csv_cell(text: str) -> None:
    # the registry stores texts stripped; a marked tab ("'\t") had come back as "'"
    stored = text.strip()
    spec = SPECS[RecordKind.ORGANISATIONS]
    cell = encode_csv_cell(spec, "contact", stored)
    decoded, problems = decode_csv_row(spec, {"contact": cell})
    assert problems == {}
    assert decoded["contact"] == stored
    # a cell of whitespace behind the mark is empty, as it would be unmarked
    assert decode_csv_row(spec, {"contact": "'\t"})[0]["contact"] == ""

"""The published JSON Schemas match the row models, accept export output and reject bad files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from medevac.domain.lifecycle import PatientStatus
from medevac.interop.records import RecordKind
from medevac.interop.rows import SPECS, patient_row, plain
from medevac.interop.samples import sample_registry
from medevac.interop.schemas import json_schema
from medevac.interop.tables import write_records
from medevac.services.imports import import_file
from tests.fakes import FakeDatabase

FORMATS = Path(__file__).resolve().parents[3] / "docs" / "formats"


def published(kind: RecordKind) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (FORMATS / f"{kind.value}.schema.json").read_text(encoding="utf-8")
    )
    return schema


@pytest.mark.parametrize("kind", list(RecordKind))
def test_published_schema_is_the_one_the_row_model_gives(kind: RecordKind) -> None:
    assert published(kind) == json_schema(kind)
    jsonschema.Draft202012Validator.check_schema(published(kind))


@pytest.mark.parametrize("kind", list(RecordKind))
def test_schema_accepts_what_export_writes_and_a_bare_array(
    kind: RecordKind, tmp_path: Path
) -> None:
    rows = sample_registry(30, seed=5).rows(kind)
    path = tmp_path / "export.json"
    write_records(path, kind, rows)
    validator = jsonschema.Draft202012Validator(published(kind))
    document = json.loads(path.read_text(encoding="utf-8"))
    validator.validate(document)
    validator.validate(document[kind.value])


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        (RecordKind.ORGANISATIONS, {"kind": "church"}),
        (RecordKind.FACILITIES, {"lat": 123.0}),
        (RecordKind.FACILITIES, {"specialties": "burns;neurology"}),
        (RecordKind.CAPACITY, {"available": -2}),
        (RecordKind.PATIENTS, {"required_specialties": []}),
        (RecordKind.PATIENTS, {"colour": "blue"}),
    ],
)
def test_schema_rejects_a_bad_row(kind: RecordKind, change: dict[str, Any]) -> None:
    row = sample_registry(30, seed=5).rows(kind)[0] | change
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([row], published(kind), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("kind", list(RecordKind))
def test_format_page_documents_every_column(kind: RecordKind) -> None:
    page = (FORMATS / f"{kind.value}.md").read_text(encoding="utf-8")
    for column in SPECS[kind].columns:
        assert f"| `{column}` |" in page, column


def test_fast_patient_row_equals_the_generic_conversion() -> None:
    rows = sample_registry(200, seed=9).patients
    spec = SPECS[RecordKind.PATIENTS]
    for row in rows:
        validated = spec.row_model.model_validate(row | {"nationality": "Ukraine"})
        patient = spec.build(dict(validated.__dict__))
        patient.status = PatientStatus.SCREENING
        generic = {name: plain(value) for name, value in spec.values(patient).items()}
        assert patient_row(patient) == generic | {"status": "screening"}


def test_csv_examples_of_the_format_pages_import_cleanly(tmp_path: Path) -> None:
    database = FakeDatabase()
    order = (
        RecordKind.ORGANISATIONS,
        RecordKind.FACILITIES,
        RecordKind.CAPACITY,
        RecordKind.PATIENTS,
    )
    for kind in order:
        page = (FORMATS / f"{kind.value}.md").read_text(encoding="utf-8")
        example = page.split("```csv\n", 1)[1].split("```", 1)[0]
        path = tmp_path / f"{kind.value}.csv"
        path.write_text(example, encoding="utf-8")
        result = import_file(database.unit_of_work(), kind, path, actor="docs")
        assert result.created == example.count("\n") - 1

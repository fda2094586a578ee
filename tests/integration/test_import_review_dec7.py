"""Bad input of the review of 7 December refused on SQLite and PostgreSQL, naming row, column
and reason, losing nothing: a tariff `NaN` in JSON (it had crashed with a traceback), control
characters, line breaks and bidi overrides in a condition's description or an organisation's
contact (they had been stored), a birth date more than 130 years before today (0001-01-01 had
been taken), and a time with more than 6 digits of a second's fraction (cut off unsaid, two
reports had been refused as duplicates)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from medevac.interop.records import RecordKind
from medevac.interop.rows import build_patient
from medevac.interop.samples import SampleRegistry, sample_registry
from medevac.interop.tables import write_records
from medevac.services.imports import import_file
from tests.integration.test_import_strictness import (
    NOW,
    REFERENCES,
    UowFactory,
    load,
)
from tests.integration.test_import_strictness import refused as refused_whole

pytestmark = pytest.mark.storage


@pytest.fixture(scope="module")
def registry() -> SampleRegistry:
    """test_import_strictness's sample registry."""
    return sample_registry(20, seed=7)


def refused(uow_factory: UowFactory, kind: RecordKind, path: Path) -> list[str]:
    """The errors of an import refused whole (nothing stored changed), as the command prints
    them."""
    return [str(e) for e in refused_whole(uow_factory, kind, path)]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_json_tariff_nan_is_refused_as_no_json_number(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path, constant: str
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES)
    facility = dict(registry.facilities[0]) | {"id": "FAC-NEW", "currency": "EUR"}
    path = tmp_path / "facilities.json"
    text = json.dumps([facility | {"tariff_per_bed_day": 1.5}])
    path.write_text(text.replace("1.5", constant), encoding="utf-8")

    assert refused(uow_factory, RecordKind.FACILITIES, path) == [
        "row 1, column tariff_per_bed_day: must be a number; NaN and Infinity are not JSON"
        f" numbers (got {constant})"
    ]


#: An ESC sequence, a line break and a bidi override: stored, they reached the terminal of
#: whoever listed the record, split a line of output, or showed its text in another order.
HOSTILE_TEXTS = (
    ("\x1b[31mRED", "holds a control character (U+001B, character 1)"),
    ("two\nlines", "holds a control character (U+000A, character 4)"),
    ("evil\u202egnp.exe", "holds a bidirectional override (U+202E, character 5)"),
)


@pytest.mark.parametrize(("text", "fault"), HOSTILE_TEXTS)
def test_a_condition_description_with_a_control_character_is_refused(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path, text: str, fault: str
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES)
    condition = {"body_region": "head", "mechanism": "blast", "description": text}
    patient = dict(registry.patients[0]) | {"conditions": [condition]}
    for suffix, row in (("json", 1), ("csv", 2)):
        path = tmp_path / f"patients.{suffix}"
        write_records(path, RecordKind.PATIENTS, [patient])

        errors = refused(uow_factory, RecordKind.PATIENTS, path)

        assert [e.split(" (got ")[0] for e in errors] == [
            f"row {row}, column conditions: item 1 description: {fault}"
        ]


@pytest.mark.parametrize(("text", "fault"), HOSTILE_TEXTS)
def test_an_organisation_contact_with_a_control_character_is_refused(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path, text: str, fault: str
) -> None:
    load(uow_factory, registry, tmp_path, RecordKind.ORGANISATIONS)
    organisation = dict(registry.organisations[0]) | {"contact": f"desk {text}"}
    new = dict(registry.organisations[0]) | {"id": "ORG-NEW", "contact": text}
    path = tmp_path / "organisations.json"
    write_records(path, RecordKind.ORGANISATIONS, [organisation, new])

    errors = refused(uow_factory, RecordKind.ORGANISATIONS, path)

    position = int(fault.rsplit("character ", 1)[1].rstrip(")"))
    shifted = fault.replace(f"character {position})", f"character {position + 5})")
    assert [e.split(" (got ")[0] for e in errors] == [
        f"row 1, column contact: {shifted}",
        f"row 2, column contact: {fault}",
    ]


@pytest.mark.parametrize("born", ["0001-01-01", "1066-01-01", "1896-11-21"])
def test_a_birth_date_more_than_130_years_ago_is_refused(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path, born: str
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES)
    patient = dict(registry.patients[0]) | {"birth_date": born}
    path = tmp_path / "patients.csv"
    write_records(path, RecordKind.PATIENTS, [patient])

    assert refused(uow_factory, RecordKind.PATIENTS, path) == [
        f"row 2, column birth_date: {born} is more than 130 years before today (2026-11-22)"
    ]


def test_a_birth_date_of_130_years_ago_is_taken_and_one_on_record_is_not_checked_again(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES)
    old = build_patient(dict(registry.patients[1]) | {"birth_date": date(1850, 1, 1)})
    with uow_factory() as uow:
        uow.patients.add(old)
        uow.commit()
    oldest = dict(registry.patients[0]) | {"birth_date": "1896-11-23"}
    moved = dict(registry.patients[1]) | {"birth_date": "1850-01-01", "companions": 2}
    path = tmp_path / "patients.json"
    write_records(path, RecordKind.PATIENTS, [oldest, moved])

    result = import_file(uow_factory(), RecordKind.PATIENTS, path, actor="importer", now=NOW)

    assert (result.created, result.updated) == (1, 1)
    with uow_factory() as uow:
        assert uow.patients.get(old.id).companions == 2


def test_a_time_more_precise_than_microseconds_is_refused_not_cut_off(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES)
    report = dict(registry.capacity[0])
    times = ("2026-11-20T08:00:00.1234567Z", "2026-11-20T08:00:00.1234568Z")
    path = tmp_path / "capacity.json"
    path.write_text(json.dumps([report | {"reported_at": t} for t in times]), encoding="utf-8")
    csv_path = tmp_path / "capacity.csv"
    write_records(csv_path, RecordKind.CAPACITY, [report | {"reported_at": times[0]}])
    reason = "has more precision than microseconds (7 digits after the second's point; at most 6)"

    assert refused(uow_factory, RecordKind.CAPACITY, path) == [
        f"row {row}, column reported_at: {reason} (got {moment!r})"
        for row, moment in enumerate(times, start=1)
    ]
    assert refused(uow_factory, RecordKind.CAPACITY, csv_path) == [
        f"row 2, column reported_at: {reason} (got {times[0]!r})"
    ]


def test_a_time_with_zeros_after_its_microseconds_is_taken(
    uow_factory: UowFactory, registry: SampleRegistry, tmp_path: Path
) -> None:
    load(uow_factory, registry, tmp_path, *REFERENCES)
    path = tmp_path / "capacity.json"
    report = dict(registry.capacity[0]) | {"reported_at": "2026-11-20T08:00:00.123456000Z"}
    path.write_text(json.dumps([report]), encoding="utf-8")

    result = import_file(uow_factory(), RecordKind.CAPACITY, path, actor="importer", now=NOW)

    assert result.created == 1
    with uow_factory() as uow:
        assert uow.capacity.history(report["facility_id"])[-1].reported_at.microsecond == 123456

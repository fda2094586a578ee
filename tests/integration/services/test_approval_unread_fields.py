"""`plan approve` and changes to facilities the problem has no entry for (SQLite and
PostgreSQL): an origin of patients only (no capacity report), a field hospital the build left
out, and a field hospital that first reported since the build. The problem reads an origin's
location alone (its patients' place), and of a field hospital left out whether it is one: a
change of their admission limit, specialties, capabilities or operator is approved over and
noted, where a move of an origin, a field hospital made a hospital, or a hospital's first
capacity report still refuses (review of 2026-12-07)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from medevac.domain.audit import snapshot
from medevac.domain.facilities import CapacityReport, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.vocabulary import Capability, FacilityKind, Specialty
from medevac.services.auditing import audit, utc_now
from medevac.services.clock import shown
from medevac.services.demo import ORIGIN_MINISTRY, PARTNER_EMT, PARTNER_MINISTRY
from medevac.services.exports import export_file
from medevac.services.imports import RecordKind, import_file
from medevac.services.registry import register_facility, report_capacity
from medevac.services.regulating import RegistryChanged
from tests.integration.services.builders import UowFactory
from tests.integration.services.test_plan_approval import (
    approver,
    selected_demo,
    solved,
    solved_demo,
)
from tests.manifest_edits import resealed

pytestmark = pytest.mark.storage

ORIGIN = "FAC-KYIV-MH"  # where demo patients are; no capacity report
FIELD = "FAC-FIELD-1"  # a field hospital with capacity reports, left out by default


def _changed(uow_factory: UowFactory, facility_id: str, **values: Any) -> None:
    """Set ``values`` on a facility, written with its audit record as every change is."""
    with uow_factory() as uow:
        facility = uow.facilities.get(facility_id)
        before = snapshot(facility)
        for name, value in values.items():
            setattr(facility, name, value)
        uow.facilities.update(facility)
        audit(uow, "facility", facility, "update", actor="importer", before=before)
        uow.commit()


def _refusal_of(uow_factory: UowFactory, problem: Any, plan: Any, facility_id: str) -> str:
    """The line of the refusal of ``plan`` that names ``facility_id``'s change."""
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    [line] = [c for c in refused.value.changes if c.startswith(f"facility {facility_id} ")]
    return line


def _new_facility(
    uow_factory: UowFactory, facility_id: str, kind: FacilityKind, operator: str
) -> str:
    """A facility registered since the build, offering orthopaedics, with a report of 20 free
    beds made now: the capacity key its report has."""
    register_facility(
        uow_factory(),
        Facility(
            facility_id,
            facility_id,
            kind,
            operator,
            "UA",
            Coordinates(50.0, 30.0),
            frozenset({Specialty.ORTHOPAEDICS}),
            daily_outpatient_throughput=100 if kind.is_field_hospital else None,
        ),
        actor="registry",
    )
    at = utc_now() - timedelta(minutes=5)
    report = CapacityReport(facility_id, Specialty.ORTHOPAEDICS, 20, 20, 0, 0, at)
    report_capacity(uow_factory(), report, actor="team")
    return f"{facility_id}/{Specialty.ORTHOPAEDICS.value}"


# 1. an origin of patients only


def test_an_origin_s_limit_set_by_an_import_is_noted(
    uow_factory: UowFactory, tmp_path: Path
) -> None:
    # the review's case: exported, the daily limit of the patients' origin set, imported again
    problem, plan = solved_demo(uow_factory)
    assert ORIGIN in problem.manifest["facilities"]
    assert ORIGIN not in {f["id"] for f in problem.problem["facilities"]}
    path = tmp_path / "facilities.json"
    export_file(uow_factory(), RecordKind.FACILITIES, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    [origin] = [row for row in document["facilities"] if row["id"] == ORIGIN]
    assert origin["daily_admission_limit"] is None
    origin["daily_admission_limit"] = 50
    path.write_text(json.dumps(document), encoding="utf-8")
    assert import_file(uow_factory(), RecordKind.FACILITIES, path, actor="clerk").updated == 1

    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [f"facility {ORIGIN}: daily_admission_limit"]
    assert len(approval.plan.admissions) == len(plan.assignments)


def test_an_origin_s_specialties_capabilities_and_operator_are_noted_and_its_move_refuses(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    assert any(
        (p["lat"], p["lon"]) == (50.4501, 30.5234) for p in problem.problem["patients"]
    )  # the origin's location is its patients' place
    _changed(
        uow_factory,
        ORIGIN,
        specialties=frozenset({Specialty.NEUROLOGY}),
        capabilities=frozenset({Capability.BURNS, Capability.VENTILATOR}),
        daily_admission_limit=3,
        operator_id=ORIGIN_MINISTRY,
        kind=FacilityKind.EMT_TYPE_3,
    )
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [
        f"facility {ORIGIN}: capabilities, daily_admission_limit, kind, operator_id, specialties"
    ]

    # moved, its patients are elsewhere: their distances change
    problem, plan = solved(uow_factory)
    _changed(uow_factory, ORIGIN, location=Coordinates(48.0, 24.0), daily_admission_limit=4)
    line = _refusal_of(uow_factory, problem, plan, ORIGIN)
    assert "location " in line, line
    assert "daily_admission_limit" not in line, line  # what refuses it is the move


# 2. a field hospital the build left out


def test_a_left_out_field_hospital_changed_but_for_its_kind_is_noted_and_made_a_hospital_refuses(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    assert FIELD in problem.manifest["excluded"]
    assert problem.manifest["field_hospitals"] is False
    _changed(
        uow_factory,
        FIELD,
        daily_admission_limit=5,
        capabilities=frozenset({Capability.BURNS}),
        specialties=frozenset({Specialty.ORTHOPAEDICS, Specialty.NEUROLOGY}),
        operator_id=PARTNER_MINISTRY,
    )
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [
        f"facility {FIELD}: capabilities, daily_admission_limit, operator_id, specialties"
    ]

    # made a hospital, it comes into the problem (its kind says so; its limit then with it)
    problem, plan = solved(uow_factory)
    _changed(
        uow_factory,
        FIELD,
        kind=FacilityKind.HOSPITAL,
        daily_outpatient_throughput=None,
        daily_admission_limit=6,
    )
    line = _refusal_of(uow_factory, problem, plan, FIELD)
    assert line.endswith('kind "emt_type_2" -> "hospital"'), line


def test_with_field_hospitals_taken_in_their_limit_still_refuses_and_an_origin_s_is_noted(
    uow_factory: UowFactory,
) -> None:
    # taken in, the field hospital has its entry in the problem: its limit is read
    selected_demo(uow_factory)
    problem, plan = solved(uow_factory, include_field_hospitals=True)
    assert FIELD in {f["id"] for f in problem.problem["facilities"]}
    _changed(uow_factory, FIELD, daily_admission_limit=5)
    _changed(uow_factory, ORIGIN, daily_admission_limit=5)
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    lines = refused.value.changes
    assert [c for c in lines if c.startswith("facility ")] == [
        f"facility {FIELD} changed (version 2; the plan saw version 1): "
        "daily_admission_limit null -> 5"
    ], lines


# 3. a field hospital that first reported since the build


def test_a_new_field_hospital_s_first_report_is_noted_and_a_new_hospital_s_refuses(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    key = _new_facility(uow_factory, "EMT-NEW-1", FacilityKind.EMT_TYPE_2, PARTNER_EMT)
    [stamp] = [r.reported_at for r in _latest(uow_factory, "EMT-NEW-1")]
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [
        f"capacity of {key} was first reported at {shown(stamp)}: a field hospital, which the "
        "build left out"
    ]
    assert "EMT-NEW-1" not in {a.facility_id for a in approval.plan.admissions}

    # a hospital's first report brings it into the problem
    problem, plan = solved(uow_factory)
    key = _new_facility(uow_factory, "H-NEW-1", FacilityKind.HOSPITAL, PARTNER_MINISTRY)
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    assert [c for c in refused.value.changes if key in c] == [
        f"capacity of {key} was first reported at "
        + shown(min(r.reported_at for r in _latest(uow_factory, "H-NEW-1")))
    ], refused.value.changes


def test_a_field_hospital_that_first_reported_and_was_made_a_hospital_since_refuses(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    key = _new_facility(uow_factory, "EMT-NEW-2", FacilityKind.EMT_TYPE_1_MOBILE, PARTNER_EMT)
    _changed(uow_factory, "EMT-NEW-2", kind=FacilityKind.HOSPITAL, daily_outpatient_throughput=None)
    # another new field hospital is only noted: the one made a hospital alone refuses
    _new_facility(uow_factory, "EMT-NEW-3", FacilityKind.EMT_TYPE_3, PARTNER_EMT)
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    assert [c for c in refused.value.changes if "first reported" in c] == [
        f"capacity of {key} was first reported at "
        + shown(min(r.reported_at for r in _latest(uow_factory, "EMT-NEW-2")))
    ], refused.value.changes


def test_a_new_field_hospital_s_report_refuses_where_the_build_took_them_in(
    uow_factory: UowFactory,
) -> None:
    selected_demo(uow_factory)
    problem, plan = solved(uow_factory)
    # a manifest written before it said whether field hospitals were taken in: the field
    # hospitals it left out say they were not
    unsaid = resealed({k: v for k, v in problem.manifest.items() if k != "field_hospitals"})
    key = _new_facility(uow_factory, "EMT-NEW-4", FacilityKind.EMT_TYPE_2, PARTNER_EMT)
    approval = approver(problem, plan)(uow_factory(), manifest=unsaid)
    [stamp] = [r.reported_at for r in _latest(uow_factory, "EMT-NEW-4")]
    assert approval.noted == [
        f"capacity of {key} was first reported at {shown(stamp)}: a field hospital, which the "
        "build left out"
    ]

    # built with the field hospitals: its report brings it in

    problem, plan = solved(uow_factory, include_field_hospitals=True)
    key = _new_facility(uow_factory, "EMT-NEW-5", FacilityKind.EMT_TYPE_2, PARTNER_EMT)
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    assert [c for c in refused.value.changes if "first reported" in c] == [
        f"capacity of {key} was first reported at "
        + shown(min(r.reported_at for r in _latest(uow_factory, "EMT-NEW-5")))
    ], refused.value.changes


def _latest(uow_factory: UowFactory, facility_id: str) -> list[CapacityReport]:
    with uow_factory() as uow:
        return uow.capacity.latest(facility_id)

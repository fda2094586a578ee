"""`plan approve` and registry changes that cannot alter the problem (SQLite and PostgreSQL).

A facility renamed, a patient's triage corrected, an agreement whose receiver runs no
facility of the problem: approved over, and said; a change the problem reads still refuses.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.audit import AuditRecord, snapshot
from medevac.domain.facilities import CostPolicy, Facility
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient, PlanningPatient
from medevac.domain.vocabulary import FacilityKind, OrganisationKind, Specialty, TriageCategory
from medevac.planning import parse_problem, solve_exact
from medevac.services.auditing import audit, utc_now
from medevac.services.changed_fields import UNPLANNED_FIELDS, changed_fields
from medevac.services.demo import ACADEMY_AGREEMENT_ID, AGREEMENT_ID
from medevac.services.exports import export_file
from medevac.services.holds import DEFAULT_LENGTH_OF_STAY_DAYS
from medevac.services.imports import RecordKind, import_file
from medevac.services.registry import register_agreement, register_organisation
from medevac.services.regulating import RegistryChanged, build_problem
from tests.integration.services.builders import UowFactory
from tests.integration.services.test_plan_approval import (
    approver,
    first_selected,
    selected_demo,
    solved,
    solved_demo,
)
from tests.manifest_edits import resealed

pytestmark = pytest.mark.storage

ACADEMY = "FAC-LODZ-MMA"


def _changed(uow_factory: UowFactory, entity_kind: str, entity_id: str, **values: Any) -> None:
    """Set ``values`` on one facility or patient, written with its audit record as every
    change of the registry is."""
    with uow_factory() as uow:
        repository = uow.facilities if entity_kind == "facility" else uow.patients
        entity = repository.get(entity_id)
        before = snapshot(entity)
        for name, value in values.items():
            setattr(entity, name, value)
        repository.update(entity)
        audit(uow, entity_kind, entity, "update", actor="importer", before=before)
        uow.commit()


def _made_a_hospital(uow_factory: UowFactory, facility_id: str) -> None:
    """A field hospital made a hospital (which has no outpatient throughput)."""
    _changed(
        uow_factory,
        "facility",
        facility_id,
        kind=FacilityKind.HOSPITAL,
        daily_outpatient_throughput=None,
    )


def _first_patient(problem: Any) -> str:
    return str(problem.problem["patients"][0]["id"])


def test_a_facility_renamed_by_an_import_is_approved_over_and_noted(
    uow_factory: UowFactory, tmp_path: Path
) -> None:
    # exported, renamed and imported again, as a registry clerk would correct it
    problem, plan = solved_demo(uow_factory)
    path = tmp_path / "facilities.json"
    export_file(uow_factory(), RecordKind.FACILITIES, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    [academy] = [row for row in document["facilities"] if row["id"] == ACADEMY]
    academy["name"] = "Military Medical Academy, Central Clinical Hospital"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert import_file(uow_factory(), RecordKind.FACILITIES, path, actor="clerk").updated == 1

    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [f"facility {ACADEMY}: name"]
    assert len(approval.plan.admissions) == len(plan.assignments)
    with uow_factory() as uow:
        [record] = uow.audit.list(entity_type="approved_plan", entity_id=approval.plan.id)
    assert record.reason.endswith(
        f"changed since the build, not in what the problem holds: facility {ACADEMY}: name"
    ), record.reason


def test_a_facility_s_admission_limit_changed_refuses_and_says_from_what_to_what(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    with uow_factory() as uow:
        was = uow.facilities.get(ACADEMY).daily_admission_limit
    _changed(uow_factory, "facility", ACADEMY, daily_admission_limit=1, name="Academy")
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    [line] = [c for c in refused.value.changes if c.startswith(f"facility {ACADEMY} ")]
    assert line.endswith(f"the plan saw version 1): daily_admission_limit {json.dumps(was)} -> 1")
    assert "name" not in line.split(":", 1)[1], line  # the rename is not what refuses it


def test_a_change_without_its_audit_record_still_refuses(uow_factory: UowFactory) -> None:
    # the trail does not account for the version: taken as a change the problem reads
    problem, plan = solved_demo(uow_factory)
    with uow_factory() as uow:
        uow.facilities.update(replace(uow.facilities.get(ACADEMY), name="Academy"))
        uow.commit()
    with pytest.raises(RegistryChanged, match=rf"facility {ACADEMY} changed \(version 2"):
        approver(problem, plan)(uow_factory())


def test_a_change_then_one_without_its_record_still_refuses(uow_factory: UowFactory) -> None:
    # the newest record is not the facility as it is now: a change was written without one
    problem, plan = solved_demo(uow_factory)
    _changed(uow_factory, "facility", ACADEMY, name="Academy")
    with uow_factory() as uow:
        uow.facilities.update(replace(uow.facilities.get(ACADEMY), daily_admission_limit=1))
        uow.commit()
    with pytest.raises(RegistryChanged, match=rf"facility {ACADEMY} changed \(version 3"):
        approver(problem, plan)(uow_factory())


def test_a_field_hospital_of_another_type_is_noted_and_one_made_a_hospital_refuses(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    with uow_factory() as uow:
        kind = uow.facilities.get("FAC-FIELD-1").kind
    other = next(k for k in FacilityKind if k.is_field_hospital and k is not kind)
    _changed(uow_factory, "facility", "FAC-FIELD-1", kind=other)
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == ["facility FAC-FIELD-1: kind"]

    problem, plan = solved(uow_factory)
    _made_a_hospital(uow_factory, "FAC-FIELD-1")
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    [line] = [c for c in refused.value.changes if c.startswith("facility FAC-FIELD-1 ")]
    assert f'kind "{other.value}" -> "hospital"' in line, line


def test_with_field_hospitals_taken_in_a_change_of_kind_is_noted(
    uow_factory: UowFactory,
) -> None:
    # built with the field hospitals: a facility's kind no longer brings it in or leaves it out
    selected_demo(uow_factory)
    problem, plan = solved(uow_factory, include_field_hospitals=True)
    assert "FAC-FIELD-1" in {f["id"] for f in problem.problem["facilities"]}
    _made_a_hospital(uow_factory, "FAC-FIELD-1")
    _changed(uow_factory, "facility", ACADEMY, kind=FacilityKind.EMT_TYPE_2)
    approval = approver(problem, plan)(uow_factory())
    assert sorted(approval.noted) == [
        "facility FAC-FIELD-1: daily_outpatient_throughput, kind",
        f"facility {ACADEMY}: kind",
    ]


def test_a_hospital_made_a_field_hospital_refuses_where_they_are_left_out(
    uow_factory: UowFactory,
) -> None:
    # left out (the default), or with a manifest that does not say (written before it did)
    problem, plan = solved_demo(uow_factory)
    assert problem.manifest["field_hospitals"] is False
    unsaid = resealed({k: v for k, v in problem.manifest.items() if k != "field_hospitals"})
    _changed(uow_factory, "facility", ACADEMY, kind=FacilityKind.EMT_TYPE_2)
    for manifest in (problem.manifest, unsaid):
        with pytest.raises(RegistryChanged) as refused:
            approver(problem, plan)(uow_factory(), manifest=manifest)
        [line] = [c for c in refused.value.changes if c.startswith(f"facility {ACADEMY} ")]
        assert 'kind "military_medical_academy" -> "emt_type_2"' in line, line


def test_an_origin_s_kind_is_noted(uow_factory: UowFactory) -> None:
    # a facility with no capacity report is in the problem as the patients' place only
    problem, plan = solved_demo(uow_factory)
    origin = "FAC-KYIV-MH"
    assert origin in problem.manifest["facilities"]
    assert not any(key.startswith(f"{origin}/") for key in problem.manifest["capacity"])
    _changed(uow_factory, "facility", origin, kind=FacilityKind.EMT_TYPE_3)
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [f"facility {origin}: kind"]


def test_a_stay_set_to_the_default_is_noted_and_another_refuses(
    uow_factory: UowFactory,
) -> None:
    # a patient without an expected stay is planned for the default 14 days
    patient_id = first_selected(uow_factory)
    _changed(uow_factory, "patient", patient_id, expected_length_of_stay_days=None)
    problem, plan = solved(uow_factory)
    [entry] = [p for p in problem.problem["patients"] if p["id"] == patient_id]
    assert entry["length_of_stay_days"] == DEFAULT_LENGTH_OF_STAY_DAYS == 14
    _changed(uow_factory, "patient", patient_id, expected_length_of_stay_days=14)
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [f"patient {patient_id}: expected_length_of_stay_days"]

    problem, plan = solved(uow_factory)
    _changed(uow_factory, "patient", patient_id, expected_length_of_stay_days=None)
    assert approver(problem, plan)(uow_factory()).noted == [
        f"patient {patient_id}: expected_length_of_stay_days"
    ]

    problem, plan = solved(uow_factory)
    _changed(uow_factory, "patient", patient_id, expected_length_of_stay_days=15)
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    [line] = [c for c in refused.value.changes if c.startswith(f"patient {patient_id} ")]
    assert "length_of_stay_days 14 -> 15" in line, line


def test_a_facility_changed_and_changed_back_is_noted_as_such(uow_factory: UowFactory) -> None:
    problem, plan = solved_demo(uow_factory)
    with uow_factory() as uow:
        limit = uow.facilities.get(ACADEMY).daily_admission_limit
    _changed(uow_factory, "facility", ACADEMY, daily_admission_limit=1)
    _changed(uow_factory, "facility", ACADEMY, daily_admission_limit=limit)
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [
        f"facility {ACADEMY}: changed and changed back (version 3, as version 1)"
    ]


def test_a_patient_s_triage_and_companions_are_noted(uow_factory: UowFactory) -> None:
    problem, plan = solved_demo(uow_factory)
    patient_id = _first_patient(problem)
    with uow_factory() as uow:
        triage = uow.patients.get(patient_id).triage
    other = next(t for t in TriageCategory if t is not triage)
    _changed(uow_factory, "patient", patient_id, triage=other, companions=2)
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [f"patient {patient_id}: companions, triage"]


def test_a_secondary_specialty_is_noted_and_a_new_primary_one_refuses(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    patient_id = _first_patient(problem)
    with uow_factory() as uow:
        needed = uow.patients.get(patient_id).required_specialties
    extra = next(s for s in Specialty if s not in needed)
    _changed(uow_factory, "patient", patient_id, required_specialties=(*needed, extra))
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [f"patient {patient_id}: required_specialties"]

    problem, plan = solved(uow_factory)
    with uow_factory() as uow:
        needed = uow.patients.get(patient_id).required_specialties
    _changed(uow_factory, "patient", patient_id, required_specialties=(extra, *needed[:1]))
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    [line] = [c for c in refused.value.changes if c.startswith(f"patient {patient_id} ")]
    assert f"specialty {needed[0].value} -> {extra.value}" in line, line


def _register_outsider(uow_factory: UowFactory) -> str:
    register_organisation(
        uow_factory(),
        Organisation(
            "ORG-FAR-MOH", "Far Ministry of Health", OrganisationKind.MINISTRY_OF_HEALTH, "LT"
        ),
        actor="clerk",
    )
    return "ORG-FAR-MOH"


def _like_the_academy_s(uow_factory: UowFactory, **fields: Any) -> None:
    """Register an agreement as the demo's with the academy, but for ``fields``."""
    with uow_factory() as uow:
        academy = uow.agreements.get(ACADEMY_AGREEMENT_ID)
    register_agreement(uow_factory(), replace(academy, version=0, **fields), actor="clerk")


def test_an_agreement_with_a_receiver_outside_the_problem_is_noted(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    outsider = _register_outsider(uow_factory)
    # the outsider runs no facility of the problem
    _like_the_academy_s(uow_factory, id="AGR-FAR-1", receiving_organisation_id=outsider)
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [
        f"agreement AGR-FAR-1 was registered after the plan was built: {outsider} runs no "
        "facility of the problem"
    ]


def test_an_agreement_from_a_sender_outside_the_problem_to_one_of_its_receivers_refuses(
    uow_factory: UowFactory,
) -> None:
    # the sender has no patient in the problem, but an operator's agreements bind its
    # facilities for every sender (an operator with none accepts everyone)
    problem, plan = solved_demo(uow_factory)
    outsider = _register_outsider(uow_factory)
    _like_the_academy_s(uow_factory, id="AGR-FAR-2", sending_organisation_id=outsider)
    with pytest.raises(RegistryChanged, match="agreement AGR-FAR-2 was registered after"):
        approver(problem, plan)(uow_factory())


def test_an_agreement_between_a_sender_and_a_receiver_of_the_problem_refuses(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    _like_the_academy_s(
        uow_factory,
        id="AGR-MORE-1",
        valid_from=utc_now().date(),
        valid_to=None,
        quota=None,
        specialties=frozenset(Specialty),
    )
    with pytest.raises(RegistryChanged, match="agreement AGR-MORE-1 was registered after"):
        approver(problem, plan)(uow_factory())


def test_an_agreement_changed_from_outside_into_the_problem_refuses(
    uow_factory: UowFactory,
) -> None:
    # apart from the problem now is not enough: as built it must have been apart too
    problem, plan = solved_demo(uow_factory)
    outsider = _register_outsider(uow_factory)
    with uow_factory() as uow:
        academy = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        before = snapshot(academy)
        academy.sending_organisation_id = outsider
        uow.agreements.update(academy)
        audit(uow, "agreement", academy, "update", actor="clerk", before=before)
        uow.commit()
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    [line] = [c for c in refused.value.changes if c.startswith(f"agreement {ACADEMY_AGREEMENT_ID}")]
    assert f'sending_organisation_id "{before["sending_organisation_id"]}" -> "{outsider}"' in line


def test_an_agreement_changed_only_in_its_costs_is_noted(uow_factory: UowFactory) -> None:
    problem, plan = solved_demo(uow_factory)
    with uow_factory() as uow:
        academy = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        before = snapshot(academy)
        academy.cost_policy = CostPolicy(False, Decimal("412.50"), "PLN")
        uow.agreements.update(academy)
        audit(uow, "agreement", academy, "update", actor="clerk", before=before)
        uow.commit()
    approval = approver(problem, plan)(uow_factory())
    assert approval.noted == [f"agreement {ACADEMY_AGREEMENT_ID}: cost_policy"]


def test_changed_fields_reads_the_trail_back_to_the_version(uow_factory: UowFactory) -> None:
    solved_demo(uow_factory)
    _changed(uow_factory, "facility", ACADEMY, name="A")
    _changed(uow_factory, "facility", ACADEMY, daily_admission_limit=3)
    _changed(uow_factory, "facility", ACADEMY, name="B")
    with uow_factory() as uow:
        academy = uow.facilities.get(ACADEMY)
        assert academy.version == 4
        newest = changed_fields(uow, "facility", academy, 3)
        all_three = changed_fields(uow, "facility", academy, 1)
        unknown = changed_fields(uow, "facility", academy, 0)  # a version before its creation
        same = changed_fields(uow, "facility", academy, 4)
    assert newest is not None
    assert (newest.planned, newest.unplanned) == ([], ["name"])
    assert all_three is not None
    assert all_three.unplanned == ["name"]
    assert [line.split(" ")[0] for line in all_three.planned] == ["daily_admission_limit"]
    assert unknown is None
    assert same is None


def test_the_fields_no_problem_reads_are_none_the_engines_need() -> None:
    # a field `PlanningPatient` carries must never be listed as one no problem reads
    planning = {f.name for f in fields(PlanningPatient)} - {"id", "version"}
    planning = (planning - {"primary_specialty"}) | {"required_specialties"}
    patient = {f.name for f in fields(Patient)}
    assert planning <= patient
    assert not planning & UNPLANNED_FIELDS["patient"]
    assert UNPLANNED_FIELDS["patient"] <= patient
    assert UNPLANNED_FIELDS["facility"] <= {f.name for f in fields(Facility)}
    assert UNPLANNED_FIELDS["agreement"] <= {f.name for f in fields(Agreement)}
    assert (
        not {"location", "operator_id", "specialties", "capabilities", "kind"}
        & (UNPLANNED_FIELDS["facility"])
    )


def test_an_agreement_that_lapsed_is_said_also_where_its_costs_changed(
    uow_factory: UowFactory,
) -> None:
    # built yesterday, on the agreement's last day; its costs amended today: the change of
    # costs is noted, and its lapse still refuses (it had been noted alone)
    selected_demo(uow_factory)
    yesterday = utc_now() - timedelta(days=1)
    with uow_factory() as uow:
        agreement = uow.agreements.get(AGREEMENT_ID)
        uow.agreements.update(replace(agreement, valid_to=yesterday.date()))
        uow.commit()
    problem = build_problem(uow_factory(), now=yesterday, stale_after=timedelta(days=30))
    plan = solve_exact(parse_problem(problem.problem), time_limit=30)
    with uow_factory() as uow:
        agreement = uow.agreements.get(AGREEMENT_ID)
        before = snapshot(agreement)
        agreement.cost_policy = CostPolicy(False, Decimal("412.50"), "PLN")
        uow.agreements.update(agreement)
        audit(uow, "agreement", agreement, "update", actor="clerk", before=before)
        uow.commit()
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    assert refused.value.changes == [f"agreement {AGREEMENT_ID} lapsed since the plan was built"]


def test_trails_are_read_together_newest_first_from_a_moment(uow_factory: UowFactory) -> None:
    start = utc_now()
    with uow_factory() as uow:
        for n, (entity_id, minutes) in enumerate(
            [("A", -5), ("B", 1), ("A", 2), ("A", 2), ("C", 3), ("B", 4)]
        ):
            uow.audit.add(
                AuditRecord(
                    "clerk",
                    start + timedelta(minutes=minutes),
                    "facility",
                    entity_id,
                    f"update-{n}",
                    {},
                    {},
                )
            )
        uow.audit.add(AuditRecord("clerk", start, "patient", "A", "move", {}, {}))
        uow.commit()
    with uow_factory() as uow:
        trails = uow.audit.trails("facility", ["A", "B", "D"], start)
    assert {key: [r.action for r in records] for key, records in trails.items()} == {
        "A": ["update-3", "update-2"],  # a tie in the order written, newest first
        "B": ["update-5", "update-1"],
    }


def test_a_list_changed_since_the_build_names_what_it_lost_and_gained(
    uow_factory: UowFactory,
) -> None:
    # the academy's specialties, cut to 60 characters, had read the same before and after
    # one was removed ('specialties ["general_surgery", "intensive_care", "maxillofacial_surg...
    # -> ["general_surgery", ...'), naming nothing
    solved_demo(uow_factory)
    with uow_factory() as uow:
        specialties = uow.facilities.get(ACADEMY).specialties
    assert Specialty.OPHTHALMOLOGY in specialties
    assert len(specialties) > 4
    fewer = (specialties - {Specialty.OPHTHALMOLOGY}) | {Specialty.BURNS}
    _changed(uow_factory, "facility", ACADEMY, specialties=fewer)
    with uow_factory() as uow:
        academy = uow.facilities.get(ACADEMY)
        changed = changed_fields(uow, "facility", academy, academy.version - 1)
    assert changed is not None
    assert changed.planned == ['specialties without "ophthalmology" and with "burns"']

"""Building allocation problems from the registry (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CapacityReport
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.limits import MAX_COUNT
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient
from medevac.domain.vocabulary import Mobility, OrganisationKind, Precedence, Specialty
from medevac.planning import (
    ProblemError,
    UnplacedReason,
    check_plan,
    parse_problem,
    solve_exact,
)
from medevac.services.auditing import utc_now
from medevac.services.demo import ACADEMY_AGREEMENT_ID, build_demo
from medevac.services.patients import move_patient, register_patient
from medevac.services.registry import register_organisation
from medevac.services.regulating import beds_by_day, build_problem
from tests.integration.services.builders import UowFactory

pytestmark = pytest.mark.storage


def test_the_demo_becomes_a_problem_the_engine_places_completely(
    uow_factory: UowFactory,
) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    problem = parse_problem(built.problem)
    assert len(problem.patients) == 24
    assert {f.id for f in problem.facilities} == {
        "FAC-LODZ-MMA",
        "FAC-CIECHOCINEK-SAN",
        "FAC-KOLOBRZEG-SAN",
    }
    assert {(s.id, s.reason) for s in built.skipped} == {
        ("FAC-FIELD-1", "field hospital for local casualties"),
        ("FAC-FIELD-2", "field hospital for local casualties"),
        # the origin hospitals, which offer specialties the patients need, never reported
        # their beds (they had been left out unsaid)
        *(
            (f, "no capacity report: its free beds are not known")
            for f in ("FAC-DNIPRO-MH", "FAC-KYIV-MH", "FAC-LVIV-MH")
        ),
    }
    assert set(built.manifest["excluded"]) == {"FAC-FIELD-1", "FAC-FIELD-2"}
    # the ministry under its agreement, the academy's operator for its own patients
    assert problem.facility("FAC-LODZ-MMA").accepts_from == frozenset(
        {"ORG-ORIGIN-MOH", "ORG-PARTNER-DMS"}
    )
    assert [r.facility_id for r in built.stale_reports] == ["FAC-KOLOBRZEG-SAN"]
    assert set(built.manifest["patients"]) == {p.id for p in problem.patients}
    plan = solve_exact(problem, time_limit=30)
    assert check_plan(problem, plan).feasible
    assert len(plan.assignments) == 24


def test_a_facility_that_reported_other_specialties_is_named_for_those_it_did_not(
    uow_factory: UowFactory,
) -> None:
    # a report for intensive care alone took Kyiv off the list, though its orthopaedic and
    # general surgery beds, which the patients need, were still unknown
    build_demo(uow_factory(), actor="demo", regulate=False)
    with uow_factory() as uow:
        uow.capacity.add(
            CapacityReport("FAC-KYIV-MH", Specialty.INTENSIVE_CARE, 3, 10, 0, 0, utc_now())
        )
        uow.commit()
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    [kyiv] = [s for s in built.skipped if s.id == "FAC-KYIV-MH"]
    assert kyiv.reason == (
        "no capacity report for general_surgery, orthopaedics: those beds are not known"
    )
    assert "FAC-KYIV-MH" not in built.manifest["excluded"]


def test_field_hospitals_come_in_only_when_asked(uow_factory: UowFactory) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    built = build_problem(
        uow_factory(),
        now=utc_now(),
        stale_after=timedelta(hours=24),
        include_field_hospitals=True,
    )
    assert "FAC-FIELD-1" in {f["id"] for f in built.problem["facilities"]}
    # only the origin hospitals that never reported are left out
    assert {(s.id, s.reason) for s in built.skipped} == {
        (f, "no capacity report: its free beds are not known")
        for f in ("FAC-DNIPRO-MH", "FAC-KYIV-MH", "FAC-LVIV-MH")
    }


def test_dead_or_unfit_patients_are_not_planned(uow_factory: UowFactory) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    move_patient(uow_factory(), "PT-0001", PatientStatus.DIED, actor="ward", reason="sepsis")
    uow = uow_factory()
    with uow:
        patient = uow.patients.get("PT-0004")
        patient.fit_to_transport = False
        uow.patients.update(patient)
        uow.commit()
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    ids = {p["id"] for p in built.problem["patients"]}
    assert "PT-0001" not in ids
    assert "PT-0004" not in ids
    assert ("PT-0004", "not fit to transport") in {(s.id, s.reason) for s in built.skipped}
    assert len(ids) == 22


def test_beds_per_day_follow_the_surge_figures_of_the_report() -> None:
    made = datetime(2026, 11, 20, 8, tzinfo=UTC)
    report = CapacityReport("F", Specialty.NEUROLOGY, 3, 10, 1, 4, made)
    assert beds_by_day(report, 6, made) == [3, 4, 4, 7, 7, 7]
    assert beds_by_day(report, 6, made + timedelta(minutes=59)) == [3, 4, 4, 7, 7, 7]
    # the surge figures count from the report, not from the build
    assert beds_by_day(report, 6, made + timedelta(hours=30)) == [4, 4, 7, 7, 7, 7]
    assert beds_by_day(report, 3, made + timedelta(hours=71)) == [4, 7, 7]
    assert beds_by_day(report, 3, made + timedelta(days=5)) == [7, 7, 7]
    # a report stamped after the build counts from the build
    assert beds_by_day(report, 3, made - timedelta(hours=5)) == [3, 4, 4]
    # each figure within the registry's limit, their sums beyond it: the problem keeps to it
    largest = CapacityReport(
        "F", Specialty.NEUROLOGY, MAX_COUNT, MAX_COUNT, MAX_COUNT, MAX_COUNT, made
    )
    assert beds_by_day(largest, 4, made) == [MAX_COUNT] * 4


def test_settings_the_loader_would_refuse_are_refused_with_their_paths(
    uow_factory: UowFactory,
) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    for precedences, weights, said in [
        ({"urgent": {"weight": 5}}, None, "precedences.urgent.deadline_day: is missing"),
        ({"urgent": 5}, None, "precedences.urgent: must be an object, got a number"),
        ([1], None, "precedences: must be an object, got a list"),
        (None, [1], "weights: must be an object, got a list"),
        (
            {"urgent": {"weight": 5, "deadline_day": 0.7}},
            None,
            "precedences.urgent.deadline_day: must be a whole number, got 0.7",
        ),
    ]:
        with pytest.raises(ProblemError, match=re.escape(said)):
            build_problem(
                uow_factory(), now=utc_now(), stale_after=timedelta(days=30),
                precedences=precedences, weights=weights,
            )  # fmt: skip


def test_precedences_that_leave_out_a_level_of_the_patients_name_the_level_and_patients(
    uow_factory: UowFactory,
) -> None:
    # the loader named positions in a problem that is never written ("patients[2].precedence")
    build_demo(uow_factory(), actor="demo", regulate=False)
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(days=30))
    levels = {p["precedence"] for p in built.problem["patients"]}
    left_out = sorted(levels)[0]
    theirs = sorted(p["id"] for p in built.problem["patients"] if p["precedence"] == left_out)
    rules = {name: {"weight": 1, "deadline_day": 3} for name in sorted(levels - {left_out})}
    with pytest.raises(InvalidValue) as refused:
        build_problem(
            uow_factory(), now=utc_now(), stale_after=timedelta(days=30), precedences=rules
        )
    assert refused.value.field == "precedences"
    shown = ", ".join(theirs[:5]) + (", ..." if len(theirs) > 5 else "")
    assert f"no rule for {left_out} ({len(theirs)} patient(s): {shown})" in str(refused.value)
    assert "patients[" not in str(refused.value)


def selected_in_kyiv(
    uow_factory: UowFactory, patient_id: str, organisation: str, specialty: Specialty
) -> None:
    """Register an urgent patient at the demo's Kyiv hospital and select them."""
    register_patient(
        uow_factory(),
        Patient(
            patient_id,
            organisation,
            (specialty,),
            Precedence.URGENT,
            Mobility.LITTER,
            fit_to_transport=True,
            location_id="FAC-KYIV-MH",
        ),
        actor="ward",
    )
    for status in (PatientStatus.SCREENING, PatientStatus.SELECTED):
        move_patient(uow_factory(), patient_id, status, actor="ward", reason=f"needs {specialty}")


def test_a_facility_takes_a_sender_only_for_the_specialties_its_agreements_cover(
    uow_factory: UowFactory,
) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    # FAC-LODZ-MMA offers intensive care; neither demo agreement covers it
    selected_in_kyiv(uow_factory, "PT-IC", "ORG-ORIGIN-MOH", Specialty.INTENSIVE_CARE)
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    problem = parse_problem(built.problem)
    lodz = problem.facility("FAC-LODZ-MMA")
    assert "intensive_care" in lodz.beds
    assert "ORG-ORIGIN-MOH/orthopaedics" in lodz.accepts_from
    assert "ORG-ORIGIN-MOH/intensive_care" not in lodz.accepts_from
    by_id = {p.id: p for p in problem.patients}
    assert by_id["PT-IC"].organisation == "ORG-ORIGIN-MOH/intensive_care"
    assert built.uncovered == [
        "FAC-LODZ-MMA offers intensive_care, which no agreement in force covers for ORG-ORIGIN-MOH"
    ]
    plan = solve_exact(problem, time_limit=30)
    assert check_plan(problem, plan).feasible
    assert [u.patient for u in plan.unplaced] == ["PT-IC"]
    assert plan.unplaced[0].code is UnplacedReason.NO_AGREEMENT
    assert len(plan.assignments) == 24  # the covered patients are placed as before


def test_senders_whose_patients_need_only_covered_specialties_stay_plain(
    uow_factory: UowFactory,
) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    assert {p["organisation"] for p in built.problem["patients"]} == {"ORG-ORIGIN-MOH"}
    lodz = next(f for f in built.problem["facilities"] if f["id"] == "FAC-LODZ-MMA")
    assert "intensive_care" in lodz["beds"]  # offered, not covered, needed by nobody
    assert lodz["accepts_from"] == ["ORG-ORIGIN-MOH", "ORG-PARTNER-DMS"]
    assert built.uncovered == []


def test_an_organisation_named_like_a_qualified_sender_is_not_taken_for_it(
    uow_factory: UowFactory,
) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    # an organisation whose own id is what `plan build` writes for the origin ministry accepted
    # for orthopaedics only; it has no agreement with the academy's operator
    lookalike = "ORG-ORIGIN-MOH/orthopaedics"
    register_organisation(
        uow_factory(),
        Organisation(lookalike, "Look-alike", OrganisationKind.HUMANITARIAN_OPERATION, "UA"),
        actor="t",
    )
    # the first makes the ministry qualified
    selected_in_kyiv(uow_factory, "PT-IC", "ORG-ORIGIN-MOH", Specialty.INTENSIVE_CARE)
    selected_in_kyiv(uow_factory, "PT-LOOK", lookalike, Specialty.NEUROLOGY)
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    problem = parse_problem(built.problem)
    lodz = problem.facility("FAC-LODZ-MMA")
    look = next(p for p in problem.patients if p.id == "PT-LOOK")
    assert "ORG-ORIGIN-MOH/orthopaedics" in lodz.accepts_from  # the ministry, for orthopaedics
    assert look.organisation not in lodz.accepts_from  # the look-alike has no agreement
    plan = solve_exact(problem, time_limit=30)
    assert check_plan(problem, plan).feasible
    assert all(a.facility != "FAC-LODZ-MMA" for a in plan.assignments if a.patient == "PT-LOOK")


def test_an_operator_bound_by_agreements_still_takes_its_own_patients(
    uow_factory: UowFactory,
) -> None:
    # the academy's operator receives the ministry's patients under an agreement; a patient of
    # its own needs none (an organisation cannot agree with itself). The agreement bound the
    # academy to the ministry alone, and the operator's own patient was left out
    build_demo(uow_factory(), actor="demo", regulate=False)
    selected_in_kyiv(uow_factory, "PT-OWN", "ORG-PARTNER-DMS", Specialty.NEUROLOGY)
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24))
    problem = parse_problem(built.problem)
    lodz = problem.facility("FAC-LODZ-MMA")
    assert lodz.accepts_from == frozenset({"ORG-ORIGIN-MOH", "ORG-PARTNER-DMS"})
    assert built.uncovered == []
    plan = solve_exact(problem, time_limit=30)
    assert check_plan(problem, plan).feasible
    assert [a.facility for a in plan.assignments if a.patient == "PT-OWN"] == ["FAC-LODZ-MMA"]


def test_a_facility_the_sender_s_agreements_reach_in_none_of_its_specialties_is_named(
    uow_factory: UowFactory,
) -> None:
    # the academy's agreement with the ministry covers burns only, which the academy does not
    # offer: the academy accepts none of the ministry's patients, and the build says so. Only
    # senders with some specialty covered there were named; this one went unsaid
    build_demo(uow_factory(), actor="demo", regulate=False)
    with uow_factory() as uow:
        academy = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        academy.specialties = frozenset({Specialty.BURNS})
        uow.agreements.update(academy)
        uow.commit()
    built = build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(days=30))
    lodz = next(f for f in built.problem["facilities"] if f["id"] == "FAC-LODZ-MMA")
    assert "burns" not in lodz["beds"]
    assert lodz["accepts_from"] == ["ORG-PARTNER-DMS"]  # its operator's own patients only
    needed = {p["specialty"] for p in built.problem["patients"]} & set(lodz["beds"])
    assert needed
    assert (
        f"FAC-LODZ-MMA offers {', '.join(sorted(needed))}, which no agreement in force covers "
        "for ORG-ORIGIN-MOH"
    ) in built.uncovered

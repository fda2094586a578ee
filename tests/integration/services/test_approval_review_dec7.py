"""Findings of the review of 2026-12-07 on approving a regulating plan (SQLite and PostgreSQL):
a plan that passes a daily admission limit with the admissions already due, a plan approved
on a later day than its build, and a problem edited by hand with its digests made anew."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CostPolicy
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.plans import ApprovedPlan
from medevac.domain.vocabulary import Specialty
from medevac.planning import Plan, UnplacedReason, parse_problem, solve_exact
from medevac.planning.checker import without_patients
from medevac.services.auditing import utc_now
from medevac.services.demo import (
    ACADEMY_AGREEMENT_ID,
    ORIGIN_MINISTRY,
    PARTNER_DEFENCE,
    build_demo,
)
from medevac.services.manifests import document_digest, with_manifest
from medevac.services.patients import move_patient
from medevac.services.registry import register_agreement
from medevac.services.regulating import (
    BuiltProblem,
    ProblemNotAsBuilt,
    RegistryChanged,
    build_problem,
)
from tests.integration.services.builders import UowFactory
from tests.integration.services.test_plan_approval import (
    accepted_at_the_academy,
    approver,
    built,
    day_0,
    selected_demo,
)
from tests.manifest_edits import resealed

pytestmark = pytest.mark.storage

ACADEMY = "FAC-LODZ-MMA"


def live_plan_ids(uow_factory: UowFactory) -> list[str]:
    with uow_factory() as uow:
        return [plan.id for plan in uow.plans.live()]


# 1. the admissions already due that the manifest keeps


def test_approval_refuses_a_plan_that_passes_a_daily_limit_with_the_admissions_already_due(
    uow_factory: UowFactory,
) -> None:
    # one of the demo's first day accepted at the academy: it arrives on day 0. A plan solved
    # without the manifest fills the academy's 8 admissions of day 0; `plan check` calls it
    # infeasible, and the approval stored it with a warning only
    plan, _ = accepted_at_the_academy(uow_factory, 0)
    first_day = sorted(
        a.patient_id for a in plan.admissions if a.admission_date == utc_now().date()
    )
    move_patient(
        uow_factory(),
        first_day[0],
        PatientStatus.ACCEPTED,
        actor="academy",
        role=ActorRole.RECEIVING_FACILITY,
    )
    problem = built(uow_factory)
    assert problem.manifest["held_admissions"] == {f"{ACADEMY}/0": 1}
    [academy] = [f for f in problem.problem["facilities"] if f["id"] == ACADEMY]
    limit = academy["daily_admission_limit"]
    unaware = solve_exact(parse_problem(problem.problem), time_limit=30)
    assert day_0(unaware) == limit
    with pytest.raises(InvalidValue) as refused:
        approver(problem, unaware)(uow_factory())
    assert refused.value.field == "plan"
    assert re.fullmatch(
        r"it does not fit its problem \(the admissions already due that its manifest keeps "
        rf"counted\): '?{ACADEMY}'? day 0: {limit} admissions and 1 already due, limit {limit}",
        refused.value.reason,
    ), refused.value.reason
    assert live_plan_ids(uow_factory) == [plan.id]  # nothing changed
    # solved with the manifest (as `plan solve` solves it beside the problem), it is approved
    counted = solve_exact(problem.for_engines(), time_limit=30)
    assert day_0(counted) == limit - 1
    approval = approver(problem, counted)(uow_factory())
    assert live_plan_ids(uow_factory) == [approval.plan.id]


# 2. approved on a later day than the build


def due_yesterday_at_the_academy(uow_factory: UowFactory) -> tuple[ApprovedPlan, list[str]]:
    """The planned demo with the admissions of its first day moved back to yesterday and
    those patients accepted at the academy, not yet arrived: the live plan and their ids."""
    build_demo(uow_factory(), actor="demo", regulate=True)
    yesterday = utc_now().date() - timedelta(days=1)
    with uow_factory() as uow:
        [plan] = uow.plans.live()
        first = min(a.admission_date for a in plan.admissions)
        due = sorted(a.patient_id for a in plan.admissions if a.admission_date == first)
        plan.admissions = [
            replace(a, admission_date=yesterday) if a.patient_id in due else a
            for a in plan.admissions
        ]
        uow.plans.update(plan)
        uow.commit()
        [stored] = uow.plans.live()
    assert {a.facility_id for a in stored.admissions} == {ACADEMY}
    for patient_id in due:
        move_patient(
            uow_factory(),
            patient_id,
            PatientStatus.ACCEPTED,
            actor="academy",
            role=ActorRole.RECEIVING_FACILITY,
        )
    return stored, due


def test_an_approval_on_a_later_day_counts_arrivals_overdue_since_the_build_on_today(
    uow_factory: UowFactory,
) -> None:
    # built yesterday, when 8 accepted patients were due at the academy that day (day 0); the
    # plan keeps the 8 referred on day 1 (today) at the academy, its daily limit. Approved
    # today, the 8 have not arrived: they arrive today at the earliest, 16 on a day of 8, and
    # hold their beds a day longer than the build took off. The approval compared the
    # arrivals and holds with the build's day 0 and approved it without a word
    _, due = due_yesterday_at_the_academy(uow_factory)
    yesterday = utc_now() - timedelta(days=1)
    problem = build_problem(uow_factory(), now=yesterday, stale_after=timedelta(days=30))
    assert problem.manifest["held_admissions"] == {f"{ACADEMY}/0": len(due)}
    plan = solve_exact(problem.for_engines(), time_limit=30)
    on_day_1 = sum(1 for a in plan.assignments if (a.facility, a.day) == (ACADEMY, 1))
    assert on_day_1 == 8
    assert all(a.day >= 1 for a in plan.assignments)  # nobody on yesterday's day 0
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    today = utc_now().date()
    changes = refused.value.changes
    assert (
        f"{len(due)} patient(s) sent earlier now arrive at {ACADEMY} on day 1 of the problem "
        f"({', '.join(due)}), 0 when it was built ({len(due)} of them due before today "
        f"({today}) and not arrived): they count against its daily admission limit"
    ) in changes
    # those whose stay ends within the horizon hold their beds a day longer: from today, where
    # the plan saw them from yesterday
    held = [c for c in changes if " holds another bed, " in c]
    assert held
    for line in held:
        assert line.split()[1] in due
        assert f" from {today.isoformat()} for " in line.split("(the plan saw")[0]
    assert "run `medevac plan build` and solve again" in str(refused.value)
    # built and solved again today, the 8 count on today's day 0: approved
    again = built(uow_factory)
    assert again.manifest["held_admissions"] == {f"{ACADEMY}/0": len(due)}
    replanned = solve_exact(again.for_engines(), time_limit=30)
    assert day_0(replanned) == 0
    approval = approver(again, replanned)(uow_factory())
    assert live_plan_ids(uow_factory) == [approval.plan.id]


def test_an_approval_on_a_later_day_with_nobody_overdue_is_still_approved(
    uow_factory: UowFactory,
) -> None:
    # built yesterday with the patients sent earlier due today and later: nothing moved onto
    # today, so the plan's admissions from today on are approved (as they were)
    build_demo(uow_factory(), actor="demo", regulate=True)
    with uow_factory() as uow:
        [plan] = uow.plans.live()
    tomorrow = utc_now().date() + timedelta(days=1)
    later = sorted(a.patient_id for a in plan.admissions if a.admission_date == tomorrow)
    for patient_id in later[:2]:
        move_patient(
            uow_factory(),
            patient_id,
            PatientStatus.ACCEPTED,
            actor="academy",
            role=ActorRole.RECEIVING_FACILITY,
        )
    yesterday = utc_now() - timedelta(days=1)
    problem = build_problem(uow_factory(), now=yesterday, stale_after=timedelta(days=30))
    assert problem.manifest["held_admissions"] == {f"{ACADEMY}/2": 2}
    solved = solve_exact(problem.for_engines(), time_limit=30)
    past = {a.patient: "yesterday" for a in solved.assignments if a.day == 0}
    kept = without_patients(parse_problem(problem.problem), solved, past, UnplacedReason.BEDS_FULL)
    approval = approver(problem, kept)(uow_factory())
    assert live_plan_ids(uow_factory) == [approval.plan.id]


# 3. a problem edited by hand, its digests made anew


def edited(problem: BuiltProblem, edit: Callable[[dict[str, Any]], None]) -> BuiltProblem:
    """``problem`` edited by ``edit``, with the manifest's digests made anew for it, as
    anyone can with the project's own `document_digest` and `seal`."""
    document = copy.deepcopy(problem.problem)
    edit(document)
    manifest = resealed({**problem.manifest, "problem_sha256": document_digest(document)})
    return BuiltProblem(document, manifest)


def facility_of(document: dict[str, Any], facility_id: str) -> dict[str, Any]:
    [entry] = [f for f in document["facilities"] if f["id"] == facility_id]
    return entry


def beds_and_no_limits(document: dict[str, Any]) -> None:
    # the review's tamper.sh: 1,000 beds every day, no daily admission limit
    for entry in document["facilities"]:
        entry.pop("daily_admission_limit", None)
        entry["beds"] = {s: [1000] * document["horizon_days"] for s in entry["beds"]}


def a_capability(document: dict[str, Any]) -> None:
    facility_of(document, "FAC-KOLOBRZEG-SAN")["capabilities"] = ["ventilator"]


def a_patient_of_the_operator(document: dict[str, Any]) -> None:
    document["patients"][0]["organisation"] = "ORG-PARTNER-DMS"


def a_new_facility(document: dict[str, Any]) -> None:
    copied = copy.deepcopy(facility_of(document, ACADEMY))
    document["facilities"].append({**copied, "id": "FAC-BY-HAND"})


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            beds_and_no_limits,
            [
                rf"facility {ACADEMY}: daily_admission_limit none, 8 in the registry",
                rf"facility {ACADEMY}: beds orthopaedics on 14 day\(s\), day 0 the first: "
                r"1000, \d+ from its capacity report \(less beds held\)",
            ],
        ),
        (
            a_capability,
            [r"facility FAC-KOLOBRZEG-SAN: capabilities \['ventilator'\], \[\] in the registry"],
        ),
        (
            a_patient_of_the_operator,
            [r"patient PT-\d+: organisation 'ORG-PARTNER-DMS', 'ORG-ORIGIN-MOH' in the registry"],
        ),
        (
            a_new_facility,
            [r"facility FAC-BY-HAND: the registry gives the problem none \(with no capacity"],
        ),
    ],
    ids=["beds-and-limits", "capability", "organisation", "facility"],
)
def test_a_problem_edited_by_hand_with_its_digests_made_anew_is_refused_naming_the_field(
    uow_factory: UowFactory, edit: Callable[[dict[str, Any]], None], said: list[str]
) -> None:
    # the digests have no key: recomputed with the project's own functions, the edited files
    # passed them, and a plan of 1,000 beds a day with no admission limit was approved
    selected_demo(uow_factory)
    problem = built(uow_factory)
    tampered = edited(problem, edit)
    plan = solve_exact(
        with_manifest(parse_problem(tampered.problem), tampered.manifest), time_limit=30
    )
    with pytest.raises(ProblemNotAsBuilt) as refused:
        approver(tampered, plan)(uow_factory())
    assert refused.value.field == "problem"
    for pattern in said:
        assert any(re.match(pattern, line) for line in refused.value.mismatches), (
            pattern,
            refused.value.mismatches,
        )
    assert str(refused.value).endswith("build the problem again")
    assert live_plan_ids(uow_factory) == []
    # the problem as built is approved
    solved: Plan = solve_exact(problem.for_engines(), time_limit=30)
    assert approver(problem, solved)(uow_factory()).plan.admissions


def test_a_problem_with_fewer_beds_than_the_registry_now_gives_is_approved(
    uow_factory: UowFactory,
) -> None:
    # two patients accepted at the academy after its reports hold their beds in the problem;
    # one is cancelled after the build: its bed is free again, which the problem does not
    # count. That is no edit of the problem (a plan may leave beds unused): approved
    _, accepted = accepted_at_the_academy(uow_factory, 2)
    problem = built(uow_factory)
    assert set(problem.manifest["held"]) == set(accepted)
    move_patient(
        uow_factory(),
        accepted[0],
        PatientStatus.CANCELLED,
        actor="academy",
        reason="treated at home",
    )
    solved = solve_exact(problem.for_engines(), time_limit=30)
    approval = approver(problem, solved)(uow_factory())
    assert live_plan_ids(uow_factory) == [approval.plan.id]


def test_a_facility_made_to_accept_patients_no_agreement_covers_is_refused(
    uow_factory: UowFactory,
) -> None:
    # the academy's agreement leaves out neurology: the build qualifies the ministry's patients
    # by specialty ("ORG-ORIGIN-MOH/neurology" nowhere accepted at the academy). Opened to
    # every sender by hand, the academy would take in the ministry's neurology patients
    selected_demo(uow_factory)
    with uow_factory() as uow:
        agreement = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        agreement.specialties = agreement.specialties - {Specialty.NEUROLOGY}
        uow.agreements.update(agreement)
        uow.commit()
    problem = built(uow_factory)
    academy = facility_of(problem.problem, ACADEMY)
    assert "ORG-ORIGIN-MOH/neurology" not in academy["accepts_from"]
    assert "neurology" in academy["beds"]

    def accepts_everyone(document: dict[str, Any]) -> None:
        del facility_of(document, ACADEMY)["accepts_from"]

    tampered = edited(problem, accepts_everyone)
    plan = solve_exact(
        with_manifest(parse_problem(tampered.problem), tampered.manifest), time_limit=30
    )
    assert any(
        (a.facility, parse_problem(tampered.problem).patient(a.patient).specialty)
        == (ACADEMY, "neurology")
        for a in plan.assignments
    )
    with pytest.raises(ProblemNotAsBuilt) as refused:
        approver(tampered, plan)(uow_factory())
    assert refused.value.mismatches == [
        f"facility {ACADEMY}: accepts_from takes in ORG-ORIGIN-MOH/neurology for neurology, "
        f"which no agreement within the horizon from {utc_now().date()} covers for "
        "ORG-ORIGIN-MOH"
    ]
    solved = solve_exact(problem.for_engines(), time_limit=30)
    assert approver(problem, solved)(uow_factory()).plan.admissions


def test_a_patient_admitted_before_its_agreement_begins_by_an_earliest_day_edited_is_refused(
    uow_factory: UowFactory,
) -> None:
    # a patient needing intensive care, which the academy offers and its ministry's agreements
    # with the academy's operator cover only from day 2 (a second agreement): the build gives
    # it earliest_day 2. Taken out by hand, the plan may admit it at the academy on day 0
    selected_demo(uow_factory)
    with uow_factory() as uow:
        chosen = sorted(p.id for p in uow.patients.list(status=PatientStatus.SELECTED))[0]
        patient = uow.patients.get(chosen)
        patient.required_specialties = (Specialty.INTENSIVE_CARE,)
        uow.patients.update(patient)
        uow.commit()
    begins = utc_now().date() + timedelta(days=2)
    later = Agreement(
        "AGR-IC-LATER",
        ORIGIN_MINISTRY,
        PARTNER_DEFENCE,
        frozenset({Specialty.INTENSIVE_CARE}),
        quota=None,
        cost_policy=CostPolicy.free(),
        valid_from=begins,
    )
    register_agreement(uow_factory(), later, actor="cell")
    problem = built(uow_factory)
    [written] = [p for p in problem.problem["patients"] if p["id"] == chosen]
    assert written.get("earliest_day") == 2

    def at_once(document: dict[str, Any]) -> None:
        [entry] = [p for p in document["patients"] if p["id"] == chosen]
        del entry["earliest_day"]

    tampered = edited(problem, at_once)
    plan = solve_exact(
        with_manifest(parse_problem(tampered.problem), tampered.manifest), time_limit=30
    )
    with pytest.raises(ProblemNotAsBuilt) as refused:
        approver(tampered, plan)(uow_factory())
    assert refused.value.mismatches == [
        f"facility {ACADEMY}: accepts_from takes in {ORIGIN_MINISTRY}/intensive_care for "
        f"intensive_care from day 0 (the patients' earliest_day), where the agreements admit "
        f"{ORIGIN_MINISTRY}'s patients only from day 2 ({begins})"
    ]
    # as built, approved
    solved = solve_exact(problem.for_engines(), time_limit=30)
    assert approver(problem, solved)(uow_factory()).plan.admissions

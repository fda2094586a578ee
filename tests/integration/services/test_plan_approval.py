"""Approving regulating plans against the registry (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.audit import snapshot
from medevac.domain.errors import ConcurrentModification, InvalidValue
from medevac.domain.facilities import CapacityReport, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.plans import ApprovedPlan, PlanStatus
from medevac.domain.requests import PatientDecision, RequestStatus
from medevac.domain.vocabulary import FacilityKind, Precedence, Specialty
from medevac.planning import (
    Assignment,
    Engine,
    Plan,
    Quota,
    Unplaced,
    UnplacedReason,
    check_plan,
    document_text,
    parse_problem,
    solve,
    solve_exact,
)
from medevac.planning.checker import without_patients
from medevac.services import holds, manifests, regulating
from medevac.services.agreement_terms import admissions_after_agreement_ends
from medevac.services.auditing import audit, utc_now
from medevac.services.demo import ACADEMY_AGREEMENT_ID, AGREEMENT_ID, REQUEST_ID, build_demo
from medevac.services.patients import move_patient, patient_file
from medevac.services.quota_count import quota_overruns
from medevac.services.registry import register_agreement, register_facility, report_capacity
from medevac.services.regulating import (
    AdmittedAfterAgreementEnds,
    BuiltProblem,
    QuotaExceeded,
    RegistryChanged,
    approve_plan,
    build_problem,
)
from medevac.services.requests import (
    close_request,
    create_request,
    name_admission,
    respond_to_request,
)
from medevac.store.repositories import SqlApprovedPlanRepository
from tests.integration.services.builders import UowFactory, accepted_request, submitted_request
from tests.integration.services.test_regulating import selected_in_kyiv
from tests.manifest_edits import resealed

pytestmark = pytest.mark.storage


def selected_demo(uow_factory: UowFactory) -> None:
    """The demo with its request closed: the 24 patients are selected again."""
    build_demo(uow_factory(), actor="demo", regulate=False)
    close_request(uow_factory(), REQUEST_ID, reason="regulate centrally", actor="cell")


def selected(uow_factory: UowFactory, count: int) -> list[str]:
    """The selected demo (`selected_demo`); the ids of its first ``count`` selected patients."""
    selected_demo(uow_factory)
    with uow_factory() as uow:
        return sorted(p.id for p in uow.patients.list(status=PatientStatus.SELECTED))[:count]


def first_selected(uow_factory: UowFactory) -> str:
    """The selected demo; the id of its first selected patient."""
    [chosen] = selected(uow_factory, 1)
    return chosen


def built(uow_factory: UowFactory, **options: Any) -> BuiltProblem:
    return build_problem(uow_factory(), now=utc_now(), stale_after=timedelta(hours=24), **options)


def solved(uow_factory: UowFactory, **options: Any) -> tuple[BuiltProblem, Plan]:
    """The registry's problem, built (with ``options``), and its exact plan (solved with the
    manifest, as `plan solve` solves it)."""
    problem = built(uow_factory, **options)
    return problem, solve_exact(problem.for_engines(), time_limit=30)


def change_academy_agreement(uow_factory: UowFactory, **fields: Any) -> None:
    """Set fields of the demo's agreement with the academy (where the demo's 24 all go)."""
    with uow_factory() as uow:
        agreement = uow.agreements.get(ACADEMY_AGREEMENT_ID)
        for name, value in fields.items():
            setattr(agreement, name, value)
        uow.agreements.update(agreement)
        uow.commit()


def accepted_at_the_academy(uow_factory: UowFactory, count: int) -> tuple[ApprovedPlan, list[str]]:
    """The planned demo, with the first ``count`` of its 24 accepted by the academy since."""
    build_demo(uow_factory(), actor="demo", regulate=True)
    with uow_factory() as uow:
        [plan] = uow.plans.live()
    accepted = sorted(plan.open_patient_ids())[:count]
    for patient_id in accepted:
        move_patient(
            uow_factory(),
            patient_id,
            PatientStatus.ACCEPTED,
            actor="academy",
            role=ActorRole.RECEIVING_FACILITY,
        )
    return plan, accepted


def academy_overruns(
    uow_factory: UowFactory, *, placed: int, respect_quotas: bool = False
) -> tuple[BuiltProblem, Plan, list[str]]:
    """Build and solve the registry's problem, which sends ``placed`` patients, all to the
    academy; the plan's quota overruns. Built by default as `plan build --ignore-quotas`
    builds it, so that the plan may go beyond a quota with room for fewer."""
    problem, plan = solved(uow_factory, respect_quotas=respect_quotas)
    assert len(plan.assignments) == placed
    assert {a.facility for a in plan.assignments} == {"FAC-LODZ-MMA"}
    return problem, plan, quota_overruns(uow_factory(), problem.problem, plan, on=utc_now())


def approver(problem: BuiltProblem, plan: Plan) -> Callable[..., regulating.Approval]:
    """`regulating.approve` of this problem and plan by the cell: give it a unit of work and
    the options."""
    return partial(
        regulating.approve,
        problem=problem.problem,
        manifest=problem.manifest,
        plan=plan,
        actor="cell",
    )


def solved_demo(uow_factory: UowFactory) -> tuple[BuiltProblem, Plan]:
    """The selected demo's problem, built from the registry, and its exact plan."""
    selected_demo(uow_factory)
    return solved(uow_factory)


def test_approval_stores_the_plan_and_refers_selected_patients(uow_factory: UowFactory) -> None:
    problem, plan = solved_demo(uow_factory)
    approved = approve_plan(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="cell"
    )
    assert len(approved.admissions) == 24
    uow = uow_factory()
    with uow:
        stored = uow.plans.get(approved.id)
        statuses = {p.status for p in uow.patients.get_many(stored.open_patient_ids()).values()}
        trail = uow.audit.list(entity_type="approved_plan", entity_id=approved.id)
    assert stored == approved
    assert statuses == {PatientStatus.REFERRED}
    assert [r.action for r in trail] == ["approve"]
    first = stored.admissions[0]
    history = patient_file(uow_factory(), first.patient_id).patient.history
    assert f"regulated to {first.facility_id}" in history[-1].reason
    # every referral has its own audit record, written with the plan
    with uow:
        moves = [
            record
            for admission in stored.admissions
            for record in uow.audit.list(entity_type="patient", entity_id=admission.patient_id)
            if record.action == "move:selected->referred" and approved.id in record.reason
        ]
    assert len(moves) == 24
    assert {(r.actor, r.at) for r in moves} == {("cell", approved.approved_at)}
    assert all(r.before is not None and r.before["status"] == "selected" for r in moves)
    assert all(r.after is not None and r.after["status"] == "referred" for r in moves)


def test_a_changed_registry_refuses_approval_and_says_what_changed(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    move_patient(uow_factory(), "PT-0001", PatientStatus.DIED, actor="ward", reason="sepsis")
    report_capacity(
        uow_factory(),
        CapacityReport("FAC-LODZ-MMA", Specialty.NEUROLOGY, 1, 8, 0, 0, utc_now()),
        actor="academy",
    )
    with pytest.raises(RegistryChanged) as refused:
        approve_plan(
            uow_factory(),
            problem=problem.problem,
            manifest=problem.manifest,
            plan=plan,
            actor="cell",
        )
    changes = refused.value.changes
    assert any(c.startswith("patient PT-0001 changed (now died") for c in changes)
    assert any("capacity of FAC-LODZ-MMA/neurology was reported again" in c for c in changes)
    uow = uow_factory()
    with uow:
        assert uow.plans.live() == []
        other = next(p["id"] for p in problem.problem["patients"] if p["id"] != "PT-0001")
        assert uow.patients.get(other).status is PatientStatus.SELECTED


def test_a_refusal_says_what_changed_of_a_patient(uow_factory: UowFactory) -> None:
    # a refusal had said only "changed (now selected, version 3; the plan saw version 2)"
    problem, plan = solved_demo(uow_factory)
    move_patient(uow_factory(), "PT-0001", PatientStatus.DIED, actor="ward", reason="sepsis")
    entry = next(p for p in problem.problem["patients"] if p["id"] != "PT-0001")
    with uow_factory() as uow:
        patient = uow.patients.get(entry["id"])
        was = patient.precedence
        before = snapshot(patient)
        patient.precedence = (
            Precedence.URGENT if was is not Precedence.URGENT else Precedence.ROUTINE
        )
        patient.expected_length_of_stay_days = 29
        uow.patients.update(patient)
        audit(uow, "patient", patient, "update", actor="importer", before=before,
              reason="imported from corrections.csv")  # fmt: skip
        uow.commit()
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    [died] = [c for c in refused.value.changes if c.startswith("patient PT-0001 ")]
    assert "last change 'move:selected->died' by ward at " in died, died
    assert died.endswith("(sepsis)"), died
    [changed] = [c for c in refused.value.changes if c.startswith(f"patient {entry['id']} ")]
    assert f"precedence {was.value} -> {patient.precedence.value}" in changed, changed
    assert f"length_of_stay_days {entry['length_of_stay_days']} -> 29" in changed, changed
    assert "last change 'update' by importer at " in changed, changed
    assert "specialty" not in changed, changed


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("capacity", None),
        ("patients", [1, 2]),
        ("patients", {"PT-0001": "x"}),
        ("agreements", 5),
        ("held_admissions", {"FAC-LODZ-MMA/x": 1}),
        ("held_admissions", {"0": 1}),
        ("held_admissions", {"FAC-LODZ-MMA/0": 10**30}),
        ("held_admissions", {"FAC-LODZ-MMA/0": -1}),
        ("held", {"PT-0001": 1}),
        ("held", {"PT-0001": "FAC-LODZ-MMA@neurology@tomorrow+3"}),
    ],
)
def test_a_manifest_not_as_plan_build_wrote_it_is_refused_naming_the_key(
    uow_factory: UowFactory, key: str, value: Any
) -> None:
    # edited or cut short: approval had failed inside the comparison (KeyError, TypeError)
    problem, plan = solved_demo(uow_factory)
    manifest = {**problem.manifest, key: value}
    if value is None:
        del manifest[key]
    with pytest.raises(InvalidValue, match="was changed after `medevac plan build` wrote it"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=manifest, plan=plan, actor="cell"
        )
    # edited with its digest made anew: the key is named
    manifest = resealed(manifest)
    with pytest.raises(InvalidValue, match=f"'{key}' (must map ids to|has .*, not FACILITY)"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=manifest, plan=plan, actor="cell"
        )
    uow = uow_factory()
    with uow:
        assert uow.plans.live() == []


def test_a_problem_edited_after_the_build_is_refused(uow_factory: UowFactory) -> None:
    # beds added by hand: the plan fits the edited problem, not the registry
    problem, plan = solved_demo(uow_factory)
    edited = copy.deepcopy(problem.problem)
    first = edited["facilities"][0]
    specialty = next(iter(first["beds"]))
    beds = first["beds"][specialty]
    first["beds"][specialty] = [b + 5 for b in beds] if isinstance(beds, list) else beds + 5
    with pytest.raises(InvalidValue, match="was changed after `medevac plan build` wrote it"):
        approve_plan(
            uow_factory(), problem=edited, manifest=problem.manifest, plan=plan, actor="cell"
        )
    # the same content laid out anew (as a file read back) is the same problem
    again = json.loads(json.dumps(problem.problem, indent=3))
    approved = approve_plan(
        uow_factory(), problem=again, manifest=problem.manifest, plan=plan, actor="cell"
    )
    assert len(approved.admissions) == 24


@pytest.mark.parametrize(
    "edit",
    [
        # day 0 two days later: every admission would be stored two days late
        lambda m: {**m, "built_at": (datetime.fromisoformat(m["built_at"]) + timedelta(days=2))
                   .isoformat()},
        # a patient's version raised to the one it has since a change
        lambda m: {**m, "patients": {**m["patients"], "PT-0001": m["patients"]["PT-0001"] + 1}},
        # the problem's digest taken out, with the problem edited to its liking
        lambda m: {k: v for k, v in m.items() if k != "problem_sha256"},
        # a facility's report said to be left out, so that its changes would not count
        lambda m: {**m, "excluded": {**m["excluded"], "FAC-LODZ-MMA": 1}},
    ],
)  # fmt: skip
def test_a_manifest_edited_after_the_build_is_refused(
    uow_factory: UowFactory, edit: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    # its digest covered only the problem: a later built_at moved every admission date, and a
    # manifest without the problem's digest let an edited problem through (beds added by hand)
    problem, plan = solved_demo(uow_factory)
    with pytest.raises(InvalidValue, match=r"^manifest: (was changed after|has no 'manifest_sha)"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=edit(problem.manifest), plan=plan,
            actor="cell",
        )  # fmt: skip
    # one written before manifests had digests (or with them taken out) is refused too
    older = {k: v for k, v in problem.manifest.items() if not k.endswith("_sha256")}
    with pytest.raises(InvalidValue, match="written by medevac before 2026-12-06 or cut short"):
        approve_plan(uow_factory(), problem=problem.problem, manifest=older, plan=plan, actor="c")
    uow = uow_factory()
    with uow:
        assert uow.plans.live() == []


def test_a_patient_selected_after_the_build_refuses_approval(uow_factory: UowFactory) -> None:
    # the pool grew: the plan never considered this patient, so it cannot be approved as is
    problem, plan = solved_demo(uow_factory)
    uow = uow_factory()
    with uow:
        deferred = uow.patients.list(status=PatientStatus.DEFERRED)[0].id
    for step in (PatientStatus.SCREENING, PatientStatus.SELECTED):
        move_patient(uow_factory(), deferred, step, actor="screening team")
    with pytest.raises(RegistryChanged) as refused:
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="c"
        )
    assert refused.value.changes == [f"patient {deferred} became selected after the plan was built"]


def test_a_changed_facility_or_agreement_refuses_approval(uow_factory: UowFactory) -> None:
    # Facilities (capabilities, admission limits) and agreements (who each facility accepts)
    # shape the problem as much as patients and beds do.
    problem, plan = solved_demo(uow_factory)
    assert "FAC-LODZ-MMA" in problem.manifest["facilities"]
    assert AGREEMENT_ID in problem.manifest["agreements"]
    uow = uow_factory()
    with uow:
        academy = uow.facilities.get("FAC-LODZ-MMA")
        uow.facilities.update(replace(academy, daily_admission_limit=1))
        agreement = uow.agreements.get(AGREEMENT_ID)
        uow.agreements.update(replace(agreement, valid_to=utc_now().date() - timedelta(days=1)))
        uow.commit()
    with pytest.raises(RegistryChanged) as refused:
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="c"
        )
    changes = refused.value.changes
    assert any(c.startswith("facility FAC-LODZ-MMA changed") for c in changes), changes
    assert any(c.startswith(f"agreement {AGREEMENT_ID} changed") for c in changes), changes


def _another_approved_first(
    uow_factory: UowFactory, problem: BuiltProblem, plan: Plan
) -> tuple[tuple[BuiltProblem, Plan], ApprovedPlan, list[str]]:
    """A second problem built and solved now, and approved by "a" (the newer plan), before
    ``problem``'s ``plan``, whose approval by "b" is then refused: with the changes said."""
    later, replan = solved(uow_factory)
    newer = approve_plan(
        uow_factory(), problem=later.problem, manifest=later.manifest, plan=replan, actor="a"
    )
    with pytest.raises(RegistryChanged) as refused:
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan,
            actor="b",
        )  # fmt: skip
    return (later, replan), newer, refused.value.changes


def test_a_plan_approved_since_the_build_is_said_before_the_patients_it_moved(
    uow_factory: UowFactory,
) -> None:
    # two problems of the selected demo; the second approved first refers the patients, whose
    # changes had filled the lines shown before the plan that made them
    problem, plan = solved_demo(uow_factory)
    _, newer, changes = _another_approved_first(uow_factory, problem, plan)
    assert changes[0].startswith(f"plan {newer.id} was approved at "), changes[:2]
    patients = [c for c in changes if c.startswith("patient ")]
    assert len(patients) == 24
    # the newest change of each described (the 20 the refusal shows) names the plan whole
    assert all(c.endswith(f"by plan {newer.id})") for c in patients[:20]), patients[0]


def test_a_plan_approved_since_the_build_refuses_approval(uow_factory: UowFactory) -> None:
    # The planned demo: its patients are referred, and approvals leave them so. Two problems
    # are built from it and the newer plan is approved first. The older one would undo it
    # (its patients' current places are the ones before), and so would the newer one
    # approved a second time; the patients' own records show no change.
    build_demo(uow_factory(), actor="demo", regulate=True)
    problem, plan = solved(uow_factory)
    [first] = problem.manifest["live_plans"]
    (later, replan), newer, changes = _another_approved_first(uow_factory, problem, plan)
    assert changes[0].startswith(f"plan {newer.id} was approved at ")
    assert changes[0].endswith("by a, after the problem was built")
    assert changes[1] == f"plan {first}, live when the problem was built, is no longer live"
    assert not any(c.startswith("patient ") for c in changes), changes
    # the newer one a second time: said to be in force already (it had been sent back to be
    # built and solved again, as if the registry had moved on by itself)
    with pytest.raises(RegistryChanged) as again:
        approve_plan(
            uow_factory(), problem=later.problem, manifest=later.manifest, plan=replan, actor="b"
        )
    said = str(again.value)
    assert said.startswith(f"this plan was approved already, as {newer.id} at "), said
    assert "by a, and is the live plan; the registry changed since" in said
    assert said.endswith(
        "there is nothing to approve again; to change it, run `medevac plan build` and solve again"
    )
    assert again.value.changes[0].startswith(f"plan {newer.id} was approved at ")
    # built now, the problem knows the live plan; once that plan changes, it refuses again
    current, current_plan = solved(uow_factory)
    assert current.manifest["live_plans"] == {newer.id: newer.version}
    with uow_factory() as uow:
        live = uow.plans.get(newer.id)
        assert live.withdraw_patient(live.admissions[0].patient_id, "treated at home")
        uow.plans.update(live)
        uow.commit()
    with pytest.raises(RegistryChanged, match=rf"plan {newer.id} changed \(version"):
        approve_plan(
            uow_factory(), problem=current.problem, manifest=current.manifest,
            plan=current_plan, actor="c",
        )  # fmt: skip


def test_a_plan_superseded_since_the_build_refuses_approval(uow_factory: UowFactory) -> None:
    build_demo(uow_factory(), actor="demo", regulate=True)
    problem, plan = solved(uow_factory)
    [live] = problem.manifest["live_plans"]
    with uow_factory() as uow:
        earlier = uow.plans.get(live)
        earlier.supersede()
        uow.plans.update(earlier)
        uow.commit()
    with pytest.raises(RegistryChanged, match=f"plan {live}, live when the problem was built, is"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="a"
        )


def test_a_facility_left_out_of_the_problem_and_changed_since_refuses_approval(
    uow_factory: UowFactory,
) -> None:
    # a field hospital is left out; made a hospital, it would come in
    problem, plan = solved_demo(uow_factory)
    assert "FAC-FIELD-1" not in {f["id"] for f in problem.problem["facilities"]}
    assert "FAC-FIELD-1" in problem.manifest["facilities"]
    with uow_factory() as uow:
        field_hospital = uow.facilities.get("FAC-FIELD-1")
        uow.facilities.update(
            replace(field_hospital, kind=FacilityKind.HOSPITAL, daily_outpatient_throughput=None)
        )
        uow.commit()
    with pytest.raises(RegistryChanged, match="facility FAC-FIELD-1 changed"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="a"
        )


def test_a_manifest_time_without_a_time_zone_is_a_manifest_error(uow_factory: UowFactory) -> None:
    problem, plan = solved_demo(uow_factory)
    naive = datetime.fromisoformat(problem.manifest["built_at"]).replace(tzinfo=None)
    manifest = resealed({**problem.manifest, "built_at": naive.isoformat()})
    with pytest.raises(InvalidValue, match=r"manifest: 'built_at' .* has no time zone"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=manifest, plan=plan, actor="a"
        )


def test_an_agreement_that_lapsed_since_the_build_refuses_approval(
    uow_factory: UowFactory,
) -> None:
    # built yesterday, on the agreement's last day; approved today, after it ended
    selected_demo(uow_factory)
    yesterday = utc_now() - timedelta(days=1)
    uow = uow_factory()
    with uow:
        agreement = uow.agreements.get(AGREEMENT_ID)
        uow.agreements.update(replace(agreement, valid_to=yesterday.date()))
        uow.commit()
    problem = build_problem(uow_factory(), now=yesterday, stale_after=timedelta(days=30))
    plan = solve_exact(parse_problem(problem.problem), time_limit=30)
    with pytest.raises(RegistryChanged, match=f"agreement {AGREEMENT_ID} lapsed"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="c"
        )


def test_a_plan_that_would_admit_patients_before_today_is_refused(
    uow_factory: UowFactory,
) -> None:
    # built two days ago: its days 0 and 1 are past; nothing else changed since
    selected_demo(uow_factory)
    before = utc_now() - timedelta(days=2)
    problem = build_problem(uow_factory(), now=before, stale_after=timedelta(days=30))
    plan = solve_exact(parse_problem(problem.problem), time_limit=30)
    past = [a for a in plan.assignments if a.day < 2]
    assert past  # the demo's patients are admitted from day 0
    with pytest.raises(InvalidValue, match=rf"it admits {len(past)} patient\(s\) before today"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="c"
        )
    # the same plan with only its later admissions kept is approved
    later = without_patients(
        parse_problem(problem.problem), plan,
        {a.patient: "admission day past" for a in past}, UnplacedReason.BEDS_FULL,
    )  # fmt: skip
    approved = approve_plan(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=later, actor="c"
    )
    assert min(a.admission_date for a in approved.admissions) >= utc_now().date()


def test_a_plan_that_breaks_its_problem_is_refused(uow_factory: UowFactory) -> None:
    problem, plan = solved_demo(uow_factory)
    overfull = replace(
        plan,
        assignments=tuple(Assignment(a.patient, "FAC-LODZ-MMA", 0) for a in plan.assignments),
    )
    with pytest.raises(InvalidValue, match="does not fit its problem"):
        approve_plan(
            uow_factory(),
            problem=problem.problem,
            manifest=problem.manifest,
            plan=overfull,
            actor="cell",
        )


def test_a_plan_whose_objective_is_not_its_own_is_refused(uow_factory: UowFactory) -> None:
    # half its patients taken out by hand, its objective and status left as solved: the stored
    # plan would state them falsely
    problem, plan = solved_demo(uow_factory)
    half = len(plan.assignments) // 2
    halved = replace(
        plan,
        assignments=plan.assignments[:half],
        unplaced=plan.unplaced
        + tuple(Unplaced(a.patient, "taken out by hand") for a in plan.assignments[half:]),
    )
    with pytest.raises(InvalidValue, match="is not what the checker recomputes"):
        approver(problem, halved)(uow_factory())
    approved = approver(problem, plan)(uow_factory())  # the plan as solved is approved
    assert approved.plan.objective == plan.objective


def test_death_takes_a_patient_out_of_the_live_plan(uow_factory: UowFactory) -> None:
    problem, plan = solved_demo(uow_factory)
    approved = approve_plan(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="cell"
    )
    patient_id = approved.admissions[0].patient_id
    move_patient(uow_factory(), patient_id, PatientStatus.DIED, actor="ward", reason="sepsis")
    uow = uow_factory()
    with uow:
        stored = uow.plans.get(approved.id)
    assert patient_id not in stored.open_patient_ids()
    assert len(stored.open_patient_ids()) == 23
    admission = stored.admission_of(patient_id)
    assert admission is not None
    assert admission.withdrawn_reason == "patient died: sepsis"


def test_a_declined_referral_leaves_the_live_plan_and_is_not_current_in_the_next_problem(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    approved = approve_plan(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="cell"
    )
    patient_id = approved.admissions[0].patient_id
    move_patient(
        uow_factory(), patient_id, PatientStatus.DECLINED, actor="academy",
        reason="no bed after all", role=ActorRole.RECEIVING_FACILITY,
    )  # fmt: skip
    uow = uow_factory()
    with uow:
        stored = uow.plans.get(approved.id)
    assert patient_id not in stored.open_patient_ids()
    admission = stored.admission_of(patient_id)
    assert admission is not None
    assert admission.withdrawn_reason == "patient declined: no bed after all"
    # screened and selected again, the patient comes into the next problem without a place
    for status in (PatientStatus.SCREENING, PatientStatus.SELECTED):
        move_patient(uow_factory(), patient_id, status, actor="mission", reason="again")
    entry = next(p for p in built(uow_factory).problem["patients"] if p["id"] == patient_id)
    assert "current" not in entry


def test_replanning_keeps_approved_places_and_supersedes_the_old_plan(
    uow_factory: UowFactory,
) -> None:
    selected_demo(uow_factory)
    first_problem = built(uow_factory)
    first = approve_plan(
        uow_factory(),
        problem=first_problem.problem,
        manifest=first_problem.manifest,
        plan=solve_exact(parse_problem(first_problem.problem), time_limit=30),
        actor="cell",
    )
    again = built(uow_factory)
    currents = [p.get("current") for p in again.problem["patients"]]
    assert all(c is not None for c in currents)
    replan = solve_exact(parse_problem(again.problem), time_limit=30)
    kept = {(a.patient, a.facility) for a in replan.assignments}
    assert kept == {(a.patient_id, a.facility_id) for a in first.admissions}
    assert replan.breakdown.change == 0
    second = approve_plan(
        uow_factory(), problem=again.problem, manifest=again.manifest, plan=replan, actor="cell"
    )
    uow = uow_factory()
    with uow:
        assert [p.id for p in uow.plans.live()] == [second.id]
        superseded = uow.plans.get(first.id)
        assert superseded.status is PlanStatus.SUPERSEDED
        assert superseded.admissions == first.admissions  # left as they were
        assert superseded.version == first.version + 1
        [record] = [r for r in uow.audit.list(entity_id=first.id) if r.action == "supersede"]
    # the change of status alone: the whole plan (every admission) had been snapshotted twice
    assert record.before == {"status": "live", "version": first.version}
    assert record.after == {"status": "superseded", "version": first.version + 1}
    assert record.reason == f"superseded by {second.id}"


def test_two_approvals_at_once_leave_one_live_plan(
    uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two coordinators approve plans built from the same registry. The second one's checks
    # ran before the first committed: it saw no change and no live plan to supersede.
    problem, plan = solved_demo(uow_factory)
    first = approve_plan(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="a"
    )
    monkeypatch.setattr(regulating, "registry_changes", lambda *_: [])
    monkeypatch.setattr(SqlApprovedPlanRepository, "live", lambda self: [])
    with pytest.raises(RegistryChanged, match="another plan was approved"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="b"
        )
    monkeypatch.undo()
    uow = uow_factory()
    with uow:
        assert [p.id for p in uow.plans.live()] == [first.id]
        assert len(uow.audit.list(entity_type="approved_plan")) == 1


def test_a_change_committed_during_the_checks_is_not_approved_over(
    uow_factory: UowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # While the approval checks the registry, another coordinator withdraws a patient of the
    # plan in their own transaction. Exactly one of the two may win, and the loser must say why:
    # both databases make the other writer wait for the approval (SQLite's write lock,
    # PostgreSQL's advisory write lock), whose referral then beats its version check; where
    # the other commits first, the approval must refuse, naming the patient, instead of
    # failing on a stale version or referring them anyway.
    problem, plan = solved_demo(uow_factory)
    patient_id = plan.assignments[0].patient
    version = problem.manifest["patients"][patient_id]
    outcome: dict[str, BaseException | None] = {}

    def withdraw() -> None:
        try:
            move_patient(
                uow_factory(),
                patient_id,
                PatientStatus.CANCELLED,
                actor="other",
                reason="treated at home",
                expected_version=version,
            )
            outcome["other"] = None
        except BaseException as error:
            outcome["other"] = error

    other = threading.Thread(target=withdraw)
    checks = regulating.registry_changes

    def checks_then_concurrent_write(
        uow: Any, manifest: dict[str, Any], stored: Any, *more: Any
    ) -> list[str]:
        changes = checks(uow, manifest, stored, *more)
        if not other.is_alive() and "other" not in outcome:
            other.start()
            other.join(timeout=2)  # SQLite: still waiting for the approval's lock
        return changes

    monkeypatch.setattr(regulating, "registry_changes", checks_then_concurrent_write)
    try:
        approved = approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="a"
        )
        refusal = None
    except RegistryChanged as error:
        approved, refusal = None, error
    other.join(timeout=30)
    assert not other.is_alive()
    uow = uow_factory()
    with uow:
        status = uow.patients.get(patient_id).status
        live = uow.plans.live()
    if approved is not None:
        assert isinstance(outcome["other"], ConcurrentModification)
        assert status is PatientStatus.REFERRED
        assert [p.id for p in live] == [approved.id]
    else:
        assert outcome["other"] is None
        assert refusal is not None
        assert f"patient {patient_id} changed" in str(refusal)
        assert status is PatientStatus.CANCELLED
        assert live == []


@pytest.mark.parametrize(("quota", "over"), [(30, False), (24, False), (20, True)])
def test_a_plan_beyond_an_agreement_quota_is_approved_only_with_a_reason(
    uow_factory: UowFactory, quota: int, over: bool
) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    change_academy_agreement(uow_factory, quota=quota)
    problem, plan, lines = academy_overruns(uow_factory, placed=24)
    expected = (
        f"{ACADEMY_AGREEMENT_ID} allows {quota} patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS; "
        "this plan places 24 there"
    )
    assert lines == ([expected] if over else [])
    approve = approver(problem, plan)
    if over:
        with uow_factory() as uow:
            before = (uow.plans.live(), uow.patients.count_by_status(), len(uow.audit.list()))
        for reason in (None, "", "   "):
            with pytest.raises(QuotaExceeded) as refused:
                approve(uow_factory(), over_quota=reason)
            assert refused.value.overruns == [expected]
            with uow_factory() as uow:  # nothing written
                after = (uow.plans.live(), uow.patients.count_by_status(), len(uow.audit.list()))
            assert after == before
    approval = approve(uow_factory(), over_quota="partner agreed by phone, 5 Dec" if over else None)
    approved = approval.plan
    assert approval.over_quota == ([expected] if over else [])  # what the CLI prints
    with uow_factory() as uow:
        [record] = uow.audit.list(entity_type="approved_plan", entity_id=approved.id)
        assert [p.id for p in uow.plans.live()] == [approved.id]
    assert record.reason == (
        f"approved over quota (partner agreed by phone, 5 Dec): {expected}" if over else ""
    )


def test_a_plan_beyond_a_quota_can_be_approved_without_the_least_urgent(
    uow_factory: UowFactory,
) -> None:
    # the academy's quota is 20; the plan places all 24 of the demo there
    selected_demo(uow_factory)
    change_academy_agreement(uow_factory, quota=20)
    problem, plan, lines = academy_overruns(uow_factory, placed=24)
    assert lines
    approve = approver(problem, plan)
    with pytest.raises(InvalidValue, match="not both"):
        approve(uow_factory(), over_quota="agreed by phone", within_quotas=True)
    approval = approve(uow_factory(), within_quotas=True)
    assert approval.over_quota == []
    assert sorted(approval.left_out.values()) == [ACADEMY_AGREEMENT_ID] * 4
    weight = {p["id"]: problem.problem["precedences"][p["precedence"]]["weight"]
              for p in problem.problem["patients"]}  # fmt: skip
    kept = [a.patient for a in approval.solved.assignments]
    assert len(kept) == 20
    assert max(weight[p] for p in approval.left_out) <= min(weight[p] for p in kept)
    # between precedences of one weight (routine and convenience by default), the less urgent
    # are left out: the demo's convenience patients go before its routine ones
    rank = {p["id"]: Precedence(p["precedence"]).rank for p in problem.problem["patients"]}
    urgency = {p: (weight[p], -rank[p]) for p in rank}
    assert max(urgency[p] for p in approval.left_out) <= min(urgency[p] for p in kept)
    # what is stored is what the checker finds for the plan without them
    report = check_plan(parse_problem(problem.problem), approval.solved)
    assert report.feasible
    assert approval.plan.objective == pytest.approx(report.objective)
    assert approval.plan.objective > plan.objective
    assert approval.plan.solver_status == "feasible"
    assert {a.patient_id for a in approval.plan.admissions} == set(kept)
    assert {u.patient for u in approval.solved.unplaced} >= set(approval.left_out)
    assert quota_overruns(uow_factory(), problem.problem, approval.solved, on=utc_now()) == []
    with uow_factory() as uow:
        [record] = uow.audit.list(entity_type="approved_plan", entity_id=approval.plan.id)
        statuses = {p: uow.patients.get(p).status for p in [*kept, *approval.left_out]}
    assert record.reason.startswith("approved within quotas, leaving out 4 patient(s): ")
    assert all(f"{p} ({ACADEMY_AGREEMENT_ID})" in record.reason for p in approval.left_out)
    assert {statuses[p] for p in kept} == {PatientStatus.REFERRED}
    # left out, the four keep their status and are in the next problem
    assert {statuses[p] for p in approval.left_out} == {PatientStatus.SELECTED}
    assert set(approval.left_out) <= {p["id"] for p in built(uow_factory).problem["patients"]}


def test_plan_build_carries_a_quota_with_room_for_fewer_and_the_plan_keeps_to_it(
    uow_factory: UowFactory,
) -> None:
    # the academy's quota is 20 and the 24 of the demo could all go there
    selected_demo(uow_factory)
    change_academy_agreement(uow_factory, quota=20)
    problem = built(uow_factory)
    assert problem.quotas_held == [ACADEMY_AGREEMENT_ID]
    assert problem.quotas_tight == [
        f"{ACADEMY_AGREEMENT_ID} has room for 20 more patient(s) of ORG-ORIGIN-MOH at "
        "ORG-PARTNER-DMS (quota 20, 0 sent), and 24 in this problem could go there under it: "
        "the plan keeps to it, and the optimiser chooses who uses the room"
    ]
    with uow_factory() as uow:
        covered = sorted(s.value for s in uow.agreements.get(ACADEMY_AGREEMENT_ID).specialties)
    assert problem.manifest["quotas"] == [
        {
            "id": ACADEMY_AGREEMENT_ID,
            "room": 20,
            "organisations": ["ORG-ORIGIN-MOH"],
            "facilities": ["FAC-LODZ-MMA"],
            "specialties": covered,
        }
    ]
    # only the manifest carries it: the problem file is the one `--ignore-quotas` writes
    ignoring = built(uow_factory, respect_quotas=False)
    assert ignoring.problem == problem.problem
    assert (ignoring.quotas_tight, ignoring.quotas_held, ignoring.manifest["quotas"]) == (
        [],
        [],
        [],
    )
    plan = solve_exact(problem.for_engines(), time_limit=30)
    assert check_plan(problem.for_engines(), plan).feasible
    assert sum(1 for a in plan.assignments if a.facility == "FAC-LODZ-MMA") == 20
    # solved without the manifest, the plan places all 24 there, beyond the quota
    unkept = solve_exact(parse_problem(problem.problem), time_limit=30)
    assert [line.split()[0] for line in
            quota_overruns(uow_factory(), problem.problem, unkept, on=utc_now())] == [
        ACADEMY_AGREEMENT_ID
    ]  # fmt: skip
    assert approver(problem, plan)(uow_factory()).over_quota == []
    # a re-plan with room for 15: the plan keeps 15 of the places it approved
    change_academy_agreement(uow_factory, quota=15)
    again = built(uow_factory)
    assert [q["room"] for q in again.manifest["quotas"]] == [15]
    current = {p["id"] for p in again.problem["patients"] if "current" in p}
    assert len(current) == 20
    replan = solve_exact(again.for_engines(), time_limit=30)
    there = {a.patient for a in replan.assignments if a.facility == "FAC-LODZ-MMA"}
    assert len(there) == 15
    assert there <= current
    assert approver(again, replan)(uow_factory()).over_quota == []


def partner_ministry_hospital(
    uow_factory: UowFactory, facility_id: str, where: Coordinates, beds: int = 10
) -> None:
    """A hospital of the partner ministry (bound by the demo's agreement `AGREEMENT_ID`) with
    ``beds`` orthopaedic beds, reported now: the demo's 8 orthopaedic patients could go there
    as well as to the academy."""
    hospital = Facility(
        facility_id,
        "Partner Ministry Hospital",
        FacilityKind.HOSPITAL,
        "ORG-PARTNER-MOH",
        "PL",
        where,
        frozenset({Specialty.ORTHOPAEDICS}),
    )
    register_facility(uow_factory(), hospital, actor="cell")
    report = CapacityReport(hospital.id, Specialty.ORTHOPAEDICS, beds, beds, 0, 0, utc_now())
    report_capacity(uow_factory(), report, actor="cell")


def test_the_optimiser_gives_a_quota_s_room_to_those_with_nowhere_else_to_go(
    uow_factory: UowFactory,
) -> None:
    # the academy has room for 16 of the 24; its 8 orthopaedic patients could also go to a
    # partner ministry's hospital in Szczecin, further away. Giving the room to the most
    # urgent would leave 2 priority orthopaedic patients there and some of the others (down to
    # convenience) with no place; the exact plan places all 24, the 16 who have nowhere else
    # to go at the academy
    selected_demo(uow_factory)
    change_academy_agreement(uow_factory, quota=16)
    partner_ministry_hospital(uow_factory, "FAC-SZCZECIN-H", Coordinates(53.43, 14.55))
    problem = built(uow_factory)
    assert problem.quotas_held == [ACADEMY_AGREEMENT_ID]
    plan = solve_exact(problem.for_engines(), time_limit=30)
    assert plan.status.value == "optimal"
    entries = {p["id"]: p for p in problem.problem["patients"]}
    weight = {i: problem.problem["precedences"][p["precedence"]]["weight"]
              for i, p in entries.items()}  # fmt: skip
    orthopaedic = {i for i, p in entries.items() if p["specialty"] == "orthopaedics"}
    assert len(orthopaedic) == 8
    placed = {a.patient: a.facility for a in plan.assignments}
    assert len(placed) == 24
    academy = {i for i, f in placed.items() if f == "FAC-LODZ-MMA"}
    assert academy == set(entries) - orthopaedic
    assert {placed[i] for i in orthopaedic} == {"FAC-SZCZECIN-H"}
    # not the most urgent first: some sent to Szczecin are more urgent than some at the academy
    assert max(weight[i] for i in orthopaedic) > min(weight[i] for i in academy)
    # without the quota, the orthopaedic patients would rather go to the nearer academy
    free = solve_exact(parse_problem(problem.problem), time_limit=30)
    assert {a.facility for a in free.assignments} == {"FAC-LODZ-MMA"}
    assert approver(problem, plan)(uow_factory()).over_quota == []


def change_ministry_agreement(uow_factory: UowFactory, quota: int) -> None:
    """Set the quota of the demo's agreement with the partner ministry (its sanatoriums)."""
    with uow_factory() as uow:
        ministry = uow.agreements.get(AGREEMENT_ID)
        ministry.quota = quota
        uow.agreements.update(ministry)
        uow.commit()


def test_rival_agreements_are_both_carried_and_the_plan_keeps_to_both(
    uow_factory: UowFactory,
) -> None:
    selected_demo(uow_factory)
    change_academy_agreement(uow_factory, quota=20)
    # the ministry's agreement covers the 24's specialties too, but its sanatoriums offer none
    # of them: its quota of 5 does not make it short of room, and the academy's is carried
    change_ministry_agreement(uow_factory, quota=5)
    assert built(uow_factory).quotas_held == [ACADEMY_AGREEMENT_ID]
    # with a hospital of the ministry's for orthopaedics, nearer than the academy, the demo's
    # 8 orthopaedic patients could use either room: both are carried, and the plan chooses
    partner_ministry_hospital(uow_factory, "FAC-WARSAW-H", Coordinates(52.23, 21.01))
    problem = built(uow_factory)
    assert problem.quotas_held == [AGREEMENT_ID, ACADEMY_AGREEMENT_ID]
    assert [line.split(" ")[0] for line in problem.quotas_tight] == problem.quotas_held
    assert all(
        line.endswith("the plan keeps to it, and the optimiser chooses who uses the room")
        for line in problem.quotas_tight
    )
    rooms = {q["id"]: (q["room"], q["facilities"]) for q in problem.manifest["quotas"]}
    assert rooms == {
        AGREEMENT_ID: (5, ["FAC-CIECHOCINEK-SAN", "FAC-KOLOBRZEG-SAN", "FAC-WARSAW-H"]),
        ACADEMY_AGREEMENT_ID: (20, ["FAC-LODZ-MMA"]),
    }
    plan = solve_exact(problem.for_engines(), time_limit=30)
    places = Counter(a.facility for a in plan.assignments)
    assert len(plan.assignments) == 24  # both rooms together fit them all
    assert places["FAC-WARSAW-H"] == 5  # the nearer, full
    assert places["FAC-LODZ-MMA"] == 19
    # without them, the nearer hospital takes all 8 orthopaedic patients, beyond its room of 5
    free = solve_exact(parse_problem(problem.problem), time_limit=30)
    assert Counter(a.facility for a in free.assignments)["FAC-WARSAW-H"] == 8
    assert approver(problem, plan)(uow_factory()).over_quota == []


def another_academy_agreement(
    uow_factory: UowFactory, agreement_id: str, specialties: set[Specialty], quota: int | None
) -> Agreement:
    """Register another agreement with the academy's operator, as the academy's but for
    ``specialties`` and ``quota``; the academy's agreement."""
    with uow_factory() as uow:
        academy = uow.agreements.get(ACADEMY_AGREEMENT_ID)
    other = replace(
        academy, id=agreement_id, specialties=frozenset(specialties), quota=quota, version=0
    )
    register_agreement(uow_factory(), other, actor="cell")
    return academy


def test_plan_build_names_the_agreements_that_end_within_the_horizon(
    uow_factory: UowFactory,
) -> None:
    selected_demo(uow_factory)
    before = built(uow_factory)
    assert before.ending == []
    assert before.manifest["acceptance_ends"] == []
    today = utc_now().date()
    change_academy_agreement(uow_factory, valid_to=today + timedelta(days=3))
    problem = built(uow_factory)
    assert problem.ending == [
        f"{ACADEMY_AGREEMENT_ID} (ORG-ORIGIN-MOH at ORG-PARTNER-DMS) ends on "
        f"{(today + timedelta(days=3)).isoformat()}, day 3 of this problem: plans admit its "
        "patients on day 3 at the latest"
    ]
    assert problem.manifest["acceptance_ends"] == [
        {"facility": "FAC-LODZ-MMA", "organisation": "ORG-ORIGIN-MOH", "last_day": 3}
    ]
    # ending on the horizon's last day, it covers every admission day
    last = problem.problem["horizon_days"] - 1
    change_academy_agreement(uow_factory, valid_to=today + timedelta(days=last))
    at_last = built(uow_factory)
    assert at_last.ending == []
    assert at_last.manifest["acceptance_ends"] == []


def academy_ends_on_day(uow_factory: UowFactory, day: int) -> BuiltProblem:
    """The academy's agreement (under which the selected demo's 24 all go to the academy)
    ending on ``day`` of the problem; the problem built. The academy admits 8 a day: ending on
    day 1, it has room for 16 by then."""
    change_academy_agreement(uow_factory, valid_to=utc_now().date() + timedelta(days=day))
    return built(uow_factory)


def admitted_after(
    plan: Plan, problem: dict[str, Any], last_day: int, but: Specialty | None = None
) -> list[str]:
    """The plan's patients admitted at the academy after ``last_day`` (but those needing
    ``but``)."""
    specialty = {p["id"]: p["specialty"] for p in problem["patients"]}
    return sorted(
        a.patient
        for a in plan.assignments
        if a.facility == "FAC-LODZ-MMA" and a.day > last_day and specialty[a.patient] != but
    )


def test_the_manifest_carries_an_agreement_s_end_to_the_engines(uow_factory: UowFactory) -> None:
    selected_demo(uow_factory)
    before = built(uow_factory)
    problem = academy_ends_on_day(uow_factory, 1)
    # the problem is as before (the format cannot say it); the manifest says it
    assert problem.problem == before.problem
    assert problem.manifest["acceptance_ends"] == [
        {"facility": "FAC-LODZ-MMA", "organisation": "ORG-ORIGIN-MOH", "last_day": 1}
    ]
    manifest = json.loads(document_text(problem.manifest))  # as `plan build` writes it
    assert manifests.acceptance_ends(manifest) == [("FAC-LODZ-MMA", "ORG-ORIGIN-MOH", 1)]
    for engines in (
        problem.for_engines(),
        manifests.with_manifest(parse_problem(problem.problem), manifest),
    ):
        assert {f.id: dict(f.accepts_until) for f in engines.facilities} == {
            "FAC-CIECHOCINEK-SAN": {},
            "FAC-KOLOBRZEG-SAN": {},
            "FAC-LODZ-MMA": {"ORG-ORIGIN-MOH": 1},
        }
        assert engines.facility("FAC-LODZ-MMA").last_admission_day("ORG-ORIGIN-MOH") == 1
    # an end at a facility the problem lacks does not fit it
    edited = copy.deepcopy(problem.manifest)
    edited["acceptance_ends"][0]["facility"] = "FAC-NOWHERE"
    with pytest.raises(ValueError, match="'FAC-NOWHERE': not a facility of the problem"):
        manifests.with_manifest(parse_problem(problem.problem), edited)


@pytest.mark.parametrize("engine", [Engine.GREEDY, Engine.EXACT])
def test_a_plan_solved_with_the_manifest_admits_nobody_after_the_agreement_ends(
    uow_factory: UowFactory, engine: Engine
) -> None:
    selected_demo(uow_factory)
    problem = academy_ends_on_day(uow_factory, 1)
    # without the manifest, the 24 fill the academy on days 0-2
    free = solve_exact(parse_problem(problem.problem), time_limit=30)
    assert len(admitted_after(free, problem.problem, 1)) == 8
    plan = solve(problem.for_engines(), engine, time_limit=30)
    assert check_plan(problem.for_engines(), plan).feasible
    assert admitted_after(plan, problem.problem, 1) == []
    at_academy = [a for a in plan.assignments if a.facility == "FAC-LODZ-MMA"]
    assert len(at_academy) == 16  # room for 8 a day on days 0 and 1
    assert (
        admissions_after_agreement_ends(
            uow_factory(), problem.problem, plan, built_on=utc_now().date()
        )
        == []
    )
    assert len(approver(problem, plan)(uow_factory()).plan.admissions) == 16


def test_approval_refuses_a_plan_that_admits_patients_after_their_agreement_ends(
    uow_factory: UowFactory,
) -> None:
    selected_demo(uow_factory)
    problem = academy_ends_on_day(uow_factory, 1)
    free = solve_exact(parse_problem(problem.problem), time_limit=30)  # without the manifest
    late = admitted_after(free, problem.problem, 1)
    assert len(late) == 8
    today = utc_now().date()
    ends = (today + timedelta(days=1)).isoformat()
    expected = [
        f"patient {patient} is admitted at FAC-LODZ-MMA on day 2 "
        f"({(today + timedelta(days=2)).isoformat()}), after {ACADEMY_AGREEMENT_ID} "
        f"(ORG-ORIGIN-MOH at ORG-PARTNER-DMS) ends on {ends}, day 1 of the problem"
        for patient in late
    ]
    assert (
        admissions_after_agreement_ends(uow_factory(), problem.problem, free, built_on=today)
        == expected
    )
    with pytest.raises(AdmittedAfterAgreementEnds) as refused:
        approver(problem, free)(uow_factory())
    assert refused.value.admissions == expected
    assert str(refused.value).startswith(
        "the plan admits 8 patient(s) after the agreements they come under end: patient "
    )
    with uow_factory() as uow:  # nothing was written
        assert uow.plans.live() == []
        assert {p.status for p in uow.patients.get_many(late).values()} == {PatientStatus.SELECTED}
    # refused whatever the manifest says: one without the ends (written before they were)
    older = resealed({k: v for k, v in problem.manifest.items() if k != "acceptance_ends"})
    with pytest.raises(AdmittedAfterAgreementEnds):
        approve_plan(uow_factory(), problem=problem.problem, manifest=older, plan=free, actor="a")
    # the plan without the late patients is approved
    kept = without_patients(
        parse_problem(problem.problem),
        free,
        dict.fromkeys(late, "the agreement ends"),
        UnplacedReason.NO_AGREEMENT,
    )
    assert len(approver(problem, kept)(uow_factory()).plan.admissions) == 16


def test_a_sender_whose_specialties_end_apart_is_qualified_by_specialty(
    uow_factory: UowFactory,
) -> None:
    # a second agreement with the academy's operator covers orthopaedics, with no end within
    # the horizon; the academy's ends on day 1. The ministry's patients then come in as
    # "ORG-ORIGIN-MOH/specialty", and every specialty but orthopaedics ends on day 1
    selected_demo(uow_factory)
    another_academy_agreement(uow_factory, "AGR-DEMO-003", {Specialty.ORTHOPAEDICS}, 30)
    plain = built(uow_factory)
    assert plain.manifest["acceptance_ends"] == []
    assert {p["organisation"] for p in plain.problem["patients"]} == {"ORG-ORIGIN-MOH"}
    problem = academy_ends_on_day(uow_factory, 1)
    names = {p["organisation"] for p in problem.problem["patients"]}
    specialties = sorted({p["specialty"] for p in problem.problem["patients"]})
    assert names == {f"ORG-ORIGIN-MOH/{s}" for s in specialties}
    assert problem.manifest["acceptance_ends"] == [
        {"facility": "FAC-LODZ-MMA", "organisation": f"ORG-ORIGIN-MOH/{s}", "last_day": 1}
        for s in specialties
        if s != Specialty.ORTHOPAEDICS.value
    ]
    with uow_factory() as uow:
        covered = uow.agreements.get(ACADEMY_AGREEMENT_ID).specialties
    ends = (utc_now().date() + timedelta(days=1)).isoformat()
    assert problem.ending == [
        f"{ACADEMY_AGREEMENT_ID} (ORG-ORIGIN-MOH at ORG-PARTNER-DMS) ends on {ends}, day 1 of "
        "this problem: plans admit its patients in "
        + ", ".join(sorted(s.value for s in covered - {Specialty.ORTHOPAEDICS}))
        + " on day 1 at the latest; AGR-DEMO-003 cover(s) those in orthopaedics after it"
    ]
    academy = problem.for_engines().facility("FAC-LODZ-MMA")
    assert academy.last_admission_day("ORG-ORIGIN-MOH/orthopaedics") is None
    assert academy.last_admission_day("ORG-ORIGIN-MOH/neurology") == 1
    # the 16 others on days 0 and 1, the 8 orthopaedic patients after them
    for engine in (Engine.GREEDY, Engine.EXACT):
        plan = solve(problem.for_engines(), engine, time_limit=30)
        assert check_plan(problem.for_engines(), plan).feasible
        assert admitted_after(plan, problem.problem, 1, but=Specialty.ORTHOPAEDICS) == []
    assert len(plan.assignments) == 24
    # orthopaedic patients admitted after day 1 come under AGR-DEMO-003: not refused
    assert max(a.day for a in plan.assignments) > 1
    assert len(approver(problem, plan)(uow_factory()).plan.admissions) == 24


def test_malformed_ends_in_the_manifest_refuse_the_approval(uow_factory: UowFactory) -> None:
    selected_demo(uow_factory)
    problem = academy_ends_on_day(uow_factory, 3)
    plan = solve_exact(problem.for_engines(), time_limit=30)
    edited = copy.deepcopy(problem.manifest)
    edited["acceptance_ends"][0]["last_day"] = "3"
    with pytest.raises(
        InvalidValue,
        match=r"'acceptance_ends' entry 0 \(FAC-LODZ-MMA, ORG-ORIGIN-MOH\): 'last_day' must be a "
        "day of the problem",
    ):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=resealed(edited), plan=plan, actor="a"
        )
    edited["acceptance_ends"] = [problem.manifest["acceptance_ends"][0]] * 2
    with pytest.raises(InvalidValue, match=r"'acceptance_ends' entry 1 .*: a second end"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=resealed(edited), plan=plan, actor="a"
        )
    with uow_factory() as uow:
        assert uow.plans.live() == []


def test_agreements_whose_covers_cross_are_not_carried(uow_factory: UowFactory) -> None:
    # orthopaedics under the academy's and AGR-DEMO-003, ophthalmology under the academy's and
    # AGR-DEMO-004: the two sets cross, and counting the fewest covering agreements first is
    # no longer known to be exact, so nothing between these organisations is carried
    selected_demo(uow_factory)
    change_academy_agreement(uow_factory, quota=20)
    another_academy_agreement(
        uow_factory, "AGR-DEMO-003", {Specialty.ORTHOPAEDICS, Specialty.NEUROLOGY}, 3
    )
    another_academy_agreement(
        uow_factory, "AGR-DEMO-004", {Specialty.NEUROLOGY, Specialty.OPHTHALMOLOGY}, 2
    )
    problem = built(uow_factory)
    assert problem.quotas_held == []
    assert problem.manifest["quotas"] == []
    assert [line.split(" ")[0] for line in problem.quotas_tight] == [
        ACADEMY_AGREEMENT_ID,
        "AGR-DEMO-003",
        "AGR-DEMO-004",
    ]
    assert problem.quotas_tight[0].endswith(
        "AGR-DEMO-003, AGR-DEMO-004 cover(s) some of the same specialties, and the agreements "
        "covering them cross (a patient counts against the first with room), so it is not "
        "carried to the engines and a plan may go beyond it (`plan approve` then refuses it, "
        "or --within-quotas leaves out the least urgent)"
    )
    assert problem.for_engines().quotas == ()


def test_agreements_between_the_same_organisations_that_overlap_are_carried_together(
    uow_factory: UowFactory,
) -> None:
    # a second agreement with the academy's operator covers orthopaedics with a quota of 3:
    # an orthopaedic patient may count against either, so the two rooms together hold the
    # 24 (20 + 3), and the academy's alone those only it covers (16, within its 20: not carried)
    selected_demo(uow_factory)
    change_academy_agreement(uow_factory, quota=20)
    academy = another_academy_agreement(uow_factory, "AGR-DEMO-003", {Specialty.ORTHOPAEDICS}, 3)
    problem, plan = solved(uow_factory)
    together = f"{ACADEMY_AGREEMENT_ID}+AGR-DEMO-003"
    assert problem.quotas_held == [together]
    [quota] = problem.manifest["quotas"]
    covered = sorted(s.value for s in academy.specialties)
    in_problem = sorted({p["specialty"] for p in problem.problem["patients"]})
    assert (quota["room"], quota["facilities"]) == (23, ["FAC-LODZ-MMA"])
    assert quota["specialties"] == [s for s in covered if s in in_problem]
    assert problem.quotas_tight == [
        f"{together} have room together for 23 more patient(s) of ORG-ORIGIN-MOH at "
        f"ORG-PARTNER-DMS in {', '.join(quota['specialties'])}, and 24 in this problem could go "
        "there under them: the plan keeps to it, and the optimiser chooses who uses the room"
    ]
    assert len(plan.assignments) == 23
    # counted with the patients only the academy's agreement covers first, the 23 keep within
    # both quotas: the approval refuses nothing and leaves nobody out
    approval = approver(problem, plan)(uow_factory())
    assert approval.over_quota == []
    assert len(approval.solved.assignments) == 23


def test_a_quota_leaves_out_the_specialties_an_agreement_without_one_covers(
    uow_factory: UowFactory,
) -> None:
    # the academy's agreement (quota 10) covers every specialty of the 24, a second one without
    # a quota covers orthopaedics too: orthopaedic patients never go beyond a quota, so the
    # carried quota holds the others only. It held them all (the agreement's every specialty),
    # and the engines left orthopaedic patients out that the approval would have counted
    # against the second agreement
    selected_demo(uow_factory)
    change_academy_agreement(uow_factory, quota=10)
    another_academy_agreement(uow_factory, "AGR-DEMO-003", {Specialty.ORTHOPAEDICS}, None)
    problem, plan = solved(uow_factory)
    specialty = {p["id"]: p["specialty"] for p in problem.problem["patients"]}
    orthopaedic = {p for p, s in specialty.items() if s == Specialty.ORTHOPAEDICS.value}
    assert 0 < len(orthopaedic) < 14  # more than 10 of the others: the quota binds
    [quota] = problem.manifest["quotas"]
    assert quota["id"] == ACADEMY_AGREEMENT_ID
    assert Specialty.ORTHOPAEDICS.value not in quota["specialties"]
    placed = {a.patient for a in plan.assignments}
    assert placed >= orthopaedic
    assert len(placed - orthopaedic) == 10
    approval = approver(problem, plan)(uow_factory())
    assert approval.over_quota == []
    assert len(approval.plan.admissions) == len(placed)


@pytest.mark.parametrize(
    ("sent_by", "lapsing"), [("plan", False), ("request", False), ("request", True)]
)
def test_a_plan_kept_to_the_carried_quotas_is_not_refused_for_them_at_approval(
    uow_factory: UowFactory, sent_by: str, lapsing: bool
) -> None:
    # 10 of the 24 were sent to the academy's operator earlier (by the demo's plan, accepted
    # there since, or by a request it accepted today); the quota of 20 has room for 10 of the
    # 14 others. Lapsing on day 5 of the problem (the plan then admits its patients on day 5
    # at the latest), the agreement still counts every placement of the plan: the approval
    # counts them on its own day, whatever their admission day, as the quota does
    if sent_by == "plan":
        accepted_at_the_academy(uow_factory, 10)
    else:
        accepted_by_request(uow_factory, selected(uow_factory, 10), {})
    if lapsing:
        change_academy_agreement(uow_factory, valid_to=utc_now().date() + timedelta(days=5))
    change_academy_agreement(uow_factory, quota=20)
    problem = built(uow_factory)
    assert [(q["id"], q["room"]) for q in problem.manifest["quotas"]] == [
        (ACADEMY_AGREEMENT_ID, 10)
    ]
    assert "(quota 20, 10 sent), and 14 in this problem" in problem.quotas_tight[0]
    plan = solve_exact(problem.for_engines(), time_limit=30)
    at_academy = [a for a in plan.assignments if a.facility == "FAC-LODZ-MMA"]
    assert len(at_academy) == 10
    assert max(a.day for a in at_academy) > 0
    assert max(a.day for a in at_academy) <= (5 if lapsing else problem.problem["horizon_days"])
    unkept = solve_exact(parse_problem(problem.problem), time_limit=30)
    assert quota_overruns(uow_factory(), problem.problem, unkept, on=utc_now()) == [
        f"{ACADEMY_AGREEMENT_ID} allows 20 patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS; "
        "10 were sent there before and this plan places 14 there"
    ]
    approval = approver(problem, plan)(uow_factory())
    assert approval.over_quota == []
    assert len(approval.plan.admissions) == len(plan.assignments)


def test_a_quota_counts_the_sender_s_patients_by_the_names_the_problem_gives_them(
    uow_factory: UowFactory,
) -> None:
    # the academy's agreement leaves out ophthalmology, which the academy offers and 4 of the
    # 24 need: the ministry's patients come in as "ORG-ORIGIN-MOH/specialty", and the quota
    # counts them under those names
    selected_demo(uow_factory)
    with uow_factory() as uow:
        covered = uow.agreements.get(ACADEMY_AGREEMENT_ID).specialties - {Specialty.OPHTHALMOLOGY}
    change_academy_agreement(uow_factory, quota=10, specialties=covered)
    problem = built(uow_factory)
    assert any("FAC-LODZ-MMA offers ophthalmology" in line for line in problem.uncovered)
    [quota] = problem.manifest["quotas"]
    names = {p["organisation"] for p in problem.problem["patients"]}
    assert quota["organisations"] == sorted(n for n in names if not n.endswith("/ophthalmology"))
    assert all(n.startswith("ORG-ORIGIN-MOH/") for n in names)
    plan = solve_exact(problem.for_engines(), time_limit=30)
    assert sum(1 for a in plan.assignments if a.facility == "FAC-LODZ-MMA") == 10
    assert approver(problem, plan)(uow_factory()).over_quota == []


def test_the_manifest_s_quotas_come_back_as_the_engines_quotas(uow_factory: UowFactory) -> None:
    selected_demo(uow_factory)
    change_academy_agreement(uow_factory, quota=20)
    problem = built(uow_factory)
    manifest = json.loads(document_text(problem.manifest))  # as `plan build` writes it
    with uow_factory() as uow:
        covered = frozenset(s.value for s in uow.agreements.get(ACADEMY_AGREEMENT_ID).specialties)
    expected = Quota(
        ACADEMY_AGREEMENT_ID,
        20,
        frozenset({"ORG-ORIGIN-MOH"}),
        frozenset({"FAC-LODZ-MMA"}),
        covered,
    )
    assert manifests.quotas(manifest) == [expected]
    assert problem.for_engines().quotas == (expected,)
    assert manifests.with_manifest(parse_problem(problem.problem), manifest).quotas == (expected,)
    # the approval refuses a manifest whose quotas are not as `plan build` wrote them
    plan = solve_exact(problem.for_engines(), time_limit=30)
    edited = copy.deepcopy(problem.manifest)
    edited["quotas"][0]["room"] = "20"
    with pytest.raises(InvalidValue, match=rf"'quotas' entry 0 \({ACADEMY_AGREEMENT_ID}\): 'room'"):
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=resealed(edited), plan=plan, actor="a"
        )
    # a quota at a facility the problem lacks does not fit it
    edited["quotas"][0] |= {"room": 20, "facilities": ["FAC-NOWHERE"]}
    with pytest.raises(ValueError, match="'FAC-NOWHERE' is not a facility of the problem"):
        manifests.with_manifest(parse_problem(problem.problem), edited)


def test_within_quotas_changes_nothing_where_the_plan_keeps_to_them(
    uow_factory: UowFactory,
) -> None:
    problem, plan = solved_demo(uow_factory)
    approval = regulating.approve(
        uow_factory(),
        problem=problem.problem,
        manifest=problem.manifest,
        plan=plan,
        actor="cell",
        within_quotas=True,
    )
    assert approval.left_out == {}
    assert approval.solved == plan
    assert approval.plan.solver_status == plan.status.value


def test_patients_sent_before_count_against_the_quota_of_the_next_plan(
    uow_factory: UowFactory,
) -> None:
    # the demo's plan sent its 24 to the academy; 10 are accepted there since. The re-plan
    # places the other 14: under a quota of 20 that is 24 under the agreement, not 14
    _, accepted = accepted_at_the_academy(uow_factory, 10)
    for quota, over in ((24, False), (20, True)):
        change_academy_agreement(uow_factory, quota=quota)
        problem, replanned, lines = academy_overruns(uow_factory, placed=14)
        expected = (
            f"{ACADEMY_AGREEMENT_ID} allows {quota} patients of ORG-ORIGIN-MOH at "
            "ORG-PARTNER-DMS; 10 were sent there before and this plan places 14 there"
        )
        assert lines == ([expected] if over else [])
    with pytest.raises(QuotaExceeded):
        approve_plan(
            uow_factory(),
            problem=problem.problem,
            manifest=problem.manifest,
            plan=replanned,
            actor="cell",
        )
    # cancelled before they went, or sent under an agreement not yet in force: not counted
    move_patient(
        uow_factory(), accepted[0], PatientStatus.CANCELLED, actor="cell", reason="stayed home"
    )
    problem = built(uow_factory)
    assert quota_overruns(uow_factory(), problem.problem, replanned, on=utc_now()) == [
        expected.replace("10 were sent", "9 were sent")
    ]
    change_academy_agreement(uow_factory, valid_from=utc_now().date() + timedelta(days=30))
    later = utc_now() + timedelta(days=30)
    assert quota_overruns(uow_factory(), problem.problem, replanned, on=later) == []


def test_patients_a_request_sent_count_against_the_quota_too(uow_factory: UowFactory) -> None:
    # 10 of the 24 go by a request the academy's operator accepts; a plan then places the 14
    # others at the academy: under a quota of 20 that is 24 under its agreement
    chosen = selected(uow_factory, 10)
    accepted_by_request(uow_factory, chosen, {})
    change_academy_agreement(uow_factory, quota=20)
    problem, plan, lines = academy_overruns(uow_factory, placed=14)
    assert lines == [
        f"{ACADEMY_AGREEMENT_ID} allows 20 patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS; "
        "10 were sent there before and this plan places 14 there"
    ]
    change_academy_agreement(uow_factory, quota=24)
    assert quota_overruns(uow_factory(), problem.problem, plan, on=utc_now()) == []


def test_answers_recorded_before_their_time_was_still_count_against_the_quota(
    uow_factory: UowFactory,
) -> None:
    # as above, with the answer stored as before revision 0005 (no decided_at)
    chosen = selected(uow_factory, 10)
    request_id = accepted_by_request(uow_factory, chosen, {})
    with uow_factory() as uow:
        request = uow.requests.get(request_id)
        for line in request.patients:
            line.decided_at = None
        uow.requests.update(request)
        uow.commit()
    change_academy_agreement(uow_factory, quota=20)
    _, _, lines = academy_overruns(uow_factory, placed=14)
    assert lines == [
        f"{ACADEMY_AGREEMENT_ID} allows 20 patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS; "
        "10 were sent there before and this plan places 14 there"
    ]


def test_beds_of_patients_sent_since_a_report_are_not_given_away_by_a_re_plan(
    uow_factory: UowFactory,
) -> None:
    # the demo's plan sends its 24 to the academy; two are accepted there after its reports,
    # so the next problem holds neither them (past referral) nor, before this, their beds
    build_demo(uow_factory(), actor="demo", regulate=True)
    before = built(uow_factory)
    plan, sent = accepted_at_the_academy(uow_factory, 2)  # the demo stays as it was built
    with uow_factory() as uow:
        patients = uow.patients.get_many(plan.open_patient_ids())
    after = built(uow_factory)

    assert {p["id"] for p in after.problem["patients"]} == {
        p["id"] for p in before.problem["patients"]
    } - set(sent)
    expected = copy.deepcopy(_beds(before.problem))
    today = utc_now().date()
    for patient_id in sent:
        admission = plan.admission_of(patient_id)
        assert admission is not None
        assert admission.facility_id == "FAC-LODZ-MMA"
        patient = patients[patient_id]
        specialty = patient.required_specialties[0].value
        first = (admission.admission_date - today).days
        stay = patient.expected_length_of_stay_days or holds.DEFAULT_LENGTH_OF_STAY_DAYS
        row = expected[("FAC-LODZ-MMA", specialty)]
        for day in range(max(0, first), min(len(row), first + stay)):
            row[day] = max(0, row[day] - 1)
    assert _beds(after.problem) == expected
    assert _beds(after.problem) != _beds(before.problem)
    assert len(after.held) >= 1
    assert all(line.startswith("FAC-LODZ-MMA ") for line in after.held)
    assert sorted(i for line in after.held for i in sent if i in line) == sent
    # the re-plan is approved: the plan that sent them is superseded, their beds stay held
    replanned = solve_exact(after.for_engines(), time_limit=30)
    approve_plan(
        uow_factory(),
        problem=after.problem,
        manifest=after.manifest,
        plan=replanned,
        actor="cell",
    )
    with uow_factory() as uow:
        assert all(p.id != plan.id for p in uow.plans.live())
    assert _beds(built(uow_factory).problem) == expected
    # a report made since the acceptance is the academy's own count: taken as it is
    for specialty in {patients[i].required_specialties[0] for i in sent}:
        report_capacity(
            uow_factory(),
            CapacityReport("FAC-LODZ-MMA", specialty, 5, 8, 0, 0, utc_now()),
            actor="academy",
        )
    again = built(uow_factory)
    assert again.held == []


def _beds(problem: dict[str, Any]) -> dict[tuple[str, str], list[int]]:
    return {
        (f["id"], specialty): list(beds)
        for f in problem["facilities"]
        for specialty, beds in f["beds"].items()
    }


def day_0(plan: Plan) -> int:
    """The plan's admissions at the academy on the problem's first day."""
    return sum(1 for a in plan.assignments if (a.facility, a.day) == ("FAC-LODZ-MMA", 0))


def test_admissions_of_patients_sent_earlier_are_kept_beside_the_problem(
    uow_factory: UowFactory,
) -> None:
    # the format's daily admission limit is one number: the manifest keeps who arrives when
    build_demo(uow_factory(), actor="demo", regulate=True)
    with uow_factory() as uow:
        [plan] = uow.plans.live()
    today = utc_now().date()
    first_day = sorted(a.patient_id for a in plan.admissions if a.admission_date == today)
    move_patient(
        uow_factory(),
        first_day[0],
        PatientStatus.ACCEPTED,
        actor="academy",
        role=ActorRole.RECEIVING_FACILITY,
    )
    problem = built(uow_factory)
    assert problem.manifest["held_admissions"] == {"FAC-LODZ-MMA/0": 1}
    [academy] = [f for f in problem.problem["facilities"] if f["id"] == "FAC-LODZ-MMA"]
    limit = academy["daily_admission_limit"]
    others = [p["id"] for p in problem.problem["patients"]]
    solved = solve_exact(parse_problem(problem.problem), time_limit=30)

    def on_day_0(count: int) -> Plan:
        placed = tuple(Assignment(p, "FAC-LODZ-MMA", 0) for p in others[:count])
        return replace(solved, assignments=placed)

    assert manifests.admission_limit_overruns(
        problem.problem, problem.manifest, on_day_0(limit)
    ) == [
        f"FAC-LODZ-MMA day 0: {limit} admissions planned and 1 patient(s) sent earlier "
        f"arriving, against a daily limit of {limit}"
    ]
    assert (
        manifests.admission_limit_overruns(problem.problem, problem.manifest, on_day_0(limit - 1))
        == []
    )
    # the engines count them when given them (`plan solve` reads them from the manifest)
    assert day_0(solved) == limit
    counted = solve_exact(problem.for_engines(), time_limit=30)
    assert day_0(counted) == limit - 1
    assert manifests.admission_limit_overruns(problem.problem, problem.manifest, counted) == []
    # admitted today, the patient has taken one of today's admissions: it still counts (its
    # arrival had freed its slot, and a plan could pass the limit: found by a review)
    for step in (PatientStatus.SCHEDULED, PatientStatus.IN_TRANSIT, PatientStatus.ADMITTED):
        role = ActorRole.RECEIVING_FACILITY if step is PatientStatus.ADMITTED else None
        move_patient(
            uow_factory(), first_day[0], step, actor="cell", role=role or ActorRole.COORDINATOR
        )
    assert built(uow_factory).manifest["held_admissions"] == {"FAC-LODZ-MMA/0": 1}


def accepted_by_request(
    uow_factory: UowFactory, patient_ids: list[str], admissions: dict[str, tuple[str, Any]]
) -> str:
    """A request of the demo's ministry to the academy's operator for ``patient_ids``, submitted
    and accepted whole, with ``admissions`` named; its id."""
    return accepted_request(
        uow_factory, "ORG-ORIGIN-MOH", "ORG-PARTNER-DMS", patient_ids, admissions
    )


def test_beds_of_patients_a_request_accepted_for_a_named_facility_are_held(
    uow_factory: UowFactory,
) -> None:
    # two patients go by request; the answer names the academy and day 2 for the first only
    selected_demo(uow_factory)
    before = built(uow_factory)
    with uow_factory() as uow:
        chosen = sorted(p.id for p in uow.patients.list(status=PatientStatus.SELECTED))[:2]
        patients = uow.patients.get_many(chosen)
    today = utc_now().date()
    accepted_by_request(
        uow_factory, chosen, {chosen[0]: ("FAC-LODZ-MMA", today + timedelta(days=2))}
    )
    after = built(uow_factory)

    held = patients[chosen[0]]
    expected = copy.deepcopy(_beds(before.problem))
    row = expected[("FAC-LODZ-MMA", held.required_specialties[0].value)]
    stay = held.expected_length_of_stay_days or holds.DEFAULT_LENGTH_OF_STAY_DAYS
    for day in range(2, min(len(row), 2 + stay)):
        row[day] = max(0, row[day] - 1)
    assert _beds(after.problem) == expected
    assert _beds(after.problem) != _beds(before.problem)
    [line] = after.held
    assert chosen[0] in line
    assert chosen[1] not in line
    assert after.manifest["held_admissions"] == {"FAC-LODZ-MMA/2": 1}
    assert {p["id"] for p in after.problem["patients"]}.isdisjoint(chosen)


def test_a_patient_still_on_its_way_after_its_day_holds_its_whole_stay_from_day_0(
    uow_factory: UowFactory,
) -> None:
    # accepted by request for the academy today, then on its way: built 4 and 12 days later,
    # with it not yet admitted, its bed is held for its whole stay from the build's day 0 and
    # its admission counts on day 0. The hold started on its planned day: 4 days later it had
    # shrunk by 4 days, 12 days later it was gone, and the admission was no longer counted
    chosen = first_selected(uow_factory)
    with uow_factory() as uow:
        patient = uow.patients.get(chosen)
    stay = patient.expected_length_of_stay_days or holds.DEFAULT_LENGTH_OF_STAY_DAYS
    specialty = patient.required_specialties[0].value
    accepted_by_request(uow_factory, [chosen], {chosen: ("FAC-LODZ-MMA", utc_now().date())})
    for step in (PatientStatus.SCHEDULED, PatientStatus.IN_TRANSIT):
        move_patient(uow_factory(), chosen, step, actor="cell")
    for later in (4, 12):
        now = utc_now() + timedelta(days=later)
        problem = build_problem(uow_factory(), now=now, stale_after=timedelta(days=30))
        assert problem.manifest["held"] == {
            chosen: f"FAC-LODZ-MMA@{specialty}@{now.date().isoformat()}+{stay}"
        }
        assert problem.manifest["held_admissions"] == {"FAC-LODZ-MMA/0": 1}


def test_an_answer_given_before_a_withdrawn_acceptance_no_longer_names_the_bed(
    uow_factory: UowFactory,
) -> None:
    # accepted by request for the academy, the request closed, the acceptance withdrawn; the
    # patient is then planned again and accepted where the new plan sends it
    chosen = first_selected(uow_factory)
    today = utc_now().date()
    request_id = accepted_by_request(
        uow_factory, [chosen], {chosen: ("FAC-LODZ-MMA", today + timedelta(days=5))}
    )
    with uow_factory() as uow:
        answer = holds.sent_destinations(uow, [chosen])[chosen]
    assert (answer.facility_id, answer.admission_date) == ("FAC-LODZ-MMA", today + timedelta(5))
    close_request(uow_factory(), request_id, reason="done", actor="cell")
    move_patient(
        uow_factory(), chosen, PatientStatus.SELECTED, actor="cell", reason="flight cancelled"
    )
    problem, plan = solved(uow_factory)
    approve_plan(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="cell"
    )
    move_patient(
        uow_factory(),
        chosen,
        PatientStatus.ACCEPTED,
        actor="academy",
        role=ActorRole.RECEIVING_FACILITY,
    )
    [assignment] = [a for a in plan.assignments if a.patient == chosen]
    with uow_factory() as uow:
        now = holds.sent_destinations(uow, [chosen])[chosen]
        [line] = uow.requests.get(request_id).patients
    assert line.facility_id == "FAC-LODZ-MMA"  # the closed request keeps its answer
    assert (now.facility_id, now.admission_date) == (
        assignment.facility,
        problem_day(problem, assignment.day),
    )
    assert now.admission_date != today + timedelta(days=5)
    # nor can the closed request's answer be made to say where it goes now
    with pytest.raises(InvalidValue, match=f"{chosen} was accepted again after request"):
        name_admission(uow_factory(), request_id, chosen, facility_id="FAC-LODZ-MMA", actor="x")


def problem_day(problem: BuiltProblem, day: int) -> Any:
    """The date of a problem's planning day."""
    built_at = datetime.fromisoformat(problem.manifest["built_at"])
    return built_at.date() + timedelta(days=day)


@pytest.mark.parametrize(
    ("facility", "day", "message"),
    [
        ("FAC-NOWHERE", 0, "facility 'FAC-NOWHERE' does not exist"),
        (
            "FAC-CIECHOCINEK-SAN",
            0,
            "FAC-CIECHOCINEK-SAN is operated by ORG-PARTNER-MOH, not by the receiving "
            "organisation ORG-PARTNER-DMS",
        ),
        ("FAC-LODZ-MMA", -1, "is before today"),
    ],
)
def test_an_admission_the_registry_cannot_take_is_refused_naming_the_patient(
    uow_factory: UowFactory, facility: str, day: int, message: str
) -> None:
    chosen = first_selected(uow_factory)
    with pytest.raises(InvalidValue, match=f"patient '{chosen}'.*{re.escape(message)}"):
        accepted_by_request(
            uow_factory, [chosen], {chosen: (facility, utc_now().date() + timedelta(days=day))}
        )
    with uow_factory() as uow:
        patient = uow.patients.get(chosen)
        [request] = uow.requests.list(status=RequestStatus.SUBMITTED)
    assert patient.status is PatientStatus.REFERRED
    assert request.line(chosen).decision is PatientDecision.PENDING


def test_an_admission_named_after_the_answer_holds_the_bed_from_then_on(
    uow_factory: UowFactory,
) -> None:
    chosen = first_selected(uow_factory)
    request_id = accepted_by_request(uow_factory, [chosen], {})
    before = built(uow_factory)
    assert before.without_destination == [chosen]
    assert before.held == []
    with pytest.raises(InvalidValue, match="FAC-CIECHOCINEK-SAN is operated by ORG-PARTNER-MOH"):
        name_admission(
            uow_factory(), request_id, chosen, facility_id="FAC-CIECHOCINEK-SAN", actor="academy"
        )
    close_request(uow_factory(), request_id, reason="answered", actor="cell")  # still named
    request = name_admission(
        uow_factory(), request_id, chosen, facility_id="FAC-LODZ-MMA", actor="academy"
    )
    assert request.line(chosen).admission_date == utc_now().date()
    after = built(uow_factory)
    assert after.without_destination == []
    [line] = after.held
    assert line.startswith("FAC-LODZ-MMA ")
    assert chosen in line
    assert after.manifest["held_admissions"] == {"FAC-LODZ-MMA/0": 1}
    with uow_factory() as uow:
        [record] = [
            r
            for r in uow.audit.list(entity_type="treatment_request", entity_id=request_id)
            if r.action == "name_admission"
        ]
    assert record.reason == f"{chosen} to FAC-LODZ-MMA from {utc_now().date()}"
    # once on its way, the admission is the facility's to change, not the request's
    for step in (PatientStatus.SCHEDULED, PatientStatus.IN_TRANSIT):
        move_patient(uow_factory(), chosen, step, actor="cell")
    with pytest.raises(InvalidValue, match=f"{chosen} is in_transit"):
        name_admission(
            uow_factory(), request_id, chosen, facility_id="FAC-LODZ-MMA", actor="academy"
        )


def test_approval_names_live_requests_whose_patients_the_plan_admits_elsewhere(
    uow_factory: UowFactory,
) -> None:
    # the demo's request asks the academy's operator, and the plan admits its 24 at the academy
    build_demo(uow_factory(), actor="demo", regulate=False)
    with uow_factory() as uow:
        referred = sorted(uow.requests.get(REQUEST_ID).open_patient_ids())
        assert regulating.requests_elsewhere(uow, solved(uow_factory)[1]) == []
    # asked of the partner ministry instead, whose sanatoriums only rehabilitate
    close_request(uow_factory(), REQUEST_ID, reason="ask the ministry", actor="cell")
    to_ministry = submitted_request(uow_factory, "ORG-ORIGIN-MOH", "ORG-PARTNER-MOH", referred)
    problem, plan = solved(uow_factory)
    assert {a.facility for a in plan.assignments} == {"FAC-LODZ-MMA"}
    approval = regulating.approve(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="cell"
    )
    assert approval.requests_elsewhere == [
        f"{to_ministry} asks ORG-PARTNER-MOH to treat 24 patient(s) this plan admits at another "
        f"organisation's facilities ({', '.join(referred[:5])}, ...)"
    ]
    # that request closed; two asked of the academy's operator, one of the sanatoriums'
    close_request(uow_factory(), to_ministry, reason="the academy takes them", actor="cell")
    with uow_factory() as uow:
        assert regulating.requests_elsewhere(uow, plan) == []
        # closing left the plan's referral standing (the plan places them at the academy)
        assert {uow.patients.get(p).status for p in referred} == {PatientStatus.REFERRED}
    for patient_id in referred[:3]:  # taken back by hand to be asked again
        move_patient(uow_factory(), patient_id, PatientStatus.SELECTED, actor="cell", reason="ask")
    drafts = [
        create_request(
            uow_factory(),
            from_organisation_id="ORG-ORIGIN-MOH",
            to_organisation_id=receiver,
            patient_ids=ids,
            actor="cell",
        ).id
        for receiver, ids in (("ORG-PARTNER-DMS", referred[:2]), ("ORG-PARTNER-MOH", referred[2:3]))
    ]
    with uow_factory() as uow:
        assert regulating.requests_elsewhere(uow, plan) == [
            f"{drafts[1]} asks ORG-PARTNER-MOH to treat 1 patient(s) this plan admits at another "
            f"organisation's facilities ({referred[2]})"
        ]


def test_an_agreement_whose_quota_is_used_up_covers_nobody_in_the_next_problem(
    uow_factory: UowFactory,
) -> None:
    # 10 of the demo's 24 accepted at the academy under a quota of 10: the other 14 can no
    # longer go there under that agreement
    accepted_at_the_academy(uow_factory, 10)
    change_academy_agreement(uow_factory, quota=10)
    within = built(uow_factory)
    assert within.quotas_full == [
        f"{ACADEMY_AGREEMENT_ID} allows 10 patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS and "
        "10 were sent there"
    ]
    [academy] = [f for f in within.problem["facilities"] if f["id"] == "FAC-LODZ-MMA"]
    senders = {p["organisation"].split("/")[0] for p in within.problem["patients"]}
    assert not any(name.split("/")[0] in senders for name in academy["accepts_from"])
    plan = solve_exact(parse_problem(within.problem), time_limit=30)
    assert "FAC-LODZ-MMA" not in {a.facility for a in plan.assignments}
    approve_plan(
        uow_factory(), problem=within.problem, manifest=within.manifest, plan=plan, actor="cell"
    )  # not refused
    # built as before, the plan goes over the quota and is refused without a reason
    again = build_problem(
        uow_factory(), now=utc_now(), stale_after=timedelta(hours=24), respect_quotas=False
    )
    assert again.quotas_full == []
    over = solve_exact(again.for_engines(), time_limit=30)
    assert "FAC-LODZ-MMA" in {a.facility for a in over.assignments}
    with pytest.raises(QuotaExceeded):
        approve_plan(
            uow_factory(), problem=again.problem, manifest=again.manifest, plan=over, actor="cell"
        )


def test_patients_count_against_the_next_agreement_with_room(uow_factory: UowFactory) -> None:
    # a second agreement with the academy's operator covers what the first covers: once the
    # first's quota of 10 is used up, the re-plan's 14 count against the second's 20
    accepted_at_the_academy(uow_factory, 10)
    change_academy_agreement(uow_factory, quota=10)
    with uow_factory() as uow:
        first = uow.agreements.get(ACADEMY_AGREEMENT_ID)
    second = replace(first, id=f"{ACADEMY_AGREEMENT_ID}-B", quota=20, version=0)
    register_agreement(uow_factory(), second, actor="cell")
    problem, plan, lines = academy_overruns(uow_factory, placed=14, respect_quotas=True)
    assert problem.quotas_full == [
        f"{ACADEMY_AGREEMENT_ID} allows 10 patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS and "
        "10 were sent there"
    ]
    assert lines == []
    # with room for 13 under the second, the 14th counts against the first, beyond its quota
    with uow_factory() as uow:
        smaller = uow.agreements.get(second.id)
        smaller.quota = 13
        uow.agreements.update(smaller)
        uow.commit()
    assert quota_overruns(uow_factory(), problem.problem, plan, on=utc_now()) == [
        f"{ACADEMY_AGREEMENT_ID} allows 10 patients of ORG-ORIGIN-MOH at ORG-PARTNER-DMS; "
        "10 were sent there before and this plan places 1 there"
    ]


@pytest.mark.parametrize(
    ("receiver", "held"), [("ORG-PARTNER-DMS", True), ("ORG-PARTNER-MOH", False)]
)
def test_an_acceptance_keeps_the_plans_admission_only_at_the_accepting_organisation(
    uow_factory: UowFactory, receiver: str, held: bool
) -> None:
    # referred to `receiver`, then planned at the academy (the defence ministry's), then
    # accepted with no facility named: the plan's admission stands only if the academy's
    # operator accepted; otherwise nobody knows where the patient goes
    chosen = first_selected(uow_factory)
    request_id = submitted_request(uow_factory, "ORG-ORIGIN-MOH", receiver, [chosen])
    problem, plan = solved(uow_factory)
    [place] = [a for a in plan.assignments if a.patient == chosen]
    assert place.facility == "FAC-LODZ-MMA"
    approve_plan(
        uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="cell"
    )
    respond_to_request(
        uow_factory(), request_id, patient_answers={chosen: (True, "")}, actor=receiver
    )
    with uow_factory() as uow:
        found = holds.sent_destinations(uow, [chosen]).get(chosen)
    after = built(uow_factory)
    if held:
        assert found is not None
        assert (found.facility_id, found.admission_date) == (
            "FAC-LODZ-MMA",
            problem_day(problem, place.day),
        )
        assert after.without_destination == []
        assert any(chosen in line for line in after.held)
    else:
        assert found is None
        assert after.without_destination == [chosen]
        assert not any(chosen in line for line in after.held)


def arriving(day: int, before: int, patient: str) -> str:
    """The approval's line for ``patient``, sent earlier, now arriving at the academy on
    ``day`` (``before`` when the problem was built), the only one to arrive then."""
    return (
        f"{before + 1} patient(s) sent earlier now arrive at FAC-LODZ-MMA on day {day} of the "
        f"problem ({patient}), {before} when it was built (an admission named or moved since): "
        "they count against its daily admission limit"
    )


def test_a_bed_held_since_the_build_refuses_the_approval_and_says_whose(
    uow_factory: UowFactory,
) -> None:
    # accepted by request with no facility named; the problem is built; then the academy says
    # where: the plan may have given that bed away
    chosen = first_selected(uow_factory)
    request_id = accepted_by_request(uow_factory, [chosen], {})
    problem = built(uow_factory)
    assert problem.manifest["held"] == {}
    plan = solve_exact(parse_problem(problem.problem), time_limit=30)
    today = utc_now().date()

    def name(day: date) -> None:
        name_admission(
            uow_factory(), request_id, chosen, facility_id="FAC-LODZ-MMA", day=day, actor="lodz"
        )

    with uow_factory() as uow:
        patient = uow.patients.get(chosen)
    stay = patient.expected_length_of_stay_days or holds.DEFAULT_LENGTH_OF_STAY_DAYS
    specialty = patient.required_specialties[0].value

    def hold(day: date) -> str:
        return f"FAC-LODZ-MMA@{specialty}@{day.isoformat()}+{stay}"

    def said(day: date) -> str:
        return f"a {specialty.replace('_', ' ')} bed at FAC-LODZ-MMA from {day} for {stay} days"

    later = today + timedelta(days=2)
    name(later)
    with pytest.raises(RegistryChanged) as refused:
        approve_plan(
            uow_factory(), problem=problem.problem, manifest=problem.manifest, plan=plan, actor="c"
        )
    assert refused.value.changes == [
        f"patient {chosen} now holds {said(later)}, which the plan did not see",
        arriving(2, 0, chosen),
    ]
    # built again, the manifest records the bed; named for an earlier day (days the problem
    # did not take off) it refuses again, named back it does not
    again = built(uow_factory)
    assert again.manifest["held"] == {chosen: hold(later)}
    replanned = solve_exact(parse_problem(again.problem), time_limit=30)
    approve = partial(
        approve_plan, problem=again.problem, manifest=again.manifest, plan=replanned, actor="c"
    )
    name(today)
    with pytest.raises(RegistryChanged) as refused:
        approve(uow_factory())
    assert refused.value.changes == [
        f"patient {chosen} holds another bed, {said(today)} (the plan saw {said(later)})",
        arriving(0, 0, chosen),
    ]
    name(later)
    approve(uow_factory())


def test_a_patient_who_came_to_count_against_a_carried_quota_since_the_build_is_a_change(
    uow_factory: UowFactory,
) -> None:
    # 10 of the 24 went by a request the academy's operator accepted; the quota of 20 has room
    # for 10 of the 14 others, carried, and the plan keeps to it
    accepted_by_request(uow_factory, selected(uow_factory, 10), {})
    change_academy_agreement(uow_factory, quota=20)
    problem, plan = solved(uow_factory)
    assert [(q["id"], q["room"]) for q in problem.manifest["quotas"]] == [
        (ACADEMY_AGREEMENT_ID, 10)
    ]
    # since the build one more of the ministry's patients went to the academy's operator by a
    # request that names no facility: no bed is held and no patient of the problem changed,
    # but it counts against the agreement. The plan kept to the room of 10 would take it
    # beyond its quota: the registry changed, and the problem must be built again
    selected_in_kyiv(uow_factory, "PT-SENT-SINCE", "ORG-ORIGIN-MOH", Specialty.ORTHOPAEDICS)
    accepted_by_request(uow_factory, ["PT-SENT-SINCE"], {})
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    assert refused.value.changes == [
        f"agreement {ACADEMY_AGREEMENT_ID} has room for 9 more patient(s) now, 10 when the "
        "problem was built: patients sent earlier came to count against it since"
    ]
    again = built(uow_factory)
    assert [(q["id"], q["room"]) for q in again.manifest["quotas"]] == [(ACADEMY_AGREEMENT_ID, 9)]


@pytest.mark.parametrize("include_field_hospitals", [False, True])
def test_a_report_of_a_field_hospital_the_problem_left_out_is_no_change(
    uow_factory: UowFactory, include_field_hospitals: bool
) -> None:
    # the demo's field hospitals report again after the build: left out of the problem, their
    # reports cannot change it (the approval was refused for them); taken in, they can
    selected_demo(uow_factory)
    problem, plan = solved(uow_factory, include_field_hospitals=include_field_hospitals)
    assert ("FAC-FIELD-1" in problem.manifest["excluded"]) is not include_field_hospitals
    with uow_factory() as uow:
        field = next(r for r in uow.capacity.latest() if r.facility_id == "FAC-FIELD-1")
    report_capacity(uow_factory(), replace(field, reported_at=utc_now()), actor="field")
    approve = approver(problem, plan)
    if include_field_hospitals:
        with pytest.raises(RegistryChanged, match=r"capacity of FAC-FIELD-1/.* was reported again"):
            approve(uow_factory())
    else:
        assert len(approve(uow_factory()).plan.admissions) == len(plan.assignments)


def test_an_arrival_named_after_the_build_at_a_limited_facility_refuses_the_approval(
    uow_factory: UowFactory,
) -> None:
    # accepted by request for the academy (which has a daily admission limit) on day 5, the
    # patient is moved to today at the academy only after the build; the academy reported
    # after it was named there, so its report counts the bed (no bed held), but the plan's
    # admissions on day 0 and the patient together may pass the limit, which the manifest's
    # arrivals did not count. The approval compared the beds held, not the arrivals, and
    # approved without a word. (Named at the academy only after its report, the patient holds
    # a bed as well: `test_a_facility_named_after_it_reported_holds_the_patient_s_bed`.)
    chosen = first_selected(uow_factory)
    today = utc_now().date()
    request_id = accepted_by_request(
        uow_factory, [chosen], {chosen: ("FAC-LODZ-MMA", today + timedelta(days=5))}
    )
    with uow_factory() as uow:
        reports = [r for r in uow.capacity.latest() if r.facility_id == "FAC-LODZ-MMA"]
    for report in reports:
        report_capacity(uow_factory(), replace(report, reported_at=utc_now()), actor="lodz")
    problem, plan = solved(uow_factory)
    assert problem.manifest["held"] == {}
    assert problem.manifest["held_admissions"] == {"FAC-LODZ-MMA/5": 1}
    name_admission(
        uow_factory(), request_id, chosen, facility_id="FAC-LODZ-MMA", day=today, actor="x"
    )
    with pytest.raises(RegistryChanged) as refused:
        approver(problem, plan)(uow_factory())
    assert refused.value.changes == [arriving(0, 0, chosen)]


def test_a_live_plan_changed_only_for_a_patient_outside_the_problem_is_no_change(
    uow_factory: UowFactory,
) -> None:
    # the demo's plan sent its 24; one was accepted by the academy since (no longer in any
    # problem) and is cancelled after the re-plan's build: the live plan's version moves (it
    # is withdrawn from it), but no current place the problem gave its patients changed. The
    # approval was refused for it ("plan PLAN-DEMO-001 changed")
    plan_before, [sent] = accepted_at_the_academy(uow_factory, 1)
    selected_in_kyiv(uow_factory, "PT-NEW", "ORG-ORIGIN-MOH", Specialty.ORTHOPAEDICS)
    problem, plan = solved(uow_factory)
    ids = {p["id"] for p in problem.problem["patients"]}
    assert "PT-NEW" in ids
    assert sent not in ids
    assert any("current" in p for p in problem.problem["patients"])
    move_patient(uow_factory(), sent, PatientStatus.CANCELLED, actor="cell", reason="went home")
    with uow_factory() as uow:
        [live] = uow.plans.live()
    assert live.version == problem.manifest["live_plans"][plan_before.id] + 1
    approval = approver(problem, plan)(uow_factory())
    assert len(approval.plan.admissions) == len(plan.assignments)


@pytest.mark.parametrize(("starts", "renewed"), [(2, True), (3, False)])
def test_a_renewal_taking_over_without_a_gap_carries_the_acceptance_on(
    uow_factory: UowFactory, starts: int, renewed: bool
) -> None:
    # the academy's agreement ends on day 1 (room for 16 of the 24 by then); a renewal between
    # the same organisations starts on day ``starts``. From day 2, without a gap, it carries
    # the acceptance on: all 24 are placed and approved. It was ignored (not in force on the
    # build's day), and 8 patients were left out. From day 3 there is a gap: the end stands
    selected_demo(uow_factory)
    today = utc_now().date()
    with uow_factory() as uow:
        academy = uow.agreements.get(ACADEMY_AGREEMENT_ID)
    renewal = replace(
        academy,
        id="AGR-DEMO-RENEWAL",
        valid_from=today + timedelta(days=starts),
        valid_to=today + timedelta(days=400),
        version=0,
    )
    register_agreement(uow_factory(), renewal, actor="cell")
    problem = academy_ends_on_day(uow_factory, 1)
    [line] = problem.ending
    plan = solve_exact(problem.for_engines(), time_limit=30)
    if renewed:
        assert problem.manifest["acceptance_ends"] == []
        assert line.endswith("AGR-DEMO-RENEWAL cover(s) its patients after it")
        assert len(plan.assignments) == 24
        assert admitted_after(plan, problem.problem, 1)
        approval = approver(problem, plan)(uow_factory())
        assert len(approval.plan.admissions) == 24
    else:
        assert [e["last_day"] for e in problem.manifest["acceptance_ends"]] == [1]
        assert line.endswith("plans admit its patients on day 1 at the latest")
        assert admitted_after(plan, problem.problem, 1) == []
        assert len(plan.assignments) == 16


def one_bed_reported_now(uow_factory: UowFactory, facility_id: str, specialty: Specialty) -> None:
    """``facility_id`` reports one free bed of ``specialty`` now, on every day."""
    report = CapacityReport(facility_id, specialty, 1, 1, 0, 0, utc_now())
    report_capacity(uow_factory(), report, actor="facility")


def held_row(uow_factory: UowFactory, patient_id: str, horizon: int) -> tuple[str, list[int]]:
    """The patient's specialty, and one bed free on each day of ``horizon`` less the bed it
    holds from day 0 for its stay."""
    with uow_factory() as uow:
        patient = uow.patients.get(patient_id)
    stay = patient.expected_length_of_stay_days or holds.DEFAULT_LENGTH_OF_STAY_DAYS
    return patient.required_specialties[0].value, [0 if day < stay else 1 for day in range(horizon)]


def test_a_facility_named_after_it_reported_holds_the_patient_s_bed(
    uow_factory: UowFactory,
) -> None:
    # the academy's operator accepts the patient with no facility named; the academy then
    # reports one free bed of its specialty, not knowing the patient will come; then the
    # operator names the academy for it. The report was made after the acceptance and was
    # taken as counting the patient: no bed was held, and a re-plan gave the one bed away
    chosen = first_selected(uow_factory)
    with uow_factory() as uow:
        specialty = uow.patients.get(chosen).required_specialties[0]
    request_id = accepted_by_request(uow_factory, [chosen], {})
    one_bed_reported_now(uow_factory, "FAC-LODZ-MMA", specialty)
    before = built(uow_factory)
    assert before.manifest["held"] == {}
    assert before.without_destination == [chosen]
    name_admission(uow_factory(), request_id, chosen, facility_id="FAC-LODZ-MMA", actor="lodz")
    with uow_factory() as uow:
        [line] = uow.requests.get(request_id).patients
    assert line.decided_at is not None
    assert line.named_at is not None
    assert line.named_at > line.decided_at  # the answer's time stays

    after = built(uow_factory)
    value, row = held_row(uow_factory, chosen, before.problem["horizon_days"])
    assert _beds(before.problem)[("FAC-LODZ-MMA", value)] == [1] * len(row)
    assert _beds(after.problem)[("FAC-LODZ-MMA", value)] == row
    assert list(after.manifest["held"]) == [chosen]
    assert after.manifest["held"][chosen].startswith(f"FAC-LODZ-MMA@{value}@")
    [held] = after.held
    assert held.startswith(f"FAC-LODZ-MMA {value}: 1 bed(s) taken off")
    assert chosen in held
    # a re-plan gives the bed to nobody else on day 0
    plan = solve_exact(after.for_engines(), time_limit=30)
    rivals = {p["id"] for p in after.problem["patients"] if p["specialty"] == value}
    assert rivals
    assert not [
        a
        for a in plan.assignments
        if a.patient in rivals and (a.facility, a.day) == ("FAC-LODZ-MMA", 0)
    ]
    # a report the academy makes since is its own count, the patient's bed included
    one_bed_reported_now(uow_factory, "FAC-LODZ-MMA", specialty)
    assert built(uow_factory).manifest["held"] == {}


def test_a_correction_to_a_facility_that_reported_since_the_answer_holds_the_bed(
    uow_factory: UowFactory,
) -> None:
    # the answer names the academy; another hospital of the academy's operator reports one free
    # bed; the patient is then moved there. Accepted before that report, the patient was
    # taken as counted by it
    chosen = first_selected(uow_factory)
    with uow_factory() as uow:
        specialty = uow.patients.get(chosen).required_specialties[0]
        academy = uow.facilities.get("FAC-LODZ-MMA")
    other = replace(academy, id="FAC-WARSAW-MIL", name="Military Hospital", version=0)
    register_facility(uow_factory(), other, actor="cell")
    today = utc_now().date()
    request_id = accepted_by_request(uow_factory, [chosen], {chosen: ("FAC-LODZ-MMA", today)})
    with uow_factory() as uow:
        named_first = uow.requests.get(request_id).line(chosen).named_at
    one_bed_reported_now(uow_factory, other.id, specialty)
    before = built(uow_factory)
    assert list(before.manifest["held"]) == [chosen]
    assert before.manifest["held"][chosen].startswith("FAC-LODZ-MMA@")
    name_admission(uow_factory(), request_id, chosen, facility_id=other.id, actor="lodz")
    with uow_factory() as uow:
        named_then = uow.requests.get(request_id).line(chosen).named_at
    assert named_first is not None
    assert named_then is not None
    assert named_then > named_first

    after = built(uow_factory)
    value, row = held_row(uow_factory, chosen, before.problem["horizon_days"])
    assert _beds(before.problem)[(other.id, value)] == [1] * len(row)
    assert _beds(after.problem)[(other.id, value)] == row
    assert list(after.manifest["held"]) == [chosen]
    assert after.manifest["held"][chosen].startswith(f"{other.id}@{value}@")
    # moved to another day at that hospital, the patient still holds the bed there
    name_admission(
        uow_factory(),
        request_id,
        chosen,
        facility_id=other.id,
        day=today + timedelta(days=1),
        actor="lodz",
    )
    with uow_factory() as uow:
        assert uow.requests.get(request_id).line(chosen).named_at == named_then
    assert built(uow_factory).manifest["held"][chosen].startswith(f"{other.id}@{value}@")


def test_a_new_day_at_the_facility_that_reported_since_it_was_named_holds_no_bed(
    uow_factory: UowFactory,
) -> None:
    # named at the academy by the answer, the academy reporting since: its report counts the
    # patient, and moving the patient to another day there does not make it a stranger
    chosen = first_selected(uow_factory)
    with uow_factory() as uow:
        specialty = uow.patients.get(chosen).required_specialties[0]
    today = utc_now().date()
    request_id = accepted_by_request(
        uow_factory, [chosen], {chosen: ("FAC-LODZ-MMA", today + timedelta(days=3))}
    )
    one_bed_reported_now(uow_factory, "FAC-LODZ-MMA", specialty)
    assert built(uow_factory).manifest["held"] == {}
    name_admission(
        uow_factory(), request_id, chosen, facility_id="FAC-LODZ-MMA", day=today, actor="lodz"
    )
    assert built(uow_factory).manifest["held"] == {}


def test_an_operator_whose_first_agreement_begins_later_admits_everyone_until_then(
    uow_factory: UowFactory,
) -> None:
    # the academy's operator has no other agreement: until this one (now covering none of the
    # 24's specialties) comes into force on day 2, the academy admits anyone's patients
    selected_demo(uow_factory)
    today = utc_now().date()
    starts = today + timedelta(days=2)
    change_academy_agreement(
        uow_factory, valid_from=starts, specialties=frozenset({Specialty.NEUROSURGERY})
    )
    problem = built(uow_factory)
    assert problem.manifest["acceptance_ends"] == [
        {"facility": "FAC-LODZ-MMA", "organisation": "ORG-ORIGIN-MOH", "last_day": 1}
    ]
    assert problem.beginning == [
        f"{ACADEMY_AGREEMENT_ID} (ORG-PARTNER-DMS's first) begins on {starts.isoformat()}, "
        "day 2 of this problem: until then its facilities accept every sender; plans admit the "
        "patients it does not cover (ORG-ORIGIN-MOH) there on day 1 at the latest"
    ]
    plan = solve(problem.for_engines(), Engine.EXACT, time_limit=30)
    assert check_plan(problem.for_engines(), plan).feasible
    assert len([a for a in plan.assignments if a.facility == "FAC-LODZ-MMA"]) == 16
    assert admitted_after(plan, problem.problem, 1) == []
    assert len(approver(problem, plan)(uow_factory()).plan.admissions) == 16
    # a plan solved without the manifest fills the academy on day 2 too: refused, said so
    free = solve_exact(parse_problem(problem.problem), time_limit=30)
    late = admitted_after(free, problem.problem, 1)
    assert len(late) == 8
    assert admissions_after_agreement_ends(
        uow_factory(), problem.problem, free, built_on=today
    ) == [
        f"patient {patient} is admitted at FAC-LODZ-MMA on day 2 "
        f"({starts.isoformat()}), after ORG-PARTNER-DMS is bound by agreements from "
        f"{starts.isoformat()} (day 2 of the problem), none of which covers ORG-ORIGIN-MOH in "
        f"{specialty} from that day"
        for patient, specialty in sorted(
            (p["id"], p["specialty"]) for p in problem.problem["patients"] if p["id"] in late
        )
    ]

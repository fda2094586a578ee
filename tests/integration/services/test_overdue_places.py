"""Places whose planned admission day has passed, in a re-plan (SQLite and PostgreSQL).

A patient an approved plan placed, still waiting after its day (referred, not admitted), keeps
its facility as its current place, on the problem's day 0: the re-plan pays to move it and the
approval counts it as kept, not as placed for the first time.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from medevac.domain.plans import ApprovedPlan
from medevac.planning import parse_problem, solve_exact
from medevac.planning.changes import plan_changes
from medevac.services.auditing import utc_now
from medevac.services.demo import build_demo
from tests.integration.services.builders import UowFactory
from tests.integration.services.test_plan_approval import approver, built

pytestmark = pytest.mark.storage


def overdue_demo(uow_factory: UowFactory, days: int) -> tuple[ApprovedPlan, set[str]]:
    """The planned demo with the admissions of its first day moved ``days`` days back, as if
    its plan had been approved that much earlier and those patients were still waiting: the
    plan as stored, and the ids of the overdue patients."""
    build_demo(uow_factory(), actor="demo", regulate=True)
    with uow_factory() as uow:
        [plan] = uow.plans.live()
        first = min(a.admission_date for a in plan.admissions)
        assert first == utc_now().date()  # the demo plans from today
        overdue = {a.patient_id for a in plan.admissions if a.admission_date == first}
        plan.admissions = [
            replace(a, admission_date=a.admission_date - timedelta(days=days))
            if a.patient_id in overdue
            else a
            for a in plan.admissions
        ]
        uow.plans.update(plan)
        uow.commit()
        [stored] = uow.plans.live()
    assert overdue
    assert len(overdue) < len(stored.admissions)
    return stored, overdue


def test_a_patient_whose_planned_day_passed_keeps_its_facility_on_day_0(
    uow_factory: UowFactory,
) -> None:
    plan, overdue = overdue_demo(uow_factory, days=2)
    problem = built(uow_factory)
    entries = {p["id"]: p for p in problem.problem["patients"]}
    today = utc_now().date()
    for admission in plan.admissions:
        day = (admission.admission_date - today).days
        assert (day < 0) == (admission.patient_id in overdue)
        assert entries[admission.patient_id].get("current") == {
            "facility": admission.facility_id,
            "day": max(0, day),
        }


def test_a_re_plan_keeps_overdue_patients_and_the_approval_counts_them_as_kept(
    uow_factory: UowFactory,
) -> None:
    plan, overdue = overdue_demo(uow_factory, days=2)
    problem = built(uow_factory)
    replan = solve_exact(problem.for_engines(), time_limit=30)
    # the approval compares the live plan with the current places the build gave: the same
    approval = approver(problem, replan)(uow_factory())
    # as `plan approve` counts them against the places approved before
    changes = plan_changes(parse_problem(problem.problem), approval.solved)
    assert (changes.kept, changes.changes, changes.newly_placed) == (len(plan.admissions), (), 0)
    today = utc_now().date()
    placed = {a.patient_id: a for a in approval.plan.admissions}
    before = {a.patient_id: a for a in plan.admissions}
    for patient_id in overdue:
        assert placed[patient_id].facility_id == before[patient_id].facility_id
        assert placed[patient_id].admission_date == today

"""A patient who leaves the live plan (cancelled, declined) changes that patient's admission
only, and the plan's audit record names that change alone (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from medevac.domain.audit import snapshot
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.plans import ApprovedPlan
from medevac.services.demo import PLAN_ID, build_demo
from medevac.services.patients import move_patient
from medevac.services.regulating import RegistryChanged, approve_plan
from tests.integration.services.builders import UowFactory
from tests.integration.services.test_plan_approval import solved

pytestmark = pytest.mark.storage

LEAVING = [
    pytest.param(PatientStatus.CANCELLED, ActorRole.COORDINATOR, id="cancelled"),
    pytest.param(PatientStatus.DECLINED, ActorRole.RECEIVING_FACILITY, id="declined"),
]


def live_demo_plan(uow_factory: UowFactory) -> ApprovedPlan:
    """The demo, regulated: its live plan admits the 24 referred patients."""
    build_demo(uow_factory(), actor="demo", regulate=True)
    with uow_factory() as uow:
        return uow.plans.get(PLAN_ID)


@contextmanager
def admission_writes(engine: Engine) -> Iterator[list[str]]:
    """The first word of every statement run on ``engine`` that writes planned_admissions."""
    found: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        verb, _space, rest = statement.lstrip().partition(" ")
        target = rest.split("WHERE")[0]  # the table written, not one a subquery reads
        if verb.upper() in ("INSERT", "UPDATE", "DELETE") and "planned_admissions" in target:
            found.append(verb.upper())

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", seen)


@pytest.mark.parametrize(("target", "role"), LEAVING)
def test_a_patient_leaving_the_live_plan_is_audited_as_that_admission_alone(
    uow_factory: UowFactory, target: PatientStatus, role: ActorRole
) -> None:
    before = live_demo_plan(uow_factory)
    leaving = before.admissions[3]
    move_patient(
        uow_factory(), leaving.patient_id, target, actor="cell", reason="stayed home", role=role
    )
    why = f"patient {target}: stayed home"
    with uow_factory() as uow:
        after = uow.plans.get(PLAN_ID)
        record = uow.audit.list(entity_type="approved_plan", entity_id=PLAN_ID, limit=1)[0]
    # the patient's admission is withdrawn, every other one is as it was
    expected = [snapshot(a) for a in before.admissions]
    expected[3]["withdrawn_reason"] = why
    assert [snapshot(a) for a in after.admissions] == expected
    assert leaving.patient_id not in after.open_patient_ids()
    assert after.version == before.version + 1
    # the record names the plan, the patient and the admission, and nothing else of the plan
    assert (record.entity_id, record.action, record.actor, record.reason) == (
        PLAN_ID,
        "withdraw_patient",
        "cell",
        why,
    )
    admission = snapshot(leaving)
    assert record.before == {"admissions": [admission]}
    assert record.after == {"admissions": [{**admission, "withdrawn_reason": why}]}
    stored = json.dumps(record.before) + json.dumps(record.after)
    assert len(stored) < 400
    others = [a.patient_id for a in before.admissions if a.patient_id != leaving.patient_id]
    assert not any(other in stored for other in others)


def test_cancelling_a_patient_writes_only_its_admission_row(
    uow_factory: UowFactory, database_engine: Engine
) -> None:
    plan = live_demo_plan(uow_factory)
    patient_id = plan.admissions[0].patient_id
    with admission_writes(database_engine) as writes:
        move_patient(
            uow_factory(), patient_id, PatientStatus.CANCELLED, actor="cell", reason="stayed home"
        )
    # no DELETE and INSERT of the plan's 24 admissions: its own row in the live plan, then any
    # open in superseded plans (none here), one UPDATE each
    assert writes == ["UPDATE", "UPDATE"]


def test_an_approval_built_before_a_patient_left_the_live_plan_is_refused(
    uow_factory: UowFactory,
) -> None:
    plan = live_demo_plan(uow_factory)
    problem, solution = solved(uow_factory)
    assert problem.manifest["live_plans"] == {PLAN_ID: plan.version}
    move_patient(
        uow_factory(),
        plan.admissions[0].patient_id,
        PatientStatus.CANCELLED,
        actor="cell",
        reason="stayed home",
    )
    with pytest.raises(RegistryChanged) as refused:
        approve_plan(
            uow_factory(),
            problem=problem.problem,
            manifest=problem.manifest,
            plan=solution,
            actor="cell",
        )
    assert (
        f"plan {PLAN_ID} changed (version {plan.version + 1}; the problem saw version "
        f"{plan.version})"
    ) in refused.value.changes
    with uow_factory() as uow:
        assert [p.id for p in uow.plans.live()] == [PLAN_ID]

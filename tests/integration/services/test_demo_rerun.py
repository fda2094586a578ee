"""Running the demo again on a database that holds it (SQLite and PostgreSQL): the summary
reports the registry as it is now, the live plan included."""

from __future__ import annotations

import pytest

from medevac.domain.plans import PlanStatus
from medevac.planning import solve_exact
from medevac.services.demo import PLAN_ID, build_demo
from tests.integration.services.builders import UowFactory
from tests.integration.services.test_plan_approval import approver, built

pytestmark = pytest.mark.storage


def test_a_rerun_reports_the_plan_that_superseded_the_demo_s_own(
    uow_factory: UowFactory,
) -> None:
    build_demo(uow_factory(), actor="demo", regulate=True)
    problem = built(uow_factory)
    replanned = approver(problem, solve_exact(problem.for_engines(), time_limit=30))(
        uow_factory()
    ).plan
    summary = build_demo(uow_factory(), actor="demo", regulate=True)
    assert summary.already_present
    assert summary.plan is not None
    assert (summary.plan.id, summary.plan.status) == (replanned.id, PlanStatus.LIVE)
    assert summary.plan.admissions == replanned.admissions
    with uow_factory() as uow:
        assert uow.plans.get(PLAN_ID).status is PlanStatus.SUPERSEDED


def test_a_rerun_on_the_planned_demo_reports_its_own_plan(uow_factory: UowFactory) -> None:
    first = build_demo(uow_factory(), actor="demo", regulate=True)
    again = build_demo(uow_factory(), actor="demo", regulate=True)
    assert first.plan is not None
    assert again.plan is not None
    assert (first.plan.id, again.plan.id) == (PLAN_ID, PLAN_ID)
    assert again.already_present
    assert again.plan.is_live


def test_a_rerun_of_the_demo_built_without_a_plan_reports_none(uow_factory: UowFactory) -> None:
    build_demo(uow_factory(), actor="demo", regulate=False)
    assert build_demo(uow_factory(), actor="demo", regulate=True).plan is None


def test_the_demo_s_audit_trail_runs_in_the_order_things_were_done(
    uow_factory: UowFactory,
) -> None:
    # the screening decisions were stamped with the time the demo started, before the patients
    # they decide on were created: the trail's newest record of PT-0002 was its move into
    # screening, though it had been deferred after it
    build_demo(uow_factory(), actor="demo", regulate=False)
    with uow_factory() as uow:
        trail = sorted(
            uow.audit.list(entity_type="patient", entity_id="PT-0002"), key=lambda r: r.at
        )
    actions = [r.action for r in trail]
    assert actions[0] == "create"
    assert actions[-1].endswith("->deferred"), actions

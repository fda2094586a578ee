"""A patient withdrawn from the live plans: only its admission is written, and the plan's
version moves on (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from medevac.domain.errors import ConcurrentModification, InvalidValue
from medevac.domain.plans import ApprovedPlan, PlannedAdmission, PlanWithdrawal
from medevac.store.unit_of_work import SqlUnitOfWork
from tests.integration.store.builders import T0, make_patient
from tests.integration.store.conftest import UowFactory

pytestmark = pytest.mark.storage

PATIENTS = [f"P-{n:03d}" for n in range(60)]
FIRST_DAY = date(2026, 11, 21)


def make_plan(plan_id: str = "PLAN-1", *, hours_later: int = 0) -> ApprovedPlan:
    """A plan admitting every patient of PATIENTS, the last one withdrawn already."""
    admissions = [
        PlannedAdmission(p, "FAC-1" if n % 2 else "FAC-2", FIRST_DAY + timedelta(days=n % 5))
        for n, p in enumerate(PATIENTS)
    ]
    admissions[-1].withdrawn_reason = "patient died: sepsis"
    return ApprovedPlan(
        id=plan_id,
        approved_at=T0 + timedelta(hours=hours_later),
        approved_by="cell",
        built_at=T0 - timedelta(hours=1),
        objective=12.5,
        solver="highs 1.14.0",
        solver_status="optimal",
        admissions=admissions,
    )


@pytest.fixture
def planned(registry: UowFactory) -> UowFactory:
    """The registry with the patients of PATIENTS and PLAN-1, live, admitting them all."""
    with registry() as uow:
        uow.patients.add_many([make_patient(p) for p in PATIENTS])
        uow.plans.add(make_plan())
        uow.commit()
    return registry


def plan_rows_written(uow: SqlUnitOfWork) -> int:
    """Rows the open transaction has inserted, updated or deleted so far: in every table on
    SQLite (`total_changes()`), in approved_plans and planned_admissions on PostgreSQL."""
    connection = uow.connection
    if connection.dialect.name == "sqlite":
        return int(connection.execute(text("SELECT total_changes()")).scalar_one())
    statement = text(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_user_tables"
        " WHERE relname IN ('approved_plans', 'planned_admissions')"
    )
    return int(connection.execute(statement).scalar_one())


def test_withdrawing_a_patient_closes_its_admission_and_leaves_the_others_as_they_were(
    planned: UowFactory,
) -> None:
    with planned() as uow:
        [withdrawal] = uow.plans.withdraw_patient("P-007", "  patient cancelled: stayed home ")
        uow.commit()
    assert withdrawal == PlanWithdrawal(
        "PLAN-1",
        2,
        PlannedAdmission(
            "P-007", "FAC-1", FIRST_DAY + timedelta(days=2), "patient cancelled: stayed home"
        ),
    )
    assert withdrawal.admission_before == PlannedAdmission(
        "P-007", "FAC-1", FIRST_DAY + timedelta(days=2)
    )
    expected = make_plan()
    assert expected.withdraw_patient("P-007", "patient cancelled: stayed home")
    with planned() as uow:
        stored = uow.plans.get("PLAN-1")
        holding = uow.plans.live_for_patient("P-007")
        latest = uow.plans.latest_admissions(["P-007", "P-008"])
    assert stored == expected  # the same plan as `withdraw_patient` and `update` give
    assert stored.version == 2
    assert "P-007" not in stored.open_patient_ids()
    assert len(stored.open_patient_ids()) == len(PATIENTS) - 2
    assert holding == []
    assert list(latest) == ["P-008"]


def test_a_withdrawal_writes_the_plan_row_and_one_admission_row_however_large_the_plan(
    planned: UowFactory,
) -> None:
    with planned() as uow:
        before = plan_rows_written(uow)
        uow.plans.withdraw_patient("P-007", "patient cancelled")
        written = plan_rows_written(uow) - before
        uow.commit()
    assert written == 2  # the plan's version and the patient's admission


def test_a_plan_read_before_a_withdrawal_cannot_be_written_over_it(
    planned: UowFactory,
) -> None:
    with planned() as uow:
        read_before = uow.plans.get("PLAN-1")
    with planned() as uow:
        uow.plans.withdraw_patient("P-007", "patient cancelled")
        uow.commit()
    read_before.supersede()
    with planned() as uow, pytest.raises(ConcurrentModification):
        uow.plans.update(read_before)
    with planned() as uow:
        stored = uow.plans.get("PLAN-1")
    assert stored.is_live
    assert "P-007" not in stored.open_patient_ids()


def test_a_patient_in_no_live_plan_is_withdrawn_from_nothing(planned: UowFactory) -> None:
    with planned() as uow:
        uow.patients.add(make_patient("P-OUT"))
        uow.commit()
    with planned() as uow:
        before = uow.plans.get("PLAN-1")
        withdrawn = [
            uow.plans.withdraw_patient("P-OUT", "patient cancelled"),  # not in the plan
            uow.plans.withdraw_patient(PATIENTS[-1], "patient cancelled"),  # withdrawn already
        ]
        uow.commit()
    assert withdrawn == [[], []]
    with planned() as uow:
        after = uow.plans.get("PLAN-1")
    assert (after, after.version) == (before, before.version)


def test_a_superseded_plan_keeps_the_patients_admission(planned: UowFactory) -> None:
    with planned() as uow:
        earlier = uow.plans.get("PLAN-1")
        earlier.supersede()
        uow.plans.update(earlier)
        later = make_plan("PLAN-2", hours_later=1)
        later.admissions = [a for a in later.admissions if a.patient_id != "P-007"]
        uow.plans.add(later)
        uow.commit()
    with planned() as uow:
        assert uow.plans.withdraw_patient("P-007", "patient cancelled") == []
        [withdrawal] = uow.plans.withdraw_patient("P-008", "patient cancelled")
        uow.commit()
    assert (withdrawal.plan_id, withdrawal.plan_version) == ("PLAN-2", 2)
    with planned() as uow:
        superseded = uow.plans.get("PLAN-1")
    assert superseded.version == 2
    assert {"P-007", "P-008"} <= {a.patient_id for a in superseded.admissions if a.is_open}


def test_a_withdrawal_without_a_reason_is_refused_and_writes_nothing(planned: UowFactory) -> None:
    with planned() as uow, pytest.raises(InvalidValue, match="needs a reason"):
        uow.plans.withdraw_patient("P-007", "  ")
    with planned() as uow:
        stored = uow.plans.get("PLAN-1")
    assert (stored, stored.version) == (make_plan(), 1)


def test_supersede_writes_the_status_alone_and_live_admissions_read_the_live_plan(
    planned: UowFactory,
) -> None:
    with planned() as uow:
        earlier = uow.plans.get("PLAN-1")
        written = plan_rows_written(uow)
        uow.plans.supersede(earlier)
        assert plan_rows_written(uow) - written == 1  # the plan's row; no admission rewritten
        later = make_plan("PLAN-2", hours_later=1)
        later.admissions = [a for a in later.admissions if a.patient_id != "P-007"]
        uow.plans.add(later)
        uow.commit()
    assert (earlier.status.value, earlier.version) == ("superseded", 2)
    with planned() as uow:
        found = uow.plans.live_admissions(["P-007", "P-008", "P-059", "NOBODY"])
        assert uow.plans.get("PLAN-1").admissions == make_plan().admissions
    # P-007 only in the superseded plan, P-059 withdrawn: neither has a live admission
    assert found == {
        "P-008": ("PLAN-2", PlannedAdmission("P-008", "FAC-2", FIRST_DAY + timedelta(days=3)))
    }

"""Days in the coordination cell's time zone (`MEDEVAC_TIME_ZONE`), on SQLite and PostgreSQL.

The zone is chosen so that the cell's date is not the UTC date whatever the hour the tests run
(UTC+14 from 10:00 UTC, else UTC-11): with days taken in UTC every assertion below fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from medevac.config import get_settings
from medevac.domain.errors import InvalidValue
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.patients import Patient
from medevac.domain.screening import ScreeningOutcome
from medevac.domain.vocabulary import Mobility, Precedence, Specialty
from medevac.planning import solve_exact
from medevac.services.auditing import utc_now
from medevac.services.demo import build_demo
from medevac.services.patients import register_patient
from medevac.services.screening import record_decision
from tests.integration.services.builders import UowFactory, mission_of_org_b, registry
from tests.integration.services.test_plan_approval import approver, built, selected_demo

pytestmark = pytest.mark.storage


def zone_off_utc(moment: datetime) -> str:
    """A zone whose date at ``moment`` is not UTC's: a day ahead from 10:00 UTC, else behind."""
    return "Pacific/Kiritimati" if moment.astimezone(UTC).hour >= 10 else "Pacific/Pago_Pago"


@pytest.fixture
def cell_day(monkeypatch: pytest.MonkeyPatch) -> Iterator[date]:
    """The operation's calendar set to a zone off UTC's date; the cell's date today."""
    now = utc_now()
    zone = zone_off_utc(now)
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", zone)
    get_settings.cache_clear()
    today = now.astimezone(ZoneInfo(zone)).date()
    assert today != now.date()
    yield today
    get_settings.cache_clear()  # the next test reads the zone the tests run in


def test_a_plan_starts_on_the_cells_day_and_admits_on_its_dates(
    uow_factory: UowFactory, cell_day: date
) -> None:
    selected_demo(uow_factory)
    problem = built(uow_factory)
    built_at = datetime.fromisoformat(problem.manifest["built_at"])
    assert built_at.date() == cell_day  # written in the cell's zone: its date is day 0
    assert built_at.utcoffset() != timedelta(0)
    plan = solve_exact(problem.for_engines(), time_limit=30)
    approval = approver(problem, plan)(uow_factory())
    by_patient = {a.patient: a.day for a in plan.assignments}
    assert 0 in by_patient.values()  # the demo's patients are admitted from day 0
    for admission in approval.plan.admissions:
        assert admission.admission_date == cell_day + timedelta(
            days=by_patient[admission.patient_id]
        )


def test_a_re_plan_counts_current_places_from_the_cells_day(
    uow_factory: UowFactory, cell_day: date
) -> None:
    build_demo(uow_factory(), actor="demo", regulate=True)
    with uow_factory() as uow:
        [plan] = uow.plans.live()
    assert min(a.admission_date for a in plan.admissions) == cell_day  # the demo plans today
    entries = {p["id"]: p for p in built(uow_factory).problem["patients"]}
    for admission in plan.admissions:
        assert entries[admission.patient_id]["current"] == {
            "facility": admission.facility_id,
            "day": (admission.admission_date - cell_day).days,
        }


def patient_p1(uow_factory: UowFactory) -> None:
    """The small registry with patient P-1 of ORG-A at its origin hospital."""
    registry(uow_factory)
    patient = Patient(
        "P-1", "ORG-A", (Specialty.ORTHOPAEDICS,), Precedence.PRIORITY, Mobility.LITTER,
        location_id="H-1",
    )  # fmt: skip
    register_patient(uow_factory(), patient, actor="t")


def select_p1(uow_factory: UowFactory, mission_id: str, **when: datetime) -> None:
    """Dr N. of ``mission_id`` selects P-1 (now, or ``decided_at``)."""
    select = ScreeningOutcome.SELECT
    record_decision(
        uow_factory(), mission_id, "P-1", select, clinician="dr.n", criteria_notes="", **when
    )


def test_a_screening_decision_falls_on_the_cells_day(
    uow_factory: UowFactory, cell_day: date
) -> None:
    # a mission of the cell's today alone: a decision made now is within it in the cell's
    # calendar, and was refused when its day was taken in UTC
    patient_p1(uow_factory)
    shift = (cell_day - utc_now().date()).days  # +1 or -1
    mission = mission_of_org_b(uow_factory, candidates=["P-1"], back=-shift, ahead=shift)
    assert (mission.starts_on, mission.ends_on) == (cell_day, cell_day)
    select_p1(uow_factory, mission.id)
    with uow_factory() as uow:
        assert uow.patients.get("P-1").status is PatientStatus.SELECTED


def test_a_refused_decision_shows_its_times_in_the_cells_zone(
    uow_factory: UowFactory, cell_day: date
) -> None:
    patient_p1(uow_factory)
    mission = mission_of_org_b(uow_factory, candidates=["P-1"], back=3, ahead=3)
    offset = datetime.now(ZoneInfo(os.environ["MEDEVAC_TIME_ZONE"])).strftime("%z")
    shown = f"{offset[:3]}:{offset[3:]}"  # +14:00 or -11:00
    with pytest.raises(InvalidValue) as refused:
        # before the patient became a candidate
        select_p1(uow_factory, mission.id, decided_at=utc_now() - timedelta(days=1))
    # the decision, the latest move and now were in UTC (+00:00) beside each other
    assert str(refused.value).count(shown) == 2, str(refused.value)
    assert "+00:00" not in str(refused.value)


def test_a_plan_built_in_one_time_zone_is_not_approved_in_another(
    uow_factory: UowFactory, cell_day: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    # its day 0 is the cell's date; approved under UTC, an agreement that ended on UTC's
    # date was said to have come into force since the build, nothing having changed
    selected_demo(uow_factory)
    problem = built(uow_factory)
    plan = solve_exact(problem.for_engines(), time_limit=30)
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", "UTC")
    get_settings.cache_clear()
    with pytest.raises(InvalidValue) as refused:
        approver(problem, plan)(uow_factory())
    said = str(refused.value)
    assert "UTC+00:00: approve it in the zone it was built in, or build the problem again" in said
    assert f"its day 0 is {cell_day}" in said
    with uow_factory() as uow:
        assert uow.plans.live() == []

"""The audit trail records when a change was written, whatever time the change itself names
(a capacity report's `reported_at`, a screening decision's `decided_at`)."""

from __future__ import annotations

from datetime import timedelta

from medevac.domain.facilities import CapacityReport
from medevac.domain.vocabulary import Specialty
from medevac.services.auditing import utc_now
from medevac.services.registry import report_capacity
from tests.integration.services.builders import UowFactory, mission_of_org_b, registry
from tests.integration.services.test_time_zone import patient_p1, select_p1


def test_a_report_entered_with_an_earlier_time_is_audited_when_it_was_entered(
    uow_factory: UowFactory,
) -> None:
    # filed at the report's time, it came before the build it changed, and `audit list`
    # showed it among older records; an import of the same report recorded the import's time
    registry(uow_factory)
    hour_ago = utc_now() - timedelta(hours=1)
    entered = utc_now()
    report = CapacityReport("H-1", Specialty.ORTHOPAEDICS, 0, 10, reported_at=hour_ago)
    report_capacity(uow_factory(), report, actor="cell")
    with uow_factory() as uow:
        [record] = uow.audit.list(entity_type="capacity_report")
    assert record.at >= entered
    assert record.after is not None
    assert record.after["reported_at"] == hour_ago.isoformat()


def test_a_screening_decision_is_audited_when_it_was_recorded(uow_factory: UowFactory) -> None:
    patient_p1(uow_factory)
    mission = mission_of_org_b(uow_factory, candidates=["P-1"], back=1, ahead=1)
    decided = utc_now()  # before the service writes it
    select_p1(uow_factory, mission.id, decided_at=decided)
    with uow_factory() as uow:
        [decision] = uow.audit.list(entity_type="screening_mission", entity_id=mission.id)[:1]
        moves = [r for r in uow.audit.list(entity_id="P-1") if r.action.endswith("->selected")]
        history = uow.patients.get("P-1").history
    assert decision.action == "decide:select"
    assert decision.at > decided
    assert [m.at > decided for m in moves] == [True]
    assert history[-1].at == decided  # the patient's own history keeps the decision's time

"""Serialized use cases against ordinary ones running at the same moment (SQLite and
PostgreSQL): an ordinary writer waits for the serialized one, so that what the serialized
use case checked still holds when it writes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from medevac.domain.lifecycle import PatientStatus
from medevac.domain.requests import RequestStatus
from medevac.services.patients import move_patient
from medevac.services.requests import create_request
from medevac.store.repositories import SqlTreatmentRequestRepository
from tests.integration.concurrency import InThread, waits
from tests.integration.services.builders import ACTOR, UowFactory, registry, selected_patients

pytestmark = pytest.mark.storage


def test_a_patient_cancelled_while_its_request_is_drafted_is_not_left_on_a_live_request(
    uow_factory: UowFactory, database_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The draft has checked that the patient is selected and on no live request when another
    # coordinator cancels the patient (an ordinary use case). The cancellation must wait for
    # the draft, then find it and take the patient off it.
    registry(uow_factory)
    (patient_id,) = selected_patients(uow_factory, 1)
    cancel = InThread(
        lambda: move_patient(
            uow_factory(), patient_id, PatientStatus.CANCELLED, actor="other", reason="went home"
        )
    )
    checks = SqlTreatmentRequestRepository.live_for_patient

    def checked_then_cancelled(self: SqlTreatmentRequestRepository, pid: str) -> Any:
        found = checks(self, pid)
        if not cancel.thread.is_alive() and not cancel.finished.is_set():
            cancel.start()
            # waits (or, where nothing holds it back, commits first: the checks below fail)
            waits(database_engine, cancel.finished)
        return found

    monkeypatch.setattr(SqlTreatmentRequestRepository, "live_for_patient", checked_then_cancelled)
    draft = create_request(
        uow_factory(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        patient_ids=[patient_id],
        actor=ACTOR,
    )
    cancel.result()
    monkeypatch.undo()
    with uow_factory() as uow:
        status = uow.patients.get(patient_id).status
        live = [r.id for r in uow.requests.live_for_patient(patient_id)]
        request = uow.requests.get(draft.id)
        trail = [r.action for r in uow.audit.list(entity_type="treatment_request")]
    assert (status, live) == (PatientStatus.CANCELLED, [])
    assert request.status is RequestStatus.CLOSED
    assert trail == ["create", "close"]

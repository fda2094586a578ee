"""No change is written without the name of who makes it: a blank actor is refused where audit
records are written, so by every use case that writes one, and nothing of the change is kept;
records stored before are still read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from medevac.domain.agreements import Agreement
from medevac.domain.audit import AuditRecord
from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient
from medevac.domain.screening import ScreeningOutcome
from medevac.domain.vocabulary import (
    FacilityKind,
    Mobility,
    OrganisationKind,
    Precedence,
    Specialty,
)
from medevac.services.auditing import audit, utc_now
from medevac.services.patients import move_patient, register_patient
from medevac.services.registry import (
    register_agreement,
    register_facility,
    register_organisation,
    report_capacity,
)
from medevac.services.requests import (
    close_request,
    create_request,
    respond_to_request,
    submit_request,
)
from medevac.services.screening import add_candidates, create_mission, record_decision
from tests.fakes import make_fake_uow
from tests.integration.services.builders import (
    ACTOR,
    UowFactory,
    mission_of_org_b,
    registry,
    selected_patients,
    submitted_request,
)

BLANK = ["", "   ", "\t\n"]


def test_records_stored_with_a_blank_actor_before_the_check_are_still_read(
    uow_factory: UowFactory,
) -> None:
    # written by an earlier version (through the services, not the command line): the audit
    # trail must stay readable after the upgrade
    uow = uow_factory()
    with uow:
        uow.audit.add(AuditRecord("  ", utc_now(), "patient", "P-1", "create", None, None))
        uow.commit()
    with uow_factory() as uow:
        [record] = [r for r in uow.audit.list() if r.entity_id == "P-1"]
    assert record.actor == "  "


@pytest.mark.parametrize("actor", BLANK)
def test_audit_refuses_a_blank_actor_and_adds_nothing(actor: str) -> None:
    uow = make_fake_uow()
    organisation = Organisation("ORG-A", "Ministry", OrganisationKind.MINISTRY_OF_HEALTH, "UA")
    with uow:
        with pytest.raises(InvalidValue, match=r"^actor: every change needs the name"):
            audit(uow, "organisation", organisation, "create", actor=actor)
        assert uow.audit.list() == []


def test_a_named_actor_is_kept_as_given() -> None:
    record = AuditRecord(" anna ", utc_now(), "patient", "P-1", "create", None, None)
    assert record.actor == " anna "


Scenario = dict[str, Any]


def _scenario(uow_factory: UowFactory) -> Scenario:
    """A registry, a draft and a submitted request of one selected patient each, a reported
    patient and a screening mission with one candidate, all made by a named actor."""
    registry(uow_factory)
    first, second = selected_patients(uow_factory, 2)
    for patient_id in ("P-R", "P-S"):
        register_patient(
            uow_factory(),
            Patient(
                patient_id, "ORG-A", (Specialty.ORTHOPAEDICS,), Precedence.PRIORITY, Mobility.LITTER
            ),
            actor=ACTOR,
        )
    draft = create_request(
        uow_factory(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        patient_ids=[first],
        actor=ACTOR,
    )
    submitted = submitted_request(uow_factory, "ORG-A", "ORG-B", [second])
    mission = mission_of_org_b(uow_factory, "Lviv", candidates=["P-S"])
    return {
        "draft": draft.id,
        "submitted": submitted,
        "mission": mission.id,
        "referred": second,
    }


Use = Callable[[UowFactory, Scenario, str], object]

USES: dict[str, Use] = {
    "register_patient": lambda f, s, a: register_patient(
        f(),
        Patient("P-NEW", "ORG-A", (Specialty.ORTHOPAEDICS,), Precedence.ROUTINE, Mobility.LITTER),
        actor=a,
    ),
    "register_organisation": lambda f, s, a: register_organisation(
        f(), Organisation("ORG-C", "Third", OrganisationKind.MINISTRY_OF_HEALTH, "DE"), actor=a
    ),
    "register_facility": lambda f, s, a: register_facility(
        f(),
        Facility(
            "H-2",
            "Second hospital",
            FacilityKind.HOSPITAL,
            "ORG-B",
            "PL",
            Coordinates(51.76, 19.46),
            frozenset({Specialty.ORTHOPAEDICS}),
        ),
        actor=a,
    ),
    "register_agreement": lambda f, s, a: register_agreement(
        f(),
        Agreement(
            "AGR-1",
            "ORG-A",
            "ORG-B",
            frozenset({Specialty.ORTHOPAEDICS}),
            10,
            CostPolicy.free(),
            date(2026, 1, 1),
        ),
        actor=a,
    ),
    "report_capacity": lambda f, s, a: report_capacity(
        f(),
        CapacityReport("H-1", Specialty.ORTHOPAEDICS, 3, 10, reported_at=utc_now()),
        actor=a,
    ),
    "create_request": lambda f, s, a: create_request(
        f(),
        from_organisation_id="ORG-A",
        to_organisation_id="ORG-B",
        places={Specialty.ORTHOPAEDICS: 2},
        actor=a,
    ),
    "submit_request": lambda f, s, a: submit_request(f(), s["draft"], actor=a),
    "close_request": lambda f, s, a: close_request(f(), s["draft"], reason="not needed", actor=a),
    "respond_to_request": lambda f, s, a: respond_to_request(
        f(), s["submitted"], patient_answers={s["referred"]: (True, "")}, actor=a
    ),
    "create_mission": lambda f, s, a: create_mission(
        f(),
        team_organisation_id="ORG-B",
        place="Odesa",
        starts_on=utc_now().date(),
        ends_on=utc_now().date(),
        actor=a,
    ),
    "add_candidates": lambda f, s, a: add_candidates(f(), s["mission"], ["P-R"], actor=a),
    "record_decision": lambda f, s, a: record_decision(
        f(),
        s["mission"],
        "P-S",
        ScreeningOutcome.SELECT,
        clinician="dr.nowak",
        criteria_notes="complex fracture",
        actor=a,
    ),
    "move_patient": lambda f, s, a: move_patient(
        f(), s["referred"], PatientStatus.DIED, actor=a, reason="reported by ward"
    ),
}


def _everything(uow_factory: UowFactory) -> tuple[object, ...]:
    """What is stored, compared before and after a refused use."""
    with uow_factory() as uow:
        return (
            [(r.actor, r.entity_type, r.entity_id, r.action) for r in uow.audit.list()],
            [(p.id, p.status, p.version) for p in uow.patients.list()],
            [(r.id, r.status, r.version) for r in uow.requests.list()],
            [(m.id, dict(m.candidates), m.version) for m in uow.screenings.list()],
            [o.id for o in uow.organisations.list()],
            [f.id for f in uow.facilities.list()],
            [a.id for a in uow.agreements.list()],
            uow.capacity.latest(),
        )


@pytest.mark.storage
@pytest.mark.parametrize("use", sorted(USES))
def test_every_use_case_refuses_a_blank_actor_and_writes_nothing(
    uow_factory: UowFactory, use: str
) -> None:
    scenario = _scenario(uow_factory)
    stored = _everything(uow_factory)
    # record_decision takes an empty actor for none given: the clinician's name is recorded
    for blank in ("  ",) if use == "record_decision" else ("", "  "):
        with pytest.raises(InvalidValue) as refused:
            USES[use](uow_factory, scenario, blank)
        assert refused.value.field == "actor"
        assert _everything(uow_factory) == stored
    # the same use with a name goes through and is recorded under it
    USES[use](uow_factory, scenario, "anna")
    with uow_factory() as uow:
        assert uow.audit.list(limit=1)[0].actor == "anna"

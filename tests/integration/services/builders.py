"""A small registry built through the services, shared by the workflow tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta

from medevac.domain.facilities import Facility
from medevac.domain.geography import Coordinates
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient
from medevac.domain.repositories import UnitOfWork
from medevac.domain.screening import ScreeningMission, ScreeningOutcome
from medevac.domain.vocabulary import (
    FacilityKind,
    Mobility,
    OrganisationKind,
    Precedence,
    Specialty,
)
from medevac.services.auditing import utc_now
from medevac.services.patients import register_patient
from medevac.services.registry import register_facility, register_organisation
from medevac.services.requests import create_request, respond_to_request, submit_request
from medevac.services.screening import add_candidates, create_mission, record_decision

UowFactory = Callable[[], UnitOfWork]
ACTOR = "test-coordinator"


def registry(uow_factory: UowFactory) -> None:
    """Two organisations and one origin hospital."""
    register_organisation(
        uow_factory(),
        Organisation("ORG-A", "Origin ministry", OrganisationKind.MINISTRY_OF_HEALTH, "UA"),
        actor=ACTOR,
    )
    register_organisation(
        uow_factory(),
        Organisation("ORG-B", "Partner ministry", OrganisationKind.MINISTRY_OF_HEALTH, "PL"),
        actor=ACTOR,
    )
    register_facility(
        uow_factory(),
        Facility(
            "H-1",
            "Origin hospital",
            FacilityKind.HOSPITAL,
            "ORG-A",
            "UA",
            Coordinates(50.45, 30.52),
            frozenset({Specialty.ORTHOPAEDICS}),
        ),
        actor=ACTOR,
    )


def mission_of_org_b(
    uow_factory: UowFactory,
    place: str = "Kyiv",
    *,
    back: int = 1,
    ahead: int = 1,
    candidates: Sequence[str] = (),
) -> ScreeningMission:
    """A screening mission of ORG-B at ``place`` from ``back`` days before today to ``ahead``
    days after (decisions are stamped with the clock), with ``candidates`` added."""
    today = utc_now().date()
    mission = create_mission(
        uow_factory(),
        team_organisation_id="ORG-B",
        place=place,
        starts_on=today - timedelta(days=back),
        ends_on=today + timedelta(days=ahead),
        actor=ACTOR,
    )
    if candidates:
        add_candidates(uow_factory(), mission.id, list(candidates), actor=ACTOR)
    return mission


def reported_patients(uow_factory: UowFactory, ids: Sequence[str]) -> None:
    """Register ORG-A's priority orthopaedic patients ``ids`` at H-1 (status reported)."""
    for patient_id in ids:
        register_patient(
            uow_factory(),
            Patient(
                patient_id,
                "ORG-A",
                (Specialty.ORTHOPAEDICS,),
                Precedence.PRIORITY,
                Mobility.LITTER,
                location_id="H-1",
            ),
            actor=ACTOR,
        )


def partner_hospital(uow_factory: UowFactory, location: Coordinates) -> None:
    """Register H-B, ORG-B's orthopaedic hospital at ``location``."""
    register_facility(
        uow_factory(),
        Facility(
            "H-B",
            "Partner hospital",
            FacilityKind.HOSPITAL,
            "ORG-B",
            "PL",
            location,
            frozenset({Specialty.ORTHOPAEDICS}),
        ),
        actor=ACTOR,
    )


def selected_patients(uow_factory: UowFactory, count: int) -> list[str]:
    """Register `count` patients and select them at a screening mission."""
    ids = [f"P-{n:03d}" for n in range(1, count + 1)]
    reported_patients(uow_factory, ids)
    mission = mission_of_org_b(uow_factory, candidates=ids)
    for patient_id in ids:
        record_decision(
            uow_factory(),
            mission.id,
            patient_id,
            ScreeningOutcome.SELECT,
            clinician="dr.nowak",
            criteria_notes="complex fracture",
        )
    return ids


def accepted_request(
    uow_factory: UowFactory,
    sender: str,
    receiver: str,
    patient_ids: list[str],
    admissions: Mapping[str, tuple[str, date | None]] | None = None,
) -> str:
    """A request from ``sender`` to ``receiver`` for ``patient_ids``, submitted and accepted
    whole, with ``admissions`` named (patient -> facility and day); its id."""
    request_id = submitted_request(uow_factory, sender, receiver, patient_ids)
    respond_to_request(
        uow_factory(),
        request_id,
        patient_answers=dict.fromkeys(patient_ids, (True, "")),
        admissions=admissions,
        actor=ACTOR,
    )
    return request_id


def submitted_request(
    uow_factory: UowFactory, sender: str, receiver: str, patient_ids: list[str]
) -> str:
    """A request from ``sender`` to ``receiver`` for ``patient_ids``, submitted; its id."""
    request = create_request(
        uow_factory(),
        from_organisation_id=sender,
        to_organisation_id=receiver,
        patient_ids=patient_ids,
        actor=ACTOR,
    )
    submit_request(uow_factory(), request.id, actor=ACTOR)
    return request.id

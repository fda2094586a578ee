"""Builders of rich, valid domain objects for the storage tests (every field set)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from medevac.domain.agreements import Agreement
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Condition, Identity, Patient
from medevac.domain.requests import TreatmentRequest
from medevac.domain.screening import ScreeningDecision, ScreeningMission, ScreeningOutcome
from medevac.domain.vocabulary import (
    BodyRegion,
    Capability,
    FacilityKind,
    InjuryMechanism,
    Mobility,
    OrganisationKind,
    Precedence,
    ServiceStatus,
    Sex,
    SpecialNeed,
    Specialty,
    TriageCategory,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
#: A zone other than UTC, to check that instants survive the round trip.
KYIV = timezone(timedelta(hours=2))


def make_organisation(org_id: str = "ORG-UA", country: str = "UA") -> Organisation:
    return Organisation(
        id=org_id,
        name=f"Organisation {org_id}",
        kind=OrganisationKind.MINISTRY_OF_HEALTH,
        country=country,
        contact="desk@example.org",
    )


def make_facility(
    facility_id: str = "FAC-1",
    operator_id: str = "ORG-DE",
    kind: FacilityKind = FacilityKind.HOSPITAL,
    billed: bool = True,
) -> Facility:
    return Facility(
        id=facility_id,
        name=f"Facility {facility_id}",
        kind=kind,
        operator_id=operator_id,
        country="DE",
        location=Coordinates(52.520008, 13.404954),
        specialties=frozenset({Specialty.ORTHOPAEDICS, Specialty.BURNS}),
        capabilities=frozenset({Capability.INTENSIVE_CARE, Capability.OXYGEN}),
        total_beds=420,
        daily_admission_limit=12,
        cost_policy=CostPolicy.tariff("612.35", "EUR") if billed else CostPolicy.free(),
        city="Berlin",
    )


def make_patient(
    patient_id: str = "P-001",
    organisation_id: str = "ORG-UA",
    *,
    specialties: tuple[Specialty, ...] = (Specialty.ORTHOPAEDICS, Specialty.REHABILITATION),
    precedence: Precedence = Precedence.PRIORITY,
    location_id: str | None = None,
    moves: int = 2,
) -> Patient:
    """A patient with full identity and clinical details and `moves` status changes."""
    patient = Patient(
        id=patient_id,
        organisation_id=organisation_id,
        required_specialties=specialties,
        precedence=precedence,
        mobility=Mobility.LITTER,
        triage=TriageCategory.T1,
        identity=Identity(
            name="Olena K.",
            birth_date=date(1991, 3, 14),
            sex=Sex.FEMALE,
            nationality="UA",
            service_status=ServiceStatus.SERVICE_MEMBER,
            affiliation="Brigade 24",
        ),
        conditions=(
            Condition(BodyRegion.LOWER_LIMB, "open tibia fracture", InjuryMechanism.BLAST),
            Condition(BodyRegion.EYE, "corneal burn", InjuryMechanism.BURN),
        ),
        companions=1,
        special_needs=frozenset({SpecialNeed.OXYGEN, SpecialNeed.ISOLATION}),
        fit_to_transport=True,
        expected_length_of_stay_days=21,
        location_id=location_id,
    )
    path = [PatientStatus.SCREENING, PatientStatus.SELECTED, PatientStatus.REFERRED]
    for step, target in enumerate(path[:moves]):
        patient.transition_to(
            target,
            actor="dr.kovalenko",
            at=(T0 + timedelta(hours=step)).astimezone(KYIV),
            role=ActorRole.SCREENING_CLINICIAN if step < 2 else ActorRole.COORDINATOR,
        )
    return patient


def make_report(
    facility_id: str = "FAC-1",
    specialty: Specialty = Specialty.ORTHOPAEDICS,
    available: int = 5,
    at: datetime = T0,
) -> CapacityReport:
    return CapacityReport(
        facility_id=facility_id,
        specialty=specialty,
        available=available,
        baseline=20,
        plus_24h=2,
        plus_72h=6,
        reported_at=at,
    )


def make_request(
    request_id: str = "REQ-1",
    from_org: str = "ORG-UA",
    to_org: str = "ORG-DE",
    patient_ids: tuple[str, ...] = ("P-001",),
) -> TreatmentRequest:
    request = TreatmentRequest(
        id=request_id,
        from_organisation_id=from_org,
        to_organisation_id=to_org,
        created_at=T0.astimezone(KYIV),
        note="batch 7",
    )
    for patient_id in patient_ids:
        request.add_patient(patient_id)
    request.ask_for_places(Specialty.OPHTHALMOLOGY, 3)
    return request


def make_mission(
    mission_id: str = "MIS-1", team_org: str = "ORG-DE", facility_id: str | None = "FAC-1"
) -> ScreeningMission:
    return ScreeningMission(
        id=mission_id,
        team_organisation_id=team_org,
        place="Lviv regional hospital",
        starts_on=date(2026, 11, 19),
        ends_on=date(2026, 11, 23),
        team_members=("dr. Weber", "dr. Novak"),
        facility_id=facility_id,
    )


def decision(outcome: ScreeningOutcome, notes: str = "") -> ScreeningDecision:
    return ScreeningDecision(
        outcome=outcome,
        clinician="dr. Weber",
        criteria_notes=notes,
        decided_at=T0.astimezone(KYIV),
    )


def make_agreement(
    agreement_id: str = "AGR-1", sending: str = "ORG-UA", receiving: str = "ORG-DE"
) -> Agreement:
    return Agreement(
        id=agreement_id,
        sending_organisation_id=sending,
        receiving_organisation_id=receiving,
        specialties=frozenset({Specialty.ORTHOPAEDICS, Specialty.NEUROLOGY}),
        quota=40,
        cost_policy=CostPolicy.tariff(Decimal("450.5"), "EUR"),
        valid_from=date(2026, 1, 1),
        valid_to=date(2026, 12, 31),
    )

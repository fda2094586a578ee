"""Small builders of valid domain objects for tests."""

from __future__ import annotations

from datetime import UTC, datetime

from medevac.domain.lifecycle import PatientStatus
from medevac.domain.patients import Patient
from medevac.domain.vocabulary import Mobility, Precedence, Specialty

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def make_patient(
    status: PatientStatus = PatientStatus.REPORTED, patient_id: str = "P-001"
) -> Patient:
    return Patient(
        id=patient_id,
        organisation_id="ORG-A",
        required_specialties=(Specialty.ORTHOPAEDICS, Specialty.REHABILITATION),
        precedence=Precedence.PRIORITY,
        mobility=Mobility.LITTER,
        status=status,
    )

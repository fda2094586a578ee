"""Screening mission use cases: plan a mission, add candidates, record decisions, report."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from medevac.domain.audit import snapshot
from medevac.domain.errors import InvalidValue
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.repositories import UnitOfWork
from medevac.domain.screening import (
    ScreeningDecision,
    ScreeningMission,
    ScreeningOutcome,
    ScreeningReport,
)
from medevac.services.auditing import audit, utc_now
from medevac.services.patients import apply_move

#: Patients who may be put before a screening team.
_SCREENABLE = {PatientStatus.REPORTED, PatientStatus.DEFERRED, PatientStatus.DECLINED}


def create_mission(
    uow: UnitOfWork,
    *,
    team_organisation_id: str,
    place: str,
    starts_on: date,
    ends_on: date,
    team_members: Sequence[str] = (),
    facility_id: str | None = None,
    actor: str,
    mission_id: str | None = None,
) -> ScreeningMission:
    """Plan a visiting team's screening mission."""
    with uow:
        uow.organisations.get(team_organisation_id)
        if facility_id is not None:
            uow.facilities.get(facility_id)
        mission = ScreeningMission(
            id=mission_id or f"SCR-{uuid.uuid4().hex[:8].upper()}",
            team_organisation_id=team_organisation_id,
            place=place,
            starts_on=starts_on,
            ends_on=ends_on,
            team_members=tuple(team_members),
            facility_id=facility_id,
        )
        if uow.screenings.find(mission.id) is not None:
            raise InvalidValue("id", f"screening mission {mission.id!r} already exists")
        uow.screenings.add(mission)
        audit(uow, "screening_mission", mission, "create", actor=actor)
        uow.commit()
    return mission


def add_candidates(
    uow: UnitOfWork, mission_id: str, patient_ids: Sequence[str], *, actor: str
) -> ScreeningMission:
    """Put patients before the team; each moves to screening."""
    with uow:
        mission = uow.screenings.get(mission_id)
        before = snapshot(mission)
        now = utc_now()
        for patient_id in patient_ids:
            patient = uow.patients.get(patient_id)
            if patient.status not in _SCREENABLE:
                raise InvalidValue(
                    "candidate",
                    f"{patient_id} is {patient.status}; only reported, deferred or declined "
                    "patients can be screened",
                )
            mission.add_candidate(patient_id)
            apply_move(
                uow,
                patient,
                PatientStatus.SCREENING,
                actor=actor,
                reason=f"candidate of screening mission {mission.id}",
                role=ActorRole.COORDINATOR,
                at=now,
            )
        uow.screenings.update(mission)
        audit(
            uow, "screening_mission", mission, "add_candidates", actor=actor, before=before, at=now
        )
        uow.commit()
    return mission


def record_decision(
    uow: UnitOfWork,
    mission_id: str,
    patient_id: str,
    outcome: ScreeningOutcome,
    *,
    clinician: str,
    criteria_notes: str,
    decided_at: datetime | None = None,
    actor: str | None = None,
) -> ScreeningDecision:
    """Record a clinician's decision on a candidate and move the patient accordingly."""
    with uow:
        mission = uow.screenings.get(mission_id)
        before = snapshot(mission)
        patient = uow.patients.get(patient_id)
        if patient.status is not PatientStatus.SCREENING:
            raise InvalidValue(
                "candidate", f"{patient_id} is {patient.status}, not awaiting a screening decision"
            )
        decision = ScreeningDecision(outcome, clinician, criteria_notes, decided_at or utc_now())
        mission.decide(patient_id, decision)
        who = actor or clinician
        apply_move(
            uow,
            patient,
            decision.outcome.patient_status,
            actor=who,
            reason=criteria_notes or f"{outcome} at screening mission {mission.id}",
            role=ActorRole.SCREENING_CLINICIAN,
            at=decision.decided_at,
        )
        uow.screenings.update(mission)
        audit(
            uow,
            "screening_mission",
            mission,
            f"decide:{patient_id}:{outcome}",
            actor=who,
            before=before,
            reason=criteria_notes,
            at=decision.decided_at,
        )
        uow.commit()
    return decision


def mission_report(uow: UnitOfWork, mission_id: str) -> tuple[ScreeningMission, ScreeningReport]:
    with uow:
        mission = uow.screenings.get(mission_id)
    return mission, mission.report()


def list_missions(uow: UnitOfWork) -> list[ScreeningMission]:
    with uow:
        return uow.screenings.list()

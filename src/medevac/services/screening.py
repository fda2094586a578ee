"""Screening mission use cases: plan a mission, add candidates, record decisions, report."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from medevac.domain.audit import snapshot
from medevac.domain.errors import InvalidValue
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.limits import check_new_id
from medevac.domain.patients import MoveTimes, Patient
from medevac.domain.repositories import UnitOfWork
from medevac.domain.screening import (
    CANDIDATE_REASON,
    ScreeningDecision,
    ScreeningMission,
    ScreeningOutcome,
    ScreeningReport,
    team_members_fault,
)
from medevac.services.auditing import audit, utc_now
from medevac.services.clock import day_of, local
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
    """Plan a visiting team's screening mission. One that ends before today (the operation's
    calendar, `day_of`) is refused: it could take no candidates (`add_candidates`). The team
    members' names are checked here (`team_members_fault`)."""
    if mission_id is not None:
        check_new_id(mission_id)
    fault = team_members_fault(tuple(team_members))
    if fault is not None:
        raise InvalidValue("team_members", fault)
    today = day_of(utc_now())
    if ends_on < today:
        raise InvalidValue(
            "ends_on",
            f"{ends_on} is before today ({today}): a mission that has ended could take no "
            "candidates",
        )
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
    """Put patients before the team; each moves to screening. With no patients nothing
    changes: no audit record, no new version. A mission that has ended (its last day is
    before today in the operation's calendar, `day_of`) takes no more candidates: no decision
    could be recorded for them (a decision lies within the mission's dates and not before the
    patient's move into screening), and they would stay in screening for ever."""
    with uow:
        mission = uow.screenings.get(mission_id)
        if not patient_ids:
            return mission
        before = snapshot(mission)
        now = utc_now()
        today = day_of(now)
        if mission.ends_on < today:
            raise InvalidValue(
                "mission",
                f"screening mission {mission.id} ({mission.starts_on}..{mission.ends_on}) "
                f"ended before today ({today}); put the patients before a mission still to "
                "come or under way",
            )
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
                reason=f"{CANDIDATE_REASON}{mission.id}",
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
    """Record a clinician's decision on a candidate and move the patient accordingly.

    Only the mission the patient is now a candidate of decides (`candidate_of`): a mission
    that examined the patient before it was put before another mission is refused, naming
    both. ``decided_at`` (default now) must lie within the mission's dates, and neither before
    the patient's latest move (into screening) nor in the future, give or take
    `CLOCK_SKEW`. The audit record's action is "decide:OUTCOME"; its reason starts with the
    patient's id (an action of 64 characters at most fits the audit log's column).
    """
    with uow:
        mission = uow.screenings.get(mission_id)
        before = snapshot(mission)
        patient = uow.patients.get(patient_id)
        if patient.status is not PatientStatus.SCREENING:
            raise InvalidValue(
                "candidate", f"{patient_id} is {patient.status}, not awaiting a screening decision"
            )
        now = utc_now()
        moment = decided_at or now
        if moment.tzinfo is not None:  # a time without a zone is refused as it is, below
            moment = local(moment)  # the mission's dates are days of the operation's calendar
        # the mission keeps the instant in UTC (`decide`), as stored
        decision = mission.decide(
            patient_id,
            ScreeningDecision(outcome, clinician, criteria_notes, moment),
            candidate_of=candidate_of(patient),
            last_move=_local(MoveTimes.of(patient).last),  # its errors show the cell's times
            now=local(now),
        )
        who = actor or clinician
        apply_move(
            uow,
            patient,
            decision.outcome.patient_status,
            actor=who,
            reason=criteria_notes or f"{outcome} at screening mission {mission.id}",
            role=ActorRole.SCREENING_CLINICIAN,
            at=decision.decided_at,
            recorded=now,
        )
        uow.screenings.update(mission)
        notes = criteria_notes.strip()
        audit(
            uow,
            "screening_mission",
            mission,
            f"decide:{outcome}",
            actor=who,
            before=before,
            reason=f"{patient_id}: {notes}" if notes else patient_id,
            at=now,  # when it was recorded; the decision keeps the time it was made
        )
        uow.commit()
    return decision


def candidate_of(patient: Patient) -> str | None:
    """The screening mission the patient is now a candidate of: the one that last put it
    before its team (the latest move into screening that `add_candidates` made). None when no
    mission ever did (a patient moved into screening by hand only)."""
    for change in reversed(patient.history):
        if change.to_status is PatientStatus.SCREENING and change.reason.startswith(
            CANDIDATE_REASON
        ):
            return change.reason.removeprefix(CANDIDATE_REASON)
    return None


@dataclass(frozen=True, slots=True)
class MissionReport:
    """A mission, its counts, and its undecided candidates who no longer await its decision,
    each with where it is now ("now died", "now a candidate of SCR-2"; `mission_report`)."""

    mission: ScreeningMission
    counts: ScreeningReport
    left: dict[str, str]


def mission_report(uow: UnitOfWork, mission_id: str) -> MissionReport:
    """The mission's counts, where an undecided candidate who is no longer in screening for
    this mission (dead, cancelled, moved on by hand, or put before another mission since) is
    counted as left rather than pending: no decision of this mission can come for it (a report
    had shown such patients pending for ever)."""
    with uow:
        mission = uow.screenings.get(mission_id)
        undecided = [p for p, d in mission.candidates.items() if d is None]
        patients = uow.patients.get_many(undecided) if undecided else {}
    left = {}
    for patient_id, patient in patients.items():
        if patient.status is not PatientStatus.SCREENING:
            left[patient_id] = f"now {patient.status}"
        elif (other := candidate_of(patient)) != mission.id:
            left[patient_id] = (
                "put in screening by hand" if other is None else f"now a candidate of {other}"
            )
    return MissionReport(mission, mission.report(len(left)), left)


def list_missions(uow: UnitOfWork) -> list[ScreeningMission]:
    with uow:
        return uow.screenings.list()


def _local(moment: datetime | None) -> datetime | None:
    return None if moment is None else local(moment)

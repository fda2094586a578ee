"""Screening missions: a visiting team examines candidates and selects, defers or declines each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from medevac.domain.errors import InvalidValue
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.limits import check_lengths


class ScreeningOutcome(StrEnum):
    """A clinician's decision on one candidate."""

    SELECT = "select"
    DEFER = "defer"
    DECLINE = "decline"

    @property
    def patient_status(self) -> PatientStatus:
        return {
            ScreeningOutcome.SELECT: PatientStatus.SELECTED,
            ScreeningOutcome.DEFER: PatientStatus.DEFERRED,
            ScreeningOutcome.DECLINE: PatientStatus.DECLINED,
        }[self]


@dataclass(frozen=True, slots=True)
class ScreeningDecision:
    """What was decided for a candidate, on which criteria, by which clinician and when."""

    outcome: ScreeningOutcome
    clinician: str
    criteria_notes: str
    decided_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", ScreeningOutcome(self.outcome))
        if not self.clinician.strip():
            raise InvalidValue("clinician", "every decision names the clinician who made it")
        check_lengths(self, texts=("clinician",))
        if self.outcome is not ScreeningOutcome.SELECT and not self.criteria_notes.strip():
            raise InvalidValue(
                "criteria_notes", f"a decision to {self.outcome} needs the criteria that led to it"
            )


@dataclass(frozen=True, slots=True)
class ScreeningReport:
    """Counts of a mission: examined is every candidate with a decision."""

    candidates: int
    examined: int
    selected: int
    deferred: int
    declined: int

    @property
    def pending(self) -> int:
        return self.candidates - self.examined


@dataclass(slots=True)
class ScreeningMission:
    """A visiting medical team examining candidates at a place over some dates."""

    id: str
    team_organisation_id: str
    place: str
    starts_on: date
    ends_on: date
    team_members: tuple[str, ...] = ()
    facility_id: str | None = None
    candidates: dict[str, ScreeningDecision | None] = field(default_factory=dict)
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not self.place.strip():
            raise InvalidValue("place", "is empty")
        check_lengths(self, ids=("id", "team_organisation_id", "facility_id"), texts=("place",))
        if self.ends_on < self.starts_on:
            raise InvalidValue("ends_on", f"{self.ends_on} is before the start {self.starts_on}")

    def add_candidate(self, patient_id: str) -> None:
        if patient_id in self.candidates:
            raise InvalidValue("candidate", f"{patient_id!r} is already a candidate of {self.id}")
        self.candidates[patient_id] = None

    def decide(self, patient_id: str, decision: ScreeningDecision) -> None:
        """Record the decision for a candidate (a later decision replaces an earlier one)."""
        if patient_id not in self.candidates:
            raise InvalidValue("candidate", f"{patient_id!r} is not a candidate of {self.id}")
        if not self.starts_on <= decision.decided_at.date() <= self.ends_on:
            raise InvalidValue(
                "decided_at",
                f"{decision.decided_at.date()} is outside the mission's dates "
                f"{self.starts_on}..{self.ends_on}",
            )
        self.candidates[patient_id] = decision

    def report(self) -> ScreeningReport:
        decisions = [d for d in self.candidates.values() if d is not None]

        def count(outcome: ScreeningOutcome) -> int:
            return sum(1 for d in decisions if d.outcome is outcome)

        return ScreeningReport(
            candidates=len(self.candidates),
            examined=len(decisions),
            selected=count(ScreeningOutcome.SELECT),
            deferred=count(ScreeningOutcome.DEFER),
            declined=count(ScreeningOutcome.DECLINE),
        )

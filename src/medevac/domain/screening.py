"""Screening missions: a visiting team examines candidates and selects, defers or declines each."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum

from medevac.domain.errors import InvalidValue
from medevac.domain.lifecycle import PatientStatus, check_free_text
from medevac.domain.limits import CLOCK_SKEW, MAX_TEXT_LENGTH, check_lengths, text_fault

#: the reason of the move into screening that makes a patient a mission's candidate, before
#: the mission's id: the one record of whose candidate the patient is (`candidate_of`)
CANDIDATE_REASON = "candidate of screening mission "


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
        check_free_text("criteria_notes", self.criteria_notes)
        if self.decided_at.tzinfo is None:
            raise InvalidValue("decided_at", "needs a time zone (for example 2026-11-20T08:00Z)")
        if self.outcome is not ScreeningOutcome.SELECT and not self.criteria_notes.strip():
            raise InvalidValue(
                "criteria_notes", f"a decision to {self.outcome} needs the criteria that led to it"
            )


@dataclass(frozen=True, slots=True)
class ScreeningReport:
    """Counts of a mission: examined is every candidate with a decision; left, those without
    one who no longer await it (dead, cancelled, moved on by hand, or put before another
    mission since: `left` of the services' report, 0 where the patients were not read)."""

    candidates: int
    examined: int
    selected: int
    deferred: int
    declined: int
    left: int = 0

    @property
    def pending(self) -> int:
        return self.candidates - self.examined - self.left


def team_members_fault(members: tuple[str, ...]) -> str | None:
    """What makes a new mission's team members unfit, or None: a blank name, one longer than
    the registry keeps for a name, or one holding a control character or a bidi control
    (`text_fault`: an ESC sequence had reached the terminal of whoever read the report, and a
    lone surrogate had failed at the database write with a traceback). Checked where a mission
    is created, not where one is read back (a mission stored before keeps reading)."""
    for n, member in enumerate(members, start=1):
        if not member.strip():
            return f"member {n} is empty"
        if len(member) > MAX_TEXT_LENGTH:
            return (
                f"member {n} is {len(member):,} characters long; at most {MAX_TEXT_LENGTH} are "
                "allowed"
            )
        fault = text_fault(member)
        if fault is not None:
            return f"member {n} {fault}"
    return None


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

    def decide(
        self,
        patient_id: str,
        decision: ScreeningDecision,
        *,
        candidate_of: str | None = None,
        last_move: datetime | None = None,
        now: datetime | None = None,
    ) -> ScreeningDecision:
        """Record the decision for a candidate (a later decision replaces an earlier one: a
        patient examined again by the same mission).

        ``candidate_of`` is the mission the patient is now a candidate of (the one that last
        put it before its team): only that mission decides, so that a mission that examined
        the patient earlier cannot decide it while it is another mission's candidate (that
        mission would keep it pending for ever, and this one's report would change). The
        decision's time must lie within the mission's dates, and neither before ``last_move``
        (the patient's latest move, into screening) nor after ``now``, give or take
        `CLOCK_SKEW` either way (for clocks that differ a little: within it a decision may be
        timed up to five minutes before the move it follows), and a decision dated ahead does
        not stay at the top of the audit trail.

        The dates are compared in the zone the decision's time is given in (the services give
        it in the operation's); the mission keeps the instant in UTC, as the registry stores
        it (a decision kept in the cell's zone made an audit record's "after" differ from the
        next record's "before" for a candidate nobody touched), and returns it so.
        """
        if patient_id not in self.candidates:
            raise InvalidValue("candidate", f"{patient_id!r} is not a candidate of {self.id}")
        if candidate_of is not None and candidate_of != self.id:
            raise InvalidValue(
                "candidate",
                f"{patient_id!r} is now a candidate of screening mission {candidate_of}, not of "
                f"{self.id}: only {candidate_of} may decide it",
            )
        moment = decision.decided_at
        if not self.starts_on <= moment.date() <= self.ends_on:
            raise InvalidValue(
                "decided_at",
                f"{moment.date()} is outside the mission's dates {self.starts_on}..{self.ends_on}",
            )
        if last_move is not None and moment < last_move - CLOCK_SKEW:
            raise InvalidValue(
                "decided_at",
                f"{_at(moment)} is before {patient_id}'s latest move, into screening "
                f"({_at(last_move)}): a decision cannot precede it",
            )
        if now is not None and moment > now + CLOCK_SKEW:
            raise InvalidValue("decided_at", f"{_at(moment)} is in the future (now {_at(now)})")
        kept = replace(decision, decided_at=moment.astimezone(UTC))
        self.candidates[patient_id] = kept
        return kept

    def report(self, left: int = 0) -> ScreeningReport:
        """The mission's counts; ``left``: the undecided candidates who no longer await a
        decision (the services know them: `mission_report`)."""
        decisions = [d for d in self.candidates.values() if d is not None]

        def count(outcome: ScreeningOutcome) -> int:
            return sum(1 for d in decisions if d.outcome is outcome)

        return ScreeningReport(
            candidates=len(self.candidates),
            examined=len(decisions),
            selected=count(ScreeningOutcome.SELECT),
            deferred=count(ScreeningOutcome.DEFER),
            declined=count(ScreeningOutcome.DECLINE),
            left=left,
        )


def _at(moment: datetime) -> str:
    """A moment in a message: to the second, with its offset (the services hand the domain
    moments in the cell's time zone)."""
    return moment.isoformat(timespec="seconds")

"""Patients: pseudonymous identity, conditions, clinical needs and their lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from medevac.domain.errors import InvalidValue
from medevac.domain.geography import country_code
from medevac.domain.lifecycle import ActorRole, PatientStatus, check_free_text, check_transition
from medevac.domain.limits import MAX_COUNT, MAX_DAYS, check_at_most, check_lengths, text_fault
from medevac.domain.vocabulary import (
    BodyRegion,
    InjuryMechanism,
    Mobility,
    Precedence,
    ServiceStatus,
    Sex,
    SpecialNeed,
    Specialty,
    TriageCategory,
)


@dataclass(frozen=True, slots=True)
class Condition:
    """An injury or illness: where, what and how."""

    body_region: BodyRegion
    description: str
    mechanism: InjuryMechanism = InjuryMechanism.OTHER

    def __post_init__(self) -> None:
        object.__setattr__(self, "body_region", BodyRegion(self.body_region))
        object.__setattr__(self, "mechanism", InjuryMechanism(self.mechanism))
        if not self.description.strip():
            raise InvalidValue("conditions.description", "is empty")
        # the rule of names (`text_fault`): an ESC sequence or a line break had been stored
        fault = text_fault(self.description)
        if fault is not None:
            raise InvalidValue("conditions.description", f"description {fault}")


@dataclass(frozen=True, slots=True)
class Identity:
    """Optional identifying details; the pseudonymous id stands in for them everywhere else."""

    name: str = ""
    birth_date: date | None = None
    sex: Sex = Sex.UNKNOWN
    nationality: str | None = None
    service_status: ServiceStatus = ServiceStatus.UNKNOWN
    affiliation: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sex", Sex(self.sex))
        object.__setattr__(self, "service_status", ServiceStatus(self.service_status))
        if self.nationality:
            object.__setattr__(self, "nationality", country_code(self.nationality, "nationality"))
        if self.birth_date is not None and self.birth_date > latest_today():
            raise InvalidValue("birth_date", f"{self.birth_date} is in the future")
        check_lengths(self, texts=("name", "affiliation"))


def latest_today() -> date:
    """Today's date where it is latest (UTC+14): a newborn registered on the cell's today is
    not born in the future whatever the cell's time zone (`MEDEVAC_TIME_ZONE`, which the
    domain does not read; the machine's date had refused one at UTC+14)."""
    return (datetime.now(UTC) + timedelta(hours=14)).date()


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One move in a patient's lifecycle: who made it, when and why."""

    from_status: PatientStatus | None
    to_status: PatientStatus
    actor: str
    at: datetime
    reason: str = ""
    role: ActorRole = ActorRole.COORDINATOR

    def __post_init__(self) -> None:
        check_lengths(self, texts=("actor",))
        check_free_text("reason", self.reason)


@dataclass(slots=True)
class Patient:
    """A wounded or sick person known by a pseudonymous id.

    `required_specialties` lists the primary specialty first. Status changes only through
    `transition_to`, which enforces the lifecycle and records who, when and why.
    """

    id: str
    organisation_id: str
    required_specialties: tuple[Specialty, ...]
    precedence: Precedence
    mobility: Mobility
    triage: TriageCategory = TriageCategory.T2
    identity: Identity = field(default_factory=Identity)
    conditions: tuple[Condition, ...] = ()
    companions: int = 0
    special_needs: frozenset[SpecialNeed] = frozenset()
    fit_to_transport: bool = False
    expected_length_of_stay_days: int | None = None
    location_id: str | None = None
    status: PatientStatus = PatientStatus.REPORTED
    history: list[StatusChange] = field(default_factory=list)
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidValue("id", "is empty")
        if not self.organisation_id.strip():
            raise InvalidValue("organisation", "is empty")
        check_lengths(self, ids=("id", "organisation_id", "location_id"))
        specialties = tuple(Specialty(s) for s in self.required_specialties)
        if not specialties:
            raise InvalidValue("required_specialties", "needs at least one specialty")
        if len(set(specialties)) != len(specialties):
            raise InvalidValue("required_specialties", "lists a specialty twice")
        self.required_specialties = specialties
        self.precedence = Precedence(self.precedence)
        self.mobility = Mobility(self.mobility)
        self.triage = TriageCategory(self.triage)
        self.status = PatientStatus(self.status)
        self.special_needs = frozenset(SpecialNeed(n) for n in self.special_needs)
        self.conditions = tuple(self.conditions)
        if self.companions < 0:
            raise InvalidValue("companions", f"{self.companions} is negative")
        check_at_most("companions", self.companions, MAX_COUNT, "companions")
        if self.expected_length_of_stay_days is not None and self.expected_length_of_stay_days < 1:
            raise InvalidValue(
                "expected_length_of_stay_days",
                f"{self.expected_length_of_stay_days} is not a stay of at least one day",
            )
        check_at_most(
            "expected_length_of_stay_days", self.expected_length_of_stay_days, MAX_DAYS, "days"
        )

    @property
    def primary_specialty(self) -> Specialty:
        return self.required_specialties[0]

    @property
    def seats_needed(self) -> int:
        """Seats the patient's party takes on a transport (companions always sit)."""
        return self.companions + (1 if self.mobility is Mobility.AMBULATORY else 0)

    @property
    def litters_needed(self) -> int:
        return 1 if self.mobility is Mobility.LITTER else 0

    def can_move_to(self, target: PatientStatus, role: ActorRole = ActorRole.COORDINATOR) -> bool:
        try:
            check_transition(f"patient {self.id}", self.status, target, role, reason="-")
        except Exception:
            return False
        return True

    def transition_to(
        self,
        target: PatientStatus,
        *,
        actor: str,
        at: datetime,
        reason: str = "",
        role: ActorRole = ActorRole.COORDINATOR,
    ) -> StatusChange:
        """Move to `target` if the lifecycle allows it; record and return the change."""
        target = PatientStatus(target)
        if not actor.strip():
            raise InvalidValue("actor", "every move needs the name of who makes it")
        check_transition(f"patient {self.id}", self.status, target, role, reason)
        change = StatusChange(self.status, target, actor, at, reason.strip(), role)
        self.status = target
        self.history.append(change)
        return change


@dataclass(frozen=True, slots=True)
class MoveTimes:
    """When a patient last left `referred` (its acceptance, or the referral's end), was last
    admitted, and last moved; read from its history without the rest of the record."""

    left_referred: datetime | None
    admitted: datetime | None
    last: datetime | None

    @classmethod
    def of(cls, patient: Patient) -> MoveTimes:
        def latest(moves: list[datetime]) -> datetime | None:
            return max(moves) if moves else None

        history = patient.history
        return cls(
            latest([c.at for c in history if c.from_status is PatientStatus.REFERRED]),
            latest([c.at for c in history if c.to_status is PatientStatus.ADMITTED]),
            latest([c.at for c in history]),
        )


@dataclass(frozen=True, slots=True)
class PlanningPatient:
    """What the regulating engine needs of a patient, read without its history or identity.

    At national scale the planned pool holds 100,000 patients; reading them as full `Patient`s
    (identity, conditions, every status change) took most of `medevac plan build`.
    """

    id: str
    version: int
    organisation_id: str
    primary_specialty: Specialty
    precedence: Precedence
    special_needs: frozenset[SpecialNeed]
    fit_to_transport: bool
    expected_length_of_stay_days: int | None
    location_id: str | None
    status: PatientStatus

    @classmethod
    def of(cls, patient: Patient) -> PlanningPatient:
        return cls(
            patient.id,
            patient.version,
            patient.organisation_id,
            patient.primary_specialty,
            patient.precedence,
            frozenset(patient.special_needs),
            patient.fit_to_transport,
            patient.expected_length_of_stay_days,
            patient.location_id,
            patient.status,
        )

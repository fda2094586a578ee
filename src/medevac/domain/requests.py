"""Treatment requests: one organisation asks another to treat patients or a number of places."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from medevac.domain.errors import IllegalTransition, InvalidValue, LiveRequestConflict
from medevac.domain.lifecycle import check_free_text, free_text_fault
from medevac.domain.limits import MAX_COUNT, check_at_most, check_lengths
from medevac.domain.vocabulary import Specialty


class RequestStatus(StrEnum):
    """Where a treatment request stands."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_ACCEPTED = "partially_accepted"
    DECLINED = "declined"
    CLOSED = "closed"

    @property
    def is_live(self) -> bool:
        return self in LIVE_REQUEST_STATUSES


LIVE_REQUEST_STATUSES = frozenset(
    {
        RequestStatus.DRAFT,
        RequestStatus.SUBMITTED,
        RequestStatus.ACCEPTED,
        RequestStatus.PARTIALLY_ACCEPTED,
    }
)


class PatientDecision(StrEnum):
    """The receiving side's answer for one patient on a request."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


@dataclass(slots=True)
class RequestedPatient:
    """A patient listed on a request and the answer given for them.

    An acceptance may say where and when the patient is to be admitted (`facility_id`,
    `admission_date`): `medevac plan build` then holds the patient's bed there, as it does for
    patients an approved plan sent. `decided_at` is when the answer was recorded; `named_at`
    when the facility was last named, by the answer or by a later `name_admission` (a report
    the facility made before then cannot count the patient).
    """

    patient_id: str
    decision: PatientDecision = PatientDecision.PENDING
    reason: str = ""
    facility_id: str | None = None
    admission_date: date | None = None
    decided_at: datetime | None = None
    named_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.decision in (PatientDecision.PENDING, PatientDecision.ACCEPTED)


@dataclass(frozen=True, slots=True)
class Acceptance:
    """A request's answer that accepted a patient: who accepted it, when (None for answers
    recorded before revision 0005 that left no audit record), and where and when the patient
    is to be admitted if the answer (or a later `name_admission`) said so, and when that
    facility was named (`RequestedPatient.named_at`)."""

    request_id: str
    patient_id: str
    receiver_id: str
    decided_at: datetime | None
    facility_id: str | None = None
    admission_date: date | None = None
    named_at: datetime | None = None


@dataclass(slots=True)
class RequestedPlaces:
    """A number of places asked for in one specialty, and how many were granted."""

    specialty: Specialty
    requested: int
    accepted: int | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        self.specialty = Specialty(self.specialty)
        if self.requested < 1:
            raise InvalidValue("places.requested", f"{self.requested} is not at least 1")
        check_at_most("places.requested", self.requested, MAX_COUNT, "places")
        check_at_most("places.accepted", self.accepted, MAX_COUNT, "places")


#: Allowed status moves other than the answer itself (see `respond`).
_MOVES: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.DRAFT: frozenset({RequestStatus.SUBMITTED, RequestStatus.CLOSED}),
    RequestStatus.SUBMITTED: frozenset(
        {
            RequestStatus.ACCEPTED,
            RequestStatus.PARTIALLY_ACCEPTED,
            RequestStatus.DECLINED,
            RequestStatus.CLOSED,
        }
    ),
    RequestStatus.ACCEPTED: frozenset({RequestStatus.CLOSED}),
    RequestStatus.PARTIALLY_ACCEPTED: frozenset({RequestStatus.CLOSED}),
    RequestStatus.DECLINED: frozenset(),
    RequestStatus.CLOSED: frozenset(),
}


@dataclass(slots=True)
class TreatmentRequest:
    """A request from one organisation to another to treat patients.

    It lists patients or asks for a number of places per specialty (or both). The answer
    accepts, partially accepts or declines; every declined patient or shortfall carries a reason.
    """

    id: str
    from_organisation_id: str
    to_organisation_id: str
    created_at: datetime
    status: RequestStatus = RequestStatus.DRAFT
    patients: list[RequestedPatient] = field(default_factory=list)
    places: list[RequestedPlaces] = field(default_factory=list)
    note: str = ""
    closed_reason: str = ""
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.status = RequestStatus(self.status)
        if self.from_organisation_id == self.to_organisation_id:
            raise InvalidValue("to_organisation", "a request must go to another organisation")
        check_lengths(self, ids=("id", "from_organisation_id", "to_organisation_id"))
        check_free_text("note", self.note)

    @property
    def is_live(self) -> bool:
        return self.status.is_live

    def open_patient_ids(self) -> list[str]:
        """Patients this request still holds (pending or accepted) while it is live."""
        if not self.is_live:
            return []
        return [p.patient_id for p in self.patients if p.is_open]

    def line(self, patient_id: str) -> RequestedPatient:
        for entry in self.patients:
            if entry.patient_id == patient_id:
                return entry
        raise InvalidValue("patient", f"{patient_id!r} is not on request {self.id}")

    def _require_draft(self, action: str) -> None:
        if self.status is not RequestStatus.DRAFT:
            raise IllegalTransition(
                f"request {self.id}",
                self.status,
                self.status,
                f"cannot {action} once {self.status}",
            )

    def add_patient(self, patient_id: str, live_elsewhere: Iterable[str] = ()) -> None:
        """List a patient; refused if already listed or on another live request."""
        self._require_draft("add patients")
        if any(p.patient_id == patient_id for p in self.patients):
            raise InvalidValue("patient", f"{patient_id!r} is already on request {self.id}")
        others = [r for r in live_elsewhere if r != self.id]
        if others:
            raise LiveRequestConflict(
                f"patient {patient_id!r} is already on live request {others[0]}; "
                "close that request or withdraw the patient from it first"
            )
        self.patients.append(RequestedPatient(patient_id))

    def ask_for_places(self, specialty: Specialty, count: int) -> None:
        self._require_draft("ask for places")
        if any(p.specialty == specialty for p in self.places):
            raise InvalidValue("places", f"{specialty} is already asked for on request {self.id}")
        self.places.append(RequestedPlaces(specialty, count))

    def submit(self) -> None:
        self._move(RequestStatus.SUBMITTED)
        if not self.patients and not self.places:
            self.status = RequestStatus.DRAFT
            raise IllegalTransition(
                f"request {self.id}", "draft", "submitted", "it lists no patients and no places"
            )

    def _check_answerable(self) -> None:
        """Refuse to answer a request that is not submitted (IllegalTransition)."""
        if self.status is not RequestStatus.SUBMITTED:
            raise IllegalTransition(
                f"request {self.id}",
                self.status,
                "answered",
                "only a submitted request is answered",
            )

    def respond(
        self,
        patient_answers: Mapping[str, tuple[bool, str]] | None = None,
        place_answers: Mapping[Specialty, tuple[int, str]] | None = None,
        *,
        destinations: Mapping[str, tuple[str, date]] | None = None,
        at: datetime | None = None,
    ) -> RequestStatus:
        """Record the receiving side's answer and set accepted, partially accepted or declined.

        `patient_answers` maps each pending patient to (accepted, reason); `place_answers` maps each
        asked specialty to (places granted, reason). Every pending line must be answered; a decline
        or a shortfall needs a reason. `destinations` maps patients accepted in this answer to the
        facility and day of their admission; `at` is when the answer is recorded (and when those
        facilities are named, `named_at`).
        """
        self._check_answerable()
        patient_answers = dict(patient_answers or {})
        place_answers = dict(place_answers or {})
        problems: list[str] = []
        listed = {p.patient_id for p in self.patients}
        problems += [
            f"patient {pid!r} is not on the request" for pid in patient_answers.keys() - listed
        ]
        for entry in self.patients:
            if entry.decision is not PatientDecision.PENDING:
                if entry.patient_id in patient_answers:
                    problems += self._answered_already(entry, patient_answers[entry.patient_id])
                continue
            if entry.patient_id not in patient_answers:
                problems.append(f"patient {entry.patient_id!r} has no answer")
                continue
            accepted, reason = patient_answers[entry.patient_id]
            if not accepted and not reason.strip():
                problems.append(f"patient {entry.patient_id!r} is declined without a reason")
            elif (fault := free_text_fault(reason)) is not None:
                problems.append(f"patient {entry.patient_id!r}: its reason {fault}")
        destinations = dict(destinations or {})
        for patient_id in sorted(destinations):
            answer = patient_answers.get(patient_id)
            if patient_id not in listed:
                problems.append(f"patient {patient_id!r} has an admission but is not listed")
            elif self.line(patient_id).decision is not PatientDecision.PENDING:
                problems.append(
                    f"patient {patient_id!r} has an admission but was "
                    f"{self.line(patient_id).decision} before this answer"
                )
            elif answer is None or not answer[0]:
                problems.append(f"patient {patient_id!r} has an admission but is not accepted")
        asked = {p.specialty for p in self.places}
        problems += [f"{s} places were not asked for" for s in place_answers.keys() - asked]
        for line in self.places:
            if line.specialty not in place_answers:
                problems.append(f"{line.specialty} places have no answer")
                continue
            granted, reason = place_answers[line.specialty]
            if not 0 <= granted <= line.requested:
                problems.append(f"{line.specialty}: {granted} granted of {line.requested} asked")
            elif granted < line.requested and not reason.strip():
                problems.append(f"{line.specialty}: {granted} of {line.requested} without a reason")
            elif (fault := free_text_fault(reason)) is not None:
                problems.append(f"{line.specialty}: its reason {fault}")
        if problems:
            raise InvalidValue("answer", "; ".join(problems))

        for entry in self.patients:
            if entry.decision is PatientDecision.PENDING:
                accepted, reason = patient_answers[entry.patient_id]
                entry.decision = PatientDecision.ACCEPTED if accepted else PatientDecision.DECLINED
                entry.reason = reason.strip()
                entry.decided_at = at
                if entry.patient_id in destinations:
                    entry.facility_id, entry.admission_date = destinations[entry.patient_id]
                    entry.named_at = at
        for line in self.places:
            line.accepted, line.reason = (
                place_answers[line.specialty][0],
                place_answers[line.specialty][1].strip(),
            )

        outcome = self._outcome()
        self._move(outcome)
        return outcome

    def _answered_already(self, entry: RequestedPatient, answer: tuple[bool, str]) -> list[str]:
        """The problem with an answer for a patient whose line is no longer pending: none when
        it gives the answer already recorded (accepted again, or declined again: the first
        decline's reason stays), else one naming the patient and its line's decision (an
        answer that would have been dropped without a word, the recorded one kept)."""
        accepted = answer[0]
        given = {PatientDecision.ACCEPTED: True, PatientDecision.DECLINED: False}
        if given.get(entry.decision) is accepted:
            return []
        said = "accept" if accepted else "decline"
        why = f" ({entry.reason})" if entry.reason and not entry.is_open else ""
        return [
            f"patient {entry.patient_id!r} is already {entry.decision} on request {self.id}"
            f"{why}; this answer cannot {said} it"
        ]

    def answer_patient(self, patient_id: str, accepted: bool, reason: str, *, at: datetime) -> bool:
        """Record the receiving side's answer for one patient still pending on this submitted
        request: a referral accepted or declined patient by patient (`patients move`) rather
        than in one answer (`respond`). A decline needs a reason.

        When that leaves no patient pending and the request asks for no places, the request is
        answered: accepted, partially accepted or declined, as `respond` sets it, and True is
        returned. Otherwise it stays submitted, and `respond` answers the patients still
        pending and the places.
        """
        self._check_answerable()
        entry = self.line(patient_id)
        if entry.decision is not PatientDecision.PENDING:
            raise InvalidValue(
                "patient",
                f"{patient_id!r} is already {entry.decision} on request {self.id}",
            )
        if not accepted and not reason.strip():
            raise InvalidValue(
                "reason", f"declining patient {patient_id!r} on request {self.id} needs a reason"
            )
        check_free_text("reason", reason)
        entry.decision = PatientDecision.ACCEPTED if accepted else PatientDecision.DECLINED
        entry.reason = reason.strip()
        entry.decided_at = at
        if self.places or any(p.decision is PatientDecision.PENDING for p in self.patients):
            return False
        self._move(self._outcome())
        return True

    def _outcome(self) -> RequestStatus:
        """What the answers given make of the request: accepted, partially accepted or
        declined."""
        granted_any = any(p.decision is PatientDecision.ACCEPTED for p in self.patients) or any(
            (line.accepted or 0) > 0 for line in self.places
        )
        refused_any = any(p.decision is PatientDecision.DECLINED for p in self.patients) or any(
            (line.accepted or 0) < line.requested for line in self.places
        )
        if granted_any and refused_any:
            return RequestStatus.PARTIALLY_ACCEPTED
        if granted_any:
            return RequestStatus.ACCEPTED
        return RequestStatus.DECLINED

    def name_admission(
        self, patient_id: str, facility_id: str, day: date, *, at: datetime | None = None
    ) -> None:
        """Say (or correct) where and when a patient this request accepted is to be admitted,
        after the answer, also once the request is closed (closing leaves accepted patients
        accepted); the answer's time (`decided_at`) stays.

        `at` is when this is recorded: naming a facility other than the one the line names
        (or the first) sets `named_at` to it (None where not given: the time is unknown). A
        new day at the same facility keeps `named_at`: a report that facility made since the
        patient was named there counts its bed already."""
        entry = self.line(patient_id)
        if entry.decision is not PatientDecision.ACCEPTED:
            raise InvalidValue(
                "patient",
                f"{patient_id!r} is {entry.decision} on request {self.id}; only an accepted "
                "patient has an admission",
            )
        if entry.decided_at is None:
            raise InvalidValue(
                "patient",
                f"{patient_id!r} was accepted on request {self.id} before answers recorded "
                "their time; an admission cannot be told apart from a later acceptance",
            )
        if facility_id != entry.facility_id:
            entry.named_at = at
        entry.facility_id, entry.admission_date = facility_id, day

    def withdraw_patient(
        self,
        patient_id: str,
        reason: str,
        *,
        keep_answer: bool = False,
        gone: Collection[str] = (),
    ) -> bool:
        """Take a patient off the request (death, cancellation, another route).

        A pending line is withdrawn. An answered line is history: an acceptance is withdrawn
        only where the acceptance itself is (the patient returned to the selected pool);
        with ``keep_answer`` (the patient died or was cancelled after the answer) it stays as
        the receiving side gave it, as a decline always does. ``gone`` names other patients
        of the request who left it so (their accepted lines kept): they hold nothing on it.

        A submitted request that this leaves with no patient pending, that asks for no places
        and on which some patient was answered, is answered as `answer_patient` would answer
        it (accepted, partially accepted or declined). Returns True when a live patient-only
        request is left holding nobody (no line pending, and every accepted patient withdrawn
        or gone): it then closes itself.
        """
        if not reason.strip():
            raise InvalidValue("reason", "withdrawing a patient needs a reason")
        check_free_text("reason", reason)
        entry = self.line(patient_id)
        if entry.decision is PatientDecision.PENDING or (
            entry.decision is PatientDecision.ACCEPTED and not keep_answer
        ):
            entry.decision = PatientDecision.WITHDRAWN
            entry.reason = reason.strip()
        elif entry.decision is not PatientDecision.ACCEPTED:
            return False  # declined or withdrawn before: nothing changes
        if not self.is_live or self.places:
            return False
        if self.status is RequestStatus.SUBMITTED and not any(
            p.decision is PatientDecision.PENDING for p in self.patients
        ):
            answered = (PatientDecision.ACCEPTED, PatientDecision.DECLINED)
            if not any(p.decision in answered for p in self.patients):
                self.close(f"no patients left: {reason.strip()}")
                return True
            self._move(self._outcome())  # the answers given answer it
            if not self.is_live:
                return False  # declined: final
        left = {*gone, patient_id}
        if not any(p.is_open and p.patient_id not in left for p in self.patients):
            self.close(f"no patients left: {reason.strip()}")
            return True
        return False

    def close(self, reason: str) -> None:
        if not reason.strip():
            raise InvalidValue("reason", "closing a request needs a reason")
        check_free_text("reason", reason)
        self._move(RequestStatus.CLOSED)
        self.closed_reason = reason.strip()

    def _move(self, target: RequestStatus) -> None:
        if target not in _MOVES[self.status]:
            allowed = ", ".join(sorted(_MOVES[self.status])) or "none (it is final)"
            raise IllegalTransition(
                f"request {self.id}", self.status, target, f"allowed moves: {allowed}"
            )
        self.status = target

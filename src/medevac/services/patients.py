"""Patient use cases: register, move through the lifecycle, look up with timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from medevac.domain.audit import AuditRecord, require_actor, snapshot
from medevac.domain.errors import ConcurrentModification, InvalidValue, NotFound
from medevac.domain.lifecycle import LEFT_STATUSES, ActorRole, PatientStatus
from medevac.domain.limits import check_new_id
from medevac.domain.patients import MoveTimes, Patient, StatusChange
from medevac.domain.plans import PlanWithdrawal
from medevac.domain.repositories import UnitOfWork
from medevac.domain.requests import PatientDecision, RequestStatus, TreatmentRequest
from medevac.domain.screening import CANDIDATE_REASON
from medevac.domain.vocabulary import Precedence, Specialty
from medevac.services.auditing import audit, utc_now
from medevac.services.clock import day_of
from medevac.services.holds import HOLDING_STATUSES, sent_destinations

#: Moves after which a patient no longer belongs on any treatment request.
_LEAVES_REQUESTS = {
    PatientStatus.DIED,
    PatientStatus.CANCELLED,
}
#: Steps back to the selected pool that withdraw the patient from the request they were on.
_WITHDRAWS_REFERRAL = {
    (PatientStatus.REFERRED, PatientStatus.SELECTED),
    (PatientStatus.ACCEPTED, PatientStatus.SELECTED),
}
#: A referral accepted or declined: when a submitted request awaits the answer for the
#: patient, the move is that request's answer for it (`_answer_on_request`)
_ANSWERS_REFERRAL = {
    (PatientStatus.REFERRED, PatientStatus.ACCEPTED),
    (PatientStatus.REFERRED, PatientStatus.DECLINED),
}
#: Declines of a referral: the plan's admission is withdrawn (the request records the decline
#: itself), so that the facility that declined is not the patient's current place in the next
#: problem
_DECLINES_ADMISSION = {
    (PatientStatus.REFERRED, PatientStatus.DECLINED),
    (PatientStatus.ACCEPTED, PatientStatus.DECLINED),
}


def register_patient(uow: UnitOfWork, patient: Patient, *, actor: str) -> None:
    """Add a new patient in status reported, with the first entry of its timeline."""
    check_new_id(patient.id)
    with uow:
        if uow.patients.find(patient.id) is not None:
            raise InvalidValue("id", f"patient {patient.id!r} already exists")
        if uow.organisations.find(patient.organisation_id) is None:
            raise NotFound("organisation", patient.organisation_id)
        if patient.location_id is not None and uow.facilities.find(patient.location_id) is None:
            raise NotFound("facility", patient.location_id)
        if patient.status is not PatientStatus.REPORTED or patient.history:
            raise InvalidValue("status", "a new patient starts as reported with no history")
        now = utc_now()
        patient.history.append(StatusChange(None, PatientStatus.REPORTED, actor, now, "registered"))
        uow.patients.add(patient)
        audit(uow, "patient", patient, "create", actor=actor, at=now)
        uow.commit()


def _moved(
    patient: Patient,
    target: PatientStatus,
    *,
    actor: str,
    reason: str,
    role: ActorRole,
    at: datetime,
    recorded: datetime | None = None,
) -> tuple[StatusChange, AuditRecord]:
    """Move a patient in memory; return the change and the audit record of the move. The
    change is at ``at``; the record at ``recorded`` where the move is written later than it
    was made (a screening decision given its own time), else at ``at``."""
    before = snapshot(patient)
    previous = patient.status
    change = patient.transition_to(target, actor=actor, at=at, reason=reason, role=role)
    # A move sets the status and appends to the history, which snapshots leave out, so the
    # after-image is the before-image with the new status (half the snapshots of approving a
    # national plan; tests/unit/domain/test_audit.py holds the premise).
    after = {**before, "status": patient.status.value}
    record = AuditRecord(
        actor,
        recorded or at,
        "patient",
        patient.id,
        f"move:{previous}->{target}",
        before,
        after,
        reason,
    )
    return change, record


def apply_move(
    uow: UnitOfWork,
    patient: Patient,
    target: PatientStatus,
    *,
    actor: str,
    reason: str,
    role: ActorRole,
    at: datetime,
    recorded: datetime | None = None,
) -> StatusChange:
    """Move a patient read in this unit of work and write it, with its side effects and audit
    (its record at ``recorded``, when given: the move made at ``at`` is written later).

    Death and cancellation (and a withdrawn referral) take the patient off every live request
    and every live plan; a request left with no patients closes itself. A request line the
    receiving side answered is history: death and cancellation withdraw pending lines only
    (`TreatmentRequest.withdraw_patient`), and a submitted request they leave with nobody
    pending is answered by the answers given. A patient that dies after it left for its
    facility (in transit or later) keeps its plan's admission, which it used: it counts
    against the agreement's quota (`quota_count.died_after_leaving`). A declined referral
    takes the patient off every live plan.

    A referral accepted or declined while a submitted request still awaits the answer for the
    patient (its line is pending) is that request's answer for the patient, whoever moves it
    (`patients move ... --role receiving_facility`, say): the line records the decision, the
    move's reason (an acceptance without one says "accepted on REQ-..."; a decline needs
    one) and the time, and the request is answered once no patient and no places are left
    pending (`TreatmentRequest.answer_patient`). So the request can still be answered for
    the others and closed, a declined patient can be requested again, and an acceptance
    counts against the agreement it comes under (`quota_count`). A referral by a plan alone,
    with no request awaiting an answer, moves the patient only. Where a request awaits the
    answer and the live plan places the patient at another organisation's facility, the move
    is refused (`_check_one_receiver`): it does not say whose answer it is.
    `respond_to_request` writes its answer before moving the patients, so that its moves find
    no line pending.
    """
    previous = patient.status
    awaiting = (
        _awaiting_answer(uow, patient.id) if (previous, target) in _ANSWERS_REFERRAL else None
    )
    if awaiting is not None:
        _check_one_receiver(uow, awaiting, patient.id, target)
    if awaiting is not None and target is PatientStatus.ACCEPTED and not reason.strip():
        reason = f"accepted on {awaiting.id}"  # a decline keeps needing its reason
    moved, arrived_at = (
        _arrived_at(uow, patient) if target is PatientStatus.ADMITTED else (False, None)
    )
    change, record = _moved(
        patient, target, actor=actor, reason=reason, role=role, at=at, recorded=recorded
    )
    if moved:
        patient.location_id = arrived_at
        record = replace(record, after={**(record.after or {}), "location_id": arrived_at})
    elif target is PatientStatus.REPATRIATED and patient.location_id is not None:
        # home: no facility holds it (it had stayed listed at the hospital that treated it)
        patient.location_id = None
        record = replace(record, after={**(record.after or {}), "location_id": None})
    uow.patients.update(patient)
    uow.audit.add(record)
    if awaiting is not None:
        _answer_on_request(uow, awaiting, patient.id, change, actor=actor)
    leaves = target in _LEAVES_REQUESTS or (previous, target) in _WITHDRAWS_REFERRAL
    if leaves or (previous, target) in _DECLINES_ADMISSION:
        why = f"patient {target}: {reason}" if reason else f"patient {target}"
        for request in uow.requests.live_for_patient(patient.id) if leaves else []:
            withdraw_from_request(
                uow,
                request,
                patient.id,
                reason=why,
                actor=actor,
                at=at,
                keep_answer=target in _LEAVES_REQUESTS,
            )
        if target is PatientStatus.DIED and previous in LEFT_STATUSES:
            return change  # its admission was used: it stays, and counts against the quota
        withdrawals = uow.plans.withdraw_patient(patient.id, why)
        # and its admissions in superseded plans, which would otherwise still be read for its
        # destination once it is accepted again with no facility named (a request closed had
        # sent it back to selected with its superseded admission open: found by a review)
        withdrawals += uow.plans.withdraw_superseded([patient.id], why)
        audit_withdrawals(uow, withdrawals, actor=actor, reason=why, at=at)
    return change


def _arrived_at(uow: UnitOfWork, patient: Patient) -> tuple[bool, str | None]:
    """Whether a patient being admitted now is somewhere else than its location on record, and
    where: the registered facility of its destination (`sent_destinations`: the facility its
    acceptance named, or its plan's), else None, unknown. Its location had stayed the hospital
    it left, so `patients list --location` found admitted patients where they no longer were;
    and where no destination was known (a patient accepted with no facility named, or moved
    along by hand), it had stayed there too, listed as admitted at that hospital (found by a
    review). With no destination known, the location becomes unknown where it is still the
    one the patient's last move left it at (the place it left); one recorded since (by an
    import, say) is kept."""
    there = sent_destinations(uow, [patient.id]).get(patient.id)
    if there is not None and there.facility_id == patient.location_id:
        return False, None
    if there is not None and uow.facilities.find(there.facility_id) is not None:
        return True, there.facility_id
    if patient.location_id is None:
        return False, None
    last_move = next(
        (
            r
            for r in uow.audit.list(entity_type="patient", entity_id=patient.id)
            if r.action.startswith("move:")
        ),
        None,
    )
    left_at = None if last_move is None else (last_move.after or {}).get("location_id")
    return last_move is None or left_at == patient.location_id, None


def audit_withdrawals(
    uow: UnitOfWork,
    withdrawals: Sequence[PlanWithdrawal],
    *,
    actor: str,
    reason: str,
    at: datetime,
) -> None:
    """An audit record per admission withdrawn from a plan, live or superseded (those of
    superseded plans had been withdrawn with no record)."""
    uow.audit.add_many(
        [_withdrawal_record(w, actor=actor, reason=reason, at=at) for w in withdrawals]
    )


def _withdrawal_record(
    withdrawal: PlanWithdrawal, *, actor: str, reason: str, at: datetime
) -> AuditRecord:
    """The audit record of a patient withdrawn from a plan: before and after hold only what
    changed, the plan's `admissions` cut down to the patient's (a snapshot of the whole plan
    held every admission: 8.6 MB a withdrawal from a plan of 40,000)."""
    require_actor(actor)
    return AuditRecord(
        actor,
        at,
        "approved_plan",
        withdrawal.plan_id,
        "withdraw_patient",
        {"admissions": [snapshot(withdrawal.admission_before)]},
        {"admissions": [snapshot(withdrawal.admission)]},
        reason,
    )


def _awaiting_answer(uow: UnitOfWork, patient_id: str) -> TreatmentRequest | None:
    """The submitted request that awaits the receiving side's answer for the patient (its line
    is pending), if any; a patient is on one live request at a time."""
    return next(
        (
            request
            for request in uow.requests.live_for_patient(patient_id)
            if request.status is RequestStatus.SUBMITTED
            and request.line(patient_id).decision is PatientDecision.PENDING
        ),
        None,
    )


def _check_one_receiver(
    uow: UnitOfWork, request: TreatmentRequest, patient_id: str, target: PatientStatus
) -> None:
    """Refuse (InvalidValue) to record a move out of referred as ``request``'s answer when the
    live plan places the patient at a facility of another organisation than the request's
    receiver: both referred it, and the move does not say which of them answers. Taken as the
    request's, an acceptance by the plan's facility had been credited to the request's
    receiver (the plan's admission dropped as another organisation's, the patient counted
    against the receiver's agreement)."""
    plan_id, admission = uow.plans.live_admissions([patient_id]).get(patient_id, (None, None))
    if admission is None:
        return
    facility = uow.facilities.find(admission.facility_id)
    receiver = request.to_organisation_id
    if facility is None or facility.operator_id == receiver:
        return
    operator = facility.operator_id
    raise InvalidValue(
        "status",
        f"{patient_id} is referred both to {receiver} by request {request.id}, which awaits "
        f"its answer, and to {admission.facility_id} of {operator} by plan {plan_id}: a move "
        f"to {target} cannot say which of them answers. For {receiver}'s answer, answer the "
        f"request (medevac requests respond {request.id}); for {operator}'s, close the "
        f"request (medevac requests close {request.id} --reason ...; the plan's referral "
        "stands) and move the patient again",
    )


def _answer_on_request(
    uow: UnitOfWork,
    request: TreatmentRequest,
    patient_id: str,
    change: StatusChange,
    *,
    actor: str,
) -> None:
    """Record a patient's move out of referred as the request's answer for it, and audit it
    ("respond:OUTCOME" when it answers the request, else "answer_patient")."""
    before = snapshot(request)
    accepted = change.to_status is PatientStatus.ACCEPTED
    answered = request.answer_patient(patient_id, accepted, change.reason, at=change.at)
    uow.requests.update(request)
    audit(
        uow,
        "treatment_request",
        request,
        f"respond:{request.status}" if answered else "answer_patient",
        actor=actor,
        before=before,
        reason=f"{patient_id} {change.to_status}: {change.reason}",
        at=change.at,
    )


def apply_moves(
    uow: UnitOfWork,
    moves: Sequence[tuple[Patient, str]],
    target: PatientStatus,
    *,
    actor: str,
    role: ActorRole,
    at: datetime,
    off_requests_and_plans: bool = False,
) -> None:
    """Move many patients read in this unit of work to ``target`` (each with its reason) and
    write them and their audit records in bulk: what `apply_move` does one by one.

    Only for moves without side effects on requests and plans (not death, cancellation or a
    withdrawn referral, unless ``off_requests_and_plans``: the caller has found that no live
    request holds them and no live plan admits them, so a withdrawn referral has nothing to
    withdraw); every move is checked against the lifecycle before anything is written.
    """
    records = []
    withdrawing: set[tuple[PatientStatus, PatientStatus]] = (
        set() if off_requests_and_plans else _WITHDRAWS_REFERRAL
    )
    for patient, reason in moves:
        step = (patient.status, target)
        if target in _LEAVES_REQUESTS or step in withdrawing | _DECLINES_ADMISSION:
            raise ValueError(f"a move to {target} has side effects: use apply_move")
        records.append(_moved(patient, target, actor=actor, reason=reason, role=role, at=at)[1])
    uow.patients.update_statuses([patient for patient, _ in moves])
    uow.audit.add_many(records)


def withdraw_from_request(
    uow: UnitOfWork,
    request: TreatmentRequest,
    patient_id: str,
    *,
    reason: str,
    actor: str,
    at: datetime,
    keep_answer: bool = False,
) -> None:
    """Take one patient off a live request (closing it when nobody is left) and audit it.

    With ``keep_answer`` (death, cancellation) an accepted line stays accepted
    (`TreatmentRequest.withdraw_patient`); the request's other accepted patients who died or
    were cancelled since hold nothing on it either."""
    before = snapshot(request)
    others = [p for p in request.patients if p.is_open and p.patient_id != patient_id]
    gone: list[str] = []
    if (
        request.is_live
        and not request.places
        and all(p.decision is PatientDecision.ACCEPTED for p in others)
    ):  # the request may be left holding nobody: which of the others have left it?
        held = uow.patients.get_many([p.patient_id for p in others])
        gone = [p.id for p in held.values() if p.status in _LEAVES_REQUESTS]
    closed = request.withdraw_patient(patient_id, reason, keep_answer=keep_answer, gone=gone)
    uow.requests.update(request)
    audit(
        uow,
        "treatment_request",
        request,
        "close" if closed else "withdraw_patient",
        actor=actor,
        before=before,
        reason=reason,
        at=at,
    )


def move_patient(
    uow: UnitOfWork,
    patient_id: str,
    target: PatientStatus,
    *,
    actor: str,
    reason: str = "",
    role: ActorRole = ActorRole.COORDINATOR,
    expected_version: int | None = None,
) -> StatusChange:
    """Move a patient to `target` if the lifecycle and the actor's role allow it.

    Accepting or declining a referral that a submitted request awaits is that request's answer
    for the patient: the request records it (`apply_move`).

    With `expected_version`, refuse when the patient changed since the caller read it.
    A move into screening whose reason begins as a mission's own (`CANDIDATE_REASON`) is
    refused: that reason names the mission whose candidate the patient is, which alone may
    decide it, and a move by hand would hand the decision to the mission it names.
    """
    with uow:
        patient = uow.patients.get(patient_id)
        if target is PatientStatus.SCREENING and reason.strip().startswith(
            CANDIDATE_REASON.strip()
        ):
            raise InvalidValue(
                "reason",
                f"{reason.strip()!r} is how a screening mission records its candidates "
                "(`medevac screening add`, which makes the patient that mission's); word it "
                "otherwise",
            )
        if expected_version is not None and patient.version != expected_version:
            raise ConcurrentModification("patient", patient_id, expected_version)
        change = apply_move(
            uow, patient, target, actor=actor, reason=reason, role=role, at=utc_now()
        )
        uow.commit()
    return change


#: Patients in their bed at the destination: they were admitted on a day of their own.
_IN_BED = (PatientStatus.ADMITTED, PatientStatus.IN_TREATMENT)
#: Patients the next plan places: their destination is the live plan's admission.
_PLANNED = (PatientStatus.SELECTED, PatientStatus.REFERRED)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where and when a patient is to be admitted, and on whose word: a treatment request's
    acceptance that named the facility (``request_id``; from that day on), or an approved
    plan's admission (``plan_id``, None when that plan has been superseded since: a patient
    accepted after its plan is in no later one)."""

    facility_id: str
    #: None when the facility is no longer registered
    facility_name: str | None
    admission_date: date
    request_id: str | None = None
    plan_id: str | None = None
    #: the day the patient was admitted there, once admitted (`plan build` holds its bed
    #: from that day, not from the day named or planned)
    admitted_on: date | None = None


@dataclass(frozen=True, slots=True)
class PatientFile:
    """A patient with its timeline, the requests it is on, every audit entry about it, and
    where it is to be admitted (`destination_of`; None when nowhere is planned or named)."""

    patient: Patient
    requests: list[TreatmentRequest]
    audit: list[AuditRecord]
    destination: Destination | None = None


def patient_file(uow: UnitOfWork, patient_id: str) -> PatientFile:
    with uow:
        patient = uow.patients.get(patient_id)
        requests = uow.requests.with_patient(patient_id)
        trail = uow.audit.list(entity_type="patient", entity_id=patient_id)
        destination = destination_of(uow, patient, requests)
    return PatientFile(patient, requests, trail, destination)


def destination_of(
    uow: UnitOfWork, patient: Patient, requests: Sequence[TreatmentRequest]
) -> Destination | None:
    """Where the patient is to be admitted, read in `uow`, as `medevac plan build` sees it.

    A selected or referred patient goes to its open admission in the live plan (its current
    place in the next problem). A patient sent earlier (accepted, and until it leaves its bed)
    goes where `plan build` holds its bed (`sent_destinations`): the facility and day its
    latest acceptance named, else its admission in the latest plan that holds it, at a
    facility of the organisation that accepted it. Others go nowhere planned. ``requests``
    are those the patient is on, oldest first (`with_patient`): they say which acceptance
    named the destination. Reads the patient's rows and its admission in the live plan, not
    the plan (`live_admissions`; the plan read whole took about a second at 40,000)."""
    if patient.status not in (*_PLANNED, *HOLDING_STATUSES):
        return None
    live_id, in_plan = uow.plans.live_admissions([patient.id]).get(patient.id, (None, None))
    if patient.status in _PLANNED:
        admission = in_plan
    else:
        admission = sent_destinations(uow, [patient.id]).get(patient.id)
    if admission is None:
        return None
    request_id = plan_id = None
    # the latest acceptance, as `sent_destinations` reads it (`acceptances`)
    accepting = next(
        (r for r in reversed(requests) if r.line(patient.id).decision is PatientDecision.ACCEPTED),
        None,
    )
    place = (admission.facility_id, admission.admission_date)
    if patient.status in HOLDING_STATUSES and accepting is not None:
        line = accepting.line(patient.id)
        if (line.facility_id, line.admission_date) == place:
            request_id = accepting.id
    if request_id is None and live_id is not None and in_plan == admission:
        plan_id = live_id
    facility = uow.facilities.find(admission.facility_id)
    admitted = MoveTimes.of(patient).admitted if patient.status in _IN_BED else None
    return Destination(
        admission.facility_id,
        None if facility is None else facility.name,
        admission.admission_date,
        request_id,
        plan_id,
        None if admitted is None else day_of(admitted),
    )


def list_patients(
    uow: UnitOfWork,
    *,
    status: PatientStatus | None = None,
    specialty: Specialty | None = None,
    precedence: Precedence | None = None,
    location_id: str | None = None,
    organisation_id: str | None = None,
    limit: int | None = None,
) -> list[Patient]:
    """The patients the filters select; a facility or organisation that is not registered is
    refused (NotFound), where "0 patients" had read as an answer about it."""
    with uow:
        if location_id is not None and uow.facilities.find(location_id) is None:
            raise NotFound("facility", location_id)
        if organisation_id is not None and uow.organisations.find(organisation_id) is None:
            raise NotFound("organisation", organisation_id)
        return uow.patients.list(
            status=status,
            specialty=specialty,
            precedence=precedence,
            location_id=location_id,
            organisation_id=organisation_id,
            limit=limit,
        )

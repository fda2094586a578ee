"""Treatment request use cases: draft, submit, answer, close."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from medevac.domain.agreements import Agreement
from medevac.domain.audit import snapshot
from medevac.domain.errors import InvalidValue, LiveRequestConflict, shown_key
from medevac.domain.facilities import Facility
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.limits import check_new_id
from medevac.domain.patients import MoveTimes, Patient
from medevac.domain.plans import PlannedAdmission
from medevac.domain.repositories import UnitOfWork
from medevac.domain.requests import PatientDecision, RequestStatus, TreatmentRequest
from medevac.domain.vocabulary import Specialty
from medevac.services.agreement_terms import acceptance_days
from medevac.services.auditing import audit, utc_now
from medevac.services.clock import day_of, shown
from medevac.services.conflicts import retried
from medevac.services.patients import apply_move


def new_request_id() -> str:
    return f"REQ-{uuid.uuid4().hex[:8].upper()}"


#: Serialized attempts at drafting or submitting a request before giving up on a registry
#: that keeps changing (each attempt that another transaction overtakes writes nothing).
ATTEMPTS = 3


def create_request(
    uow: UnitOfWork,
    *,
    from_organisation_id: str,
    to_organisation_id: str,
    patient_ids: Sequence[str] = (),
    places: Mapping[Specialty, int] | None = None,
    note: str = "",
    actor: str,
    request_id: str | None = None,
) -> TreatmentRequest:
    """Draft a request for selected patients of the sending organisation and/or places.

    The check that no other live request holds a patient and the insert run in one serialized
    transaction (`UnitOfWork.serialized`), so that two drafts for the same patient made at the
    same moment cannot both be stored: the second waits for the first (on either database),
    and is then refused naming the first.
    """

    if request_id is not None:
        check_new_id(request_id)

    def attempt() -> TreatmentRequest:
        with uow.serialized():
            request = _drafted(
                uow,
                from_organisation_id=from_organisation_id,
                to_organisation_id=to_organisation_id,
                patient_ids=patient_ids,
                places=places,
                note=note,
                request_id=request_id,
            )
            uow.requests.add(request)
            audit(uow, "treatment_request", request, "create", actor=actor)
            uow.commit()
        return request

    return retried(attempt, ATTEMPTS)


def _drafted(
    uow: UnitOfWork,
    *,
    from_organisation_id: str,
    to_organisation_id: str,
    patient_ids: Sequence[str],
    places: Mapping[Specialty, int] | None,
    note: str,
    request_id: str | None,
) -> TreatmentRequest:
    """A new draft, checked against the registry read in ``uow``; not yet stored."""
    uow.organisations.get(from_organisation_id)
    uow.organisations.get(to_organisation_id)
    request = TreatmentRequest(
        id=request_id or new_request_id(),
        from_organisation_id=from_organisation_id,
        to_organisation_id=to_organisation_id,
        created_at=utc_now(),
        note=note,
    )
    if uow.requests.find(request.id) is not None:
        raise InvalidValue("id", f"request {request.id!r} already exists")
    for patient_id in patient_ids:
        patient = uow.patients.get(patient_id)
        if patient.organisation_id != from_organisation_id:
            raise InvalidValue(
                "patient",
                f"{patient_id} belongs to {patient.organisation_id}, "
                f"not to the sending organisation {from_organisation_id}",
            )
        if patient.status is not PatientStatus.SELECTED:
            raise InvalidValue(
                "patient",
                f"{patient_id} is {patient.status}; only selected patients can be requested",
            )
        live = [r.id for r in uow.requests.live_for_patient(patient_id)]
        request.add_patient(patient_id, live_elsewhere=live)
    for specialty, count in (places or {}).items():
        request.ask_for_places(specialty, count)
    return request


@dataclass(frozen=True, slots=True)
class Submission:
    """A request just submitted, and those of its patients that were referred already (by a
    plan approved since the draft): the submission referred the others."""

    request: TreatmentRequest
    already_referred: list[str]

    @property
    def referred(self) -> list[str]:
        """The patients the submission referred."""
        already = set(self.already_referred)
        return [p for p in self.request.open_patient_ids() if p not in already]


def submit_request(uow: UnitOfWork, request_id: str, *, actor: str) -> TreatmentRequest:
    """Send a draft request (`submitted_request`); the request as submitted."""
    return submitted_request(uow, request_id, actor=actor).request


def submitted_request(uow: UnitOfWork, request_id: str, *, actor: str) -> Submission:
    """Send a draft request; its selected patients become referred.

    A patient an approved plan referred after the request was drafted (plan approval refers
    the selected patients it places, whatever draft lists them) is already referred: it stays
    so, and the request now asks the receiving side for it too; the submission's audit record
    names these patients ("already referred by plan ..."). A patient that is neither selected
    nor referred any more (accepted or declined since it was drafted, say) cannot be asked
    for: the submission is refused naming each such patient, and nothing is written. No
    command takes a patient off a draft, so close the draft (`medevac requests close`) and
    draft a new request without them.

    The checks and the writes run in one serialized transaction, as drafting does.
    """

    def attempt() -> Submission:
        with uow.serialized():
            request = uow.requests.get(request_id)
            before = snapshot(request)
            patients = {p: uow.patients.get(p) for p in request.open_patient_ids()}
            # one query for all of them: a query per patient, each loading whole requests,
            # took 26-38 s for a request of 2,000 patients
            for other in uow.requests.live_for_patients(list(patients)):
                held = sorted(set(other.open_patient_ids()) & patients.keys())
                if other.id != request.id and held:
                    raise LiveRequestConflict(
                        f"patient {held[0]!r} is already on live request {other.id}"
                    )
            gone = [
                f"{p.id} is {p.status}"
                for p in patients.values()
                if p.status not in (PatientStatus.SELECTED, PatientStatus.REFERRED)
            ]
            request.submit()
            if gone:
                raise InvalidValue(
                    "patient",
                    f"request {request.id} cannot be submitted: "
                    + "; ".join(gone)
                    + " (only selected or referred patients can be asked for); no command "
                    "takes a patient off a draft: close this request (medevac requests close "
                    f"{request.id} --reason ...) and draft a new one without them",
                )
            now = utc_now()
            already: list[str] = []
            referred = [p.id for p in patients.values() if p.status is PatientStatus.REFERRED]
            # the plans' ids alone: each live plan read whole took a second a patient at 40,000
            planned = uow.plans.live_admissions(referred) if referred else {}
            for patient in patients.values():
                if patient.status is PatientStatus.REFERRED:
                    plan = planned.get(patient.id)
                    by = f" by plan {plan[0]}" if plan is not None else ""
                    already.append(f"{patient.id} already referred{by}")
                    continue
                apply_move(
                    uow,
                    patient,
                    PatientStatus.REFERRED,
                    actor=actor,
                    reason=_referral_reason(request),
                    role=ActorRole.COORDINATOR,
                    at=now,
                )
            uow.requests.update(request)
            audit(
                uow,
                "treatment_request",
                request,
                "submit",
                actor=actor,
                before=before,
                reason="; ".join(already),
                at=now,
            )
            uow.commit()
        return Submission(request, referred)

    return retried(attempt, ATTEMPTS)


def respond_to_request(
    uow: UnitOfWork,
    request_id: str,
    *,
    patient_answers: Mapping[str, tuple[bool, str]] | None = None,
    place_answers: Mapping[Specialty, tuple[int, str]] | None = None,
    admissions: Mapping[str, tuple[str, date | None]] | None = None,
    actor: str,
) -> TreatmentRequest:
    """Record the receiving side's answer; accepted patients become accepted, declined declined.

    `admissions` maps accepted patients to the facility (of the receiving organisation, offering
    the patient's specialty) and day they are to be admitted; with no day, the day of the
    answer. `medevac plan build` holds their beds there.
    """
    with uow:
        request = uow.requests.get(request_id)
        before = snapshot(request)
        pending = {p.patient_id for p in request.patients if p.decision is PatientDecision.PENDING}
        now = utc_now()
        destinations = _admissions(uow, request, admissions or {}, today=day_of(now))
        outcome = request.respond(patient_answers, place_answers, destinations=destinations, at=now)
        # written first, so that the moves below find the answer given (no line pending) and
        # do not record it a second time (`apply_move`)
        uow.requests.update(request)
        for line in request.patients:
            if line.patient_id not in pending:
                continue
            target = (
                PatientStatus.ACCEPTED
                if line.decision is PatientDecision.ACCEPTED
                else PatientStatus.DECLINED
            )
            apply_move(
                uow,
                uow.patients.get(line.patient_id),
                target,
                actor=actor,
                reason=line.reason or f"{target} on {request.id}",
                role=ActorRole.RECEIVING_FACILITY,
                at=now,
            )
        audit(
            uow,
            "treatment_request",
            request,
            f"respond:{outcome}",
            actor=actor,
            before=before,
            at=now,
        )
        uow.commit()
    return request


def name_admission(
    uow: UnitOfWork,
    request_id: str,
    patient_id: str,
    *,
    facility_id: str,
    day: date | None = None,
    actor: str,
) -> TreatmentRequest:
    """Say (or correct) where and when a patient the request accepted is to be admitted, for a
    receiving side that accepts first and assigns the bed later; with no day, today. The
    patient must not have left for its facility yet (accepted or scheduled), and this
    request's answer must be its latest acceptance (not one withdrawn since). Naming the
    admission the request already names changes nothing: no audit record, no new version.
    Naming another facility records when (`named_at`): a report that facility made before
    cannot count the patient, and `plan build` holds its bed."""
    with uow:
        request = uow.requests.get(request_id)
        before = snapshot(request)
        now = utc_now()
        patient = uow.patients.get(patient_id)
        if patient.status not in (PatientStatus.ACCEPTED, PatientStatus.SCHEDULED):
            raise InvalidValue(
                "patient",
                f"{patient_id} is {patient.status}; an admission is named for a patient "
                "accepted or scheduled, before it leaves",
            )
        line = request.line(patient_id)
        latest = MoveTimes.of(patient).left_referred
        if line.decided_at is not None and latest is not None and line.decided_at < latest:
            raise InvalidValue(
                "patient",
                f"{patient_id} was accepted again after request {request.id}'s answer "
                f"({shown(latest)}); that answer no longer says where it goes",
            )
        [(facility_id, on)] = _admissions(
            uow, request, {patient_id: (facility_id, day)}, today=day_of(now)
        ).values()
        if (line.decision, line.facility_id, line.admission_date) == (
            PatientDecision.ACCEPTED,
            facility_id,
            on,
        ):
            return request  # already so: nothing changes, nothing is written or audited
        request.name_admission(patient_id, facility_id, on, at=now)
        uow.requests.update(request)
        audit(
            uow,
            "treatment_request",
            request,
            "name_admission",
            actor=actor,
            before=before,
            reason=f"{patient_id} to {facility_id} from {on}",
            at=now,
        )
        uow.commit()
    return request


def _admissions(
    uow: UnitOfWork,
    request: TreatmentRequest,
    admissions: Mapping[str, tuple[str, date | None]],
    *,
    today: date,
) -> dict[str, tuple[str, date]]:
    """Check each admission's facility and day against the registry; every problem in one
    error, naming the patient."""
    problems: list[str] = []
    checked: dict[str, tuple[str, date]] = {}
    listed = {line.patient_id for line in request.patients}
    agreements = uow.agreements.list() if admissions else []  # read once, for every day named
    for patient_id, (facility_id, day) in sorted(admissions.items()):
        if patient_id not in listed:
            raise InvalidValue("patient", f"{patient_id!r} is not on request {request.id}")
        facility = uow.facilities.find(facility_id)
        patient = uow.patients.get(patient_id)
        if facility is None:
            problems.append(
                f"patient {patient_id!r}: facility {shown_key(facility_id)} does not exist"
            )
            continue
        if facility.operator_id != request.to_organisation_id:
            problems.append(
                f"patient {patient_id!r}: {facility_id} is operated by {facility.operator_id}, "
                f"not by the receiving organisation {request.to_organisation_id}"
            )
        specialty = patient.required_specialties[0]
        if not facility.offers(specialty):
            problems.append(
                f"patient {patient_id!r} needs {specialty}, which {facility_id} does not offer"
            )
        if day is not None and day < today:
            problems.append(f"patient {patient_id!r}: admission on {day} is before today ({today})")
        else:
            fault = _outside_agreements(agreements, patient, facility, day or today, today)
            if fault is not None:
                problems.append(f"patient {patient_id!r}: {fault}")
        checked[patient_id] = (facility_id, day or today)
    if problems:
        raise InvalidValue("admission", "; ".join(problems))
    return checked


def _outside_agreements(
    agreements: Sequence[Agreement], patient: Patient, facility: Facility, day: date, today: date
) -> str | None:
    """Why ``agreements`` do not admit ``patient`` at ``facility`` on ``day``, or None: an
    answer naming a day after they end (or before they begin) had been taken, where `plan
    approve` refuses such an admission (`AdmittedAfterAgreementEnds`)."""
    specialty = patient.required_specialties[0]
    offset = (day - today).days
    days = acceptance_days(
        facility.operator_id,
        patient.organisation_id,
        specialty,
        agreements,
        today,
        offset + 1,
    )
    whose = f"{patient.organisation_id}'s {specialty} patients at {facility.operator_id}"
    if days is None:
        return f"no agreement in force admits {whose} (admission on {day})"
    first, last = days
    if offset < first:
        begins = today + timedelta(days=first)
        return f"admission on {day} is before the agreements admit {whose} (from {begins})"
    if last is not None and offset > last:
        ends = today + timedelta(days=last)
        return f"admission on {day} is after the agreements admitting {whose} end ({ends})"
    return None


@dataclass(frozen=True, slots=True)
class ClosedRequest:
    """A request closed (`close_request`), and the patients the closing sent back to selected:
    id -> the live plan's admission their move withdrew ("FACILITY on DATE in PLAN"), or ""
    where the live plan held none."""

    request: TreatmentRequest
    back_to_selected: dict[str, str]


def close_request(uow: UnitOfWork, request_id: str, *, reason: str, actor: str) -> ClosedRequest:
    """Close a request; patients still waiting for an answer whom it referred return to the
    selected pool, and their admissions in the live plan are withdrawn (returned, so that the
    command says so: it had said only that the request was closed). Closing undoes the
    request's own referral only: a patient a plan had
    referred before the request was submitted ("already referred by plan ..."), or one the
    live plan places at a facility of another organisation than the request's receiver (as
    `plan approve` warns: answer, close or withdraw it there), stays referred and keeps the
    plan's admission, which returning it to selected had withdrawn."""
    with uow:
        request = uow.requests.get(request_id)
        before = snapshot(request)
        waiting = (
            [p.patient_id for p in request.patients if p.decision is PatientDecision.PENDING]
            if request.status is RequestStatus.SUBMITTED
            else []
        )
        # the live plan's admissions of the patients waiting, read once: which stay (placed at
        # another organisation's facility) and which the moves below withdraw
        placed = uow.plans.live_admissions(waiting) if waiting else {}
        elsewhere = _placed_elsewhere(uow, request, placed)
        request.close(reason)
        now = utc_now()
        uow.requests.update(request)
        audit(
            uow,
            "treatment_request",
            request,
            "close",
            actor=actor,
            before=before,
            reason=reason,
            at=now,
        )
        back: dict[str, str] = {}
        for patient_id in waiting:
            patient = uow.patients.get(patient_id)
            if (
                patient.status is PatientStatus.REFERRED
                and _referred_by(patient) == _referral_reason(request)
                and patient_id not in elsewhere
            ):
                plan_id, admission = placed.get(patient_id, (None, None))
                back[patient_id] = "" if admission is None else f"{admission.place} in {plan_id}"
                apply_move(
                    uow,
                    patient,
                    PatientStatus.SELECTED,
                    actor=actor,
                    reason=f"request {request.id} closed: {reason}",
                    role=ActorRole.COORDINATOR,
                    at=now,
                )
        uow.commit()
    return ClosedRequest(request, back)


def _referral_reason(request: TreatmentRequest) -> str:
    """The reason of the move into referred that submitting ``request`` makes."""
    return f"referred to {request.to_organisation_id} on {request.id}"


def _referred_by(patient: Patient) -> str:
    """The reason of the patient's latest move into referred (empty when it made none)."""
    return next(
        (c.reason for c in reversed(patient.history) if c.to_status is PatientStatus.REFERRED),
        "",
    )


def _placed_elsewhere(
    uow: UnitOfWork,
    request: TreatmentRequest,
    placed: Mapping[str, tuple[str, PlannedAdmission]],
) -> set[str]:
    """Those of the patients the live plan places (``placed``: `live_admissions`) at a
    facility of another organisation than ``request``'s receiver."""
    facilities = uow.facilities.get_many({a.facility_id for _, a in placed.values()})
    return {
        patient_id
        for patient_id, (_, admission) in placed.items()
        if (facility := facilities.get(admission.facility_id)) is not None
        and facility.operator_id != request.to_organisation_id
    }


def get_request(uow: UnitOfWork, request_id: str) -> TreatmentRequest:
    with uow:
        return uow.requests.get(request_id)


def list_requests(
    uow: UnitOfWork,
    *,
    status: RequestStatus | None = None,
    organisation_id: str | None = None,
) -> list[TreatmentRequest]:
    with uow:
        return uow.requests.list(status=status, organisation_id=organisation_id)

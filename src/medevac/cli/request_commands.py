"""`medevac requests ...`: treatment requests between organisations."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from medevac.cli.context import (
    UserError,
    actor,
    cell,
    console,
    first_repeated,
    inline,
    tagged,
    unit_of_work,
    when,
)
from medevac.domain.requests import PatientDecision, RequestStatus, TreatmentRequest
from medevac.domain.vocabulary import Specialty
from medevac.services.auditing import utc_now
from medevac.services.clock import day_of
from medevac.services.holds import arrivals_over_limit
from medevac.services.regulating import beds_beyond_reports, quotas_passed
from medevac.services.requests import (
    close_request,
    create_request,
    get_request,
    list_requests,
    name_admission,
    respond_to_request,
    submitted_request,
)

#: patients a line names before "..."
SHOWN_PATIENTS = 20

requests_app = typer.Typer(no_args_is_help=True, help="Treatment requests between organisations.")


def register(app: typer.Typer) -> None:
    app.add_typer(requests_app, name="requests")


def _specialty(text: str, option: str) -> Specialty:
    try:
        return Specialty(text.strip())
    except ValueError as error:
        known = ", ".join(Specialty)
        raise UserError(f"{option}: {text!r} is not a specialty (known: {known})") from error


def _digits(text: str) -> bool:
    """Whether ``text`` is a count written in ASCII digits (`str.isdigit` takes "²", which
    `int` refuses)."""
    text = text.strip()
    return text.isascii() and text.isdigit()


def _places(values: list[str]) -> dict[Specialty, int]:
    """SPECIALTY=N pairs."""
    places: dict[Specialty, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        if not _digits(count):
            raise UserError(f"--places: {value!r} is not SPECIALTY=NUMBER")
        specialty = _specialty(name, "--places")
        if specialty in places:  # the later had overwritten the earlier unsaid
            raise UserError(f"--places: {specialty.value} is given more than once")
        places[specialty] = int(count)
    return places


def _admissions(values: list[str]) -> dict[str, tuple[str, date | None]]:
    """PATIENT=FACILITY[@YYYY-MM-DD] values."""
    found: dict[str, tuple[str, date | None]] = {}
    for value in values:
        patient_id, sep, place = value.partition("=")
        facility_id, at, day = place.partition("@")
        if not sep or not patient_id.strip() or not facility_id.strip() or (at and not day):
            raise UserError(f"--admit: {value!r} is not PATIENT=FACILITY[@YYYY-MM-DD]")
        try:
            on = date.fromisoformat(day.strip()) if at else None
        except ValueError as error:
            raise UserError(f"--admit: {day.strip()!r} in {value!r} is not a date") from error
        if patient_id.strip() in found:
            raise UserError(f"--admit: patient {patient_id.strip()!r} is given twice")
        found[patient_id.strip()] = (facility_id.strip(), on)
    return found


def _print_request(r: TreatmentRequest) -> None:
    console.print(
        f"[bold]{tagged(r.id)}[/] {inline(r.from_organisation_id)} -> "
        f"{inline(r.to_organisation_id)}: [bold]{r.status}[/] (created {when(r.created_at)})"
    )
    if r.note:
        console.print(f"Note: {r.note}", markup=False)
    if r.closed_reason:
        console.print(f"Closed: {r.closed_reason}", markup=False)
    if r.patients:
        table = Table(
            "patient", "decision", "reason", "admission", title=f"{len(r.patients)} patients"
        )
        for line in r.patients:
            admission = (
                f"{line.facility_id} from {line.admission_date}"
                if line.facility_id is not None and line.admission_date is not None
                else ""
            )
            table.add_row(cell(line.patient_id), line.decision, cell(line.reason), cell(admission))
        console.print(table)
    if r.places:
        table = Table("specialty", "asked", "granted", "reason", title="Places")
        for p in r.places:
            granted = "" if p.accepted is None else str(p.accepted)
            table.add_row(p.specialty, str(p.requested), granted, cell(p.reason))
        console.print(table)


@requests_app.command("create")
def create(
    from_org: str = typer.Option(..., "--from", help="Sending organisation id."),
    to_org: str = typer.Option(..., "--to", help="Receiving organisation id."),
    patient: list[str] = typer.Option([], "--patient", "-p", help="Selected patient id (repeat)."),
    places: list[str] = typer.Option([], help="SPECIALTY=N places asked for (repeat)."),
    note: str = typer.Option("", help="Free text for the receiving side."),
    by: str = typer.Option(None, "--actor", help="Who drafts it (audit trail)."),
) -> None:
    """Draft a treatment request for selected patients and/or a number of places."""
    given = [p.strip() for p in patient]
    twice = first_repeated(given)
    if twice is not None:  # it had been "already on request REQ-...", the draft refused
        raise UserError(f"--patient: {twice} is given more than once")
    request = create_request(
        unit_of_work(),
        from_organisation_id=from_org,
        to_organisation_id=to_org,
        patient_ids=given,
        places=_places(places),
        note=note,
        actor=actor(by),
    )
    console.print(
        f"drafted {request.id}; send it with `medevac requests submit {request.id}`", markup=False
    )


@requests_app.command("list")
def list_command(
    status: RequestStatus = typer.Option(None, help="Only requests in this status."),
    organisation: str = typer.Option(None, help="Only requests from or to this organisation."),
) -> None:
    """List treatment requests."""
    rows = list_requests(unit_of_work(), status=status, organisation_id=organisation)
    table = Table("id", "from", "to", "status", "patients", "places", "created")
    for r in rows:
        table.add_row(
            cell(r.id),
            cell(r.from_organisation_id),
            cell(r.to_organisation_id),
            r.status,
            str(len(r.patients)),
            str(sum(p.requested for p in r.places)),
            when(r.created_at),
        )
    console.print(table)


@requests_app.command("show")
def show(request_id: str = typer.Argument(..., help="Request id.")) -> None:
    """Show a request with the answer for every patient and specialty."""
    _print_request(get_request(unit_of_work(), request_id))


@requests_app.command("submit")
def submit(
    request_id: str = typer.Argument(..., help="Request id."),
    by: str = typer.Option(None, "--actor", help="Who sends it (audit trail)."),
) -> None:
    """Send a draft request; its patients become referred.

    Patients a plan referred since the draft stay on it as they are. A draft holding a patient
    accepted or declined meanwhile is refused: close it (`requests close`) and draft again.
    """
    submission = submitted_request(unit_of_work(), request_id, actor=actor(by))
    already = submission.already_referred
    shown = ", ".join(already[:SHOWN_PATIENTS]) + (", ..." if len(already) > SHOWN_PATIENTS else "")
    console.print(
        f"{submission.request.id} submitted: {len(submission.referred)} patients referred"
        + (f"; {len(already)} referred already: {shown}" if already else ""),
        markup=False,
    )


@requests_app.command("respond")
def respond(
    request_id: str = typer.Argument(..., help="Request id."),
    accept: list[str] = typer.Option([], help="Patient id to accept (repeat)."),
    decline: list[str] = typer.Option([], help="PATIENT=REASON to decline (repeat)."),
    accept_all: bool = typer.Option(
        False, help="Accept every patient still awaiting an answer (but those --decline names)."
    ),
    grant: list[str] = typer.Option(
        [], help="SPECIALTY=N[:REASON] places granted; a shortfall needs a reason (repeat)."
    ),
    admit: list[str] = typer.Option(
        [],
        help=(
            # "\\[" keeps Rich from taking "[@YYYY-MM-DD]" for markup and dropping it
            "PATIENT=FACILITY\\[@YYYY-MM-DD]: where (and from which day; default today) an "
            "accepted patient is to be admitted; `plan build` then holds its bed (repeat)."
        ),
    ),
    by: str = typer.Option(None, "--actor", help="Who answers for the receiving side."),
) -> None:
    """Answer a submitted request: accept, partially accept or decline, with reasons.

    One answer covers every patient still waiting (--accept-all accepts those it does not
    decline); to answer patients one at a time, move each with `medevac patients move PATIENT
    accepted --role receiving_facility` (or declined, with a reason). Naming where an accepted
    patient is to be admitted (--admit) keeps later plans from giving its bed away: `medevac
    plan build` takes it off the facility's report on the days of the stay, as for patients an
    approved plan sent. The facility must be the receiver's, offer the patient's specialty, and
    be open to the patient's organisation on that day under the agreements (as `plan approve`
    requires of a plan's admissions). A named day whose arrivals pass the facility's daily
    admission limit is said, and so are beds held at a named facility beyond the free beds of
    its latest report, and an agreement's quota that the patients sent to the receiver pass
    once the answer accepts its patients (the answer stands in each case).
    """
    uow = unit_of_work()
    request = get_request(uow, request_id)
    # ids as --decline and --admit take them, without spaces at the ends
    answers: dict[str, tuple[bool, str]] = dict.fromkeys((a.strip() for a in accept), (True, ""))
    for value in decline:
        patient_id, sep, reason = value.partition("=")
        if not sep or not reason.strip():
            raise UserError(f"--decline: {value!r} is not PATIENT=REASON")
        if patient_id.strip() in answers:  # the later option had overwritten the earlier
            given = "--accept" if answers[patient_id.strip()][0] else "--decline"
            raise UserError(f"--decline: {patient_id.strip()!r} is given with {given} too")
        answers[patient_id.strip()] = (False, reason.strip())
    if accept_all:  # the patients still awaiting an answer (one given stands)
        for line in request.patients:
            if line.decision is PatientDecision.PENDING:
                answers.setdefault(line.patient_id, (True, ""))
    granted: dict[Specialty, tuple[int, str]] = {}
    for value in grant:
        name, _, rest = value.partition("=")
        count, _, reason = rest.partition(":")
        if not _digits(count):
            raise UserError(f"--grant: {value!r} is not SPECIALTY=N[:REASON]")
        specialty = _specialty(name, "--grant")
        if specialty in granted:  # the later had overwritten the earlier unsaid
            raise UserError(f"--grant: {specialty.value} is given more than once")
        granted[specialty] = (int(count), reason.strip())
    result = respond_to_request(
        uow,
        request_id,
        patient_answers=answers,
        place_answers=granted,
        admissions=_admissions(admit),
        actor=actor(by),
    )
    _print_request(result)
    accepted = [p for p, (yes, _) in answers.items() if yes]
    if accepted:
        say_quotas_passed(accepted, "the answer")
    if admit:  # the days the answer named, where they pass a daily limit or the free beds
        _say_over_limit(
            {
                line.patient_id: (line.facility_id, line.admission_date)
                for line in result.patients
                if line.facility_id is not None and line.admission_date is not None
            }
        )


@requests_app.command("admit")
def admit(
    request_id: str = typer.Argument(..., help="Request id."),
    patient_id: str = typer.Argument(..., help="A patient the request accepted."),
    facility_id: str = typer.Argument(
        ..., help="A facility of the receiving organisation that offers the patient's specialty."
    ),
    on: str = typer.Option(None, "--on", metavar="YYYY-MM-DD", help="Admission day (today)."),
    by: str = typer.Option(None, "--actor", help="Who says it for the receiving side."),
) -> None:
    """Say where and when an accepted patient is to be admitted, after the answer.

    For a receiving side that accepts first and assigns the bed later (or moves it): from then
    on `medevac plan build` holds the patient's bed there. Only before the patient leaves
    (accepted or scheduled), also once the request is closed, and only on the answer that is
    the patient's latest acceptance. A day whose arrivals pass the facility's daily admission
    limit, or beds held there beyond the free beds of its latest report, are said.
    """
    try:
        day = None if on is None else date.fromisoformat(on.strip())
    except ValueError as error:
        raise UserError(f"--on: {on!r} is not a date (YYYY-MM-DD)") from error
    request = name_admission(
        unit_of_work(), request_id, patient_id, facility_id=facility_id, day=day, actor=actor(by)
    )
    line = request.line(patient_id)
    console.print(
        f"{request.id}: {patient_id} to {line.facility_id} from {line.admission_date}",
        markup=False,
    )
    if line.facility_id is not None and line.admission_date is not None:
        _say_over_limit({patient_id: (line.facility_id, line.admission_date)})


def say_quotas_passed(accepted: list[str], what: str) -> None:
    """A warning for each quota that the patients just ``accepted`` count against and that
    the patients sent pass (`quotas_passed`): ``what`` ("the answer", "the move") stands."""
    for passed in quotas_passed(unit_of_work(), accepted, utc_now()):
        console.print(
            f"[yellow]beyond the quota: {inline(passed)}; {what} stands, and plans place no "
            "more of its patients there (`plan approve --over-quota` to go beyond)[/]",
            highlight=False,
        )


def _say_over_limit(named: dict[str, tuple[str, date]]) -> None:
    """A warning for each named facility and day whose arrivals pass its daily admission
    limit (`arrivals_over_limit`), and for each named facility whose beds held for patients
    sent there since its report pass the free beds it reported (`beds_beyond_reports`): the
    answer stands; the next `plan build` admits nobody else there that day, or plans with no
    free bed there until a new report."""
    if not named:
        return
    now = utc_now()
    for line in arrivals_over_limit(unit_of_work(), set(named.values()), day_of(now)):
        console.print(
            f"[yellow]over the daily admission limit: {inline(line)}; the answer stands, and "
            "plans admit nobody else there that day[/]",
            highlight=False,
        )
    for line in beds_beyond_reports(unit_of_work(), named, now):
        console.print(
            f"[yellow]beyond the free beds: {inline(line)}; the answer stands, and plans see "
            "no free bed there on those days until the facility reports again[/]",
            highlight=False,
        )


@requests_app.command("close")
def close(
    request_id: str = typer.Argument(..., help="Request id."),
    reason: str = typer.Option(..., help="Why the request is closed."),
    by: str = typer.Option(None, "--actor", help="Who closes it (audit trail)."),
) -> None:
    """Close a request; patients it referred and still waiting return to selected.

    Patients it referred still waiting for an answer return to selected, and their admissions in
    the live plan are withdrawn (both listed); a referral by a plan stands: such patients keep
    the plan's place."""
    closed = close_request(unit_of_work(), request_id, reason=reason, actor=actor(by))
    request = closed.request
    console.print(f"{request.id} closed: {request.closed_reason}", markup=False)
    back = closed.back_to_selected
    if back:
        first = sorted(back.items())[:SHOWN_PATIENTS]
        withdrawn = sum(1 for place in back.values() if place)
        console.print(
            f"back to selected: {len(back)} patient(s) it had referred, waiting for an answer"
            + (f"; their {withdrawn} admission(s) in the live plan withdrawn" if withdrawn else "")
            + ": "
            + ", ".join(f"{p} (was {place})" if place else p for p, place in first)
            + (", ..." if len(back) > len(first) else ""),
            markup=False,
            highlight=False,
        )

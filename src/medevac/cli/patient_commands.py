"""`medevac patients ...`: list, show with timeline, move through the lifecycle."""

from __future__ import annotations

import typer
from rich.table import Table

from medevac.cli.context import actor, cell, console, tagged, unit_of_work, when
from medevac.cli.request_commands import say_quotas_passed
from medevac.domain.lifecycle import ALLOWED_TRANSITIONS, ActorRole, PatientStatus
from medevac.domain.vocabulary import Precedence, ServiceStatus, Sex, Specialty
from medevac.services.auditing import utc_now
from medevac.services.clock import day_of
from medevac.services.holds import HOLDING_STATUSES
from medevac.services.patients import PatientFile, list_patients, move_patient, patient_file

patients_app = typer.Typer(no_args_is_help=True, help="Patients and their lifecycle.")


def register(app: typer.Typer) -> None:
    app.add_typer(patients_app, name="patients")


@patients_app.command("list")
def list_command(
    status: PatientStatus = typer.Option(None, help="Only patients in this status."),
    specialty: Specialty = typer.Option(None, help="Only patients needing this specialty."),
    precedence: Precedence = typer.Option(None, help="Only patients of this precedence."),
    location: str = typer.Option(None, help="Only patients at this facility id."),
    organisation: str = typer.Option(None, help="Only patients of this organisation id."),
    limit: int = typer.Option(200, min=1, max=1_000_000, help="Show at most this many."),
) -> None:
    """List patients, filtered by status, specialty, precedence, location or organisation."""
    rows = list_patients(
        unit_of_work(),
        status=status,
        specialty=specialty,
        precedence=precedence,
        location_id=location,
        organisation_id=organisation,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    table = Table(
        "id",
        "status",
        "precedence",
        "triage",
        "specialties",
        "mobility",
        "needs",
        "location",
        title=f"{len(rows)}{'+' if more else ''} patients",
    )
    for p in rows:
        table.add_row(
            cell(p.id),
            p.status,
            p.precedence,
            p.triage,
            ", ".join(p.required_specialties),
            p.mobility,
            cell(", ".join(sorted(p.special_needs))),
            cell(p.location_id or ""),
        )
    console.print(table)
    if more:
        console.print(f"[yellow]more than {limit} match: narrow the filters or raise --limit[/]")


def _destination(record: PatientFile) -> str:
    """Where the patient is to be admitted, on whose word, or why nowhere (`destination_of`)."""
    d, status = record.destination, record.patient.status
    if d is None:
        if status in HOLDING_STATUSES:
            before_leaving = status in (PatientStatus.ACCEPTED, PatientStatus.SCHEDULED)
            return (
                "none recorded: no accepted request or plan names a facility of the "
                "organisation that accepted the patient"
                + (" (`medevac requests admit` names one)" if before_leaving else "")
            )
        if status in (PatientStatus.SELECTED, PatientStatus.REFERRED):
            return "none: no live plan places the patient"
        return f"none ({status} patients are not planned)"
    name = f" ({d.facility_name})" if d.facility_name else ""
    if d.request_id is not None:
        day, source = f"from {d.admission_date}", f"named on request {d.request_id}"
    elif d.plan_id is not None:
        day, source = f"on {d.admission_date}", f"planned by plan {d.plan_id}"
    else:
        day, source = f"on {d.admission_date}", "planned by an earlier plan, superseded since"
    if d.admitted_on is not None:  # the day named or planned had been shown as its admission
        return f"{d.facility_id}{name}, admitted on {d.admitted_on}, {source}"
    waiting = status not in (PatientStatus.ADMITTED, PatientStatus.IN_TREATMENT)
    passed = " (that day has passed)" if waiting and d.admission_date < day_of(utc_now()) else ""
    return f"{d.facility_id}{name}, admission {day}{passed}, {source}"


@patients_app.command("show")
def show(patient_id: str = typer.Argument(..., help="Patient id.")) -> None:
    """Show a patient with conditions, requests, destination and the full timeline of moves.

    The destination is where the patient is to be admitted: its admission in the live plan,
    or for a patient accepted, the facility and day its acceptance named, else its plan's
    admission at a facility of the organisation that accepted it (where `medevac plan build`
    holds its bed). The location is where the patient is: the facility it was reported at,
    the facility that admitted it once admitted (unknown where no acceptance or plan named
    one), none once repatriated.
    """
    record = patient_file(unit_of_work(), patient_id)
    p = record.patient
    console.print(f"[bold]{tagged(p.id)}[/]  status [bold]{p.status}[/]  (version {p.version})")
    console.print(
        f"Organisation {p.organisation_id}; precedence {p.precedence}; triage {p.triage}; "
        f"{p.mobility}, {p.companions} companion(s); fit to transport: "
        f"{'yes' if p.fit_to_transport else 'no'}",
        markup=False,
    )
    console.print(f"Needs: {', '.join(p.required_specialties)} (primary first)", markup=False)
    if p.special_needs:
        console.print(f"Special needs: {', '.join(sorted(p.special_needs))}", markup=False)
    if p.expected_length_of_stay_days:
        console.print(f"Expected stay: {p.expected_length_of_stay_days} days")
    # admitted patients are at the facility that admitted them, repatriated ones at none
    nowhere = "none: repatriated" if p.status is PatientStatus.REPATRIATED else "unknown"
    console.print(f"Location: {p.location_id or nowhere}", markup=False)
    console.print(f"Destination: {_destination(record)}", markup=False)
    ident = p.identity
    details = [
        ident.name,
        # "unknown" is what nobody recorded: "Identity: unknown, unknown" had said nothing
        ident.sex.value if ident.sex is not Sex.UNKNOWN else "",
        f"born {ident.birth_date}" if ident.birth_date else "",
        ident.nationality or "",
        ident.service_status.value if ident.service_status is not ServiceStatus.UNKNOWN else "",
        ident.affiliation,
    ]
    console.print(f"Identity: {', '.join(d for d in details if d) or 'not recorded'}", markup=False)
    for c in p.conditions:
        console.print(f"Condition: {c.body_region}, {c.mechanism}: {c.description}", markup=False)
    for r in record.requests:
        line = r.line(p.id)
        admission = (
            f", to be admitted at {line.facility_id} from {line.admission_date}"
            if line.facility_id is not None and line.admission_date is not None
            else ""
        )
        console.print(
            f"Request {r.id} ({r.status}) to {r.to_organisation_id}: {line.decision}"
            + (f" ({line.reason})" if line.reason else "")
            + admission,
            markup=False,
        )
    timeline = Table("when", "from", "to", "by", "role", "why", title="Timeline")
    for change in p.history:
        timeline.add_row(
            when(change.at),
            change.from_status or "",
            change.to_status,
            cell(change.actor),
            change.role,
            cell(change.reason),
        )
    console.print(timeline)
    allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[p.status])) or "none (final)"
    console.print(f"Allowed next moves: {allowed}", markup=False)


@patients_app.command("move")
def move(
    patient_id: str = typer.Argument(..., help="Patient id."),
    status: PatientStatus = typer.Argument(..., help="Target status."),
    reason: str = typer.Option(
        "",
        help=(
            "Why (required for declines, deferrals, deaths, cancellations, and the steps back: "
            "referred or accepted to selected, scheduled to accepted, declined to screening)."
        ),
    ),
    by: str = typer.Option(None, "--actor", help="Who makes the move (audit trail)."),
    role: ActorRole = typer.Option(
        ActorRole.COORDINATOR,
        help=(
            "In which role: a coordinator makes any move the lifecycle allows; a screening "
            "clinician takes patients into screening and decides it; a receiving facility "
            "answers referrals and admits arriving patients; system stands for another system "
            "moving patients through medevac, with a coordinator's rights (the audit trail "
            "tells its moves apart)."
        ),
    ),
    expected_version: int = typer.Option(
        None, help="Refuse if the patient changed since this version was read."
    ),
) -> None:
    """Move a patient to another status, if the lifecycle allows it.

    Accepting or declining a referral that a submitted treatment request is waiting on answers
    that request for the patient (its line records the decision and the reason); the request
    gets its outcome once every patient and place on it is answered. An acceptance that takes
    the patients sent under an agreement beyond its quota is said (the move stands).
    """
    change = move_patient(
        unit_of_work(),
        patient_id,
        status,
        actor=actor(by),
        reason=reason,
        role=role,
        expected_version=expected_version,
    )
    console.print(f"{patient_id}: {change.from_status} -> {change.to_status}", markup=False)
    if change.to_status is PatientStatus.ACCEPTED:
        # accepted one at a time, as `requests respond` says it of its answer (unsaid before)
        say_quotas_passed([patient_id], "the move")

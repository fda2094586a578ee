"""`medevac screening ...`: screening missions and their decisions."""

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
    moment_option,
    tagged,
    unit_of_work,
    when,
)
from medevac.domain.errors import shown_key
from medevac.domain.screening import ScreeningOutcome
from medevac.services.screening import (
    add_candidates,
    create_mission,
    list_missions,
    mission_report,
    record_decision,
)

screening_app = typer.Typer(no_args_is_help=True, help="Screening missions of visiting teams.")


def register(app: typer.Typer) -> None:
    app.add_typer(screening_app, name="screening")


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise UserError(f"{option}: {text!r} is not a date like 2026-11-20") from error


@screening_app.command("create")
def create(
    team: str = typer.Option(..., help="Organisation id of the visiting team."),
    place: str = typer.Option(..., help="Where the team examines candidates."),
    starts: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD)."),
    ends: str = typer.Option(..., "--to", help="Last day (YYYY-MM-DD)."),
    member: list[str] = typer.Option([], help="Team member (repeat)."),
    facility: str = typer.Option(None, help="Facility id where the mission works, if one."),
    by: str = typer.Option(None, "--actor", help="Who plans it (audit trail)."),
) -> None:
    """Plan a screening mission."""
    mission = create_mission(
        unit_of_work(),
        team_organisation_id=team,
        place=place,
        starts_on=_date(starts, "--from"),
        ends_on=_date(ends, "--to"),
        team_members=member,
        facility_id=facility,
        actor=actor(by),
    )
    console.print(
        f"planned {mission.id}; add candidates with `medevac screening add {mission.id} ...`",
        markup=False,
    )


@screening_app.command("add")
def add(
    mission_id: str = typer.Argument(..., help="Mission id."),
    patients: list[str] = typer.Argument(..., help="Patient ids to put before the team."),
    by: str = typer.Option(None, "--actor", help="Who adds them (audit trail)."),
) -> None:
    """Add candidates to a mission; they move to screening."""
    twice = first_repeated(patients)
    if twice is not None:  # it had been "PT-1 is screening", the whole add refused
        raise UserError(f"patient {shown_key(twice)} is given more than once")
    mission = add_candidates(unit_of_work(), mission_id, patients, actor=actor(by))
    console.print(f"{mission.id}: {len(mission.candidates)} candidates", markup=False)


@screening_app.command("decide")
def decide(
    mission_id: str = typer.Argument(..., help="Mission id."),
    patient_id: str = typer.Argument(..., help="Candidate patient id."),
    outcome: ScreeningOutcome = typer.Argument(..., help="select, defer or decline."),
    clinician: str = typer.Option(..., help="The clinician who decides."),
    notes: str = typer.Option("", help="Criteria notes (required to defer or decline)."),
    at: str = typer.Option(
        None,
        help=(
            "When decided (ISO 8601 with zone); default now. Not before the patient became a "
            "candidate, nor in the future (5 minutes of clock difference allowed)."
        ),
    ),
) -> None:
    """Record a decision on a candidate; the patient moves to selected, deferred or declined.

    Only the mission the patient is a candidate of decides.
    """
    decided_at = None
    if at:
        decided_at = moment_option(at)
    decision = record_decision(
        unit_of_work(),
        mission_id,
        patient_id,
        outcome,
        clinician=clinician,
        criteria_notes=notes,
        decided_at=decided_at,
    )
    console.print(f"{patient_id}: {decision.outcome} by {decision.clinician}", markup=False)


@screening_app.command("report")
def report(
    mission_id: str = typer.Argument(..., help="Mission id."),
    candidates: bool = typer.Option(False, help="Also list every candidate and decision."),
) -> None:
    """Counts of a mission: examined, selected, deferred, declined, left and pending.

    A candidate left is one without a decision who no longer awaits it: dead, cancelled,
    moved on by hand, or put before another mission since."""
    found = mission_report(unit_of_work(), mission_id)
    mission, counts = found.mission, found.counts
    console.print(
        f"[bold]{tagged(mission.id)}[/] by {inline(mission.team_organisation_id)} at "
        f"{inline(mission.place)}, {mission.starts_on} to {mission.ends_on}"
    )
    if mission.team_members:
        console.print(f"Team: {', '.join(mission.team_members)}", markup=False)
    table = Table("candidates", "examined", "selected", "deferred", "declined", "left", "pending")
    table.add_row(
        *(
            str(v)
            for v in (
                counts.candidates,
                counts.examined,
                counts.selected,
                counts.deferred,
                counts.declined,
                counts.left,
                counts.pending,
            )
        )
    )
    console.print(table)
    if candidates:
        listing = Table("patient", "decision", "clinician", "when", "criteria")
        for patient_id, d in mission.candidates.items():
            if d is None and patient_id in found.left:
                listing.add_row(cell(patient_id), "left", "", "", cell(found.left[patient_id]))
            elif d is None:
                listing.add_row(cell(patient_id), "pending", "", "", "")
            else:
                listing.add_row(
                    cell(patient_id),
                    d.outcome,
                    cell(d.clinician),
                    when(d.decided_at),
                    cell(d.criteria_notes),
                )
        console.print(listing)


@screening_app.command("list")
def list_command() -> None:
    """List screening missions with their counts."""
    table = Table("id", "team", "place", "dates", "examined", "selected")
    for m in list_missions(unit_of_work()):
        r = m.report()
        table.add_row(
            cell(m.id),
            cell(m.team_organisation_id),
            cell(m.place),
            f"{m.starts_on}..{m.ends_on}",
            f"{r.examined}/{r.candidates}",
            str(r.selected),
        )
    console.print(table)

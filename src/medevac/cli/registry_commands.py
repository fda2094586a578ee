"""`medevac organisations ...` and `medevac facilities ...` (including capacity reports)."""

from __future__ import annotations

import typer
from rich.table import Table

from medevac.cli.context import (
    actor,
    age_text,
    cell,
    console,
    inline,
    moment_option,
    stale_after,
    tagged,
    unit_of_work,
    when,
)
from medevac.domain.facilities import CapacityReport
from medevac.domain.vocabulary import FacilityKind, Specialty
from medevac.services.auditing import utc_now
from medevac.services.registry import current_capacity, report_capacity

organisations_app = typer.Typer(no_args_is_help=True, help="Organisations.")
facilities_app = typer.Typer(no_args_is_help=True, help="Facilities and their capacity.")
capacity_app = typer.Typer(no_args_is_help=True, help="Bed capacity reports (EDXL-HAVE style).")
agreements_app = typer.Typer(
    no_args_is_help=True, help="Agreements: who treats whom, at what cost."
)
facilities_app.add_typer(capacity_app, name="capacity")


def register(app: typer.Typer) -> None:
    app.add_typer(organisations_app, name="organisations")
    app.add_typer(facilities_app, name="facilities")
    app.add_typer(agreements_app, name="agreements")


@agreements_app.command("list")
def list_agreements(
    organisation: str = typer.Option(None, help="Only agreements this organisation is party to."),
) -> None:
    """List agreements with their specialties, quota, cost model and dates."""
    uow = unit_of_work()
    with uow:
        if organisation is not None:  # an unknown one had answered with an empty table
            uow.organisations.get(organisation)
        rows = uow.agreements.list(organisation_id=organisation)
    table = Table("id", "sending", "receiving", "specialties", "quota", "cost", "valid")
    for a in rows:
        table.add_row(
            cell(a.id),
            cell(a.sending_organisation_id),
            cell(a.receiving_organisation_id),
            ", ".join(sorted(a.specialties)),
            "none" if a.quota is None else str(a.quota),
            cell(a.cost_policy.describe()),
            f"{a.valid_from}..{a.valid_to or 'open'}",
        )
    console.print(table)


@organisations_app.command("list")
def list_organisations() -> None:
    """List organisations."""
    uow = unit_of_work()
    with uow:
        rows = uow.organisations.list()
    table = Table("id", "name", "kind", "country", title=f"{len(rows)} organisations")
    for org in rows:
        table.add_row(cell(org.id), cell(org.name), org.kind, cell(org.country))
    console.print(table)


@facilities_app.command("list")
def list_facilities(
    kind: FacilityKind = typer.Option(None, help="Only facilities of this kind."),
    operator: str = typer.Option(None, help="Only facilities run by this organisation id."),
) -> None:
    """List facilities with what they offer."""
    uow = unit_of_work()
    with uow:
        if operator is not None:  # an unknown one had answered "0 facilities"
            uow.organisations.get(operator)
        rows = uow.facilities.list(kind=kind, operator_id=operator)
    table = Table(
        "id", "name", "kind", "city", "beds", "specialties", title=f"{len(rows)} facilities"
    )
    for f in rows:
        table.add_row(
            cell(f.id),
            cell(f.name),
            f.kind,
            cell(f"{f.city} ({f.country})" if f.city else f.country),
            "" if f.total_beds is None else str(f.total_beds),
            ", ".join(sorted(f.specialties)),
        )
    console.print(table)


@facilities_app.command("show")
def show_facility(facility_id: str = typer.Argument(..., help="Facility id.")) -> None:
    """Show one facility: capabilities, limits, cost policy and latest capacity."""
    uow = unit_of_work()
    with uow:
        f = uow.facilities.get(facility_id)
    console.print(
        f"[bold]{tagged(f.name)}[/] ({inline(f.id)}), {f.kind}, operated by {inline(f.operator_id)}"
    )
    console.print(
        f"Location: {f.city + ' ' if f.city else ''}{f.country} at {f.location.lat:.4f}, "
        f"{f.location.lon:.4f}",
        markup=False,
    )
    console.print(f"Specialties: {', '.join(sorted(f.specialties)) or 'none'}", markup=False)
    console.print(f"Capabilities: {', '.join(sorted(f.capabilities)) or 'none'}", markup=False)
    limits = [
        f"{label} {value}"
        for label, value in (
            ("beds", f.total_beds),
            ("admissions a day", f.daily_admission_limit),
            ("outpatients a day", f.daily_outpatient_throughput),
        )
        if value is not None
    ]
    console.print(f"Limits: {', '.join(limits) or 'none stated'}", markup=False)
    console.print(f"Cost: {f.cost_policy.describe()}", markup=False)
    show_capacity(facility_id)


@capacity_app.command("show")
def show_capacity(
    facility_id: str = typer.Argument(None, help="Only this facility."),
) -> None:
    """Latest capacity per facility and specialty; stale reports are marked."""
    now = utc_now()
    lines = current_capacity(
        unit_of_work(), now=now, stale_after=stale_after(), facility_id=facility_id
    )
    table = Table(
        "facility",
        "specialty",
        "HAVE bed type",
        "available",
        "baseline",
        "+24 h",
        "+72 h",
        "reported",
        title=f"Capacity at {when(now)}",
    )
    stale = 0
    for line in lines:
        r = line.report
        age = age_text(line.age)
        stale += line.stale
        table.add_row(
            cell(line.facility.id),
            r.specialty,
            r.specialty.have_bed_type,
            str(r.available),
            str(r.baseline),
            str(r.plus_24h),
            str(r.plus_72h),
            f"[red]STALE {age}[/]" if line.stale else age,
        )
    console.print(table)
    if stale:
        hours = stale_after().total_seconds() / 3600
        console.print(f"[red]{stale} report(s) older than {hours:g} h: ask for an update.[/]")


@capacity_app.command("report")
def report(
    facility_id: str = typer.Argument(..., help="Facility id."),
    specialty: Specialty = typer.Argument(..., help="Specialty the beds are for."),
    available: int = typer.Option(..., help="Beds free now."),
    baseline: int = typer.Option(..., help="Beds normally staffed."),
    plus_24h: int = typer.Option(0, "--plus-24h", help="Extra beds within 24 h."),
    plus_72h: int = typer.Option(0, "--plus-72h", help="Extra beds within 72 h."),
    at: str = typer.Option(None, help="When counted (ISO 8601 with zone); default now."),
    by: str = typer.Option(None, "--actor", help="Who reports (audit trail)."),
) -> None:
    """Record a capacity report for one specialty of a facility."""
    reported_at = utc_now()
    if at:
        reported_at = moment_option(at)
    entry = CapacityReport(
        facility_id, specialty, available, baseline, plus_24h, plus_72h, reported_at
    )
    later = report_capacity(unit_of_work(), entry, actor=actor(by))
    console.print(
        f"recorded: {facility_id} {specialty}: {available} of {baseline} beds available",
        markup=False,
    )
    if later is not None:
        console.print(
            f"[yellow]{inline(facility_id)} {specialty} has a later report, of "
            f"{when(later.reported_at)} ({later.available} of {later.baseline} beds): that one "
            "stays in force, and plans do not read this one[/]",
            highlight=False,
        )

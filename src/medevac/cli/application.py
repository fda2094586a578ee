"""The `medevac` command's sub-commands, and one-line errors instead of tracebacks (the entry
point, `medevac.cli.main`, loads this module)."""

from __future__ import annotations

import os
from typing import Any

import typer
from alembic.util.exc import CommandError
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from medevac import __version__
from medevac.cli import (
    audit_commands,
    patient_commands,
    plan_commands,
    plan_registry_commands,
    registry_commands,
    request_commands,
    screening_commands,
    simulation_commands,
    transfer_commands,
)
from medevac.cli.context import (
    UserError,
    actor,
    cell,
    console,
    database_url,
    err_console,
    shown_url,
    stale_after,
    unit_of_work,
)
from medevac.cli.interrupts import EXIT_INTERRUPTED, interrupted_by, say_interrupted
from medevac.config import SettingsError
from medevac.domain.errors import DomainError
from medevac.services.demo import DemoSummary, build_demo
from medevac.store.database import (
    DatabaseUrlError,
    current_revision,
    head_revision,
    known_revisions,
    missing_sqlite_file,
    newer_database,
    unknown_revision,
    upgrade,
)


class MedevacGroup(TyperGroup):
    """Turns errors the user can fix into one line on stderr and exit code 1, and Ctrl-C into
    one line and exit code 130 (commands that can say what it left done say so first)."""

    def invoke(self, ctx: Any) -> Any:  # typer.Context, typed loosely: typer vendors click
        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, SystemError) as error:
            if not interrupted_by(error):
                raise
            say_interrupted()
            raise typer.Exit(EXIT_INTERRUPTED) from error
        except DatabaseUrlError as error:  # raised before any connection is tried
            _error(f"MEDEVAC_DATABASE_URL={error.url}: {error.reason}")
            raise typer.Exit(1) from error
        except (DomainError, UserError, SettingsError) as error:
            _error(str(error))
            raise typer.Exit(1) from error
        except SQLAlchemyError as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            _error(f"database {shown_url(database_url())}: {reason}")
            raise typer.Exit(1) from error
        except UnicodeEncodeError as error:
            # an argument holding a byte that is not UTF-8 (the shell passes it on as a lone
            # surrogate) reached the database or a file as an id or a filter: the commands
            # check the texts they store, but not every id they look up (it had been a
            # traceback)
            if error.reason != "surrogates not allowed" or not isinstance(error.object, str):
                raise
            _error(f"{_not_utf8(error.object, error.start)}; medevac reads its arguments as UTF-8")
            raise typer.Exit(1) from error


def _not_utf8(text: str, start: int) -> str:
    """``text`` (an argument holding a lone surrogate at ``start``) as the bytes it came from,
    and the first of them that is not UTF-8."""
    try:
        shown = repr(os.fsencode(text))[1:]  # b'PT\xff' -> 'PT\xff'
        byte = f"byte 0x{os.fsencode(text[start])[0]:02x}"
    except UnicodeEncodeError:  # a surrogate no byte stands for ("\ud800" from a JSON escape)
        shown, byte = ascii(text), f"U+{ord(text[start]):04X}"
    return f"{shown[:120]} is not UTF-8 text ({byte} at character {start + 1})"


def _error(text: str) -> None:
    """One line "error: ..." on stderr, as written (no markup, no wrapping)."""
    err_console.print(f"error: {text}", markup=False, highlight=False, soft_wrap=True)


app = typer.Typer(
    cls=MedevacGroup,
    no_args_is_help=True,
    help="medevac: registry, regulating engine and planning for medical evacuation.",
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
db_app = typer.Typer(no_args_is_help=True, help="Create and migrate the database.")
app.add_typer(db_app, name="db")
registry_commands.register(app)
patient_commands.register(app)
request_commands.register(app)
screening_commands.register(app)
audit_commands.register(app)
plan_commands.register(app)
plan_registry_commands.register(app)
simulation_commands.register(app)
transfer_commands.register(app)


def _print_version(asked: bool) -> None:
    """`--version`: read as the options are, before a command is looked for (without a
    command, "Missing command." had answered it)."""
    if asked:
        console.print(f"medevac {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """medevac: registry, regulating engine and planning for medical evacuation."""


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: the newest)."),
) -> None:
    """Build or migrate the schema of the configured database (MEDEVAC_DATABASE_URL)."""
    url = database_url()
    known = known_revisions()
    # a plain id (alembic's relative forms, "+1" or "heads", go to alembic as before)
    named = revision if revision.isalnum() and revision not in ("head", "heads") else None
    if named is not None and named not in known:
        # alembic's own refusal came as a traceback, after an empty SQLite file was created
        raise UserError(
            f"revision {revision!r} is not one of medevac's migrations ({', '.join(known)}, "
            "or head, the newest)"
        )
    if missing_sqlite_file(url) is None and (unknown := unknown_revision(url)) is not None:
        # alembic had said it "can't locate revision identified by" the database's own
        raise UserError(newer_database(url, unknown))
    if named is not None and missing_sqlite_file(url) is None:
        now = current_revision(url)
        if now in known and known.index(now) > known.index(named):
            raise UserError(
                f"database {shown_url(url)} is at revision {now}, after {named}: "
                "`db upgrade` does not go back"
            )
    try:
        upgrade(url, revision)
    except CommandError as error:  # a relative form alembic cannot follow ("+9")
        raise UserError(f"revision {revision!r}: {error}") from error
    console.print(f"database {shown_url(url)} is at revision {current_revision(url)}", markup=False)


@db_app.command("status")
def db_status() -> None:
    """Show the database URL and whether its schema is up to date."""
    url = database_url()
    missing = missing_sqlite_file(url)
    if missing is not None:  # asking SQLite would create it, empty
        console.print(
            f"database {shown_url(url)}: there is no database file at {missing}; `medevac db "
            "upgrade` creates one",
            markup=False,
        )
        return
    current, head = current_revision(url), head_revision()
    state = "up to date" if current == head else "needs `medevac db upgrade`"
    if current is not None and current not in known_revisions():
        state = "newer than this medevac knows: use the medevac that migrated it"
    console.print(
        f"database {shown_url(url)}: revision {current or 'none'} (newest {head}), {state}",
        markup=False,
    )


@app.command("demo")
def demo(
    by: str = typer.Option(None, "--actor", help="Name recorded in the audit trail."),
    plan: bool = typer.Option(
        True,
        "--plan/--no-plan",
        help="End with an approved regulating plan for the referred patients, or leave "
        "regulating to `medevac plan build`.",
    ),
) -> None:
    """Build the demo scenario in the configured database and print what it holds."""
    summary = build_demo(unit_of_work(), actor=actor(by), regulate=plan, stale_after=stale_after())
    print_demo_summary(summary)


def print_demo_summary(summary: DemoSummary) -> None:
    if summary.already_present:
        console.print("[yellow]The demo scenario is already in this database; nothing added.[/]")
    else:
        console.print("[green]Demo scenario built.[/]")
    console.print(f"Database: {shown_url(database_url())}", markup=False)
    facilities = Table(title="Facilities", show_edge=False)
    facilities.add_column("kind")
    facilities.add_column("count", justify="right")
    for kind, count in summary.facilities_by_kind.items():
        facilities.add_row(cell(kind), str(count))
    patients = Table(title="Patients by status", show_edge=False)
    patients.add_column("status")
    patients.add_column("count", justify="right")
    for status, count in summary.patients_by_status.items():
        patients.add_row(cell(status), str(count))
    console.print(f"Organisations: {summary.organisations}")
    console.print(facilities)
    console.print(patients)
    s = summary.screening
    console.print(
        f"Screening mission: examined {s.examined} of {s.candidates}, selected {s.selected}, "
        f"deferred {s.deferred}, declined {s.declined}",
        markup=False,
    )
    r = summary.request
    console.print(
        f"Treatment request {r.id}: {r.from_organisation_id} -> {r.to_organisation_id}, "
        f"{len(r.patients)} patients, {r.status}",
        markup=False,
    )
    for a in summary.agreements:
        quota = a.quota if a.quota is not None else "no quota"
        console.print(
            f"Agreement {a.id}: {a.receiving_organisation_id} treats patients of "
            f"{a.sending_organisation_id}, {len(a.specialties)} specialties, quota {quota}, "
            f"{a.cost_policy.describe()}",
            markup=False,
        )
    if summary.plan is not None:
        plan = summary.plan
        admissions = [a for a in plan.admissions if a.is_open]  # not those withdrawn since
        used = len({a.facility_id for a in admissions})
        days = sorted({a.admission_date for a in admissions})
        admitted = ""
        if days:
            admitted = f" on {days[0]}" if len(days) == 1 else f" from {days[0]} to {days[-1]}"
        console.print(
            f"Regulating plan {plan.id}: {len(admissions)} admissions at {used} "
            f"{'facility' if used == 1 else 'facilities'}{admitted}, objective "
            f"{plan.objective:,.2f} ({plan.solver_status}), approved by {plan.approved_by}",
            markup=False,
        )
    console.print(
        "Next: [bold]medevac patients list --status referred[/], "
        "[bold]medevac facilities capacity show[/], "
        "[bold]medevac screening report SCR-DEMO-001[/], [bold]medevac plan approved --details[/]"
    )

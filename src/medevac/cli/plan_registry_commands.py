"""`medevac plan build`: the registry's selected and referred patients as a problem file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from medevac.cli.context import UserError, age_text, console, stale_after, unit_of_work
from medevac.cli.plan_commands import plan_app
from medevac.services.auditing import utc_now
from medevac.services.regulating import build_problem


def register(app: typer.Typer) -> None:
    """The commands attach to the `plan` sub-app registered by plan_commands."""


def manifest_path(problem_file: Path) -> Path:
    """Where the manifest of a problem file lives: beside it, `NAME.registry.json`."""
    return problem_file.with_name(f"{problem_file.stem}.registry.json")


def _settings(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: cannot be read as JSON ({error})") from error
    if not isinstance(data, dict) or set(data) - {"precedences", "weights"}:
        raise UserError(f"{path}: expected an object with only 'precedences' and/or 'weights'")
    return data


@plan_app.command("build")
def build(
    out: Path = typer.Option(..., "--out", help="Where to write the problem JSON."),
    horizon_days: int = typer.Option(14, min=1, max=366, help="Days to plan ahead."),
    settings: Path = typer.Option(
        None,
        "--settings",
        help="JSON with 'precedences' and/or 'weights' for this operation (defaults: docs).",
    ),
    include_field_hospitals: bool = typer.Option(
        False, help="Also send patients to field hospitals (normally kept for local casualties)."
    ),
) -> None:
    """Turn the selected and referred patients and the latest capacity into a problem file.

    Also writes NAME.registry.json beside it: what the problem was built from, so that
    `plan approve` can refuse when the registry has changed since.
    """
    extra = _settings(settings)
    now = utc_now()
    built = build_problem(
        unit_of_work(),
        now=now,
        stale_after=stale_after(),
        horizon_days=horizon_days,
        precedences=extra.get("precedences"),
        weights=extra.get("weights"),
        include_field_hospitals=include_field_hospitals,
    )
    out.write_text(json.dumps(built.problem, indent=1) + "\n", encoding="utf-8")
    manifest_path(out).write_text(json.dumps(built.manifest, indent=1) + "\n", encoding="utf-8")
    problem = built.problem
    console.print(
        f"wrote {out}: {len(problem['patients'])} patients, {len(problem['facilities'])} "
        f"facilities, {horizon_days} days; manifest {manifest_path(out)}"
    )
    if built.skipped:
        table = Table("left out", "id", "why", title=f"{len(built.skipped)} left out")
        for item in built.skipped:
            table.add_row(item.kind, item.id, item.reason)
        console.print(table)
    for report in built.stale_reports:
        console.print(
            f"[red]stale capacity: {report.facility_id} {report.specialty} reported "
            f"{age_text(report.age(now))}[/]"
        )
    console.print(f"next: medevac plan solve {out} --out plan.json")

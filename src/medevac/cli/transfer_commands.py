"""`medevac import KIND FILE` and `medevac export KIND FILE`: registry records as CSV or JSON."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from medevac.cli.context import actor, err_console, inline, unit_of_work
from medevac.cli.context import console as out
from medevac.config import get_settings
from medevac.domain.errors import DomainError
from medevac.planning.json_text import printable
from medevac.services.exports import export_file
from medevac.services.imports import ImportRejected, ProgressCallback, RecordKind, import_file

FILE_HELP = "A .csv or .json file; columns are described in docs/formats/."


def register(app: typer.Typer) -> None:
    """Add the `import` and `export` commands to the application."""
    app.command("import")(import_records)
    app.command("export")(export_records)


def import_records(
    kind: RecordKind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(..., help=FILE_HELP),
    by: str | None = typer.Option(None, "--actor", help="Name recorded in the audit trail."),
) -> None:
    """Import records from a CSV or JSON file: all rows or none, upserted by id."""
    uow = unit_of_work()
    threshold = get_settings().progress_threshold_rows
    try:
        with _progress_bar(f"Importing {kind.value}", threshold) as progress:
            result = import_file(uow, kind, file, actor=actor(by), progress=progress)
    except ImportRejected as rejected:
        for error in rejected.errors:
            err_console.print(str(error), markup=False, highlight=False, soft_wrap=True)
        rows = len({e.row for e in rejected.errors})
        count = len(rejected.errors)
        err_console.print(
            f"[bold red]{inline(printable(file.name))}: {count} error{'s' if count != 1 else ''} in"
            f" {rows} row{'s' if rows != 1 else ''}; nothing was imported.[/]"
        )
        raise typer.Exit(1) from None
    except DomainError as error:
        err_console.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    name = inline(printable(file.name))
    out.print(
        f"Imported {kind.value} from {name}: [green]{result.created} created[/],"
        f" [yellow]{result.updated} updated[/], {result.unchanged} unchanged."
    )


def export_records(
    kind: RecordKind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(..., help=FILE_HELP),
) -> None:
    """Export every record of a kind to a CSV or JSON file that `import` reads back."""
    try:
        written = export_file(unit_of_work(), kind, file)
    except DomainError as error:
        err_console.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except OSError as error:
        err_console.print(
            f"error: cannot write {printable(str(file))}: {error.strerror}",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1) from None
    noun = "capacity reports" if kind is RecordKind.CAPACITY else kind.value
    out.print(f"Exported {written} {noun} to {printable(str(file))}.", markup=False)


@contextmanager
def _progress_bar(description: str, threshold_rows: int) -> Iterator[ProgressCallback]:
    """A progress callback that shows a Rich bar once the file turns out to be large."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task: TaskID | None = None

    def report(done: int, total: int) -> None:
        nonlocal task
        # The service counts two steps per row: one when checked, one when written.
        if task is None and total // 2 > threshold_rows:
            progress.start()
            task = progress.add_task(f"{description} ({total // 2:,} rows)", total=total)
        if task is not None:
            progress.update(task, completed=done)

    try:
        yield report
    finally:
        if task is not None:
            progress.stop()

"""`medevac import KIND FILE` and `medevac export KIND FILE`: registry records as CSV or JSON."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from medevac.config import get_settings
from medevac.domain.errors import DomainError
from medevac.services.exports import export_file
from medevac.services.imports import ImportRejected, ProgressCallback, RecordKind, import_file
from medevac.store.unit_of_work import SqlUnitOfWork

FILE_HELP = "A .csv or .json file; columns are described in docs/formats/."

out = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the `import` and `export` commands to the application."""
    app.command("import")(import_records)
    app.command("export")(export_records)


def import_records(
    kind: RecordKind = typer.Argument(..., help="organisations, facilities, capacity or patients"),
    file: Path = typer.Argument(..., help=FILE_HELP),
) -> None:
    """Import records from a CSV or JSON file: all rows or none, upserted by id."""
    settings = get_settings()
    uow = SqlUnitOfWork(settings.database_url)
    try:
        with _progress_bar(f"Importing {kind.value}", settings.progress_threshold_rows) as progress:
            result = import_file(uow, kind, file, actor=settings.actor, progress=progress)
    except ImportRejected as rejected:
        for error in rejected.errors:
            err.print(str(error), markup=False, highlight=False)
        rows = len({e.row for e in rejected.errors})
        count = len(rejected.errors)
        err.print(
            f"[bold red]{file.name}: {count} error{'s' if count != 1 else ''} in"
            f" {rows} row{'s' if rows != 1 else ''}; nothing was imported.[/]"
        )
        raise typer.Exit(1) from None
    except DomainError as error:
        err.print(f"[bold red]Import failed:[/] {error}", highlight=False)
        raise typer.Exit(1) from None
    out.print(
        f"Imported {kind.value} from {file.name}: [green]{result.created} created[/],"
        f" [yellow]{result.updated} updated[/], {result.unchanged} unchanged."
    )


def export_records(
    kind: RecordKind = typer.Argument(..., help="organisations, facilities, capacity or patients"),
    file: Path = typer.Argument(..., help=FILE_HELP),
) -> None:
    """Export every record of a kind to a CSV or JSON file that `import` reads back."""
    settings = get_settings()
    try:
        written = export_file(SqlUnitOfWork(settings.database_url), kind, file)
    except DomainError as error:
        err.print(f"[bold red]Export failed:[/] {error}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as error:
        err.print(f"[bold red]Export failed:[/] cannot write {file}: {error.strerror}")
        raise typer.Exit(1) from None
    out.print(f"Exported {written} {kind.value} to {file}.")


@contextmanager
def _progress_bar(description: str, threshold_rows: int) -> Iterator[ProgressCallback]:
    """A progress callback that shows a Rich bar once the file turns out to be large."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
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
        progress.stop()

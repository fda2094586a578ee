"""CLI commands for field hospitals: ``simulate`` a scenario and ``deploy`` hospitals to sites."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from medevac.cli.context import cell, inline
from medevac.cli.plan_commands import time_limit_seconds
from medevac.domain.errors import json_error
from medevac.planning import json_text

if TYPE_CHECKING:
    from medevac.simulation.results import SimulationResult

EXIT_BAD_INPUT = 1
_T = TypeVar("_T")

_HEADLINE_METRICS = (
    ("arrived", "patients arrived"),
    ("seen", "seen"),
    ("admitted", "admitted"),
    ("operated", "operated"),
    ("referred_on", "referred on"),
    ("referred_on_no_bed", "  of which for lack of a bed"),
    ("left_unseen", "left unseen"),
    ("consultation_wait_mean_hours", "consultation wait, mean (h)"),
    ("consultation_wait_p90_hours", "consultation wait, p90 (h)"),
    ("theatre_wait_mean_hours", "theatre wait, mean (h)"),
    ("bed_wait_mean_hours", "bed wait, mean, all who needed a bed (h)"),
    ("bed_wait_admitted_mean_hours", "bed wait, mean, admitted only (h)"),
    ("beds_occupied_mean", "beds occupied, mean"),
    ("beds_occupied_peak_hour", "beds occupied, peak hour"),
    ("operating_tables_busy_mean", "operating tables busy, mean"),
)

#: replications of one run: 10,000 of the 100-bed hospital took 0.7 GB and 15 s (2026-12-05);
#: 10**12 had been accepted. Long horizons allow fewer: see ``runner.MAX_SERIES_BYTES``.
MAX_REPLICATIONS = 10_000


def _replications(help_text: str) -> Any:
    """The --replications / -n option: 200 by default, 1 to MAX_REPLICATIONS."""
    return typer.Option(200, "--replications", "-n", min=1, max=MAX_REPLICATIONS, help=help_text)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` and ``deploy`` commands to ``app``."""
    app.command("simulate")(simulate)
    app.command("deploy")(deploy)


def simulate(
    scenario_file: str = typer.Argument(
        ...,
        metavar="SCENARIO.json",
        help="Scenario file, or the name of a shipped scenario (e.g. field-hospital-100-beds).",
    ),
    replications: int = _replications(
        "Replications. Memory grows with replications x days: about 45 MB a thousand of 30 "
        "days, 4.4 GB a thousand of 3,660 days; runs whose hourly series need over 2 GB are "
        "refused (at 3,660 days, more than 474 replications)."
    ),
    out: Path = typer.Option(..., "--out", help="Directory for JSON, CSV and plots."),
    seed: int = typer.Option(
        0, "--seed", min=0, help="Seed: the same seed gives the same numbers."
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        help="Threads (default and most: the machine's cores; each may take about 210 MB on "
        "a long scenario).",
    ),
) -> None:
    """Simulate a field hospital for many replications; write results with 95 % CIs."""
    # Imported here so that other commands do not pay for loading the compiler and plotting.
    from medevac.simulation.params import scenario_from_dict
    from medevac.simulation.runner import run_replications

    scenario = _load(scenario_file, scenario_from_dict)
    _check_memory(replications, scenario.days, "lower -n or the scenario's days")
    console = Console(stderr=True, emoji=False)
    cores = os.cpu_count() or 1
    if workers is not None and workers > cores:
        console.print(
            f"note: --workers {workers:,} is more than the {cores} cores; using {cores}",
            markup=False,
        )
        workers = cores
    with _progress_bar(console, f"simulating {scenario.name}") as progress:
        result = run_replications(
            scenario, replications, seed=seed, workers=workers, progress=progress
        )
    with console.status(f"writing the results to {inline(str(out))}/"):  # tables and plots
        _write_outputs(result, out)
    Console(emoji=False).print(_summary_table(result))
    console.print(
        f"results written to {out}/ (summary.json, summary.csv, hourly.csv, occupancy.*)",
        markup=False,
    )


def deploy(
    problem_file: Path = typer.Argument(
        ...,
        metavar="PROBLEM.json",
        help="Deployment problem file, or the name of a shipped one (deployment-example).",
    ),
    out: Path = typer.Option(..., "--out", help="Where to write the plan (JSON)."),
    time_limit: float = typer.Option(
        60.0,
        "--time-limit",
        parser=time_limit_seconds,  # "nan" is "not a number" (it had been "more than a day")
        help="Solver limit (s, 0.1 to 86,400: up to a day).",
    ),
    simulate_plan: bool = typer.Option(
        False, "--simulate", help="Also simulate each placed hospital under its planned load."
    ),
    replications: int = _replications("Replications per hospital for --simulate."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed for --simulate."),
) -> None:
    """Choose sites for field hospitals to serve the most demand within the travel radius."""
    from medevac.simulation.deployment import (
        DeploymentProblem,
        check_deployment,
        deployment_problem_from_dict,
        plan_deployment,
        simulate_deployment,
    )
    from medevac.simulation.presets import preset

    problem: DeploymentProblem = _load(str(problem_file), deployment_problem_from_dict)
    if simulate_plan:
        # the results of every hospital are kept until the plan is written
        _check_deployment_memory(
            replications, [preset(hospital.scenario).days for hospital in problem.hospitals]
        )
    console = Console(stderr=True, emoji=False)
    placing = f"placing {len(problem.hospitals):,} hospital(s) (up to {time_limit:g} s)"
    with console.status(placing):
        plan = plan_deployment(problem, time_limit_seconds=time_limit)
    violations = check_deployment(problem, plan)
    if violations:
        _fail(f"the solver returned an invalid plan: {violations[0]}")
    data: dict[str, Any] = {"problem": problem.name, **plan.to_json_data()}
    if simulate_plan and plan.placements:
        with _progress_bar(console, "simulating the deployment") as progress:
            results = simulate_deployment(problem, plan, replications, seed=seed, progress=progress)
        data["simulation"] = {
            hospital: {
                "replications": result.replications,
                "patients_per_day": result.scenario.arrivals.patients_per_day,
                "metrics": {
                    name: est.as_dict()
                    for name, est in result.summary().items()
                    if name in dict(_HEADLINE_METRICS)
                },
            }
            for hospital, result in results.items()
        }
        for result in results.values():
            Console(emoji=False).print(_summary_table(result))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {out}: {_why_unwritable(out, error)}")
    table = Table(title=f"Deployment: {plan.status}, {plan.wall_seconds:.2f} s")
    table.add_column("hospital")
    table.add_column("site")
    table.add_column("patients/day", justify="right")
    for placement in plan.placements:
        table.add_row(
            cell(placement.hospital_id),
            cell(placement.site_id),
            f"{placement.patients_per_day:.1f}",
        )
    Console(emoji=False).print(table)
    console.print(
        f"served {plan.served_per_day:.1f} of {plan.total_demand_per_day:.1f} patients a day "
        f"(bound {plan.bound_per_day:.1f}, gap {plan.gap:.2%}); plan written to {out}",
        markup=False,
    )


def _load(source: str, parse: Callable[[object], _T]) -> _T:
    """Read a JSON file, or the shipped example of that name (medevac/data/scenarios)."""
    from medevac.simulation.plain_data import ParameterError

    path = Path(source)
    shipped = resources.files("medevac.data.scenarios").joinpath(f"{source}.json")
    try:
        if not path.exists() and "/" not in source and shipped.is_file():
            text = shipped.read_text(encoding="utf-8")
        else:
            text = json_text.read_bytes(path).decode("utf-8")
    except OSError as error:
        _fail(f"cannot read {source}: {error.strerror or error}")
    except json_text.FileTooLarge as error:
        _fail(f"{source}: {error}")
    except UnicodeDecodeError as error:
        # UnicodeDecodeError is a ValueError, not an OSError: a Latin-1 or UTF-16 file
        _fail(
            f"{source}: not UTF-8 text (byte 0x{error.object[error.start]:02x} at position "
            f"{error.start:,}); save the file as UTF-8"
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:
        _fail(f"{source}: not valid JSON ({json_error(error, text)})")
    try:
        return parse(data)
    except ParameterError as error:
        _fail(f"{source}: {error}")


def _check_memory(replications: int, days: int, advice: str) -> None:
    """Refuse a run whose hourly series would take more memory than the runner allows."""
    from medevac.simulation.runner import replications_problem

    problem = replications_problem(replications, days)
    if problem is not None:
        _fail(f"--replications: {problem} ({advice})")


def _check_deployment_memory(replications: int, days: list[int]) -> None:
    """Refuse --simulate when the hourly series of all hospitals (one ``days`` entry each)
    would take more memory than the runner allows for one run."""
    from medevac.simulation.runner import MAX_SERIES_BYTES, SERIES_BYTES_PER_DAY, max_replications

    total_days = sum(days)
    fit = max_replications(total_days)
    if replications > fit:
        need = replications * total_days * SERIES_BYTES_PER_DAY
        _fail(
            f"--replications: {replications:,} replications of each of {len(days):,} hospitals "
            f"({total_days:,} days in all) need {need / 1e9:.1f} GB for the hourly series, more "
            f"than the {MAX_SERIES_BYTES / 1e9:g} GB allowed; at most {fit:,} replications fit "
            "(lower -n)"
        )


def _fail(message: str) -> NoReturn:
    Console(stderr=True, highlight=False, soft_wrap=True, emoji=False).print(
        f"error: {message}", markup=False
    )
    raise typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def _progress_bar(console: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _write_outputs(result: SimulationResult, out: Path) -> None:
    """Write the results; the plots are drawn first, so a failure to draw them leaves no
    half-written folder behind and is reported in one line."""
    from medevac.simulation.plots import occupancy_figure, render

    try:
        figure = occupancy_figure(result)
        images = {image_format: render(figure, image_format) for image_format in ("png", "svg")}
    except Exception as error:  # matplotlib raises many kinds (parsing, layout, rendering)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        _fail(f"cannot draw the occupancy plot: {reason}; nothing was written to {out}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(
            json.dumps(result.to_json_data(), indent=2) + "\n", encoding="utf-8"
        )
        (out / "summary.csv").write_text(result.summary_csv(), encoding="utf-8")
        (out / "hourly.csv").write_text(result.hourly_csv(), encoding="utf-8")
        for image_format, image in images.items():
            (out / f"occupancy.{image_format}").write_bytes(image)
    except OSError as error:
        _fail(f"cannot write results to {out}: {_why_unwritable(out, error)}")


def _why_unwritable(out: Path, error: OSError) -> str:
    """Why ``out`` could not be written: a file standing where a folder of its path must be
    (the system says "File exists" or "Not a directory"), else the system's reason."""
    for folder in [out, *out.parents]:
        if folder.is_file() and (folder != out or isinstance(error, FileExistsError)):
            return f"{folder} is a file, not a folder"
    return str(error.strerror or error)


def _summary_table(result: SimulationResult) -> Table:
    scenario = result.scenario
    table = Table(
        title=f"{inline(scenario.name)}: {result.replications} replications of {scenario.days} "
        f"days (seed {result.seed}), mean and 95 % CI"
    )
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("95 % CI", justify="right")
    summary = result.summary()
    for key, label in _HEADLINE_METRICS:
        est = summary[key]
        if est.replications == 0:
            table.add_row(label, "-", "-")
            continue
        # one replication has no interval
        interval = (
            f"{est.low:,.2f} - {est.high:,.2f}"
            if math.isfinite(est.low) and math.isfinite(est.high)
            else "-"
        )
        table.add_row(label, f"{est.mean:,.2f}", interval)
    return table

"""Faults found in review: a "$" in a scenario's name broke the plots, deploy overran its
time limit, problems too large for memory, budgets and workers unchecked, fields misnamed."""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from scipy.optimize import OptimizeResult
from typer.testing import CliRunner

from medevac.cli import simulation_commands
from medevac.cli.simulation_commands import register
from medevac.simulation import deployment, plots, runner
from medevac.simulation.deployment import (
    DeploymentProblem,
    _best_flows,
    _greedy_sites,
    _hospital_groups,
    _Reach,
    check_deployment,
    deployment_problem_from_dict,
    plan_deployment,
)
from medevac.simulation.params import scenario_to_dict
from medevac.simulation.plain_data import ParameterError
from medevac.simulation.plots import occupancy_figure, render
from medevac.simulation.presets import who_emt_type_1_mobile
from medevac.simulation.runner import run_replications
from tests.unit.simulation.test_deployment import two_towns

SCENARIOS = Path(__file__).parents[3] / "src" / "medevac" / "data" / "scenarios"

# --- 2. every LP and the MIP get only the time left --------------------------------------------


def towns(capacity: float) -> DeploymentProblem:
    """`two_towns`: two towns of 100 a day and a hamlet of 5, each with a site of its own
    beside it: with two hospitals of 150 a day the best plan serves 200, below the bound of
    205 the search knows, so only the MIP proves it optimal."""
    return two_towns(capacity)


def no_mip(*_: object) -> None:
    raise AssertionError("HiGHS was started on the MIP")


def test_the_flow_lp_is_given_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = towns(150.0)
    reach = _Reach.of(problem, _hospital_groups(problem.hospitals))
    seen: list[dict[str, Any]] = []
    real = deployment.linprog

    def spy(*args: Any, **kwargs: Any) -> OptimizeResult:
        seen.append(kwargs.get("options") or {})
        return real(*args, **kwargs)

    monkeypatch.setattr(deployment, "linprog", spy)
    result = _best_flows({0: 0, 1: 0}, reach, deadline=deployment.time.perf_counter() + 30.0)
    assert result is not None
    assert result[0] == pytest.approx(200.0)
    assert 0 < seen[0]["time_limit"] <= 30.0
    # past its deadline the LP is not started
    seen.clear()
    assert _best_flows({0: 0, 1: 0}, reach, deadline=deployment.time.perf_counter() - 1) is None
    assert seen == []


def test_a_first_lp_out_of_time_returns_the_greedy_plan_honestly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def out_of_time(*_: Any, **__: Any) -> OptimizeResult:
        return OptimizeResult(status=1, x=None, message="Time limit reached.")

    monkeypatch.setattr(deployment, "linprog", out_of_time)
    monkeypatch.setattr("medevac.simulation.deployment.highspy.Highs", no_mip)
    # the MIP would not fit in the time either
    monkeypatch.setattr(deployment, "MIP_SETUP_SECONDS_PER_NONZERO", 1e6, raising=False)
    problem = towns(150.0)
    plan = plan_deployment(problem, time_limit_seconds=5.0)
    assert plan.status == "time_limit"
    assert plan.served_per_day == pytest.approx(200.0)
    assert plan.bound_per_day == pytest.approx(205.0)
    assert plan.gap == pytest.approx(5.0 / 205.0)
    assert check_deployment(problem, plan) == []


def test_the_mip_is_skipped_when_highs_could_not_set_it_up_in_the_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("medevac.simulation.deployment.highspy.Highs", no_mip)
    monkeypatch.setattr(deployment, "MIP_SETUP_SECONDS_PER_NONZERO", 1e6, raising=False)
    problem = towns(150.0)
    plan = plan_deployment(problem, time_limit_seconds=5.0)
    assert plan.status == "time_limit"
    assert plan.served_per_day == pytest.approx(200.0)
    assert plan.bound_per_day == pytest.approx(205.0)  # not proven: the honest bound
    assert check_deployment(problem, plan) == []


def test_with_time_the_mip_proves_the_plan_optimal() -> None:
    plan = plan_deployment(towns(150.0), time_limit_seconds=60.0)
    assert plan.status == "optimal"
    assert plan.served_per_day == pytest.approx(200.0)
    assert plan.bound_per_day == pytest.approx(200.0)


def test_the_greedy_placement_stops_at_its_deadline_with_flows_it_can_serve() -> None:
    problem = towns(150.0)
    reach = _Reach.of(problem, _hospital_groups(problem.hospitals))
    counts = np.array([2.0])
    placed, flows = _greedy_sites(reach, counts)
    assert len(placed) == 2
    assert flows.sum() == pytest.approx(200.0)
    placed, flows = _greedy_sites(reach, counts, deadline=-math.inf)
    assert len(placed) == 1  # one hospital is always placed
    assert flows.sum() == pytest.approx(100.0)


# --- 1. a "$" in a scenario's name; a plot that cannot be drawn ----------------------------------


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def one_line_error(output: str) -> str:
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def scenario_file(tmp_path: Path, name: str = "ward", days: int = 2) -> Path:
    data = scenario_to_dict(who_emt_type_1_mobile())
    data["name"] = name
    data["days"] = days
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["ward_$x^$", "$\\frac{", "cost $5 and $6", "a\\$b$"])
def test_a_dollar_in_the_name_is_drawn_as_written(name: str) -> None:
    scenario = dataclasses.replace(who_emt_type_1_mobile(), name=name, days=1)
    figure = occupancy_figure(run_replications(scenario, 2, workers=1))
    assert render(figure, "png")[:4] == b"\x89PNG"
    assert b"<svg" in render(figure, "svg")[:500]
    assert figure.axes[0].get_title() == f"Occupancy: {name} (2 replications)"


def test_simulate_writes_the_plots_of_a_scenario_named_with_dollars(
    app: typer.Typer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    path = scenario_file(tmp_path, name="ward_$x^$")
    result = CliRunner().invoke(app, ["simulate", str(path), "-n", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "occupancy.png").read_bytes()[:4] == b"\x89PNG"


def test_a_plot_that_cannot_be_drawn_is_one_line_and_writes_nothing(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise ValueError("bad math\n  ^ here\nmore")

    monkeypatch.setattr(plots, "occupancy_figure", broken)
    out = tmp_path / "out"
    args = ["simulate", str(scenario_file(tmp_path)), "-n", "2", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert one_line_error(result.stderr) == (
        f"error: cannot draw the occupancy plot: bad math; nothing was written to {out}"
    )
    assert not out.exists()


# --- 3. points x sites within memory ---------------------------------------------------------


def test_too_many_points_times_sites_are_refused_naming_the_counts() -> None:
    data = json.loads((SCENARIOS / "deployment-example.json").read_text(encoding="utf-8"))
    point, site = data["demand_points"][0], data["candidate_sites"][0]
    data["demand_points"] = [{**point, "id": f"d{i}"} for i in range(5_000)]
    data["candidate_sites"] = [{**site, "id": f"s{i}"} for i in range(4_001)]
    with pytest.raises(ParameterError) as refused:
        deployment_problem_from_dict(data)
    assert str(refused.value) == (
        "demand_points x candidate_sites: 5,000 x 4,001 = 20,005,000 pairs, more than the "
        "20,000,000 allowed (their distance matrix would need over 1 GB); merge nearby demand "
        "points or drop candidate sites"
    )
    data["candidate_sites"] = data["candidate_sites"][:4_000]  # 20,000,000: at the limit
    problem = deployment_problem_from_dict(data)
    assert (len(problem.demand_points), len(problem.sites)) == (5_000, 4_000)


# --- 4. deploy --simulate: the memory of all hospitals -------------------------------------


def test_deploy_counts_the_memory_of_every_hospital_it_simulates(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the example's two hospitals run 30 days: 100 replications of one fit, not of both
    monkeypatch.setattr(runner, "MAX_SERIES_BYTES", 100 * runner.SERIES_BYTES_PER_DAY * 30)
    plan = tmp_path / "plan.json"
    args = ["deploy", "deployment-example", "--simulate", "-n", "51", "--out", str(plan)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        "error: --replications: 51 replications of each of 2 hospitals (60 days in all) need "
        "0.0 GB for the hourly series, more than the 0.003456 GB allowed; at most 50 "
        "replications fit (lower -n)"
    )
    assert not plan.exists()
    args[4] = "50"
    assert CliRunner().invoke(app, args).exit_code == 0


# --- 5. workers capped at the cores ------------------------------------------------------------


def test_simulate_caps_the_workers_at_the_cores_with_a_note(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    used: list[int | None] = []
    real = runner.ThreadPoolExecutor

    def counting(max_workers: int) -> Any:
        used.append(max_workers)
        return real(max_workers=max_workers)

    monkeypatch.setattr(runner, "ThreadPoolExecutor", counting)
    out = tmp_path / "out"
    args = ["simulate", str(scenario_file(tmp_path)), "-n", "4", "--workers", "500"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "note: --workers 500 is more than the 2 cores; using 2" in result.stderr
    assert used == [2]


def test_run_replications_caps_the_workers_at_the_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 1)

    def no_pool(max_workers: int) -> None:
        raise AssertionError(f"a pool of {max_workers} threads on one core")

    monkeypatch.setattr(runner, "ThreadPoolExecutor", no_pool)
    scenario = dataclasses.replace(who_emt_type_1_mobile(), days=1)
    assert run_replications(scenario, 3, workers=64).replications == 3


def test_the_workers_help_states_the_cap() -> None:
    option = inspect.signature(simulation_commands.simulate).parameters["workers"].default
    assert "default and most: the machine's cores" in option.help


# --- 8. one replication's interval; a number too long to read ------------------------------------


def test_one_replication_shows_no_interval_rather_than_nan(
    app: typer.Typer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["simulate", str(scenario_file(tmp_path)), "-n", "1", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "nan" not in result.stdout
    arrived = next(line for line in result.stdout.splitlines() if "patients arrived" in line)
    assert arrived.split("│")[3].strip() == "-"


def test_a_number_too_long_to_read_is_placed_by_line_and_column(
    app: typer.Typer, tmp_path: Path
) -> None:
    path = tmp_path / "long.json"
    path.write_text('{"days": 1,\n "name": ' + "9" * 5000 + "}", encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"error: {path}: not valid JSON (line 2, column 10: a number has 5000 digits; at most "
        "4300 are read)"
    )

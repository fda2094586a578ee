"""Input that used to end in a traceback or a wrong output: huge JSON integers, tiny hourly
weights, files that are not UTF-8, runs too large for memory, one replication's hourly CI and
SVG plots that differed between identical runs."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from medevac.cli import simulation_commands
from medevac.cli.simulation_commands import register
from medevac.simulation import engine, runner
from medevac.simulation.deployment import HospitalUnit, deployment_problem_from_dict
from medevac.simulation.params import (
    MAX_DAYS,
    Arrivals,
    Duration,
    Scenario,
    scenario_from_dict,
    scenario_to_dict,
)
from medevac.simulation.plain_data import ParameterError, shown_number
from medevac.simulation.plots import occupancy_figure, render
from medevac.simulation.presets import who_emt_type_1_mobile, who_emt_type_2
from medevac.simulation.results import SERIES_NAMES
from medevac.simulation.runner import (
    MAX_SERIES_BYTES,
    max_replications,
    replications_problem,
    run_replications,
)

HUGE = 10**400  # what json.loads gives for a 1 followed by 400 zeros: no float holds it
SCENARIOS = Path(__file__).parents[3] / "src" / "medevac" / "data" / "scenarios"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def scenario_data(days: int = 2) -> dict[str, Any]:
    data = scenario_to_dict(who_emt_type_2())
    data["days"] = days
    return data


def deployment_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (SCENARIOS / "deployment-example.json").read_text(encoding="utf-8")
    )
    return data


def one_line_error(output: str) -> str:
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


# --- 1. integers too large for a float ------------------------------------------------------


def _set(path: tuple[str | int, ...]) -> Callable[[Any], None]:
    def setter(data: Any) -> None:
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = HUGE

    return setter


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("arrivals", "patients_per_day"), "arrivals.patients_per_day: too large, got 1e+400"),
        (("arrivals", "hourly_profile", 3), "arrivals.hourly_profile[3]: too large, got 1e+400"),
        (("case_mix", 0, "share"), "case_mix[0].share: too large, got 1e+400"),
        (
            ("case_mix", 1, "consultation", "mean_hours"),
            "case_mix[1].consultation.mean_hours: too large, got 1e+400",
        ),
        (
            ("resources", "theatre_hours", "closes"),
            "resources.theatre_hours.closes: too large, got 1e+400",
        ),
        (
            ("policies", "holding_wait_limit_hours"),
            "policies.holding_wait_limit_hours: too large, got 1e+400",
        ),
        (("days",), "days: must be at most 3,660, got 1e+400"),
        (("resources", "beds"), "resources.beds: must be at most 100,000, got 1e+400"),
        (
            ("resources", "consultation_stations"),
            "resources.consultation_stations: must be at most 100,000, got 1e+400",
        ),
    ],
)
def test_a_scenario_number_too_large_for_a_float_is_refused_with_its_path(
    path: tuple[str | int, ...], message: str
) -> None:
    data = scenario_data()
    _set(path)(data)
    with pytest.raises(ParameterError) as caught:
        scenario_from_dict(data)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("radius_km",), "radius_km: too large, got 1e+400"),
        (("demand_points", 0, "lat"), "demand_points[0].lat: too large, got 1e+400"),
        (("candidate_sites", 1, "lon"), "candidate_sites[1].lon: too large, got 1e+400"),
        (
            ("hospitals", 0, "patients_per_day"),
            "hospitals[0].patients_per_day: too large, got 1e+400",
        ),
    ],
)
def test_a_deployment_number_too_large_for_a_float_is_refused_with_its_path(
    path: tuple[str | int, ...], message: str
) -> None:
    data = deployment_data()
    _set(path)(data)
    with pytest.raises(ParameterError) as caught:
        deployment_problem_from_dict(data)
    assert str(caught.value).startswith(message)


def test_huge_integers_given_from_python_are_refused_too() -> None:
    with pytest.raises(ParameterError, match=r"^mean_hours: must be at most 100,000, got 1e\+400"):
        Duration.exponential(HUGE)
    with pytest.raises(ParameterError, match=r"^hourly_profile\[0\]: must be at most 1,000,000"):
        Arrivals(10.0, hourly_profile=(HUGE,) + (1,) * 23)
    with pytest.raises(ParameterError, match=r"^patients_per_day: 1e\+400 is more than 100,000"):
        HospitalUnit("h", HUGE, "who-emt-type-2")


def test_numbers_in_messages_are_short() -> None:
    assert shown_number(HUGE) == "1e+400"
    assert shown_number(-3 * HUGE) == "-3e+400"
    assert shown_number(10**5000) == "1e+5000"
    assert shown_number(123_456_789 * 10**300) == "1.23457e+308"
    assert shown_number(100_000) == "100,000"
    assert shown_number(100_000.0) == "100,000"
    assert shown_number(1e20) == "1e+20"
    assert shown_number(2.5) == "2.5"


def test_simulate_and_deploy_refuse_a_huge_integer_in_one_line(
    app: typer.Typer, tmp_path: Path
) -> None:
    scenario = scenario_data()
    scenario["days"] = HUGE
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps(scenario), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["simulate", str(scenario_file), "-n", "2", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"error: {scenario_file}: days: must be at most 3,660, got 1e+400"
    )

    problem = deployment_data()
    problem["radius_km"] = HUGE
    problem_file = tmp_path / "problem.json"
    problem_file.write_text(json.dumps(problem), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["deploy", str(problem_file), "--out", str(tmp_path / "plan.json")]
    )
    assert result.exit_code == 1
    assert one_line_error(result.output).startswith(
        f"error: {problem_file}: radius_km: too large, got 1e+400"
    )


# --- 2. tiny hourly weights --------------------------------------------------------------------


@pytest.mark.parametrize(
    "profile",
    [
        (1e-308,) + (0.0,) * 23,
        (1e-310,) * 24,
        (5e-324,) + (0.0,) * 23,
    ],
)
def test_tiny_hourly_weights_give_the_profile_of_any_multiple_of_them(
    profile: tuple[float, ...],
) -> None:
    tiny = Arrivals(48.0, surge=(1.0, 2.0), hourly_profile=profile)
    rates = tiny.hourly_rates(2)
    assert all(math.isfinite(rate) for rate in rates)
    scaled = Arrivals(48.0, surge=(1.0, 2.0), hourly_profile=tuple(w / profile[0] for w in profile))
    assert rates == pytest.approx(scaled.hourly_rates(2))
    assert sum(rates[:24]) == pytest.approx(48.0)
    assert sum(rates[24:]) == pytest.approx(96.0)


def test_a_scenario_with_tiny_hourly_weights_simulates() -> None:
    data = scenario_data(days=2)
    data["arrivals"]["hourly_profile"] = [1e-308] + [0.0] * 23
    scenario = scenario_from_dict(data)
    result = run_replications(scenario, replications=2, seed=1, workers=1)
    arrived = result.counts[:, engine.COUNT_ARRIVED]
    # everybody arrives in the first hour of each day: 100 a day expected
    assert 100 < arrived.mean() < 300
    assert np.all(np.isfinite(result.series))


# --- 3. files that are not UTF-8 ---------------------------------------------------------------


def test_simulate_refuses_a_latin_1_file_in_one_line(app: typer.Typer, tmp_path: Path) -> None:
    data = scenario_data()
    data["name"] = "café"
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps(data, ensure_ascii=False).encode("latin-1"))
    position = path.read_bytes().index(b"\xe9")
    result = CliRunner().invoke(app, ["simulate", str(path), "-n", "2", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        f"error: {path}: not UTF-8 text (byte 0xe9 at position {position}); save the file as UTF-8"
    )


def test_simulate_and_deploy_refuse_a_file_past_the_size_limit_in_one_line(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # /dev/zero given as a scenario was read until memory ran out, then a traceback
    from medevac.planning import json_text

    monkeypatch.setattr(json_text, "MAX_FILE_BYTES", 2 * 1024 * 1024)
    for command in ("simulate", "deploy"):
        result = CliRunner().invoke(app, [command, "/dev/zero", "--out", str(tmp_path / "o")])
        assert result.exit_code == 1
        assert one_line_error(result.output) == (
            "error: /dev/zero: holds more than 2 MiB, more than medevac reads"
        )


def test_deploy_refuses_a_utf_16_file_in_one_line(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "utf16.json"
    path.write_bytes(json.dumps(deployment_data()).encode("utf-16"))
    result = CliRunner().invoke(app, ["deploy", str(path), "--out", str(tmp_path / "plan.json")])
    assert result.exit_code == 1
    assert one_line_error(result.output).startswith(f"error: {path}: not UTF-8 text (byte 0xff")
    assert not (tmp_path / "plan.json").exists()


# --- 4. replications x days within a memory budget ---------------------------------------------


def test_the_memory_budget_counts_replications_times_days() -> None:
    series_bytes = engine.N_SERIES * 24 * 8
    assert max_replications(MAX_DAYS) == MAX_SERIES_BYTES // (series_bytes * MAX_DAYS) == 474
    assert max_replications(30) > 10_000
    assert replications_problem(474, MAX_DAYS) is None
    assert replications_problem(10_000, 30) is None
    assert replications_problem(10_000, MAX_DAYS) == (
        "10,000 replications of 3,660 days need 42.2 GB for the hourly series, more than the "
        "2 GB allowed; at most 474 replications fit at 3,660 days"
    )


def long_scenario() -> Scenario:
    data = scenario_to_dict(who_emt_type_1_mobile())
    data["days"] = MAX_DAYS
    data["arrivals"]["patients_per_day"] = 1.0
    return scenario_from_dict(data)


def test_run_replications_refuses_a_run_over_the_budget_before_simulating() -> None:
    with pytest.raises(ValueError, match="at most 474 replications fit at 3,660 days"):
        run_replications(long_scenario(), replications=475)


def test_simulate_refuses_a_run_over_the_budget_in_one_line(
    app: typer.Typer, tmp_path: Path
) -> None:
    path = tmp_path / "long.json"
    path.write_text(json.dumps(scenario_to_dict(long_scenario())), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(path), "-n", "10000", "--out", str(out)])
    assert result.exit_code == 1
    assert one_line_error(result.output) == (
        "error: --replications: 10,000 replications of 3,660 days need 42.2 GB for the hourly "
        "series, more than the 2 GB allowed; at most 474 replications fit at 3,660 days "
        "(lower -n or the scenario's days)"
    )
    assert not out.exists()


def test_deploy_refuses_a_simulation_over_the_budget_before_planning(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the shipped hospitals run 30 days, which fit 10,000 replications; shrink the budget
    monkeypatch.setattr(runner, "MAX_SERIES_BYTES", 100 * runner.SERIES_BYTES_PER_DAY * 30)
    plan = tmp_path / "plan.json"
    args = ["deploy", "deployment-example", "--simulate", "-n", "101", "--out", str(plan)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    # the results of both of the example's hospitals are kept: 50 replications each fit
    assert one_line_error(result.output).endswith("at most 50 replications fit (lower -n)")
    assert not plan.exists()


def test_the_replications_help_states_the_budget() -> None:
    option = inspect.signature(simulation_commands.simulate).parameters["replications"].default
    help_text = option.help
    assert "about 45 MB a thousand of 30 days" in help_text
    assert f"hourly series need over {MAX_SERIES_BYTES / 1e9:g} GB are refused" in help_text
    assert f"at {MAX_DAYS:,} days, more than {max_replications(MAX_DAYS)} replications" in (
        help_text
    )
    assert "70 MB" not in help_text


# --- 5. one replication has no hourly confidence interval --------------------------------------


def short_mobile(days: int = 2) -> Scenario:
    data = scenario_to_dict(who_emt_type_1_mobile())
    data["days"] = days
    return scenario_from_dict(data)


def test_one_replication_gives_no_hourly_interval() -> None:
    result = run_replications(short_mobile(), replications=1, seed=3, workers=1)
    for row in SERIES_NAMES:
        mean, low, high, band_low, band_high = result.hourly(row)
        assert np.all(np.isfinite(mean))
        assert np.all(np.isnan(low))
        assert np.all(np.isnan(high))
        assert np.all(np.isfinite(band_low))
        assert np.all(np.isfinite(band_high))
    hourly = result.to_json_data()["hourly"]["consultation_stations_busy"]
    assert set(hourly["ci_low"]) == set(hourly["ci_high"]) == {None}
    assert None not in hourly["mean"]
    rows = result.hourly_csv().splitlines()
    assert rows[0] == "hour,series,mean,ci_low,ci_high,p05,p95"
    for row_text in rows[1:]:
        cells = row_text.split(",")
        assert cells[3] == cells[4] == "", row_text
        assert cells[2] != ""


def test_two_replications_do_give_an_hourly_interval() -> None:
    result = run_replications(short_mobile(), replications=2, seed=3, workers=1)
    _, low, high, _, _ = result.hourly(engine.SERIES_STATIONS_BUSY)
    assert np.all(np.isfinite(low))
    assert np.all(low <= high)
    assert np.any(low < high)


def _bands_and_series(replications: int) -> list[tuple[int, int]]:
    result = run_replications(short_mobile(), replications=replications, seed=3, workers=1)
    figure = occupancy_figure(result)
    return [
        (len(axis.collections), len(axis.get_legend_handles_labels()[0])) for axis in figure.axes
    ]


def test_the_plot_has_no_ci_band_with_one_replication() -> None:
    # every series drawn has its replication band; only with two or more its CI band too
    one = _bands_and_series(1)
    assert all(bands == series for bands, series in one)
    assert sum(series for _, series in one) > 0
    assert all(bands == 2 * series for bands, series in _bands_and_series(2))


# --- 6. identical SVG between runs -------------------------------------------------------------


def test_the_svg_is_identical_between_renders() -> None:
    result = run_replications(short_mobile(), replications=2, seed=5, workers=1)
    first = render(occupancy_figure(result), "svg")
    second = render(occupancy_figure(result), "svg")
    assert first == second
    assert b'id="' in first
    assert matplotlib.rcParams["svg.hashsalt"] is None  # the setting does not leak out


def test_simulate_writes_identical_plots_for_the_same_seed(
    app: typer.Typer, tmp_path: Path
) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario_to_dict(short_mobile())), encoding="utf-8")
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["simulate", str(path), "-n", "2", "--seed", "9", "--out", str(out)]
        assert CliRunner().invoke(app, args).exit_code == 0
        outputs.append(
            {f: (out / f).read_bytes() for f in ("occupancy.svg", "occupancy.png", "hourly.csv")}
        )
    assert outputs[0] == outputs[1]


# --- an output path through a file ---------------------------------------------------------


def test_an_output_path_through_a_file_says_which_file_is_in_the_way(
    app: typer.Typer, tmp_path: Path
) -> None:
    # the system says "File exists" or "Not a directory", naming neither file
    blocker = tmp_path / "results"
    blocker.write_text("not a folder", encoding="utf-8")
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps(scenario_data()), encoding="utf-8")
    problem_file = tmp_path / "problem.json"
    problem_file.write_text(json.dumps(deployment_data()), encoding="utf-8")
    for args, target in [
        (["simulate", str(scenario_file), "-n", "2", "--out", str(blocker)], blocker),
        (["simulate", str(scenario_file), "-n", "2", "--out", str(blocker / "a")], blocker / "a"),
        (["deploy", str(problem_file), "--out", str(blocker / "plan.json")], blocker / "plan.json"),
    ]:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, args
        line = one_line_error(result.output)
        assert line.startswith("error: cannot write ")
        assert line.endswith(f"{target}: {blocker} is a file, not a folder"), line

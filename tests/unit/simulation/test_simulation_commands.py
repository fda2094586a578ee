"""The simulate and deploy commands: outputs written, bad input refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from medevac.cli.simulation_commands import register
from medevac.simulation.params import scenario_to_dict
from medevac.simulation.presets import who_emt_type_2


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def short_scenario_file(tmp_path: Path) -> Path:
    data = scenario_to_dict(who_emt_type_2())
    data["days"] = 3
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_simulate_writes_json_csv_and_plots(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["simulate", str(short_scenario_file(tmp_path)), "--replications", "4", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replications"] == 4
    assert summary["metrics"]["arrived"]["ci_low"] <= summary["metrics"]["arrived"]["mean"]
    assert len(summary["hourly"]["beds_occupied"]["mean"]) == 72
    assert (out / "summary.csv").read_text().startswith("metric,mean,ci_low,ci_high")
    assert (out / "hourly.csv").read_text().count("\n") == 1 + 6 * 72
    assert (out / "occupancy.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (out / "occupancy.svg").read_bytes()[:500]


def test_simulate_with_the_same_seed_writes_identical_results(
    app: typer.Typer, tmp_path: Path
) -> None:
    scenario = short_scenario_file(tmp_path)
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["simulate", str(scenario), "-n", "3", "--seed", "7", "--out", str(out)]
        assert CliRunner().invoke(app, args).exit_code == 0
        outputs.append((out / "summary.json").read_bytes())
    assert outputs[0] == outputs[1]


def test_simulate_accepts_the_name_of_a_shipped_scenario(app: typer.Typer, tmp_path: Path) -> None:
    args = ["simulate", "who-emt-type-1-mobile", "-n", "2", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON (line 1"),
        (json.dumps({"name": "x"}), "days: required"),
    ],
)
def test_simulate_refuses_bad_files_in_one_line(
    app: typer.Typer, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(app, ["simulate", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_simulate_refuses_a_missing_file(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "nowhere.json", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot read nowhere.json" in result.output


def test_deploy_writes_a_plan_and_simulates_it(app: typer.Typer, tmp_path: Path) -> None:
    problem = Path(__file__).parents[3] / "src/medevac/data/scenarios/deployment-example.json"
    plan_path = tmp_path / "plan.json"
    args = ["deploy", str(problem), "--out", str(plan_path), "--simulate", "-n", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    plan = json.loads(plan_path.read_text())
    assert plan["status"] == "optimal"
    assert {p["hospital"] for p in plan["placements"]} == {"fh-100", "fh-50"}
    assert set(plan["simulation"]) == {"fh-100", "fh-50"}
    assert plan["simulation"]["fh-100"]["metrics"]["arrived"]["mean"] > 0


def test_deploy_refuses_a_bad_problem_naming_the_field(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "problem.json"
    path.write_text(json.dumps({"radius_km": 10}), encoding="utf-8")
    result = CliRunner().invoke(app, ["deploy", str(path), "--out", str(tmp_path / "p.json")])
    assert result.exit_code == 1
    assert "demand_points: required" in result.output

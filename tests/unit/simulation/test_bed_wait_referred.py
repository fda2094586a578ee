"""Bed waits of patients referred on from the holding area: counted up to the moment they leave.

The reported bed wait covers everyone who asked for a bed, a patient referred on counting the
holding limit; the wait of the patients admitted is reported on its own as
``bed_wait_admitted_*``. Left out, the patients referred on would make a full hospital look
better the more of them it sends away.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from medevac.cli.simulation_commands import register
from medevac.simulation import engine
from medevac.simulation.params import (
    Arrivals,
    CaseClass,
    Duration,
    Policies,
    Resources,
    Scenario,
    scenario_to_dict,
)
from medevac.simulation.results import SimulationResult
from medevac.simulation.runner import run_replications

EXACT = 1e-12
LIMIT = 1.0
STATS = ("mean", "p50", "p90", "p99")

# Consultations take no time and everyone needs a bed, so a patient asks for one on arrival.
# One bed, stays of exactly 2 h, patients are referred on after 1 h in the holding area:
#   0.00  wait 0                     bed 0-2
#   0.50  would wait 1.5             referred on at 1.5, after 1 h
#   1.25  wait 0.75                  bed 2-4
#   3.00  wait 1 (at the limit)      bed 4-6
#   3.50  would wait 2.5             referred on at 4.5, after 1 h
#   7.00  wait 0                     bed 7-9
ARRIVALS = np.array([0.0, 0.5, 1.25, 3.0, 3.5, 7.0])
ADMITTED_WAITS = [0.0, 0.75, 1.0, 0.0]
ASKED_WAITS = [0.0, LIMIT, 0.75, 1.0, LIMIT, 0.0]
# mean, p50, p90, p99 with linear interpolation between order statistics
ADMITTED_STATS = [0.4375, 0.375, 0.925, 0.9925]
ASKED_STATS = [0.625, 0.875, 1.0, 1.0]


def one_bed_scenario() -> Scenario:
    return Scenario(
        name="one bed",
        days=1,
        arrivals=Arrivals(6.0),
        case_mix=(
            CaseClass(
                "admitted",
                1.0,
                Duration.fixed(0.0),
                admission_probability=1.0,
                length_of_stay=Duration.fixed(2.0),
            ),
        ),
        resources=Resources(consultation_stations=1, beds=1),
        policies=Policies(holding_wait_limit_hours=LIMIT),
    )


def simulate_stream(
    arrivals: np.ndarray, hours: int, warmup_hours: float = 0.0
) -> tuple[np.ndarray, ...]:
    """The kernel on a given arrival stream: the scenario above, without the Poisson draws."""
    zero_duration = [float(engine.DURATION_FIXED), 0.0, 0.0]
    return engine.simulate_patients(
        np.random.default_rng(0),
        arrivals,
        hours,
        np.array([1.0]),
        np.array([zero_duration]),
        np.array([zero_duration]),
        np.array([[float(engine.DURATION_FIXED), 2.0, 0.0]]),
        np.array([[0.0, 0.0, 1.0]]),  # never referred after consultation, no surgery, a bed
        np.array([False]),
        1,
        0,
        1,
        0.0,
        24.0,
        LIMIT,
        np.inf,
        warmup_hours,
    )


def test_the_bed_wait_of_a_patient_referred_on_counts_the_holding_limit() -> None:
    counts, waits, series = simulate_stream(ARRIVALS, 10)
    assert counts[engine.COUNT_NEEDED_BED] == 6
    assert counts[engine.COUNT_ADMITTED] == 4
    assert counts[engine.COUNT_REFERRED_NO_BED] == 2
    assert waits[engine.WAIT_BED] == pytest.approx(ASKED_STATS, abs=EXACT)
    assert waits[engine.WAIT_BED_ADMITTED] == pytest.approx(ADMITTED_STATS, abs=EXACT)
    assert np.mean(ASKED_WAITS) == pytest.approx(ASKED_STATS[0], abs=EXACT)
    assert np.percentile(ASKED_WAITS, [50, 90, 99]) == pytest.approx(ASKED_STATS[1:], abs=EXACT)
    assert np.mean(ADMITTED_WAITS) == pytest.approx(ADMITTED_STATS[0], abs=EXACT)
    assert np.percentile(ADMITTED_WAITS, [50, 90, 99]) == pytest.approx(
        ADMITTED_STATS[1:], abs=EXACT
    )
    # Little's law on the whole stream: the time patients spent in the holding area is the sum
    # of the waits of everyone who asked for a bed, not of the patients admitted only.
    holding_hours = series[engine.SERIES_HOLDING_AREA].sum()
    assert holding_hours == pytest.approx(sum(ASKED_WAITS), abs=EXACT)
    assert holding_hours != pytest.approx(sum(ADMITTED_WAITS), abs=0.1)


def test_when_nobody_is_referred_on_both_bed_waits_are_the_same() -> None:
    counts, waits, _ = simulate_stream(np.array([0.0, 1.25, 7.0]), 10)
    assert counts[engine.COUNT_REFERRED_NO_BED] == 0
    assert counts[engine.COUNT_ADMITTED] == 3
    assert waits[engine.WAIT_BED_ADMITTED] == pytest.approx([0.25, 0.0, 0.6, 0.735], abs=EXACT)
    assert np.array_equal(waits[engine.WAIT_BED], waits[engine.WAIT_BED_ADMITTED])


def test_when_everyone_counted_was_referred_on_the_admitted_wait_is_empty() -> None:
    # 0.0 gets the bed until 2.0; 0.5 and 0.6 would wait more than 1 h and are referred on; the
    # warm-up leaves only those two counted
    counts, waits, _ = simulate_stream(np.array([0.0, 0.5, 0.6]), 4, warmup_hours=0.4)
    assert counts[engine.COUNT_NEEDED_BED] == 2
    assert counts[engine.COUNT_REFERRED_NO_BED] == 2
    assert counts[engine.COUNT_ADMITTED] == 0
    assert waits[engine.WAIT_BED] == pytest.approx([LIMIT] * 4, abs=EXACT)
    assert np.isnan(waits[engine.WAIT_BED_ADMITTED]).all()


def test_summary_json_and_csv_report_both_bed_waits_by_name_in_order() -> None:
    counts, waits, series = simulate_stream(ARRIVALS, 24)
    result = SimulationResult(one_bed_scenario(), 0, counts[None], waits[None], series[None])
    values = result.metric_values()
    for index, stat in enumerate(STATS):
        assert values[f"bed_wait_{stat}_hours"][0] == pytest.approx(ASKED_STATS[index], abs=EXACT)
        assert values[f"bed_wait_admitted_{stat}_hours"][0] == pytest.approx(
            ADMITTED_STATS[index], abs=EXACT
        )
    assert values["referred_on_no_bed"][0] == 2
    assert values["share_of_bed_requests_referred"][0] == pytest.approx(2 / 6, abs=EXACT)
    bed_names = [f"bed_wait_{stat}_hours" for stat in STATS] + [
        f"bed_wait_admitted_{stat}_hours" for stat in STATS
    ]
    metrics = result.to_json_data()["metrics"]
    assert metrics["bed_wait_mean_hours"]["mean"] == pytest.approx(0.625, abs=EXACT)
    assert metrics["bed_wait_admitted_mean_hours"]["mean"] == pytest.approx(0.4375, abs=EXACT)
    json_names = list(metrics)
    start = json_names.index("bed_wait_mean_hours")
    assert json_names[start : start + 8] == bed_names
    rows = list(csv.DictReader(io.StringIO(result.summary_csv())))
    by_name = {row["metric"]: row for row in rows}
    assert float(by_name["bed_wait_p50_hours"]["mean"]) == pytest.approx(0.875, abs=EXACT)
    assert float(by_name["bed_wait_admitted_p50_hours"]["mean"]) == pytest.approx(0.375, abs=EXACT)
    csv_names = [row["metric"] for row in rows]
    assert csv_names == json_names
    assert csv_names[start : start + 8] == bed_names


def blocked_bed_scenario() -> Scenario:
    """One bed whose first stay outlasts the horizon: the first patient is admitted at once,
    every later one is referred on after exactly 2 h in the holding area."""
    return Scenario(
        name="blocked bed",
        days=2,
        arrivals=Arrivals(6.0),
        case_mix=(
            CaseClass(
                "admitted",
                1.0,
                Duration.fixed(0.0),
                admission_probability=1.0,
                length_of_stay=Duration.fixed(1000.0),
            ),
        ),
        resources=Resources(consultation_stations=1, beds=1),
        policies=Policies(holding_wait_limit_hours=2.0),
    )


def expected_asked_stats(needed_bed: int) -> list[float]:
    waits = [0.0] + [2.0] * (needed_bed - 1)
    return [float(np.mean(waits)), *np.percentile(waits, [50.0, 90.0, 99.0]).tolist()]


def test_replications_report_the_waits_of_those_referred_on() -> None:
    result = run_replications(blocked_bed_scenario(), replications=5, seed=4, workers=2)
    needed_bed = result.counts[:, engine.COUNT_NEEDED_BED]
    assert (needed_bed >= 3).all()
    assert (result.counts[:, engine.COUNT_ADMITTED] == 1).all()
    assert (result.counts[:, engine.COUNT_REFERRED_NO_BED] == needed_bed - 1).all()
    expected = np.array([expected_asked_stats(int(n)) for n in needed_bed])
    values = result.metric_values()
    summary = result.summary()
    for index, stat in enumerate(STATS):
        name = f"bed_wait_{stat}_hours"
        assert values[name] == pytest.approx(expected[:, index], abs=EXACT)
        assert summary[name].mean == pytest.approx(expected[:, index].mean(), abs=EXACT)
        admitted = summary[f"bed_wait_admitted_{stat}_hours"]
        assert (admitted.mean, admitted.replications) == (0.0, 5)
    assert summary["bed_wait_p50_hours"].mean == 2.0


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_simulate_table_shows_both_bed_waits_labelled(app: typer.Typer, tmp_path: Path) -> None:
    scenario_file = tmp_path / "blocked.json"
    scenario_file.write_text(json.dumps(scenario_to_dict(blocked_bed_scenario())))
    out = tmp_path / "out"
    args = ["simulate", str(scenario_file), "-n", "5", "--seed", "4", "--out", str(out)]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    expected = run_replications(blocked_bed_scenario(), replications=5, seed=4)
    mean = expected.summary()["bed_wait_mean_hours"].mean
    assert mean > 1.0
    lines = run.output.splitlines()
    asked_row = next(line for line in lines if "bed wait, mean, all who needed a bed" in line)
    assert f"{mean:,.2f}" in asked_row
    admitted_row = next(line for line in lines if "bed wait, mean, admitted only" in line)
    assert "0.00" in admitted_row
    assert lines.index(asked_row) + 1 == lines.index(admitted_row)
    metrics = json.loads((out / "summary.json").read_text())["metrics"]
    assert metrics["bed_wait_mean_hours"]["mean"] == pytest.approx(mean, abs=EXACT)
    assert metrics["bed_wait_admitted_mean_hours"]["mean"] == 0.0


def test_deploy_simulate_writes_both_bed_waits(app: typer.Typer, tmp_path: Path) -> None:
    problem = Path(__file__).parents[3] / "src/medevac/data/scenarios/deployment-example.json"
    plan_path = tmp_path / "plan.json"
    args = ["deploy", str(problem), "--out", str(plan_path), "--simulate", "-n", "3"]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    plan = json.loads(plan_path.read_text())
    assert plan["simulation"]
    for hospital in plan["simulation"].values():
        names = list(hospital["metrics"])
        start = names.index("bed_wait_mean_hours")
        assert names[start : start + 2] == ["bed_wait_mean_hours", "bed_wait_admitted_mean_hours"]
        asked = hospital["metrics"]["bed_wait_mean_hours"]["mean"]
        admitted = hospital["metrics"]["bed_wait_admitted_mean_hours"]["mean"]
        assert asked >= admitted >= 0.0

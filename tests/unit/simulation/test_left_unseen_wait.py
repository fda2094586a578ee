"""Consultation waits of patients who leave unseen: counted up to the moment they leave.

The reported consultation wait covers everyone who queued; the wait of the patients seen is
reported on its own as ``consultation_wait_seen_*``. Left out, the patients who give up would
make a crowded clinic look better the more of them leave.
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
LIMIT = 1.5

# One station, consultations of exactly 1 h, patients leave after 1.5 h without one:
#   0.00  wait 0            consulted 0-1
#   0.25  wait 0.75         consulted 1-2
#   0.50  wait 1.5          consulted 2-3 (started at the limit, so seen)
#   0.75  would wait 2.25   leaves unseen at 2.25, after 1.5 h
#   2.50  wait 0.5          consulted 3-4
ARRIVALS = np.array([0.0, 0.25, 0.5, 0.75, 2.5])
SEEN_WAITS = [0.0, 0.75, 1.5, 0.5]
QUEUED_WAITS = [0.0, 0.75, 1.5, LIMIT, 0.5]
# mean, p50, p90, p99 with linear interpolation between order statistics
SEEN_STATS = [0.6875, 0.625, 1.275, 1.4775]
QUEUED_STATS = [0.85, 0.75, 1.5, 1.5]


def one_station_scenario(days: int = 1) -> Scenario:
    return Scenario(
        name="one station",
        days=days,
        arrivals=Arrivals(5.0),
        case_mix=(CaseClass("walk-in", 1.0, Duration.fixed(1.0)),),
        resources=Resources(consultation_stations=1, beds=0),
        policies=Policies(holding_wait_limit_hours=0.0, unseen_wait_limit_hours=LIMIT),
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
        np.array([[float(engine.DURATION_FIXED), 1.0, 0.0]]),
        np.array([zero_duration]),
        np.array([zero_duration]),
        np.zeros((1, 3)),
        np.array([True]),
        1,
        0,
        0,
        0.0,
        24.0,
        0.0,
        LIMIT,
        warmup_hours,
    )


def test_the_wait_of_a_patient_who_left_unseen_counts_until_leaving() -> None:
    counts, waits, series = simulate_stream(ARRIVALS, 4)
    assert counts[engine.COUNT_ARRIVED] == 5
    assert counts[engine.COUNT_SEEN] == 4
    assert counts[engine.COUNT_LEFT_UNSEEN] == 1
    assert waits[engine.WAIT_CONSULTATION] == pytest.approx(QUEUED_STATS, abs=EXACT)
    assert waits[engine.WAIT_CONSULTATION_SEEN] == pytest.approx(SEEN_STATS, abs=EXACT)
    assert np.mean(QUEUED_WAITS) == pytest.approx(QUEUED_STATS[0], abs=EXACT)
    assert np.percentile(SEEN_WAITS, [50, 90, 99]) == pytest.approx(SEEN_STATS[1:], abs=EXACT)
    # Little's law on the whole stream: the time patients spent in the queue is the sum of the
    # waits of everyone who queued, not of the patients seen only.
    queue_hours = series[engine.SERIES_CONSULTATION_QUEUE].sum()
    assert queue_hours == pytest.approx(sum(QUEUED_WAITS), abs=EXACT)
    assert queue_hours != pytest.approx(sum(SEEN_WAITS), abs=0.1)


def test_when_nobody_leaves_both_consultation_waits_are_the_same() -> None:
    counts, waits, _ = simulate_stream(np.array([0.0, 0.25, 2.5]), 4)
    assert counts[engine.COUNT_LEFT_UNSEEN] == 0
    assert waits[engine.WAIT_CONSULTATION] == pytest.approx([0.25, 0.0, 0.6, 0.735], abs=EXACT)
    assert np.array_equal(waits[engine.WAIT_CONSULTATION], waits[engine.WAIT_CONSULTATION_SEEN])


def test_when_everyone_counted_left_the_seen_wait_is_empty_and_the_queued_one_is_not() -> None:
    # 0.0 and 0.1 are seen (0.1 after 0.9 h), 0.2 and 0.3 leave after 1.5 h; the warm-up leaves
    # only the last two counted
    counts, waits, _ = simulate_stream(np.array([0.0, 0.1, 0.2, 0.3]), 4, warmup_hours=0.15)
    assert counts[engine.COUNT_ARRIVED] == 2
    assert counts[engine.COUNT_LEFT_UNSEEN] == 2
    assert waits[engine.WAIT_CONSULTATION] == pytest.approx([LIMIT] * 4, abs=EXACT)
    assert np.isnan(waits[engine.WAIT_CONSULTATION_SEEN]).all()


def test_summary_json_and_csv_report_both_waits_by_name() -> None:
    counts, waits, series = simulate_stream(ARRIVALS, 24)
    result = SimulationResult(one_station_scenario(), 0, counts[None], waits[None], series[None])
    values = result.metric_values()
    for index, stat in enumerate(("mean", "p50", "p90", "p99")):
        assert values[f"consultation_wait_{stat}_hours"][0] == pytest.approx(
            QUEUED_STATS[index], abs=EXACT
        )
        assert values[f"consultation_wait_seen_{stat}_hours"][0] == pytest.approx(
            SEEN_STATS[index], abs=EXACT
        )
    assert values["left_unseen"][0] == 1
    assert values["share_left_unseen"][0] == pytest.approx(0.2, abs=EXACT)
    metrics = result.to_json_data()["metrics"]
    assert metrics["consultation_wait_mean_hours"]["mean"] == pytest.approx(0.85, abs=EXACT)
    assert metrics["consultation_wait_seen_mean_hours"]["mean"] == pytest.approx(0.6875, abs=EXACT)
    rows = {row["metric"]: row for row in csv.DictReader(io.StringIO(result.summary_csv()))}
    assert float(rows["consultation_wait_p50_hours"]["mean"]) == pytest.approx(0.75, abs=EXACT)
    assert float(rows["consultation_wait_seen_p50_hours"]["mean"]) == pytest.approx(
        0.625, abs=EXACT
    )
    names = list(rows)
    assert names.index("consultation_wait_p99_hours") + 1 == names.index(
        "consultation_wait_seen_mean_hours"
    )


def blocked_station_scenario() -> Scenario:
    """One station whose first consultation outlasts the horizon: the first patient is seen at
    once, every later one leaves unseen after exactly 2 h."""
    return Scenario(
        name="blocked station",
        days=2,
        arrivals=Arrivals(6.0),
        case_mix=(CaseClass("walk-in", 1.0, Duration.fixed(1000.0)),),
        resources=Resources(consultation_stations=1, beds=0),
        policies=Policies(holding_wait_limit_hours=0.0, unseen_wait_limit_hours=2.0),
    )


def expected_queued_stats(arrived: int) -> list[float]:
    waits = [0.0] + [2.0] * (arrived - 1)
    return [float(np.mean(waits)), *np.percentile(waits, [50.0, 90.0, 99.0]).tolist()]


def test_replications_report_the_censored_waits_of_those_who_left() -> None:
    result = run_replications(blocked_station_scenario(), replications=5, seed=4, workers=2)
    arrived = result.counts[:, engine.COUNT_ARRIVED]
    assert (arrived >= 3).all()
    assert (result.counts[:, engine.COUNT_SEEN] == 1).all()
    assert (result.counts[:, engine.COUNT_LEFT_UNSEEN] == arrived - 1).all()
    expected = np.array([expected_queued_stats(int(n)) for n in arrived])
    values = result.metric_values()
    summary = result.summary()
    for index, stat in enumerate(("mean", "p50", "p90", "p99")):
        name = f"consultation_wait_{stat}_hours"
        assert values[name] == pytest.approx(expected[:, index], abs=EXACT)
        assert summary[name].mean == pytest.approx(expected[:, index].mean(), abs=EXACT)
        seen = summary[f"consultation_wait_seen_{stat}_hours"]
        assert (seen.mean, seen.replications) == (0.0, 5)
    assert summary["consultation_wait_p50_hours"].mean == 2.0


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_simulate_table_shows_the_wait_of_everyone_who_queued(
    app: typer.Typer, tmp_path: Path
) -> None:
    scenario_file = tmp_path / "blocked.json"
    scenario_file.write_text(json.dumps(scenario_to_dict(blocked_station_scenario())))
    out = tmp_path / "out"
    args = ["simulate", str(scenario_file), "-n", "5", "--seed", "4", "--out", str(out)]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    expected = run_replications(blocked_station_scenario(), replications=5, seed=4)
    mean = expected.summary()["consultation_wait_mean_hours"].mean
    assert mean > 1.0
    row = next(line for line in run.output.splitlines() if "consultation wait, mean" in line)
    assert f"{mean:,.2f}" in row
    metrics = json.loads((out / "summary.json").read_text())["metrics"]
    assert metrics["consultation_wait_mean_hours"]["mean"] == pytest.approx(mean, abs=EXACT)
    assert metrics["consultation_wait_seen_mean_hours"]["mean"] == 0.0

"""Replications: reproducible streams, worker-independent results, policies that hold."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medevac.simulation import engine
from medevac.simulation.params import (
    Arrivals,
    CaseClass,
    Duration,
    Policies,
    Resources,
    Scenario,
    TheatreHours,
)
from medevac.simulation.presets import field_hospital_50_beds
from medevac.simulation.runner import run_replications


def short_demo() -> Scenario:
    base = field_hospital_50_beds()
    return Scenario(
        name="short",
        days=5,
        arrivals=Arrivals(
            300.0, surge=(1.0, 2.0, 1.5), hourly_profile=base.arrivals.hourly_profile
        ),
        case_mix=base.case_mix,
        resources=base.resources,
        policies=base.policies,
    )


def test_same_seed_gives_bit_identical_results() -> None:
    first = run_replications(short_demo(), replications=6, seed=42)
    second = run_replications(short_demo(), replications=6, seed=42)
    assert np.array_equal(first.counts, second.counts)
    assert np.array_equal(first.waits, second.waits, equal_nan=True)
    assert np.array_equal(first.series, second.series)
    assert first.summary_csv() == second.summary_csv()


def test_results_do_not_depend_on_the_number_of_workers() -> None:
    one = run_replications(short_demo(), replications=7, seed=9, workers=1)
    two = run_replications(short_demo(), replications=7, seed=9, workers=2)
    assert np.array_equal(one.counts, two.counts)
    assert np.array_equal(one.series, two.series)


def test_different_seeds_and_replications_give_different_streams() -> None:
    result = run_replications(short_demo(), replications=3, seed=1)
    other = run_replications(short_demo(), replications=3, seed=2)
    assert not np.array_equal(result.counts, other.counts)
    arrived = result.counts[:, engine.COUNT_ARRIVED]
    assert len(set(arrived.tolist())) == 3


def test_progress_is_reported_up_to_the_total() -> None:
    calls: list[tuple[int, int]] = []
    run_replications(
        short_demo(), replications=5, seed=0, progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (5, 5)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_every_arrival_is_accounted_for() -> None:
    result = run_replications(short_demo(), replications=4, seed=3)
    counts = result.counts
    assert np.array_equal(
        counts[:, engine.COUNT_ARRIVED],
        counts[:, engine.COUNT_SEEN] + counts[:, engine.COUNT_LEFT_UNSEEN],
    )
    assert np.array_equal(
        counts[:, engine.COUNT_NEEDED_BED],
        counts[:, engine.COUNT_ADMITTED] + counts[:, engine.COUNT_REFERRED_NO_BED],
    )
    assert (result.series[:, engine.SERIES_BEDS_OCCUPIED] <= 50 + 1e-9).all()


def test_surge_raises_arrivals_on_the_surge_days() -> None:
    base = short_demo()
    ample = dataclasses.replace(
        base, resources=dataclasses.replace(base.resources, consultation_stations=60)
    )
    result = run_replications(ample, replications=20, seed=4)
    stations_busy_by_day = result.series[:, engine.SERIES_STATIONS_BUSY].reshape(20, 5, 24)
    busy = stations_busy_by_day.sum(axis=2).mean(axis=0)
    assert busy[1] > 1.6 * busy[0]


def test_operations_start_only_within_theatre_hours() -> None:
    scenario = Scenario(
        name="theatre",
        days=4,
        arrivals=Arrivals(30.0),
        case_mix=(
            CaseClass(
                "surgical",
                1.0,
                Duration.fixed(0.0),
                surgery_probability=1.0,
                surgery=Duration.fixed(1.0),
            ),
        ),
        resources=Resources(
            consultation_stations=1, beds=0, operating_tables=2, theatre_hours=TheatreHours(8, 18)
        ),
        policies=Policies(holding_wait_limit_hours=0.0),
    )
    result = run_replications(scenario, replications=5, seed=1)
    busy = result.series[:, engine.SERIES_TABLES_BUSY].reshape(5, 4, 24)
    # An operation started before 18:00 lasts one hour, so tables are idle from 19:00 to 08:00.
    assert busy[:, :, 19:].max() == 0.0
    assert busy[:, :, :8].max() == 0.0
    assert busy[:, :, 8:18].sum() > 0.0


def test_holding_area_sends_patients_on_after_the_limit() -> None:
    scenario = Scenario(
        name="overloaded",
        days=6,
        arrivals=Arrivals(48.0),
        case_mix=(
            CaseClass(
                "inpatient",
                1.0,
                Duration.fixed(0.0),
                admission_probability=1.0,
                length_of_stay=Duration.fixed(48.0),
            ),
        ),
        resources=Resources(consultation_stations=1, beds=10),
        policies=Policies(holding_wait_limit_hours=2.0),
    )
    result = run_replications(scenario, replications=5, seed=2)
    summary = result.summary()
    assert summary["referred_on_no_bed"].mean > 0
    assert np.nanmax(result.waits[:, engine.WAIT_BED, 3]) <= 2.0
    assert result.series[:, engine.SERIES_HOLDING_AREA].max() > 0


def test_run_rejects_impossible_run_settings() -> None:
    with pytest.raises(ValueError, match="replications"):
        run_replications(short_demo(), replications=0)
    with pytest.raises(ValueError, match="seed"):
        run_replications(short_demo(), replications=1, seed=-1)

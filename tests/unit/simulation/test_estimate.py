"""The confidence interval of a metric's mean across replications."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from medevac.simulation.presets import who_emt_type_1_mobile
from medevac.simulation.results import estimate
from medevac.simulation.runner import run_replications


def test_the_interval_of_a_metric_that_cannot_be_negative_stops_at_zero() -> None:
    # three replications of a rare event: the t interval had reached -1.50
    values = np.array([0.0, 0.0, 11.0])
    found = estimate(values)
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert found.mean == pytest.approx(11 / 3)
    assert found.mean - half < 0  # the plain interval goes below zero
    assert found.low == 0.0
    assert found.high == pytest.approx(11 / 3 + half)


def test_a_metric_with_negative_values_keeps_the_plain_interval() -> None:
    values = np.array([-2.0, 0.0, 1.0])
    found = estimate(values)
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert found.low == pytest.approx(-1 / 3 - half)


def test_the_hourly_series_intervals_stop_at_zero_as_well() -> None:
    result = run_replications(who_emt_type_1_mobile(), replications=3, seed=4, workers=1)
    plain = 0
    for row in range(result.series.shape[1]):
        mean, low, high, _, _ = result.hourly(row)
        values = result.series[:, row, :]
        half = stats.t.ppf(0.975, 2) * values.std(axis=0, ddof=1) / np.sqrt(3)
        plain += int((mean - half < 0).sum())
        assert (low >= 0).all()
        assert (low <= mean + 1e-12).all()
        assert (mean <= high + 1e-12).all()
    assert plain > 0  # some hour's plain interval went below zero


def test_the_half_width_is_the_t_intervals_whatever_the_cut() -> None:
    values = np.array([0.0, 0.0, 11.0])
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert estimate(values).half_width == pytest.approx(half)

"""Results of many replications: per-replication metrics, 95 % confidence intervals, exports."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from medevac.simulation import engine
from medevac.simulation.params import HOURS_PER_DAY, Scenario, scenario_to_dict

CONFIDENCE = 0.95

SERIES_NAMES = {
    engine.SERIES_BEDS_OCCUPIED: "beds_occupied",
    engine.SERIES_TABLES_BUSY: "operating_tables_busy",
    engine.SERIES_STATIONS_BUSY: "consultation_stations_busy",
    engine.SERIES_CONSULTATION_QUEUE: "consultation_queue",
    engine.SERIES_THEATRE_QUEUE: "theatre_queue",
    engine.SERIES_HOLDING_AREA: "holding_area",
}
# consultation_wait: everyone who queued, a patient who left unseen counting the time until
# leaving; consultation_wait_seen: the patients seen only (their number is "seen").
# bed_wait: everyone who asked for a bed (their number is "needed_bed"), a patient referred on
# from the holding area counting the holding limit; bed_wait_admitted: the patients admitted only.
_WAIT_NAMES = {
    engine.WAIT_CONSULTATION: "consultation_wait",
    engine.WAIT_CONSULTATION_SEEN: "consultation_wait_seen",
    engine.WAIT_THEATRE: "theatre_wait",
    engine.WAIT_BED: "bed_wait",
    engine.WAIT_BED_ADMITTED: "bed_wait_admitted",
}
_WAIT_STAT_NAMES = ("mean", "p50", "p90", "p99")


@dataclass(frozen=True)
class Estimate:
    """Mean across replications with a 95 % confidence interval (t distribution)."""

    mean: float
    low: float
    high: float
    replications: int

    @property
    def half_width(self) -> float:
        """The t interval's half width: above the mean, which the cut at 0 leaves whole."""
        return self.high - self.mean

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "mean": _json_float(self.mean),
            "ci_low": _json_float(self.low),
            "ci_high": _json_float(self.high),
            "replications": self.replications,
        }


def estimate(values: np.ndarray) -> Estimate:
    """Mean and 95 % confidence interval of the finite values of one metric."""
    finite = values[np.isfinite(values)]
    n = int(finite.shape[0])
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    mean = float(finite.mean())
    if n == 1:
        return Estimate(mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2.0, n - 1) * finite.std(ddof=1) / math.sqrt(n))
    # a metric that cannot be negative (every count and wait) has a mean that cannot be
    # either: the interval stops at 0, which excludes no value the mean can take (few
    # replications of a rare event had shown "3.67, -1.50 - 8.84")
    low = mean - half
    if low < 0.0 <= float(finite.min()):
        low = 0.0
    return Estimate(mean, low, mean + half, n)


@dataclass(frozen=True)
class SimulationResult:
    """Raw per-replication outputs of a run plus the scenario and seed that produced them.

    ``counts`` is (replications x counters), ``waits`` (replications x waits x statistics) in
    hours, ``series`` (replications x series x hours) time-averaged per hour of the horizon.
    The consultation wait is there twice: over everyone who queued (``engine.
    WAIT_CONSULTATION``, a patient who left unseen counting the wait until leaving) and over
    the patients seen (``engine.WAIT_CONSULTATION_SEEN``); so is the bed wait, over everyone
    who asked for a bed (``engine.WAIT_BED``, a patient referred on from the holding area
    counting the holding limit) and over the patients admitted (``engine.WAIT_BED_ADMITTED``).
    """

    scenario: Scenario
    seed: int
    counts: np.ndarray
    waits: np.ndarray
    series: np.ndarray

    @property
    def replications(self) -> int:
        return int(self.counts.shape[0])

    def metric_values(self) -> dict[str, np.ndarray]:
        """Each reported metric as one value per replication."""
        counts = self.counts.astype(np.float64)
        arrived = counts[:, engine.COUNT_ARRIVED]
        needed_bed = counts[:, engine.COUNT_NEEDED_BED]
        referred_no_bed = counts[:, engine.COUNT_REFERRED_NO_BED]
        with np.errstate(invalid="ignore", divide="ignore"):
            values: dict[str, np.ndarray] = {
                "arrived": arrived,
                "seen": counts[:, engine.COUNT_SEEN],
                "left_unseen": counts[:, engine.COUNT_LEFT_UNSEEN],
                "referred_on": counts[:, engine.COUNT_REFERRED_CLINICAL] + referred_no_bed,
                "referred_on_clinical": counts[:, engine.COUNT_REFERRED_CLINICAL],
                "referred_on_no_bed": referred_no_bed,
                "operated": counts[:, engine.COUNT_OPERATED],
                "admitted": counts[:, engine.COUNT_ADMITTED],
                "needed_bed": needed_bed,
                "share_left_unseen": counts[:, engine.COUNT_LEFT_UNSEEN] / arrived,
                "share_of_bed_requests_referred": referred_no_bed / needed_bed,
            }
        for row, name in _WAIT_NAMES.items():
            for column, stat in enumerate(_WAIT_STAT_NAMES):
                values[f"{name}_{stat}_hours"] = self.waits[:, row, column]
        steady = self.series[:, :, self.scenario.warmup_days * HOURS_PER_DAY :]
        for row, name in SERIES_NAMES.items():
            values[f"{name}_mean"] = steady[:, row, :].mean(axis=1)
            values[f"{name}_peak_hour"] = steady[:, row, :].max(axis=1)
        return values

    def summary(self) -> dict[str, Estimate]:
        """Every metric with its 95 % confidence interval across replications."""
        return {name: estimate(values) for name, values in self.metric_values().items()}

    def hourly(self, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For one series: mean, CI low, CI high and the 5 %-95 % replication band, per hour.

        With one replication there is no interval: CI low and high are NaN, as in ``estimate``.
        """
        values = self.series[:, row, :]
        mean = values.mean(axis=0)
        n = values.shape[0]
        if n > 1:
            factor = stats.t.ppf(0.5 + CONFIDENCE / 2.0, n - 1) / math.sqrt(n)
            half = factor * values.std(axis=0, ddof=1)
        else:
            half = np.full_like(mean, math.nan)
        low_band, high_band = np.percentile(values, [5.0, 95.0], axis=0)
        low = mean - half
        if values.size and float(values.min()) >= 0.0:  # every series counts: as `estimate`
            low = np.maximum(low, 0.0)
        return mean, low, mean + half, low_band, high_band

    def to_json_data(self) -> dict[str, Any]:
        """Scenario, seed, metric estimates and hourly series as plain JSON data."""
        hourly: dict[str, Any] = {}
        for row, name in SERIES_NAMES.items():
            mean, low, high, band_low, band_high = self.hourly(row)
            hourly[name] = {
                "mean": _json_list(mean),
                "ci_low": _json_list(low),
                "ci_high": _json_list(high),
                "p05": _json_list(band_low),
                "p95": _json_list(band_high),
            }
        return {
            "scenario": scenario_to_dict(self.scenario),
            "seed": self.seed,
            "replications": self.replications,
            "confidence": CONFIDENCE,
            "metrics": {name: est.as_dict() for name, est in self.summary().items()},
            "hourly": hourly,
        }

    def summary_csv(self) -> str:
        """One row per metric: mean and 95 % confidence interval."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["metric", "mean", "ci_low", "ci_high", "replications"])
        for name, est in self.summary().items():
            writer.writerow(
                [
                    name,
                    _csv_float(est.mean),
                    _csv_float(est.low),
                    _csv_float(est.high),
                    est.replications,
                ]
            )
        return buffer.getvalue()

    def hourly_csv(self) -> str:
        """One row per hour and series: mean, 95 % CI and the 5 %-95 % replication band."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["hour", "series", "mean", "ci_low", "ci_high", "p05", "p95"])
        for row, name in SERIES_NAMES.items():
            columns = self.hourly(row)
            for hour in range(columns[0].shape[0]):
                writer.writerow([hour, name, *(_csv_float(float(c[hour])) for c in columns)])
        return buffer.getvalue()


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_list(values: np.ndarray) -> list[float | None]:
    return [_json_float(round(float(v), 6)) for v in values]


def _csv_float(value: float) -> str:
    return "" if not math.isfinite(value) else repr(round(value, 6))

"""Run many replications of a scenario, one independent random stream each, on several cores.

Each replication gets its own ``numpy.random.Generator`` built from ``SeedSequence(seed).
spawn(n)[r]``, so replication ``r`` gives the same numbers whatever the number of workers and
whatever order the workers finish in; results are stored by replication index.

The compiled kernel releases the GIL, so a thread pool keeps both cores busy without copying
the scenario into other processes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from medevac.simulation import engine
from medevac.simulation.params import HOURS_PER_DAY, Duration, DurationKind, Scenario
from medevac.simulation.results import SimulationResult

ProgressCallback = Callable[[int, int], None]

#: memory one replication's hourly series take per day of horizon (6 series x 24 hours x 8 bytes).
#: They are most of a run's memory: measured, a replication took about 45 KB at 30 days and
#: 4.4 MB at 3,660 days.
SERIES_BYTES_PER_DAY = engine.N_SERIES * HOURS_PER_DAY * np.dtype(np.float64).itemsize
#: the hourly series of one run may take at most this much. Days (3,660) and replications
#: (10,000) are limited separately, and together they had allowed 42 GB.
MAX_SERIES_BYTES = 2_000_000_000


def max_replications(days: int) -> int:
    """The most replications of a ``days``-day scenario whose hourly series fit the budget."""
    return MAX_SERIES_BYTES // (SERIES_BYTES_PER_DAY * max(1, days))


def replications_problem(replications: int, days: int) -> str | None:
    """Why ``replications`` of a ``days``-day scenario need too much memory, or ``None``."""
    fit = max_replications(days)
    if replications <= fit:
        return None
    need = replications * days * SERIES_BYTES_PER_DAY
    return (
        f"{replications:,} replications of {days:,} days need {need / 1e9:.1f} GB for the hourly "
        f"series, more than the {MAX_SERIES_BYTES / 1e9:g} GB allowed; at most {fit:,} "
        f"replications fit at {days:,} days"
    )


_DURATION_CODES = {
    DurationKind.EXPONENTIAL: engine.DURATION_EXPONENTIAL,
    DurationKind.LOGNORMAL: engine.DURATION_LOGNORMAL,
    DurationKind.FIXED: engine.DURATION_FIXED,
}


class _KernelInputs:
    """A scenario flattened into the arrays the compiled kernel reads."""

    def __init__(self, scenario: Scenario) -> None:
        cases = scenario.case_mix
        self.hourly_rates = np.asarray(scenario.arrivals.hourly_rates(scenario.days), np.float64)
        self.class_cumulative = np.cumsum(np.asarray(scenario.class_shares(), np.float64))
        self.class_cumulative[-1] = 1.0
        self.consultation = np.array([_duration_row(c.consultation) for c in cases])
        self.surgery = np.array([_duration_row(c.surgery) for c in cases])
        self.stay = np.array([_duration_row(c.length_of_stay) for c in cases])
        self.probabilities = np.array(
            [
                [c.referral_probability, c.surgery_probability, c.admission_probability]
                for c in cases
            ],
            dtype=np.float64,
        )
        self.may_leave_unseen = np.array([c.may_leave_unseen for c in cases], dtype=np.bool_)
        resources = scenario.resources
        policies = scenario.policies
        self.stations = resources.consultation_stations
        self.tables = resources.operating_tables
        self.beds = resources.beds
        self.theatre_opens = resources.theatre_hours.opens
        self.theatre_closes = resources.theatre_hours.closes
        self.holding_limit = _limit(policies.holding_wait_limit_hours)
        self.unseen_limit = _limit(policies.unseen_wait_limit_hours)
        self.warmup_hours = float(scenario.warmup_days * 24)

    def run(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return engine.simulate_replication(
            rng,
            self.hourly_rates,
            self.class_cumulative,
            self.consultation,
            self.surgery,
            self.stay,
            self.probabilities,
            self.may_leave_unseen,
            self.stations,
            self.tables,
            self.beds,
            self.theatre_opens,
            self.theatre_closes,
            self.holding_limit,
            self.unseen_limit,
            self.warmup_hours,
        )


def _duration_row(duration: Duration) -> list[float]:
    code = float(_DURATION_CODES[duration.kind])
    if duration.kind is DurationKind.LOGNORMAL:
        sigma_squared = math.log1p((duration.sd_hours / duration.mean_hours) ** 2)
        mu = math.log(duration.mean_hours) - sigma_squared / 2.0
        return [code, mu, math.sqrt(sigma_squared)]
    return [code, duration.mean_hours, 0.0]


def _limit(hours: float | None) -> float:
    return math.inf if hours is None else float(hours)


def replication_generators(seed: int, replications: int) -> list[np.random.Generator]:
    """One independent generator per replication, spawned from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return [np.random.Generator(np.random.PCG64(child)) for child in children]


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int = 0,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> SimulationResult:
    """Simulate ``replications`` independent runs of ``scenario`` and collect their results.

    ``workers`` defaults to the number of cores and is capped at it; ``progress(done, total)``
    is called from the calling thread as batches finish. The result depends only on the
    scenario, the number of replications and the seed.
    """
    if replications < 1:
        raise ValueError("replications must be >= 1")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    too_many = replications_problem(replications, scenario.days)
    if too_many is not None:
        raise ValueError(too_many)
    # Each replication in flight holds its own event arrays (about 210 MB on a long, busy
    # scenario), and the kernel is CPU-bound: more threads than cores only take memory.
    cores = os.cpu_count() or 1
    workers = max(1, min(workers if workers is not None else cores, cores))
    inputs = _KernelInputs(scenario)
    generators = replication_generators(seed, replications)
    hours = inputs.hourly_rates.shape[0]
    counts = np.zeros((replications, engine.N_COUNTS), dtype=np.int64)
    waits = np.zeros((replications, engine.N_WAITS, engine.N_WAIT_STATS))
    series = np.zeros((replications, engine.N_SERIES, hours))

    def run_batch(indices: range) -> range:
        for index in indices:
            counts[index], waits[index], series[index] = inputs.run(generators[index])
        return indices

    batch = max(1, min(25, replications // (4 * workers) or 1))
    batches = [range(i, min(i + batch, replications)) for i in range(0, replications, batch)]
    done = 0
    if workers == 1:
        for indices in batches:
            run_batch(indices)
            done += len(indices)
            if progress is not None:
                progress(done, replications)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for indices in pool.map(run_batch, batches):
                done += len(indices)
                if progress is not None:
                    progress(done, replications)
    return SimulationResult(
        scenario=scenario,
        seed=seed,
        counts=counts,
        waits=waits,
        series=series,
    )

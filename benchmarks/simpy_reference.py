"""The field-hospital model written plainly with SimPy, as a planner would: a reference.

Same scenario semantics as ``medevac.simulation`` (Poisson arrivals restarted each hour,
first-come first-served stations, patients who may leave unseen give up when their consultation
has not started within the limit, operations start only within theatre hours, a bed request
waits in the holding area up to the limit and is then referred on). It draws its random numbers
in a different order, so it agrees in distribution, not sample path by sample path.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from medevac.simulation.params import Duration, DurationKind, Scenario


@dataclass
class _TimeAverage:
    """Integral over [start, horizon) of a piecewise-constant count."""

    start: float
    horizon: float
    level: int = 0
    last: float = 0.0
    area: float = 0.0

    def __post_init__(self) -> None:
        self.last = self.start

    def change(self, now: float, delta: int) -> None:
        end = min(now, self.horizon)
        if end > self.last:
            self.area += self.level * (end - self.last)
            self.last = end
        self.level += delta

    def mean(self) -> float:
        self.change(self.horizon, 0)
        return self.area / (self.horizon - self.start)


@dataclass
class ReferenceOutcome:
    """What one SimPy replication reports (patients who arrived after the warm-up)."""

    arrived: int = 0
    seen: int = 0
    left_unseen: int = 0
    referred_on: int = 0
    operated: int = 0
    admitted: int = 0
    consultation_waits: list[float] = field(default_factory=list)
    theatre_waits: list[float] = field(default_factory=list)
    bed_waits: list[float] = field(default_factory=list)
    beds_occupied_mean: float = 0.0

    def metrics(self) -> dict[str, float]:
        return {
            "arrived": self.arrived,
            "seen": self.seen,
            "left_unseen": self.left_unseen,
            "referred_on": self.referred_on,
            "operated": self.operated,
            "admitted": self.admitted,
            "consultation_wait_mean_hours": _mean(self.consultation_waits),
            "theatre_wait_mean_hours": _mean(self.theatre_waits),
            "bed_wait_mean_hours": _mean(self.bed_waits),
            "beds_occupied_mean": self.beds_occupied_mean,
        }


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _draw(rng: np.random.Generator, duration: Duration) -> float:
    if duration.kind is DurationKind.EXPONENTIAL:
        return float(rng.exponential(duration.mean_hours)) if duration.mean_hours > 0 else 0.0
    if duration.kind is DurationKind.LOGNORMAL:
        sigma2 = math.log1p((duration.sd_hours / duration.mean_hours) ** 2)
        mu = math.log(duration.mean_hours) - sigma2 / 2
        return float(rng.lognormal(mu, math.sqrt(sigma2)))
    return duration.mean_hours


def run_reference(scenario: Scenario, rng: np.random.Generator) -> ReferenceOutcome:
    """One replication of ``scenario`` in SimPy."""
    env = simpy.Environment()
    res = scenario.resources
    policies = scenario.policies
    stations = simpy.Resource(env, capacity=res.consultation_stations)
    tables = simpy.Resource(env, capacity=max(res.operating_tables, 1))
    beds = simpy.Resource(env, capacity=res.beds) if res.beds > 0 else None
    horizon = scenario.days * 24.0
    warmup = scenario.warmup_days * 24.0
    bed_level = _TimeAverage(warmup, horizon)
    outcome = ReferenceOutcome()
    shares = np.cumsum(scenario.class_shares())
    opens, closes = res.theatre_hours.opens, res.theatre_hours.closes
    unseen_limit = policies.unseen_wait_limit_hours
    holding_limit = policies.holding_wait_limit_hours

    def patient(arrival: float) -> Generator[Any, Any, None]:
        counted = arrival >= warmup
        drawn = int(np.searchsorted(shares, rng.random(), "right"))
        case = scenario.case_mix[min(drawn, len(shares) - 1)]
        if counted:
            outcome.arrived += 1
        with stations.request() as request:
            if case.may_leave_unseen and unseen_limit is not None:
                got = yield request | env.timeout(unseen_limit)
                if request not in got:
                    if counted:  # their wait counts too, until they left (as the engine's)
                        outcome.left_unseen += 1
                        outcome.consultation_waits.append(env.now - arrival)
                    return
            else:
                yield request
            if counted:
                outcome.seen += 1
                outcome.consultation_waits.append(env.now - arrival)
            yield env.timeout(_draw(rng, case.consultation))
        if rng.random() < case.referral_probability:
            if counted:
                outcome.referred_on += 1
            return
        needs_surgery = rng.random() < case.surgery_probability
        needs_bed = rng.random() < case.admission_probability
        if needs_surgery:
            ready = env.now
            with tables.request() as request:
                yield request
                hour = env.now % 24.0
                if hour < opens:
                    yield env.timeout(opens - hour)
                elif hour >= closes:
                    yield env.timeout(24.0 - hour + opens)
                if counted:
                    outcome.operated += 1
                    outcome.theatre_waits.append(env.now - ready)
                yield env.timeout(_draw(rng, case.surgery))
        if needs_bed:
            asked = env.now
            if beds is None:
                if holding_limit is not None:
                    yield env.timeout(holding_limit)
                if counted:  # their wait counts too, until they were referred (as the engine's)
                    outcome.referred_on += 1
                    outcome.bed_waits.append(env.now - asked)
                return
            with beds.request() as request:
                if holding_limit is not None:
                    got = yield request | env.timeout(holding_limit)
                    if request not in got:
                        if counted:  # their wait counts too, until they were referred
                            outcome.referred_on += 1
                            outcome.bed_waits.append(env.now - asked)
                        return
                else:
                    yield request
                if counted:
                    outcome.admitted += 1
                    outcome.bed_waits.append(env.now - asked)
                bed_level.change(env.now, +1)
                yield env.timeout(_draw(rng, case.length_of_stay))
                bed_level.change(env.now, -1)

    def arrivals() -> Generator[Any, Any, None]:
        for hour, rate in enumerate(scenario.arrivals.hourly_rates(scenario.days)):
            if env.now < hour:
                yield env.timeout(hour - env.now)
            if rate <= 0:
                continue
            time = hour + rng.exponential(1.0 / rate)
            while time < hour + 1:
                yield env.timeout(time - env.now)
                env.process(patient(env.now))
                time += rng.exponential(1.0 / rate)

    env.process(arrivals())
    env.run()
    outcome.beds_occupied_mean = bed_level.mean()
    return outcome

"""Invariants that hold for any valid scenario (property tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from medevac.simulation.runner import run_replications


def durations_from(least_fixed: float) -> st.SearchStrategy[Duration]:
    """Exponential, lognormal and fixed durations, a fixed one at least ``least_fixed``."""
    return st.one_of(
        st.builds(Duration.exponential, st.floats(0.05, 5.0)),
        st.builds(Duration.lognormal, st.floats(0.05, 5.0), st.floats(0.05, 3.0)),
        st.builds(Duration.fixed, st.floats(least_fixed, 5.0)),
    )


durations = durations_from(0.0)
#: lengths of stay: a stay of mean 0 is refused where patients are admitted
stays = durations_from(0.05)
limits = st.one_of(st.none(), st.floats(0.0, 8.0))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    n_classes = draw(st.integers(1, 3))
    cases = tuple(
        CaseClass(
            f"class-{i}",
            draw(st.floats(0.1, 1.0)),
            draw(durations),
            surgery_probability=draw(st.floats(0.0, 1.0)),
            surgery=Duration.fixed(draw(st.floats(0.1, 3.0))),
            admission_probability=draw(st.floats(0.0, 1.0)),
            length_of_stay=draw(stays),
            referral_probability=draw(st.floats(0.0, 0.5)),
            may_leave_unseen=draw(st.booleans()),
        )
        for i in range(n_classes)
    )
    opens = draw(st.integers(0, 12))
    return Scenario(
        name="random",
        days=draw(st.integers(1, 4)),
        arrivals=Arrivals(
            draw(st.floats(0.0, 200.0)),
            surge=tuple(draw(st.lists(st.floats(0.0, 3.0), max_size=4))),
        ),
        case_mix=cases,
        resources=Resources(
            consultation_stations=draw(st.integers(1, 6)),
            beds=draw(st.integers(1, 15)),
            operating_tables=draw(st.integers(1, 3)),
            theatre_hours=TheatreHours(opens, draw(st.integers(opens + 1, 24))),
        ),
        policies=Policies(draw(limits), draw(limits)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(0, 2**32 - 1))
def test_no_resource_is_ever_over_capacity_and_every_patient_is_accounted_for(
    scenario: Scenario, seed: int
) -> None:
    result = run_replications(scenario, replications=2, seed=seed, workers=1)
    resources = scenario.resources
    tolerance = 1e-9
    series = result.series
    assert (series >= -tolerance).all()
    assert (series[:, engine.SERIES_BEDS_OCCUPIED] <= resources.beds + tolerance).all()
    assert (series[:, engine.SERIES_TABLES_BUSY] <= resources.operating_tables + tolerance).all()
    stations_busy = series[:, engine.SERIES_STATIONS_BUSY]
    assert (stations_busy <= resources.consultation_stations + tolerance).all()
    counts = result.counts
    assert (
        counts[:, engine.COUNT_ARRIVED]
        == counts[:, engine.COUNT_SEEN] + counts[:, engine.COUNT_LEFT_UNSEEN]
    ).all()
    assert (
        counts[:, engine.COUNT_NEEDED_BED]
        == counts[:, engine.COUNT_ADMITTED] + counts[:, engine.COUNT_REFERRED_NO_BED]
    ).all()
    holding = scenario.policies.holding_wait_limit_hours
    if holding is not None:
        bed_waits = result.waits[:, engine.WAIT_BED, 3]
        assert (np.nan_to_num(bed_waits) <= holding + tolerance).all()
    unseen = scenario.policies.unseen_wait_limit_hours
    if unseen is not None and all(case.may_leave_unseen for case in scenario.case_mix):
        waits = result.waits[:, engine.WAIT_CONSULTATION, 3]
        assert (np.nan_to_num(waits) <= unseen + tolerance).all()

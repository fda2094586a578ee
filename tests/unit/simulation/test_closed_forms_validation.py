"""The simulation agrees with closed-form queueing results within its 95 % confidence interval."""

from __future__ import annotations

import pytest

from medevac.simulation.closed_forms import erlang_b, erlang_c, erlang_c_mean_wait
from medevac.simulation.params import (
    Arrivals,
    CaseClass,
    Duration,
    Policies,
    Resources,
    Scenario,
)
from medevac.simulation.runner import run_replications


def beds_only(
    beds: int, per_hour: float, stay: Duration, days: int = 24, warmup_days: int = 4
) -> Scenario:
    """Everyone needs a bed at once (zero consultation time); no holding area."""
    return Scenario(
        name="beds-only",
        days=days,
        warmup_days=warmup_days,
        arrivals=Arrivals(per_hour * 24),
        case_mix=(
            CaseClass(
                "inpatient",
                1.0,
                Duration.fixed(0.0),
                admission_probability=1.0,
                length_of_stay=stay,
            ),
        ),
        resources=Resources(consultation_stations=1, beds=beds),
        policies=Policies(holding_wait_limit_hours=0.0, unseen_wait_limit_hours=None),
    )


def stations_only(
    stations: int, per_hour: float, mean_service: float, unseen_limit: float | None = None
) -> Scenario:
    """Consultation only, exponential service, first come first served."""
    return Scenario(
        name="stations-only",
        days=12,
        warmup_days=2,
        arrivals=Arrivals(per_hour * 24),
        case_mix=(CaseClass("outpatient", 1.0, Duration.exponential(mean_service)),),
        resources=Resources(consultation_stations=stations, beds=0),
        policies=Policies(holding_wait_limit_hours=0.0, unseen_wait_limit_hours=unseen_limit),
    )


ERLANG_B_CASES = [
    # beds, arrivals per hour, mean stay (h): offered loads 8, 6 and 16 Erlangs.
    pytest.param(10, 1.0, 8.0, id="10-beds-8-erlang"),
    pytest.param(5, 0.5, 12.0, id="5-beds-6-erlang"),
    pytest.param(20, 2.0, 8.0, id="20-beds-16-erlang"),
]


@pytest.mark.parametrize(("beds", "per_hour", "mean_stay"), ERLANG_B_CASES)
def test_share_of_bed_requests_turned_away_matches_erlang_b(
    beds: int, per_hour: float, mean_stay: float
) -> None:
    result = run_replications(
        beds_only(beds, per_hour, Duration.exponential(mean_stay)), replications=40, seed=11
    )
    turned_away = result.summary()["share_of_bed_requests_referred"]
    expected = erlang_b(beds, per_hour * mean_stay)
    assert turned_away.contains(expected), (expected, turned_away)
    assert turned_away.half_width < 0.2 * expected  # the interval is tight enough to mean something


@pytest.mark.parametrize(
    ("stations", "per_hour", "mean_service"),
    [
        pytest.param(1, 0.7, 1.0, id="1-station-rho-0.7"),
        pytest.param(3, 2.4, 1.0, id="3-stations-rho-0.8"),
        pytest.param(8, 6.0, 1.0, id="8-stations-rho-0.75"),
    ],
)
def test_mean_consultation_wait_matches_erlang_c(
    stations: int, per_hour: float, mean_service: float
) -> None:
    result = run_replications(
        stations_only(stations, per_hour, mean_service), replications=40, seed=5
    )
    summary = result.summary()
    expected_wait = erlang_c_mean_wait(stations, per_hour, mean_service)
    assert summary["consultation_wait_mean_hours"].contains(expected_wait)
    assert summary["consultation_wait_mean_hours"].half_width < 0.25 * expected_wait
    # Little's law on the queue: mean number waiting = arrival rate x mean wait.
    assert summary["consultation_queue_mean"].contains(per_hour * expected_wait)


@pytest.mark.parametrize(
    ("beds", "per_hour", "stay"),
    [
        pytest.param(30, 1.0, Duration.lognormal(24.0, 18.0), id="lognormal-stay"),
        pytest.param(12, 0.5, Duration.fixed(20.0), id="fixed-stay"),
        pytest.param(60, 2.0, Duration.exponential(24.0), id="exponential-stay"),
    ],
)
def test_steady_state_bed_occupancy_matches_littles_law(
    beds: int, per_hour: float, stay: Duration
) -> None:
    # Erlang B is insensitive to the stay distribution, so the admitted rate is known exactly.
    result = run_replications(
        beds_only(beds, per_hour, stay, days=30, warmup_days=6), replications=40, seed=3
    )
    admitted_per_hour = per_hour * (1.0 - erlang_b(beds, per_hour * stay.mean_hours))
    expected_occupancy = admitted_per_hour * stay.mean_hours
    occupancy = result.summary()["beds_occupied_mean"]
    assert occupancy.contains(expected_occupancy), (expected_occupancy, occupancy)
    assert occupancy.half_width < 0.05 * expected_occupancy


@pytest.mark.parametrize(("stations", "per_hour"), [(2, 3.0), (3, 2.0), (4, 3.0)])
def test_patients_leave_unseen_as_in_a_loss_system_when_nobody_may_wait(
    stations: int, per_hour: float
) -> None:
    result = run_replications(
        stations_only(stations, per_hour, 1.0, unseen_limit=0.0), replications=40, seed=8
    )
    assert result.summary()["share_left_unseen"].contains(erlang_b(stations, per_hour))


def test_erlang_formulas_give_textbook_values() -> None:
    assert erlang_b(10, 8.0) == pytest.approx(0.12166, abs=1e-5)
    assert erlang_c(2, 1.0) == pytest.approx(1.0 / 3.0)
    # M/M/1 with rho = 0.5 and unit service: mean wait rho / (mu - lambda) = 1.
    assert erlang_c_mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)

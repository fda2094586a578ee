"""The beds `plan build` takes off a facility's report for patients sent there since."""

from __future__ import annotations

from datetime import date, timedelta

from medevac.services.holds import held_beds
from medevac.services.manifests import Hold

TODAY = date(2026, 12, 7)


def entries(free: list[int]) -> list[dict[str, object]]:
    return [{"id": "F", "beds": {"ophthalmology": list(free)}}]


def test_holds_beyond_the_free_beds_are_said_with_the_day_and_how_many() -> None:
    # five held from day 1 where the report gives 1 free: the problem showed 0 and the line
    # said "5 bed(s) taken off" with no word of the 4 it could not take
    facility = entries([4, 1, 1])
    holds = {f"P{i}": Hold("F", "ophthalmology", TODAY + timedelta(days=1), 2) for i in range(5)}
    [line] = held_beds(facility, holds, TODAY)
    assert facility[0]["beds"] == {"ophthalmology": [4, 0, 0]}
    assert line == (
        "F ophthalmology: 5 bed(s) taken off its report for patients sent there since it "
        "reported (P0, P1, P2, P3, P4); they hold 4 more than the report gives free on day 1 "
        "(0 left in the problem): its next report or a patient sent elsewhere settles it"
    )


def test_a_hold_that_begins_after_the_horizon_takes_nothing_and_is_not_counted() -> None:
    facility = entries([2, 2, 2])
    holds = {
        "LATE": Hold("F", "ophthalmology", TODAY + timedelta(days=30), 5),
        "NOW": Hold("F", "ophthalmology", TODAY, 1),
    }
    [line] = held_beds(facility, holds, TODAY)
    assert facility[0]["beds"] == {"ophthalmology": [1, 2, 2]}
    assert line == (
        "F ophthalmology: 1 bed(s) taken off its report for patients sent there since it "
        "reported (NOW)"
    )

"""The operation's calendar (`medevac.services.clock`): days and times in MEDEVAC_TIME_ZONE."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import pytest

from medevac.config import SettingsError, get_settings
from medevac.services.auditing import utc_now
from medevac.services.clock import day_of, last_moment, shown


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set MEDEVAC_TIME_ZONE for the test; the tests after it read the zone they run in."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("MEDEVAC_TIME_ZONE", name)
        get_settings.cache_clear()

    yield set_zone
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_zone_that_does_not_exist_is_named_with_the_variable(
    zone: Callable[[str], None],
) -> None:
    zone("Europe/Kiev-Ish")
    with pytest.raises(SettingsError, match=r"MEDEVAC_TIME_ZONE='Europe/Kiev-Ish': is not a"):
        day_of(utc_now())


def test_days_and_times_follow_the_configured_zone(zone: Callable[[str], None]) -> None:
    zone("Europe/Kyiv")
    late = datetime(2026, 12, 6, 22, 30, tzinfo=UTC)  # 00:30 on the 7th in Kyiv (UTC+2)
    assert day_of(late) == date(2026, 12, 7)
    assert day_of(late.replace(tzinfo=None)) == date(2026, 12, 7)  # naive: UTC, as stored
    assert shown(late) == "2026-12-07 00:30 EET"
    summer = datetime(2026, 7, 1, 21, 30, tzinfo=UTC)  # 00:30 on 2 July at UTC+3
    assert day_of(summer) == date(2026, 7, 2)
    end = last_moment(date(2026, 12, 7))
    assert end.astimezone(UTC) == datetime(2026, 12, 7, 21, 59, 59, 999999, tzinfo=UTC)


def test_the_last_moment_of_a_day_is_its_latest_where_summer_time_ends_at_midnight(
    zone: Callable[[str], None],
) -> None:
    # Asia/Beirut's summer time ends at midnight: 23:59 comes twice on that day; the last
    # moment is the second (fold 0 gave the first, an hour early)
    zone("Asia/Beirut")
    end = last_moment(date(2025, 10, 25))
    assert end.astimezone(UTC) == datetime(2025, 10, 25, 21, 59, 59, 999999, tzinfo=UTC)

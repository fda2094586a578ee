"""The operation's calendar (`medevac.services.clock`): days and times in MEDEVAC_TIME_ZONE."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from medevac.config import SettingsError, get_settings
from medevac.services.auditing import utc_now
from medevac.services.clock import day_of, last_moment, shown


def test_a_zone_that_does_not_exist_is_named_with_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", "Europe/Kiev-Ish")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match=r"MEDEVAC_TIME_ZONE='Europe/Kiev-Ish': is not a"):
            day_of(utc_now())
    finally:
        monkeypatch.delenv("MEDEVAC_TIME_ZONE")
        get_settings.cache_clear()


def test_days_and_times_follow_the_configured_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", "Europe/Kyiv")
    get_settings.cache_clear()
    try:
        late = datetime(2026, 12, 6, 22, 30, tzinfo=UTC)  # 00:30 on the 7th in Kyiv (UTC+2)
        assert day_of(late) == date(2026, 12, 7)
        assert day_of(late.replace(tzinfo=None)) == date(2026, 12, 7)  # naive: UTC, as stored
        assert shown(late) == "2026-12-07 00:30 EET"
        summer = datetime(2026, 7, 1, 21, 30, tzinfo=UTC)  # 00:30 on 2 July at UTC+3
        assert day_of(summer) == date(2026, 7, 2)
        end = last_moment(date(2026, 12, 7))
        assert end.astimezone(UTC) == datetime(2026, 12, 7, 21, 59, 59, 999999, tzinfo=UTC)
    finally:
        get_settings.cache_clear()


def test_the_last_moment_of_a_day_is_its_latest_where_summer_time_ends_at_midnight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Asia/Beirut's summer time ends at midnight: 23:59 comes twice on that day; the last
    # moment is the second (fold 0 gave the first, an hour early)
    monkeypatch.setenv("MEDEVAC_TIME_ZONE", "Asia/Beirut")
    get_settings.cache_clear()
    try:
        end = last_moment(date(2025, 10, 25))
        assert end.astimezone(UTC) == datetime(2025, 10, 25, 21, 59, 59, 999999, tzinfo=UTC)
    finally:
        get_settings.cache_clear()

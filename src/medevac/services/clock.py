"""The operation's calendar: on which day a moment falls.

Time stamps are instants (stored in UTC); days are not. A plan's day 0, an agreement in force,
a hold's first night and a quota's count are days of the coordination cell's calendar, set
by ``MEDEVAC_TIME_ZONE`` (an IANA name such as ``Europe/Kyiv``; the machine's own zone when
unset). A cell at UTC+2 building a plan at 01:00 on 7 December plans from 7 December, not
from the 6th, as UTC would have it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

from medevac.config import get_settings


def zone() -> tzinfo | None:
    """The configured time zone, or None for the machine's own (with its summer time)."""
    name = get_settings().time_zone
    return ZoneInfo(name) if name else None


def local(moment: datetime) -> datetime:
    """``moment`` in the operation's time zone; a naive moment is taken as UTC, as stored.

    A moment whose local time would fall before year 1 or after year 9999, which no datetime
    holds (9999-12-31T23:59Z at UTC+2), is given in UTC (or, beyond the years in UTC too, as
    written), the nearest that can be told: showing such a time had crashed with an
    OverflowError.
    """
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        return aware.astimezone(zone())
    except OverflowError:
        pass
    try:
        return aware.astimezone(UTC)
    except OverflowError:  # beyond year 9999 in UTC as well: as it was written
        return aware


def day_of(moment: datetime) -> date:
    """The operation's day on which ``moment`` falls."""
    return local(moment).date()


def zone_name() -> str:
    """The zone's name as shown to people: the configured name, or the machine's abbreviation
    of the moment (``CET``) and that it is the machine's."""
    name = get_settings().time_zone
    return name or f"{datetime.now().astimezone().tzname()}, this machine's time zone"


def shown(moment: datetime) -> str:
    """``moment`` as people read it: to the minute, in the operation's time zone."""
    return local(moment).strftime("%Y-%m-%d %H:%M %Z")


def last_moment(day: date) -> datetime:
    """The last moment of the operation's ``day``."""
    # fold=1: the later of two such moments, where summer time ends at midnight
    end = datetime.combine(day, time.max, tzinfo=zone()).replace(fold=1)
    return end if end.tzinfo is not None else end.astimezone()  # the machine's zone

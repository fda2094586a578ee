"""What every command needs: consoles, settings, a unit of work on a ready database, formatting."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from medevac.config import get_settings
from medevac.domain.limits import CLOCK_SKEW, fraction_fault
from medevac.domain.repositories import UnitOfWork
from medevac.services.clock import shown
from medevac.store.database import (
    engine_for,
    is_up_to_date,
    missing_sqlite_file,
    newer_database,
    unknown_revision,
)
from medevac.store.database import shown_url as _shown_url
from medevac.store.unit_of_work import SqlUnitOfWork

# Names, reasons and ids are printed as they are: no ":name:" emoji codes are replaced in them
# (the commands' own markup is Rich markup, with data escaped: rich.markup.escape).
console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)


def cell(value: str) -> Text:
    r"""A table cell showing ``value`` as stored, no markup read: `rich.markup.escape` doubles
    a trailing backslash, which a cell then showed twice ("BS-1\\" for "BS-1\" stored)."""
    return Text(value)


def inline(value: str) -> str:
    """``value`` escaped for a line of markup where plain text (not a tag) follows it: its
    brackets escaped as `rich.markup.escape` escapes them, and its trailing backslashes kept as
    they are (escape doubled a single one, and the line then showed two)."""
    body, trailing = _trailing_backslashes(value)
    return escape(body) + trailing


def tagged(value: str) -> str:
    """``value`` escaped for a line of markup where a tag follows it (``[/]``): as `inline`,
    but its trailing backslashes doubled, as markup reads a tag after them (escape doubled
    one only: a value ending in three had printed the closing tag)."""
    body, trailing = _trailing_backslashes(value)
    return escape(body) + trailing * 2


def _trailing_backslashes(value: str) -> tuple[str, str]:
    """``value`` without its trailing backslashes, and those backslashes."""
    body = value.rstrip("\\")
    return body, value[len(body) :]


def first_repeated(values: list[str]) -> str | None:
    """The first of ``values`` given a second time, or None: for refusing a list that names
    something twice (one pass, for lists of thousands of patients)."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


class UserError(Exception):
    """A problem the user can fix; shown as one line without a traceback."""


def database_url() -> str:
    return get_settings().database_url


def shown_url(url: str) -> str:
    """The database URL with any password hidden (also when it is not a valid URL)."""
    return _shown_url(url)


@lru_cache(maxsize=4)
def _checked(url: str) -> str:
    missing = missing_sqlite_file(url)
    if missing is not None:  # asking SQLite would create it, empty, where a path was mistyped
        raise UserError(
            f"there is no database at {missing}; check MEDEVAC_DATABASE_URL, or run `medevac db "
            "upgrade` to create one there"
        )
    unknown = unknown_revision(url)
    if unknown is not None:  # `db upgrade`, which it had advised, cannot go there
        raise UserError(newer_database(url, unknown))
    if not is_up_to_date(url):
        raise UserError(
            f"the database at {shown_url(url)} is not initialised or not up to date; "
            "run `medevac db upgrade` first"
        )
    return url


def unit_of_work() -> UnitOfWork:
    """A unit of work on the configured database, refusing a database without the schema."""
    url = _checked(database_url())
    return SqlUnitOfWork(engine_for(url, get_settings().lock_wait_seconds))


def actor(name: str | None) -> str:
    """The name the audit trail records: --actor's, or MEDEVAC_ACTOR's when none is given.

    A blank name is refused, as every change needs the name of who makes it."""
    if name is None:
        name, source = get_settings().actor, "MEDEVAC_ACTOR"
    else:
        source = "--actor"
    if not name.strip():
        raise UserError(f"actor: every change needs the name of who makes it ({source} is blank)")
    return name


def stale_after() -> timedelta:
    return timedelta(hours=get_settings().stale_after_hours)


def age_text(age: timedelta) -> str:
    """'3 h 05 min ago', '2 d 4 h ago'; 'just now' for a time ahead of this machine's clock by
    no more than the clock difference the registry allows (`CLOCK_SKEW`: such a report, taken
    at entry, had been shown "in the future"; found by a review)."""
    if timedelta(0) > age >= -CLOCK_SKEW:
        return "just now"
    minutes = int(age.total_seconds() // 60)
    if minutes < 0:
        return "in the future"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h ago"
    if hours:
        return f"{hours} h {mins:02d} min ago"
    return f"{mins} min ago"


def when(moment: datetime) -> str:
    return shown(moment)


def moment_option(text: str, option: str = "--at") -> datetime:
    """The time an option gives in ISO 8601, or a UserError naming the option: text that is
    no such time, or a fraction of a second beyond microseconds (`fraction_fault`), which
    Python's reading cut off unsaid, where an imported file's time is refused for it."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise UserError(f"{option}: {text!r} is not an ISO 8601 time") from error
    fault = fraction_fault(text)
    if fault is not None:
        raise UserError(f"{option}: {text!r} {fault}")
    return moment

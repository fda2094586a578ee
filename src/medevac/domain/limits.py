"""Upper limits on the registry's values: counts, days, tariffs and the lengths of texts.

The counts and days are the allocation problem format's, so that `medevac plan build` always
writes a problem its loader takes (a stay of 200,000 days, accepted by the registry, had made
every build fail until the record was found); the tariffs and lengths are those the columns
hold, so that both backends behave alike (SQLite stored a stay of 30,000,000,000 days and
texts of any length that PostgreSQL refused, naming neither field nor record).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

from medevac.domain.errors import InvalidValue

#: beds, admissions a day, companions, quotas, places asked for
MAX_COUNT = 1_000_000
#: days of a stay or of a deadline
MAX_DAYS = 100_000
#: a tariff per bed-day, and its decimal places (the column holds 14 digits, 4 after the point)
MAX_TARIFF = 1_000_000_000
TARIFF_DECIMALS = 4
#: characters of an id (of any record), and of a name, place, actor or other short text
MAX_ID_LENGTH = 100
MAX_TEXT_LENGTH = 200
#: the first and last moments a reported time may name (in UTC): any real report lies well
#: inside, and every moment inside can be shown in any time zone and stored by both backends
#: (9999-12-31T23:59Z shown at UTC+2 had overflowed; 0001-01-01T00:00+23:59, before year 1 in
#: UTC, had failed at the database write naming no row)
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
TIME_RANGE = "between 1900-01-01T00:00:00Z and 2200-12-31T23:59:59Z"
#: the most years a birth date may lie before today (0001-01-01 and 1066-01-01 had been taken)
MAX_AGE_YEARS = 130


def earliest_birth_date(today: date) -> date:
    """The earliest birth date taken on ``today``: the same day `MAX_AGE_YEARS` years before
    (28 February for a 29 February in a year that has none)."""
    year = today.year - MAX_AGE_YEARS
    try:
        return today.replace(year=year)
    except ValueError:  # 29 February
        return date(year, 2, 28)


def check_at_most(field: str, value: int | None, limit: int, what: str) -> None:
    """Refuse a value above its limit (None, a value not recorded, passes)."""
    if value is not None and value > limit:
        raise InvalidValue(field, f"{value:,} {what} is more than the {limit:,} allowed")


#: Characters that reorder the text shown around them (embeddings, overrides and isolates):
#: U+202E makes "Evil\u202egnp.exe" show as "Evilexe.png", in a name as in a terminal.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


#: How far a time recorded in the registry (a capacity report, a screening decision) may lie
#: ahead of the server's clock, for clocks that differ a little; a screening decision may
#: also lie this far before the patient's latest move.
CLOCK_SKEW = timedelta(minutes=5)

#: The most digits of a second's fraction a time may give: a time holds microseconds.
MAX_FRACTION_DIGITS = 6
#: a second's fraction in an ISO 8601 time ("08:00:00.25", or in the basic form "080000.25",
#: which Python reads too, as it reads "," for ".")
_FRACTION = re.compile(r"[0-9]{2}:?[0-9]{2}:?[0-9]{2}[.,]([0-9]+)")


def fraction_fault(text: str) -> str | None:
    """What makes the ISO 8601 time ``text`` unfit for the registry, or None: a fraction of a
    second beyond microseconds, which Python's reading cuts off unsaid (`08:00:00.1234567` and
    `08:00:00.1234568` would be one moment); zeros after the sixth digit (nanoseconds as some
    systems write them) lose nothing and pass."""
    match = _FRACTION.search(text)
    fraction = (match[1] if match else "").rstrip("0")
    if len(fraction) <= MAX_FRACTION_DIGITS:
        return None
    return (
        f"has more precision than microseconds ({len(fraction)} digits after the second's "
        f"point; at most {MAX_FRACTION_DIGITS})"
    )


def time_fault(moment: datetime) -> str | None:
    """What makes ``moment`` unfit for a reported time, or None: lying outside `EARLIEST_TIME`
    to `LATEST_TIME` once taken to UTC (a naive moment is taken as UTC, as stored)."""
    try:
        utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except OverflowError:  # before year 1 or after year 9999 in UTC
        return f"must lie {TIME_RANGE}"
    if not EARLIEST_TIME <= utc <= LATEST_TIME:
        return f"must lie {TIME_RANGE}"
    return None


def text_fault(value: str) -> str | None:
    """What makes ``value`` unfit for an id or a short text, or None: a control character (a
    NUL, which PostgreSQL refuses in text; an ESC, whose sequence would reach the terminal of
    whoever lists the record; a line break, which splits a line of output or a CSV row), a
    lone surrogate (from a JSON escape such as `"\\ud800"`: no file or terminal takes it) or
    a bidirectional embedding, override or isolate (`BIDI_CONTROLS`), which shows the text
    around it in another order than it is stored. Other format characters (joiners, soft
    hyphens) belong to ordinary names in several scripts and pass."""
    if value.isprintable():  # nearly every text: one pass in C
        return None
    for position, char in enumerate(value, start=1):
        category = unicodedata.category(char)
        if category == "Cc":
            return f"holds a control character (U+{ord(char):04X}, character {position})"
        if category == "Cs":
            return "is not valid Unicode text (a lone surrogate)"
        if char in BIDI_CONTROLS:
            return f"holds a bidirectional override (U+{ord(char):04X}, character {position})"
    return None  # not printable only for spaces other than " " or other format characters


def id_fault(value: str) -> str | None:
    """What makes ``value`` unfit for an id, or None: what `text_fault` refuses, or any format
    character (Unicode category Cf: a zero-width space, a joiner, a soft hyphen, a byte-order
    mark, a bidi control), which shows nothing, so that "PT-0001\u200b" would look like
    PT-0001 and be another patient."""
    if value.isprintable():
        return None
    for position, char in enumerate(value, start=1):
        category = unicodedata.category(char)
        if category == "Cf":
            return f"holds an invisible format character (U+{ord(char):04X}, character {position})"
        if category in ("Cc", "Cs"):
            return text_fault(value)  # the first fault is this character's
    return None


def separator_fault(value: str) -> str | None:
    """What makes ``value`` unfit for a new id or a name of a problem file, or None: a line or
    paragraph separator (U+2028, U+2029), which editors, JSON tools and `str.splitlines` take
    for a line break. Not in `text_fault`, which records are checked with as they are read: a
    registry holding one from before keeps reading it."""
    for position, char in enumerate(value, start=1):
        if char in "\u2028\u2029":
            what = "line" if char == "\u2028" else "paragraph"
            return f"holds a {what} separator (U+{ord(char):04X}, character {position})"
    return None


def new_id_fault(value: str) -> str | None:
    """What makes ``value`` unfit for the id of a new record, beyond `id_fault`, or None: a line
    or paragraph separator (`separator_fault`), or text not in Unicode's composed form (NFC).
    "José" written with a combining accent (as macOS writes names) looks like "José" written
    with "é" and would be a second record beside it. Checked where records are created, not
    where they are read: a registry that holds such an id from before keeps reading, listing
    and updating it."""
    fault = separator_fault(value)
    if fault is not None:
        return fault
    if unicodedata.is_normalized("NFC", value):
        return None
    # the first character whose text up to it is not composed (ids are at most 100 long)
    position = next(
        k for k in range(1, len(value) + 1) if not unicodedata.is_normalized("NFC", value[:k])
    )
    return (
        f"is not in Unicode's composed form (NFC) at character {position} "
        f"(U+{ord(value[position - 1]):04X}): an id that looks the same written composed would "
        f"be another record; write it as {unicodedata.normalize('NFC', value)!r}"
    )


def check_new_id(value: str) -> None:
    """Refuse the id of a record about to be created that `new_id_fault` finds unfit."""
    fault = new_id_fault(value)
    if fault is not None:
        raise InvalidValue("id", fault)


def check_lengths(entity: object, ids: tuple[str, ...] = (), texts: tuple[str, ...] = ()) -> None:
    """Refuse ids and short texts of `entity` longer than the registry stores, or holding a
    control character, a lone surrogate or a bidi control (`text_fault`), or for ids any
    invisible format character (`id_fault`)."""
    for names, limit, fault_of in (
        (ids, MAX_ID_LENGTH, id_fault),
        (texts, MAX_TEXT_LENGTH, text_fault),
    ):
        for name in names:
            value = getattr(entity, name)
            if value is None:
                continue
            if len(value) > limit:
                raise InvalidValue(
                    name, f"is {len(value):,} characters long; at most {limit} are allowed"
                )
            fault = fault_of(value)
            if fault is not None:
                raise InvalidValue(name, fault)

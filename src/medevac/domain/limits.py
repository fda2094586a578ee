"""Upper limits on the registry's values: counts, days, tariffs and the lengths of texts.

The counts and days are the allocation problem format's, so that `medevac plan build` always
writes a problem its loader takes (a stay of 200,000 days, accepted by the registry, had made
every build fail until the record was found); the tariffs and lengths are those the columns
hold, so that both backends behave alike (SQLite stored a stay of 30,000,000,000 days and
texts of any length that PostgreSQL refused, naming neither field nor record).
"""

from __future__ import annotations

import unicodedata

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


def check_at_most(field: str, value: int | None, limit: int, what: str) -> None:
    """Refuse a value above its limit (None, a value not recorded, passes)."""
    if value is not None and value > limit:
        raise InvalidValue(field, f"{value:,} {what} is more than the {limit:,} allowed")


def text_fault(value: str) -> str | None:
    """What makes ``value`` unfit for an id or a short text, or None: a control character (a
    NUL, which PostgreSQL refuses in text; an ESC, whose sequence would reach the terminal of
    whoever lists the record; a line break, which splits a line of output or a CSV row) or a
    lone surrogate (from a JSON escape such as `"\\ud800"`: no file or terminal takes it)."""
    if value.isprintable():  # nearly every text: one pass in C
        return None
    for position, char in enumerate(value, start=1):
        category = unicodedata.category(char)
        if category == "Cc":
            return f"holds a control character (U+{ord(char):04X}, character {position})"
        if category == "Cs":
            return "is not valid Unicode text (a lone surrogate)"
    return None  # not printable only for spaces other than " " or format characters


def check_lengths(entity: object, ids: tuple[str, ...] = (), texts: tuple[str, ...] = ()) -> None:
    """Refuse ids and short texts of `entity` longer than the registry stores, or holding a
    control character or a lone surrogate (`text_fault`)."""
    for names, limit in ((ids, MAX_ID_LENGTH), (texts, MAX_TEXT_LENGTH)):
        for name in names:
            value = getattr(entity, name)
            if value is None:
                continue
            if len(value) > limit:
                raise InvalidValue(
                    name, f"is {len(value):,} characters long; at most {limit} are allowed"
                )
            fault = text_fault(value)
            if fault is not None:
                raise InvalidValue(name, fault)

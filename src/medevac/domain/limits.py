"""Upper limits on the registry's values: counts, days, tariffs and the lengths of texts.

The counts and days are the allocation problem format's, so that `medevac plan build` always
writes a problem its loader takes (a stay of 200,000 days, accepted by the registry, had made
every build fail until the record was found); the tariffs and lengths are those the columns
hold, so that both backends behave alike (SQLite stored a stay of 30,000,000,000 days and
texts of any length that PostgreSQL refused, naming neither field nor record).
"""

from __future__ import annotations

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


def check_lengths(entity: object, ids: tuple[str, ...] = (), texts: tuple[str, ...] = ()) -> None:
    """Refuse ids and short texts of `entity` longer than the registry stores."""
    for names, limit in ((ids, MAX_ID_LENGTH), (texts, MAX_TEXT_LENGTH)):
        for name in names:
            value = getattr(entity, name)
            if value is not None and len(value) > limit:
                raise InvalidValue(
                    name, f"is {len(value):,} characters long; at most {limit} are allowed"
                )

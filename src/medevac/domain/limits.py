"""Upper limits on the registry's counts and days, shared with the allocation problem format.

Far above any real operation, and within a 32-bit integer column on every backend: without
them SQLite stored a stay of 30,000,000,000 days that PostgreSQL refused ("integer out of
range"), and `medevac plan build` turned a stay of 200,000 days the registry had accepted into a
problem its own loader refused, so that nobody could be planned until it was found.
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


def check_at_most(field: str, value: int | None, limit: int, what: str) -> None:
    """Refuse a value above its limit (None, a value not recorded, passes)."""
    if value is not None and value > limit:
        raise InvalidValue(field, f"{value:,} {what} is more than the {limit:,} allowed")


#: characters of an id (of any record), and of a name, place, actor or other short text
MAX_ID_LENGTH = 100
MAX_TEXT_LENGTH = 200


def check_lengths(entity: object, ids: tuple[str, ...] = (), texts: tuple[str, ...] = ()) -> None:
    """Refuse ids and short texts longer than the registry stores: PostgreSQL refused them
    ("value too long for type character varying(200)", naming neither the field nor the record)
    while SQLite kept them whole."""
    for names, limit in ((ids, MAX_ID_LENGTH), (texts, MAX_TEXT_LENGTH)):
        for name in names:
            value = getattr(entity, name)
            if value is not None and len(value) > limit:
                raise InvalidValue(
                    name, f"is {len(value):,} characters long; at most {limit} are allowed"
                )

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


def check_at_most(field: str, value: int | None, limit: int, what: str) -> None:
    """Refuse a value above its limit (None, a value not recorded, passes)."""
    if value is not None and value > limit:
        raise InvalidValue(field, f"{value:,} {what} is more than the {limit:,} allowed")

"""No stored count or stay above the registry's limits (no schema change).

Since this revision the registry refuses a stay above 100,000 days and a count (beds,
admissions a day, companions, quotas, places) above 1,000,000, the limits of the allocation
problem format (`medevac.domain.limits`). Records stored before may hold more; they could no
longer be read, so the upgrade stops and names them instead.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from medevac.store.database import MigrationRefused

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the limits as of this revision (fixed here: a later change of the code's limits needs a
# revision of its own)
DAYS, COUNT = 100_000, 1_000_000
# table, what names a row, column, limit
CHECKED = (
    ("patients", "id", "expected_length_of_stay_days", DAYS),
    ("patients", "id", "companions", COUNT),
    ("facilities", "id", "total_beds", COUNT),
    ("facilities", "id", "daily_admission_limit", COUNT),
    ("facilities", "id", "daily_outpatient_throughput", COUNT),
    ("capacity_reports", "facility_id || '/' || specialty", "available", COUNT),
    ("capacity_reports", "facility_id || '/' || specialty", "baseline", COUNT),
    ("capacity_reports", "facility_id || '/' || specialty", "plus_24h", COUNT),
    ("capacity_reports", "facility_id || '/' || specialty", "plus_72h", COUNT),
    ("agreements", "id", "quota", COUNT),
    ("request_places", "request_id || '/' || specialty", "requested", COUNT),
    ("request_places", "request_id || '/' || specialty", "accepted", COUNT),
)
SHOWN = 20


def upgrade() -> None:
    found: list[str] = []
    connection = op.get_bind()
    for table, name, column, limit in CHECKED:
        rows = connection.execute(
            sa.text(
                f"SELECT {name}, {column} FROM {table} WHERE {column} > :limit ORDER BY {name}"
            ),
            {"limit": limit},
        )
        found += [f"{table} {key}: {column} {value:,}" for key, value in rows]
    if found:
        listed = "; ".join(found[:SHOWN]) + (
            f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
        )
        raise MigrationRefused(
            f"{len(found)} stored value(s) above the registry's limits of {DAYS:,} days of stay "
            f"and {COUNT:,} for a count: {listed}. Correct them (a stay or count of that size "
            "is a typing error), then upgrade."
        )


def downgrade() -> None:
    pass  # nothing was changed

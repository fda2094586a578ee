"""No stored count, stay or text beyond the registry's limits (no schema change).

Since this revision the registry refuses a stay above 100,000 days and a count (beds,
admissions a day, companions, quotas, places) above 1,000,000, the limits of the allocation
problem format, a tariff above 1,000,000,000 a bed-day, and ids longer than 100 characters or
names, places and actors longer than 200, the lengths of their columns
(`medevac.domain.limits`). Records stored before may break them (texts only on SQLite, which
does not enforce a column's length); they could no longer be read, so the upgrade stops and
names them instead.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from medevac.store.database import MigrationRefused

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the limits as of this revision (fixed here: a later change of the code's limits needs a
# revision of its own)
DAYS, COUNT, TARIFF = 100_000, 1_000_000, 1_000_000_000
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
    ("facilities", "id", "tariff_per_bed_day", TARIFF),
    ("agreements", "id", "tariff_per_bed_day", TARIFF),
    ("request_places", "request_id || '/' || specialty", "requested", COUNT),
    ("request_places", "request_id || '/' || specialty", "accepted", COUNT),
)
# table, what names a row, column, longest text
LENGTHS = (
    ("organisations", "id", "id", 100),
    ("organisations", "id", "name", 200),
    ("facilities", "id", "id", 100),
    ("facilities", "id", "name", 200),
    ("facilities", "id", "city", 200),
    ("patients", "id", "id", 100),
    ("patients", "id", "name", 200),
    ("patients", "id", "affiliation", 200),
    ("patient_status_changes", "patient_id", "actor", 200),
    ("screening_missions", "id", "id", 100),
    ("screening_missions", "id", "place", 200),
    ("screening_candidates", "mission_id || '/' || patient_id", "clinician", 200),
    ("agreements", "id", "id", 100),
    ("treatment_requests", "id", "id", 100),
    ("approved_plans", "id", "id", 100),
    ("approved_plans", "id", "approved_by", 200),
    ("approved_plans", "id", "solver", 200),
    ("audit_log", "entity_type || ' ' || entity_id", "actor", 200),
)
SHOWN = 20


def upgrade() -> None:
    found: list[str] = []
    connection = op.get_bind()
    for table, name, column, limit in CHECKED:
        found += [
            f"{table} {key}: {column} {value:,}"
            for key, value in _beyond(connection, table, name, column, limit)
        ]
    for table, name, column, longest in LENGTHS:
        found += [
            f"{table} {key[:40]}: {column} of {value:,} characters"
            for key, value in _beyond(connection, table, name, f"length({column})", longest)
        ]
    if found:
        listed = "; ".join(found[:SHOWN]) + (
            f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
        )
        raise MigrationRefused(
            f"{len(found)} stored value(s) beyond the registry's limits ({DAYS:,} days of "
            f"stay, {COUNT:,} for a count, {TARIFF:,} for a tariff, 100 characters for an id, "
            f"200 for a name, place or actor): {listed}. Correct them (a stay or count of that "
            "size is a typing error), then upgrade."
        )


def _beyond(
    connection: sa.Connection, table: str, name: str, value: str, limit: int
) -> list[tuple[str, Any]]:
    """(what names the row, its value: a number, a tariff's Decimal or a length) of the rows of
    ``table`` whose ``value`` (an SQL expression) is above ``limit``."""
    rows = connection.execute(
        sa.text(f"SELECT {name}, {value} FROM {table} WHERE {value} > :limit ORDER BY {name}"),
        {"limit": limit},
    )
    return [(key, amount) for key, amount in rows]


def downgrade() -> None:
    pass  # nothing was changed

"""At most one live approved plan (a partial unique index on the status).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from medevac.store.database import MigrationRefused

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("status = 'live'")


def upgrade() -> None:
    live = [
        row[0]
        for row in op.get_bind().execute(
            sa.text("SELECT id FROM approved_plans WHERE status = 'live' ORDER BY approved_at")
        )
    ]
    if len(live) > 1:
        raise MigrationRefused(
            f"approved_plans holds {len(live)} live plans ({', '.join(live)}): two approvals "
            "ran at the same time. Mark all but the one to keep as superseded, then upgrade."
        )
    op.create_index(
        "uq_approved_plans_one_live",
        "approved_plans",
        ["status"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )


def downgrade() -> None:
    op.drop_index("uq_approved_plans_one_live", table_name="approved_plans")

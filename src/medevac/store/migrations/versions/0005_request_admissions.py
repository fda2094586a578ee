"""Where and when a request's accepted patient is to be admitted, and when each answer was given.

`request_patients.facility_id` was in the schema from the start but nothing set it; since this
revision an answer that accepts a patient may name the facility and the day of admission
(`admission_date`), and every answer records when it was given (`decided_at`), so that
`medevac plan build` can hold the beds of patients accepted through requests. Answers given
before this revision have neither and hold no beds, as before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("request_patients", sa.Column("admission_date", sa.Date(), nullable=True))
    op.add_column(
        "request_patients", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("request_patients") as batch:
        batch.drop_column("decided_at")
        batch.drop_column("admission_date")

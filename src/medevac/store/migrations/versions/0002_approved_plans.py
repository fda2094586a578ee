"""Approved regulating plans and their planned admissions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=100)
CODE = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "approved_plans",
        sa.Column("id", ID, nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("objective", sa.Float(), nullable=False),
        sa.Column("solver", sa.String(length=200), nullable=False),
        sa.Column("solver_status", CODE, nullable=False),
        sa.Column("status", CODE, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approved_plans"),
    )
    op.create_index("ix_approved_plans_status", "approved_plans", ["status"])
    op.create_table(
        "planned_admissions",
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("facility_id", ID, nullable=False),
        sa.Column("admission_date", sa.Date(), nullable=False),
        sa.Column("withdrawn_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["approved_plans.id"],
            name="fk_planned_admissions_plan_id_approved_plans",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name="fk_planned_admissions_patient_id_patients"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name="fk_planned_admissions_facility_id_facilities"
        ),
        sa.PrimaryKeyConstraint("plan_id", "patient_id", name="pk_planned_admissions"),
    )
    op.create_index("ix_planned_admissions_patient_id", "planned_admissions", ["patient_id"])


def downgrade() -> None:
    op.drop_table("planned_admissions")
    op.drop_table("approved_plans")

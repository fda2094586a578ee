"""Initial schema: organisations, facilities, capacity, patients, requests, screening, agreements, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written out in full so that the schema of this revision never changes with the code.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=100)
CODE = sa.String(length=64)
NAME = sa.String(length=200)
MONEY = sa.Numeric(precision=14, scale=4)
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("kind", CODE, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
    )

    op.create_table(
        "facilities",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("kind", CODE, nullable=False),
        sa.Column("operator_id", ID, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("total_beds", sa.Integer(), nullable=True),
        sa.Column("daily_admission_limit", sa.Integer(), nullable=True),
        sa.Column("daily_outpatient_throughput", sa.Integer(), nullable=True),
        sa.Column("free_of_charge", sa.Boolean(), nullable=False),
        sa.Column("tariff_per_bed_day", MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("city", NAME, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["organisations.id"], name="fk_facilities_operator_id_organisations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_facilities"),
    )
    op.create_index("ix_facilities_operator_id", "facilities", ["operator_id"])
    op.create_index("ix_facilities_kind", "facilities", ["kind"])

    op.create_table(
        "capacity_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("facility_id", ID, nullable=False),
        sa.Column("specialty", CODE, nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=False),
        sa.Column("plus_24h", sa.Integer(), nullable=False),
        sa.Column("plus_72h", sa.Integer(), nullable=False),
        sa.Column("reported_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name="fk_capacity_reports_facility_id_facilities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_capacity_reports"),
        sa.UniqueConstraint(
            "facility_id",
            "specialty",
            "reported_at",
            name="uq_capacity_reports_facility_id_specialty_reported_at",
        ),
    )

    op.create_table(
        "patients",
        sa.Column("id", ID, nullable=False),
        sa.Column("organisation_id", ID, nullable=False),
        sa.Column("precedence", CODE, nullable=False),
        sa.Column("mobility", CODE, nullable=False),
        sa.Column("triage", CODE, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", CODE, nullable=False),
        sa.Column("nationality", sa.String(length=2), nullable=True),
        sa.Column("service_status", CODE, nullable=False),
        sa.Column("affiliation", NAME, nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("special_needs", sa.JSON(), nullable=False),
        sa.Column("companions", sa.Integer(), nullable=False),
        sa.Column("fit_to_transport", sa.Boolean(), nullable=False),
        sa.Column("expected_length_of_stay_days", sa.Integer(), nullable=True),
        sa.Column("location_id", ID, nullable=True),
        sa.Column("status", CODE, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_patients_organisation_id_organisations",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["facilities.id"], name="fk_patients_location_id_facilities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_patients"),
    )
    op.create_index("ix_patients_status", "patients", ["status"])
    op.create_index("ix_patients_organisation_id", "patients", ["organisation_id"])
    op.create_index("ix_patients_location_id", "patients", ["location_id"])
    op.create_index("ix_patients_precedence", "patients", ["precedence"])

    op.create_table(
        "patient_specialties",
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("rank", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("specialty", CODE, nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "rank", name="pk_patient_specialties"),
    )
    op.create_index(
        "ix_patient_specialties_specialty_patient_id",
        "patient_specialties",
        ["specialty", "patient_id"],
    )

    op.create_table(
        "patient_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_status", CODE, nullable=True),
        sa.Column("to_status", CODE, nullable=False),
        sa.Column("actor", NAME, nullable=False),
        sa.Column("role", CODE, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_patient_status_changes"),
        sa.UniqueConstraint("patient_id", "seq", name="uq_patient_status_changes_patient_id_seq"),
    )

    op.create_table(
        "treatment_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("from_organisation_id", ID, nullable=False),
        sa.Column("to_organisation_id", ID, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("status", CODE, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("closed_reason", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_organisation_id"],
            ["organisations.id"],
            name="fk_treatment_requests_from_organisation_id_organisations",
        ),
        sa.ForeignKeyConstraint(
            ["to_organisation_id"],
            ["organisations.id"],
            name="fk_treatment_requests_to_organisation_id_organisations",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_treatment_requests"),
    )
    op.create_index(
        "ix_treatment_requests_from_organisation_id", "treatment_requests", ["from_organisation_id"]
    )
    op.create_index(
        "ix_treatment_requests_to_organisation_id", "treatment_requests", ["to_organisation_id"]
    )
    op.create_index("ix_treatment_requests_status", "treatment_requests", ["status"])

    op.create_table(
        "request_patients",
        sa.Column("request_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("decision", CODE, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("facility_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["treatment_requests.id"],
            name="fk_request_patients_request_id_treatment_requests",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name="fk_request_patients_patient_id_patients"
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name="fk_request_patients_facility_id_facilities"
        ),
        sa.PrimaryKeyConstraint("request_id", "patient_id", name="pk_request_patients"),
    )
    op.create_index("ix_request_patients_patient_id", "request_patients", ["patient_id"])

    op.create_table(
        "request_places",
        sa.Column("request_id", ID, nullable=False),
        sa.Column("specialty", CODE, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["treatment_requests.id"],
            name="fk_request_places_request_id_treatment_requests",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "specialty", name="pk_request_places"),
    )

    op.create_table(
        "screening_missions",
        sa.Column("id", ID, nullable=False),
        sa.Column("team_organisation_id", ID, nullable=False),
        sa.Column("place", NAME, nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("team_members", sa.JSON(), nullable=False),
        sa.Column("facility_id", ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_organisation_id"],
            ["organisations.id"],
            name="fk_screening_missions_team_organisation_id_organisations",
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"], ["facilities.id"], name="fk_screening_missions_facility_id_facilities"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_screening_missions"),
    )

    op.create_table(
        "screening_candidates",
        sa.Column("mission_id", ID, nullable=False),
        sa.Column("patient_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("outcome", CODE, nullable=True),
        sa.Column("clinician", NAME, nullable=True),
        sa.Column("criteria_notes", sa.Text(), nullable=True),
        sa.Column("decided_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["screening_missions.id"],
            name="fk_screening_candidates_mission_id_screening_missions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name="fk_screening_candidates_patient_id_patients"
        ),
        sa.PrimaryKeyConstraint("mission_id", "patient_id", name="pk_screening_candidates"),
    )
    op.create_index("ix_screening_candidates_patient_id", "screening_candidates", ["patient_id"])

    op.create_table(
        "agreements",
        sa.Column("id", ID, nullable=False),
        sa.Column("sending_organisation_id", ID, nullable=False),
        sa.Column("receiving_organisation_id", ID, nullable=False),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=True),
        sa.Column("free_of_charge", sa.Boolean(), nullable=False),
        sa.Column("tariff_per_bed_day", MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sending_organisation_id"],
            ["organisations.id"],
            name="fk_agreements_sending_organisation_id_organisations",
        ),
        sa.ForeignKeyConstraint(
            ["receiving_organisation_id"],
            ["organisations.id"],
            name="fk_agreements_receiving_organisation_id_organisations",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_agreements"),
    )
    op.create_index(
        "ix_agreements_sending_organisation_id", "agreements", ["sending_organisation_id"]
    )
    op.create_index(
        "ix_agreements_receiving_organisation_id", "agreements", ["receiving_organisation_id"]
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor", NAME, nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("entity_type", CODE, nullable=False),
        sa.Column("entity_id", ID, nullable=False),
        sa.Column("action", CODE, nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_entity_type_entity_id", "audit_log", ["entity_type", "entity_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes and constraints.
    for table in (
        "audit_log",
        "agreements",
        "screening_candidates",
        "screening_missions",
        "request_places",
        "request_patients",
        "treatment_requests",
        "patient_status_changes",
        "patient_specialties",
        "patients",
        "capacity_reports",
        "facilities",
        "organisations",
    ):
        op.drop_table(table)

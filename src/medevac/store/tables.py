"""The database schema as SQLAlchemy Core tables on one MetaData.

Conventions:
- Entity ids are the domain's stable external ids (strings); child rows hang off them.
- Every aggregate table has a `version` column used for optimistic concurrency.
- Times are `UtcDateTime`: stored in UTC, always read back timezone-aware (also on SQLite).
- Small sets that are only read with their owner (facility specialties, special needs,
  conditions) are JSON lists; patient specialties also live in `patient_specialties` so that
  `patients list --specialty` can match any required specialty through an index.
- Controlled vocabularies are stored as their StrEnum codes in plain strings, so adding a code
  to the domain needs no migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: Length of id columns (external ids of organisations, facilities, patients, ...).
ID_LENGTH = 100
#: Length of columns holding a vocabulary code.
CODE_LENGTH = 64


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    SQLite has no time zones: values are written as naive UTC text (which also sorts
    chronologically) and given back with tzinfo=UTC, so domain objects compare equal after a
    round trip on every backend. Naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"datetime {value.isoformat()} has no time zone; "
                "give an aware datetime such as 2026-11-20T08:00+00:00"
            )
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def compare_against_backend(self, dialect: Dialect, conn_type: Any) -> bool | None:
        """Let schema comparison see the underlying DateTime(timezone=True)."""
        return None


def _id(name: str, *args: Any, **kwargs: Any) -> Column[str]:
    return Column(name, String(ID_LENGTH), *args, **kwargs)


def _code(name: str, *, nullable: bool = False) -> Column[str]:
    return Column(name, String(CODE_LENGTH), nullable=nullable)


def _version() -> Column[int]:
    return Column("version", Integer, nullable=False)


def _money(name: str) -> Column[Any]:
    return Column(name, Numeric(14, 4), nullable=True)


organisations = Table(
    "organisations",
    metadata,
    _id("id", primary_key=True),
    Column("name", String(200), nullable=False),
    _code("kind"),
    Column("country", String(2), nullable=False),
    Column("contact", Text, nullable=False),
    _version(),
)

facilities = Table(
    "facilities",
    metadata,
    _id("id", primary_key=True),
    Column("name", String(200), nullable=False),
    _code("kind"),
    _id("operator_id", ForeignKey("organisations.id"), nullable=False),
    Column("country", String(2), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("specialties", JSON, nullable=False),
    Column("capabilities", JSON, nullable=False),
    Column("total_beds", Integer, nullable=True),
    Column("daily_admission_limit", Integer, nullable=True),
    Column("daily_outpatient_throughput", Integer, nullable=True),
    Column("free_of_charge", Boolean, nullable=False),
    _money("tariff_per_bed_day"),
    Column("currency", String(3), nullable=True),
    Column("city", String(200), nullable=False),
    _version(),
    Index(None, "operator_id"),
    Index(None, "kind"),
)

capacity_reports = Table(
    "capacity_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _id("facility_id", ForeignKey("facilities.id"), nullable=False),
    _code("specialty"),
    Column("available", Integer, nullable=False),
    Column("baseline", Integer, nullable=False),
    Column("plus_24h", Integer, nullable=False),
    Column("plus_72h", Integer, nullable=False),
    Column("reported_at", UtcDateTime, nullable=False),
    # One report per facility, specialty and moment; also serves "latest per facility and
    # specialty" (max(reported_at) grouped by the two leading columns) and `exists`.
    UniqueConstraint("facility_id", "specialty", "reported_at"),
)

patients = Table(
    "patients",
    metadata,
    _id("id", primary_key=True),
    _id("organisation_id", ForeignKey("organisations.id"), nullable=False),
    _code("precedence"),
    _code("mobility"),
    _code("triage"),
    # Identity (all optional details of domain.patients.Identity).
    Column("name", String(200), nullable=False),
    Column("birth_date", Date, nullable=True),
    _code("sex"),
    Column("nationality", String(2), nullable=True),
    _code("service_status"),
    Column("affiliation", String(200), nullable=False),
    # Clinical picture.
    Column("conditions", JSON, nullable=False),
    Column("special_needs", JSON, nullable=False),
    Column("companions", Integer, nullable=False),
    Column("fit_to_transport", Boolean, nullable=False),
    Column("expected_length_of_stay_days", Integer, nullable=True),
    # The facility where the patient is now (hospital, staging hub, field hospital).
    _id("location_id", ForeignKey("facilities.id"), nullable=True),
    _code("status"),
    _version(),
    Index(None, "status"),
    Index(None, "organisation_id"),
    Index(None, "location_id"),
    Index(None, "precedence"),
)

# The two child tables of patients carry no foreign key to `patients`: their rows are written
# only by the patient repository together with their patient, and on PostgreSQL the per-row
# foreign-key checks of 300,000 child rows were about a third of a 100,000-patient import.
patient_specialties = Table(
    "patient_specialties",
    metadata,
    _id("patient_id", primary_key=True),
    Column("rank", Integer, primary_key=True, autoincrement=False),
    _code("specialty"),
    Index(None, "specialty", "patient_id"),
)

patient_status_changes = Table(
    "patient_status_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _id("patient_id", nullable=False),
    # Position of the change in the patient's history, from 0.
    Column("seq", Integer, nullable=False),
    _code("from_status", nullable=True),
    _code("to_status"),
    Column("actor", String(200), nullable=False),
    _code("role"),
    Column("at", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    UniqueConstraint("patient_id", "seq"),
)

treatment_requests = Table(
    "treatment_requests",
    metadata,
    _id("id", primary_key=True),
    _id("from_organisation_id", ForeignKey("organisations.id"), nullable=False),
    _id("to_organisation_id", ForeignKey("organisations.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    _code("status"),
    Column("note", Text, nullable=False),
    Column("closed_reason", Text, nullable=False),
    _version(),
    Index(None, "from_organisation_id"),
    Index(None, "to_organisation_id"),
    Index(None, "status"),
)

request_patients = Table(
    "request_patients",
    metadata,
    _id("request_id", ForeignKey("treatment_requests.id", ondelete="CASCADE"), primary_key=True),
    _id("patient_id", ForeignKey("patients.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    _code("decision"),
    Column("reason", Text, nullable=False),
    # where and when an accepted patient is to be admitted, if the answer said so
    _id("facility_id", ForeignKey("facilities.id"), nullable=True),
    Column("admission_date", Date, nullable=True),
    # when the answer was recorded (NULL while pending, and for answers before revision 0005
    # that left no audit record: revision 0006 took the others' times from the audit trail)
    Column("decided_at", UtcDateTime, nullable=True),
    # when the facility was last named, by the answer or by a later `name_admission` (NULL
    # while none is named; revision 0007 took the times of lines named before it)
    Column("named_at", UtcDateTime, nullable=True),
    Index(None, "patient_id"),
)

request_places = Table(
    "request_places",
    metadata,
    _id("request_id", ForeignKey("treatment_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("specialty", String(CODE_LENGTH), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("requested", Integer, nullable=False),
    Column("accepted", Integer, nullable=True),
    Column("reason", Text, nullable=False),
)

screening_missions = Table(
    "screening_missions",
    metadata,
    _id("id", primary_key=True),
    _id("team_organisation_id", ForeignKey("organisations.id"), nullable=False),
    Column("place", String(200), nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("team_members", JSON, nullable=False),
    _id("facility_id", ForeignKey("facilities.id"), nullable=True),
    _version(),
)

screening_candidates = Table(
    "screening_candidates",
    metadata,
    _id("mission_id", ForeignKey("screening_missions.id", ondelete="CASCADE"), primary_key=True),
    _id("patient_id", ForeignKey("patients.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    # The decision; all NULL while the candidate is not examined yet.
    _code("outcome", nullable=True),
    Column("clinician", String(200), nullable=True),
    Column("criteria_notes", Text, nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    Index(None, "patient_id"),
)

agreements = Table(
    "agreements",
    metadata,
    _id("id", primary_key=True),
    _id("sending_organisation_id", ForeignKey("organisations.id"), nullable=False),
    _id("receiving_organisation_id", ForeignKey("organisations.id"), nullable=False),
    Column("specialties", JSON, nullable=False),
    Column("quota", Integer, nullable=True),
    Column("free_of_charge", Boolean, nullable=False),
    _money("tariff_per_bed_day"),
    Column("currency", String(3), nullable=True),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    _version(),
    Index(None, "sending_organisation_id"),
    Index(None, "receiving_organisation_id"),
)

ONE_LIVE_PLAN = "uq_approved_plans_one_live"
approved_plans = Table(
    "approved_plans",
    metadata,
    _id("id", primary_key=True),
    Column("approved_at", UtcDateTime, nullable=False),
    Column("approved_by", String(200), nullable=False),
    Column("built_at", UtcDateTime, nullable=False),
    Column("objective", Float, nullable=False),
    Column("solver", String(200), nullable=False),
    _code("solver_status"),
    _code("status"),
    _version(),
    Index(None, "status"),
    # at most one live plan: two approvals that each read "no live plan" cannot both commit
    Index(
        ONE_LIVE_PLAN,
        "status",
        unique=True,
        sqlite_where=text("status = 'live'"),
        postgresql_where=text("status = 'live'"),
    ),
)

planned_admissions = Table(
    "planned_admissions",
    metadata,
    _id("plan_id", ForeignKey("approved_plans.id", ondelete="CASCADE"), primary_key=True),
    _id("patient_id", ForeignKey("patients.id"), primary_key=True),
    Column("position", Integer, nullable=False),
    _id("facility_id", ForeignKey("facilities.id"), nullable=False),
    Column("admission_date", Date, nullable=False),
    Column("withdrawn_reason", Text, nullable=False),
    Index(None, "patient_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor", String(200), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("entity_type", String(CODE_LENGTH), nullable=False),
    _id("entity_id", nullable=False),
    Column("action", String(CODE_LENGTH), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("reason", Text, nullable=False),
    Index(None, "entity_type", "entity_id"),
    Index(None, "at"),
)

#: Every table, parents before children (the order to create, the reverse to drop or wipe).
ALL_TABLES: tuple[Table, ...] = tuple(metadata.sorted_tables)

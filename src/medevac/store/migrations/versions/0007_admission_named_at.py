"""When the facility of a request's accepted patient was last named (`request_patients.named_at`).

`medevac plan build` holds the bed of a patient a request's answer sends to a named facility
where that facility's latest report was made before the patient was accepted. A patient
accepted with no facility named, and named later (`requests admit`, audited as
"name_admission") at a facility that had reported in between, held no bed: the report was
taken as counting a patient it could not know of, and a re-plan gave the bed away. Since this
revision each line records when its facility was last named, by the answer or by a later
`name_admission` that names another facility, and a report made before then holds the bed.

Lines that name a facility get the time of the answer (`decided_at`), or that of the latest
"name_admission" record of their request that brought them to the facility they name now
(its `before` and `after` images of the request show the line's facility change), if later.
Lines that name no facility keep no time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

request_patients = sa.table(
    "request_patients",
    sa.column("request_id", sa.String),
    sa.column("patient_id", sa.String),
    sa.column("facility_id", sa.String),
    sa.column("decided_at", sa.DateTime(timezone=True)),
    sa.column("named_at", sa.DateTime(timezone=True)),
)
audit_log = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("entity_type", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("action", sa.String),
    sa.column("before", sa.Text),
    sa.column("after", sa.Text),
)


def _facilities(image: Any) -> dict[str, Any]:
    """patient -> facility named in an audit record's image of a request (empty if
    unreadable)."""
    image = json.loads(image) if isinstance(image, str) else image
    if not isinstance(image, dict) or not isinstance(image.get("patients"), list):
        return {}
    return {
        str(line["patient_id"]): line.get("facility_id")
        for line in image["patients"]
        if isinstance(line, dict) and "patient_id" in line
    }


def _utc(moment: datetime) -> datetime:
    """A stored time in UTC, aware (SQLite gives back the naive UTC text medevac writes)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def upgrade() -> None:
    op.add_column(
        "request_patients", sa.Column("named_at", sa.DateTime(timezone=True), nullable=True)
    )
    connection = op.get_bind()
    connection.execute(
        sa.update(request_patients)
        .where(request_patients.c.facility_id.is_not(None))
        .values(named_at=request_patients.c.decided_at)
    )
    named = connection.execute(
        sa.select(
            request_patients.c.request_id,
            request_patients.c.patient_id,
            request_patients.c.facility_id,
            request_patients.c.decided_at,
        ).where(request_patients.c.facility_id.is_not(None))
    ).all()
    lines = {(r, p): (facility, decided) for r, p, facility, decided in named}
    records = connection.execute(
        sa.select(audit_log.c.at, audit_log.c.entity_id, audit_log.c.before, audit_log.c.after)
        .where(audit_log.c.entity_type == "treatment_request")
        .where(audit_log.c.action == "name_admission")
        .order_by(audit_log.c.at, audit_log.c.id)
    ).all()
    found: dict[tuple[str, str], Any] = {}
    for at, request_id, before, after in records:
        was, now = _facilities(before), _facilities(after)
        for patient_id, facility_id in now.items():
            line = lines.get((request_id, patient_id))
            if line is None or facility_id != line[0] or was.get(patient_id) == facility_id:
                continue
            found[(request_id, patient_id)] = at  # later records overwrite earlier ones
    for (request_id, patient_id), at in sorted(found.items()):
        decided = lines[(request_id, patient_id)][1]
        if decided is not None and _utc(at) <= _utc(decided):
            continue
        connection.execute(
            sa.update(request_patients)
            .where(request_patients.c.request_id == request_id)
            .where(request_patients.c.patient_id == patient_id)
            .values(named_at=at)
        )


def downgrade() -> None:
    with op.batch_alter_table("request_patients") as batch:
        batch.drop_column("named_at")

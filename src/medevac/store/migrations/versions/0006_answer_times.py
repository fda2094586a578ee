"""When answers recorded before revision 0005 were given, from the audit trail (no schema change).

Revision 0005 began recording when each answer on a treatment request was given
(`request_patients.decided_at`); answers recorded before it had no time, so they could not be
told from later acceptances: they held no bed and no admission could be named on them later.
Every answer has always left an audit record of the request ("respond:..."), with the request
as it became. This revision gives each accepted or declined patient without a time the time of
the first such record in which the patient has that decision. Answers with no such record (an
audit trail cut short) keep no time, as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERED = ("accepted", "declined")

request_patients = sa.table(
    "request_patients",
    sa.column("request_id", sa.String),
    sa.column("patient_id", sa.String),
    sa.column("decision", sa.String),
    sa.column("decided_at", sa.DateTime(timezone=True)),
)
audit_log = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("entity_type", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("action", sa.String),
    sa.column("after", sa.Text),
)


def _decisions(after: Any) -> dict[str, str]:
    """patient -> decision in an audit record's image of a request (empty if unreadable)."""
    image = json.loads(after) if isinstance(after, str) else after
    if not isinstance(image, dict) or not isinstance(image.get("patients"), list):
        return {}
    return {
        str(line["patient_id"]): str(line.get("decision", ""))
        for line in image["patients"]
        if isinstance(line, dict) and "patient_id" in line
    }


def upgrade() -> None:
    connection = op.get_bind()
    untimed = connection.execute(
        sa.select(request_patients.c.request_id, request_patients.c.patient_id)
        .where(request_patients.c.decided_at.is_(None))
        .where(request_patients.c.decision.in_(ANSWERED))
    ).all()
    wanted: dict[str, set[str]] = {}
    for request_id, patient_id in untimed:
        wanted.setdefault(request_id, set()).add(patient_id)
    for request_id, patients in sorted(wanted.items()):
        records = connection.execute(
            sa.select(audit_log.c.at, audit_log.c.after)
            .where(audit_log.c.entity_type == "treatment_request")
            .where(audit_log.c.entity_id == request_id)
            .where(audit_log.c.action.like("respond:%"))
            .order_by(audit_log.c.at, audit_log.c.id)
        ).all()
        found: dict[str, Any] = {}
        for at, after in records:
            for patient_id, decision in _decisions(after).items():
                if patient_id in patients and decision in ANSWERED and patient_id not in found:
                    found[patient_id] = at
        for patient_id, at in sorted(found.items()):
            connection.execute(
                sa.update(request_patients)
                .where(request_patients.c.request_id == request_id)
                .where(request_patients.c.patient_id == patient_id)
                .where(request_patients.c.decided_at.is_(None))
                .values(decided_at=at)
            )


def downgrade() -> None:
    """The times taken from the audit trail are kept: they are true, and 0005 reads them."""

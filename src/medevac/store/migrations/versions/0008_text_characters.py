"""No stored id, name or free text with characters the registry now refuses (no schema change).

Since this revision the registry refuses, in ids, any invisible format character (Unicode
category Cf: a zero-width space made "PT-0001\u200b" a second patient that looked like
PT-0001); in ids, names, places and actors, control characters, lone surrogates and the
bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which show a
text in another order than it is stored; and in free texts (reasons, notes) the same but for
line breaks and tabs (`medevac.domain.limits`, `medevac.domain.lifecycle.check_free_text`).
The records are checked when they are read, so one stored before (SQLite stored a NUL that
PostgreSQL refused) could no longer be read; the upgrade stops and names them instead.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from medevac.store.database import MigrationRefused

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the rules as of this revision (fixed here: a later change of the code's rules needs a
# revision of its own)
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ID, TEXT, FREE = "id", "text", "free text"
# table, what names a row, column, rule
CHECKED = (
    ("organisations", "id", "id", ID),
    ("organisations", "id", "name", TEXT),
    ("facilities", "id", "id", ID),
    ("facilities", "id", "operator_id", ID),
    ("facilities", "id", "name", TEXT),
    ("facilities", "id", "city", TEXT),
    ("patients", "id", "id", ID),
    ("patients", "id", "organisation_id", ID),
    ("patients", "id", "location_id", ID),
    ("patients", "id", "name", TEXT),
    ("patients", "id", "affiliation", TEXT),
    ("patient_status_changes", "patient_id", "actor", TEXT),
    ("patient_status_changes", "patient_id", "reason", FREE),
    ("treatment_requests", "id", "id", ID),
    ("treatment_requests", "id", "note", FREE),
    ("treatment_requests", "id", "closed_reason", FREE),
    ("request_patients", "request_id || '/' || patient_id", "reason", FREE),
    ("request_places", "request_id || '/' || specialty", "reason", FREE),
    ("screening_missions", "id", "id", ID),
    ("screening_missions", "id", "place", TEXT),
    ("screening_candidates", "mission_id || '/' || patient_id", "clinician", TEXT),
    ("screening_candidates", "mission_id || '/' || patient_id", "criteria_notes", FREE),
    ("agreements", "id", "id", ID),
    ("approved_plans", "id", "id", ID),
    ("approved_plans", "id", "approved_by", TEXT),
    ("approved_plans", "id", "solver", TEXT),
    ("planned_admissions", "plan_id || '/' || patient_id", "withdrawn_reason", FREE),
    ("audit_log", "entity_type || ' ' || entity_id", "entity_id", ID),
    ("audit_log", "entity_type || ' ' || entity_id", "actor", TEXT),
)
SHOWN = 20


def fault(value: str, rule: str) -> str | None:
    """The first character of ``value`` that ``rule`` refuses, named, or None."""
    if value.isprintable():
        return None
    for position, char in enumerate(value, start=1):
        if rule == FREE and char in "\n\t":
            continue
        category = unicodedata.category(char)
        refused = (
            category in ("Cc", "Cs") or char in BIDI_CONTROLS or (rule == ID and category == "Cf")
        )
        if refused:
            return f"U+{ord(char):04X} at character {position}"
    return None


def upgrade() -> None:
    connection = op.get_bind()
    found: list[str] = []
    for table, name, column, rule in CHECKED:
        rows = connection.execute(
            sa.text(f"SELECT {name}, {column} FROM {table} WHERE {column} IS NOT NULL")
        )
        for key, value in rows:
            said = fault(str(value), rule)
            if said is not None:
                shown = str(key).encode("unicode_escape").decode("ascii")[:60]
                found.append(f"{table} {shown}: {column} holds {said}")
    if found:
        listed = "; ".join(found[:SHOWN]) + (
            f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
        )
        raise MigrationRefused(
            f"{len(found)} stored value(s) hold characters the registry now refuses (invisible "
            "format characters in ids; control characters, lone surrogates and bidirectional "
            f"overrides in any text, line breaks and tabs allowed in free texts): {listed}. "
            "Correct them, then upgrade."
        )


def downgrade() -> None:
    pass  # nothing was changed

"""Writing the audit trail from use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from medevac.domain.audit import AuditRecord, snapshot
from medevac.domain.repositories import UnitOfWork


def utc_now() -> datetime:
    """The time stamp used for audit records and status changes."""
    return datetime.now(UTC)


def audit(
    uow: UnitOfWork,
    *,
    actor: str,
    entity_type: str,
    entity_id: str,
    action: str,
    before: dict[str, Any] | None,
    after: object | None,
    reason: str = "",
    at: datetime | None = None,
) -> None:
    """Append one audit record; `after` is the entity as written (None for a deletion)."""
    uow.audit.add(
        AuditRecord(
            actor=actor,
            at=at or utc_now(),
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            before=before,
            after=snapshot(after) if after is not None else None,
            reason=reason,
        )
    )

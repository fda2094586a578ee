"""Writing the audit trail from use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from medevac.domain.audit import AuditRecord, require_actor, snapshot
from medevac.domain.repositories import UnitOfWork


def utc_now() -> datetime:
    """The time stamp used for audit records and status changes."""
    return datetime.now(UTC)


def audit(
    uow: UnitOfWork,
    entity_type: str,
    after: Any,
    action: str,
    *,
    actor: str,
    before: dict[str, Any] | None = None,
    reason: str = "",
    at: datetime | None = None,
    entity_id: str | None = None,
) -> None:
    """Append one audit record of `after`, the entity as written (its `id` names it).

    `before` is the snapshot taken before the change (None when the entity is new). A blank
    `actor` is refused (InvalidValue): no change is written without the name of who makes it.
    """
    require_actor(actor)
    uow.audit.add(
        AuditRecord(
            actor=actor,
            at=at or utc_now(),
            entity_type=entity_type,
            entity_id=entity_id if entity_id is not None else after.id,
            action=action,
            before=before,
            after=snapshot(after),
            reason=reason,
        )
    )

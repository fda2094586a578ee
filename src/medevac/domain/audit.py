"""Audit records: every write leaves who, when, which entity, what it was and what it became."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One change to one entity."""

    actor: str
    at: datetime
    entity_type: str
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str = ""


def snapshot(entity: object) -> dict[str, Any]:
    """A JSON-ready copy of a domain dataclass, as stored in the audit trail.

    The version counter and the status history are left out: the history is itself a trail.
    """
    if not dataclasses.is_dataclass(entity) or isinstance(entity, type):
        raise TypeError(f"cannot snapshot {type(entity).__name__}")
    return {
        f.name: _plain(getattr(entity, f.name))
        for f in dataclasses.fields(entity)
        if f.name not in ("version", "history")
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value

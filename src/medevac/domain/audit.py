"""Audit records: every write leaves who, when, which entity, what it was and what it became."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from medevac.domain.errors import InvalidValue
from medevac.domain.limits import check_lengths

#: the kinds of entity the audit trail records changes of
ENTITY_TYPES = (
    "organisation",
    "facility",
    "capacity_report",
    "agreement",
    "patient",
    "treatment_request",
    "screening_mission",
    "approved_plan",
)


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

    def __post_init__(self) -> None:
        # a blank actor is refused where records are written (`services.auditing.audit`), not
        # here: records stored before that check are still read
        check_lengths(self, ids=("entity_id",), texts=("actor",))


def require_actor(actor: str) -> None:
    """Refuse a blank actor: no change is written without the name of who makes it."""
    if not actor.strip():
        raise InvalidValue("actor", "every change needs the name of who makes it")


def snapshot(entity: object) -> dict[str, Any]:
    """A JSON-ready copy of a domain dataclass, as stored in the audit trail.

    The version counter and the status history are left out: the history is itself a trail.
    """
    if not dataclasses.is_dataclass(entity) or isinstance(entity, type):
        raise TypeError(f"cannot snapshot {type(entity).__name__}")
    return {
        name: _plain(getattr(entity, name))
        for name in _field_names(type(entity))
        if name not in ("version", "history")
    }


# Values written as they are. Exact types: an enum that is also a str or int is written by value.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, looked up once per class (approving a plan of 100,000
    admissions takes two snapshots of each patient)."""
    return tuple(f.name for f in dataclasses.fields(cls))


def _plain(value: Any) -> Any:
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value

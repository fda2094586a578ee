"""What changed of a registry entity since the version a problem was built on, read back from
its audit trail, and whether any of it can alter the problem `plan build` writes.

`plan approve` refuses a plan when the registry changed since its problem was built. A
facility renamed, a patient's triage category or companions corrected, an agreement's cost
terms amended: none of these is in the problem, and refusing the plan for them only sends the
cell back to build and solve the same problem again. Every change is written to the audit
trail with the entity before and after (`services.auditing.audit`, the imports), one record a
version, so the fields changed since a version are those that differ between the oldest of
the records since then and the entity now.

The fields a problem never reads are listed (`UNPLANNED_FIELDS`), not those it reads: a field
added to an entity later counts as one that alters the problem until it is listed here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from medevac.domain.audit import AuditRecord, snapshot
from medevac.domain.repositories import UnitOfWork
from medevac.domain.vocabulary import FacilityKind
from medevac.services.holds import DEFAULT_LENGTH_OF_STAY_DAYS

# Per kind of entity, the fields of its audit snapshot that no problem reads. A facility's kind
# is read only as to whether it is a field hospital (left out unless asked for; not read at all
# where the build took field hospitals in, or of a facility without capacity reports: the
# caller says so with ``unread``), a patient's required specialties only for the first, the
# primary one, and its expected length of stay with the default for none (`_planned`).
UNPLANNED_FIELDS: dict[str, frozenset[str]] = {
    # beds come from capacity reports, not `total_beds`; costs are not in the problem
    "facility": frozenset(
        {"name", "country", "city", "total_beds", "daily_outpatient_throughput", "cost_policy"}
    ),
    # what the engines need of a patient is `PlanningPatient`; the rest is for transport and
    # for the clinicians
    "patient": frozenset({"triage", "identity", "conditions", "companions", "mobility"}),
    "agreement": frozenset({"cost_policy"}),
}

SHOWN_VALUE = 60  # characters of a value shown in a change ("quota 20 -> 10")


@dataclass(frozen=True, slots=True)
class FieldChanges:
    """The fields of an entity that differ from the version a problem was built on:
    ``planned``, one line each with the value then and now, those that can alter the problem;
    ``unplanned``, by name, those that cannot; ``then``, the entity as it was."""

    planned: list[str]
    unplanned: list[str]
    then: dict[str, Any]  # the entity's audit snapshot at the version the problem was built on


# how long before a build the records of the changes it did not see may be stamped: a change
# is stamped when it is made and may commit after the build read the registry
TRAIL_MARGIN = timedelta(hours=1)


def changed_since(
    uow: UnitOfWork,
    kind: str,
    seen: Mapping[str, tuple[Any, int]],
    built_at: datetime,
    unread: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, FieldChanges | None]:
    """`changed_fields` of each entity of ``seen`` (id -> the entity now and the version a
    problem built at ``built_at`` saw), their trails read together (`AuditLog.trails`, from
    `TRAIL_MARGIN` before the build: a trail cut short there accounts for too few versions,
    and its change is taken as one the problem reads); ``unread``, per entity, fields that
    this problem does not read besides `UNPLANNED_FIELDS`."""
    if not seen or kind not in UNPLANNED_FIELDS:
        return dict.fromkeys(seen)
    trails = uow.audit.trails(kind, list(seen), built_at - TRAIL_MARGIN)
    extra = unread or {}
    return {
        key: changed_fields(
            uow, kind, entity, version, trails.get(key, []), extra.get(key, frozenset())
        )
        for key, (entity, version) in seen.items()
    }


def changed_fields(
    uow: UnitOfWork,
    kind: str,
    entity: Any,
    since: int,
    trail: Sequence[AuditRecord] | None = None,
    unread: frozenset[str] = frozenset(),
) -> FieldChanges | None:
    """What changed of ``entity`` (a facility, patient or agreement, read in ``uow``) since its
    version ``since``, from its audit ``trail`` (newest first; read here when not given),
    the fields of ``unread`` counted with those of `UNPLANNED_FIELDS`;
    None when the trail does not account for every version since: fewer records than
    versions, a record without the entity before it, records that do not follow one another,
    or a newest record that is not the entity as it is now (a change written without its
    record). The caller then takes the change as one that alters the problem."""
    versions = entity.version - since
    if versions <= 0 or kind not in UNPLANNED_FIELDS:
        return None
    if trail is None:
        trail = uow.audit.list(entity_type=kind, entity_id=entity.id, limit=versions)
    records = list(trail[:versions])
    if len(records) < versions or any(r.before is None or r.after is None for r in records):
        return None
    # newest first: each record's before is the next older one's after
    plain = _amounts if kind in AMOUNTS else _as_is
    chain = [plain(records[0].after), *(plain(r.before) for r in records)]
    if plain(snapshot(entity)) != chain[0]:
        return None
    if any(
        plain(older.after) != newer for older, newer in zip(records[1:], chain[1:-1], strict=True)
    ):
        return None
    then, now = chain[-1], chain[0]
    planned: list[str] = []
    unplanned: list[str] = []
    for name in sorted(then.keys() | now.keys()):
        was, is_ = then.get(name), now.get(name)
        if was == is_:
            continue
        if (
            name in UNPLANNED_FIELDS[kind]
            or name in unread
            or _planned(kind, name, was) == _planned(kind, name, is_)
        ):
            unplanned.append(name)
        else:
            planned.append(_change(name, was, is_))
    return FieldChanges(planned, unplanned, then)


def _planned(kind: str, name: str, value: Any) -> Any:
    """What a problem reads of a field's ``value``."""
    if kind == "facility" and name == "kind" and isinstance(value, str):
        try:
            return FacilityKind(value).is_field_hospital
        except ValueError:  # a kind no longer known: taken as it is
            return value
    if kind == "patient" and name == "required_specialties" and isinstance(value, list) and value:
        return value[0]
    if kind == "patient" and name == "expected_length_of_stay_days" and value is None:
        return DEFAULT_LENGTH_OF_STAY_DAYS  # what the problem gives a patient without one
    return value


# Decimal fields of the snapshots, written as `str(Decimal)`: a tariff given as 412.50 reads
# back from the database as 412.5000 (four places kept), the same amount. The kinds that have
# them; the others' snapshots compare as they are (an audit snapshot is plain JSON already:
# lists, strings, numbers; one that is not, a tuple say, only fails to match, and the change
# is then taken as one the problem reads)
DECIMAL_KEYS = frozenset({"tariff_per_bed_day"})
AMOUNTS = frozenset({"facility", "agreement"})


def _as_is(value: Any) -> Any:
    return value


def _amounts(value: Any) -> Any:
    """``value`` with the amounts of `DECIMAL_KEYS` written in one way."""
    if isinstance(value, dict):
        return {
            key: _amount(item) if key in DECIMAL_KEYS else _amounts(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_amounts(item) for item in value]
    return value


def _amount(value: Any) -> Any:
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        return value
    if number is None or not number.is_finite():
        return value
    return str(number.normalize() if number else Decimal(0))


def _change(name: str, was: Any, is_: Any) -> str:
    """One line for a field changed from ``was`` to ``is_``: its value then and now or, for a
    list of other members, those it lost and those it gained (both lists cut to
    `SHOWN_VALUE` had looked the same where the change came after the cut: a specialty
    removed from a facility went unnamed, found by a review)."""
    if isinstance(was, list) and isinstance(is_, list):
        before, after = [_shown(v) for v in was], [_shown(v) for v in is_]
        removed = [v for v in before if v not in after]
        added = [v for v in after if v not in before]
        if removed or added:
            parts = [
                f"without {', '.join(removed)}" if removed else "",
                f"with {', '.join(added)}" if added else "",
            ]
            return f"{name} {_cut(' and '.join(p for p in parts if p))}"
    return f"{name} {_shown(was)} -> {_shown(is_)}"


def _cut(text: str) -> str:
    """``text`` cut to three times `SHOWN_VALUE` characters."""
    return text if len(text) <= 3 * SHOWN_VALUE else text[: 3 * SHOWN_VALUE - 3] + "..."


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 3] + "..."

"""SQLAlchemy Core implementations of the repository protocols in medevac.domain.repositories.

Rows are mapped to and from the domain dataclasses explicitly. Bulk methods use executemany
with plain dict rows and chunked IN-lists, so an import of 100,000 patients is a few hundred
statements, not a few hundred thousand.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import psycopg
from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from medevac.domain.agreements import Agreement
from medevac.domain.audit import AuditRecord
from medevac.domain.errors import ConcurrentModification, DomainError, NotFound
from medevac.domain.facilities import CapacityReport, CostPolicy, Facility
from medevac.domain.geography import Coordinates
from medevac.domain.lifecycle import ActorRole, PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import (
    Condition,
    Identity,
    MoveTimes,
    Patient,
    PlanningPatient,
    StatusChange,
)
from medevac.domain.plans import (
    ApprovedPlan,
    PlannedAdmission,
    PlanStatus,
    PlanWithdrawal,
    withdrawal_reason,
)
from medevac.domain.requests import (
    LIVE_REQUEST_STATUSES,
    Acceptance,
    PatientDecision,
    RequestedPatient,
    RequestedPlaces,
    RequestStatus,
    TreatmentRequest,
)
from medevac.domain.screening import ScreeningDecision, ScreeningMission, ScreeningOutcome
from medevac.domain.vocabulary import (
    BodyRegion,
    Capability,
    FacilityKind,
    InjuryMechanism,
    Mobility,
    OrganisationKind,
    Precedence,
    ServiceStatus,
    Sex,
    SpecialNeed,
    Specialty,
    TriageCategory,
)
from medevac.memory import garbage_collection_paused
from medevac.store import tables as t
from medevac.store.bulk import insert_rows, update_versioned_rows

T = TypeVar("T")
StrEnumT = TypeVar("StrEnumT", bound=StrEnum)

#: Gives the connection of the open unit of work (raises when none is open).
ConnectionSource = Callable[[], Connection]

#: Ids per IN-list: well below SQLite's variable limit, few enough round trips for 100k rows.
IN_CHUNK = 2000
#: Ids per array parameter on PostgreSQL.
ARRAY_CHUNK = 20000

_LIVE_REQUEST_CODES = sorted(status.value for status in LIVE_REQUEST_STATUSES)


class StorageConflict(DomainError):
    """The database refused a write: a duplicate id or a reference to something missing."""

    def __init__(self, kind: str, ids: Sequence[str], detail: str) -> None:
        shown = ", ".join(repr(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")
        super().__init__(f"cannot store {kind} {shown}: {detail}")
        self.kind = kind
        self.ids = list(ids)
        self.detail = detail


class Restorer(Generic[T]):
    """Rebuilds a slots dataclass from stored values, given in the order of `names`.

    It skips the class's validation: stored rows were validated when they were written, and
    validating 100,000 patients again costs seconds. When `names` are not exactly the
    dataclass's fields (the domain changed), it calls the ordinary constructor instead, so no
    field is ever left unset.
    """

    def __init__(self, cls: type[T], *names: str) -> None:
        self.cls = cls
        self.names = names
        fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        slots = [cls.__dict__.get(name) for name in names]
        self.fast = (
            len(names) == len(fields)
            and set(names) == fields
            and all(hasattr(slot, "__set__") for slot in slots)
        )
        self._setters = [slot.__set__ for slot in slots if slot is not None] if self.fast else []

    def __call__(self, *values: Any) -> T:
        if not self.fast:
            return self.cls(**dict(zip(self.names, values, strict=True)))
        entity = object.__new__(self.cls)
        for assign, value in zip(self._setters, values, strict=True):
            assign(entity, value)
        return entity


def chunked(values: Sequence[str], size: int = IN_CHUNK) -> Iterator[Sequence[str]]:
    """Consecutive slices of at most `size` values."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def id_batches(connection: Connection, ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """Slices of `ids` sized for one query on this backend (see `among`)."""
    size = ARRAY_CHUNK if connection.dialect.name == "postgresql" else IN_CHUNK
    return chunked(ids, size)


def among(connection: Connection, column: Any, ids: Sequence[str]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL `column = ANY(array)`, one parameter however many ids."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))  # type: ignore[no-any-return]
    return column.in_(ids)  # type: ignore[no-any-return]


class byte_order(FunctionElement[Any]):  # noqa: N801 - used like a SQL function
    """A text column as an ORDER BY key in byte (code point) order on every backend: SQLite's
    default; on PostgreSQL `COLLATE "C"`, since the database's collation (en_US and the like)
    would order ids such as `PT_0` and `PT-a-2` otherwise."""

    inherit_cache = True
    name = "byte_order"


@compiles(byte_order)
def _byte_order(element: byte_order, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(byte_order, "postgresql")
def _byte_order_postgresql(element: byte_order, compiler: Any, **kw: Any) -> str:
    return f'{compiler.process(element.clauses, **kw)} COLLATE "C"'


#: Errors meaning the database refused the data (through SQLAlchemy, or from COPY directly).
_REFUSED_WRITES = (IntegrityError, DataError, psycopg.IntegrityError, psycopg.DataError)


@contextmanager
def refused_writes_as_conflict(kind: str, ids: Sequence[str]) -> Iterator[None]:
    """Turn an IntegrityError into a StorageConflict naming the entities and the reason."""
    try:
        yield
    except _REFUSED_WRITES as error:
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()
        reason = " ".join(line.strip() for line in detail) or "integrity constraint violated"
        if reason.startswith("FOREIGN KEY constraint failed"):
            reason += " (a referenced organisation, facility or patient does not exist)"
        raise StorageConflict(kind, ids, reason) from error


def _codes(values: Iterable[str]) -> list[str]:
    return sorted(str(v) for v in values)


def _cost_columns(policy: CostPolicy) -> dict[str, Any]:
    return {
        "free_of_charge": policy.free_of_charge,
        "tariff_per_bed_day": policy.tariff_per_bed_day,
        "currency": policy.currency,
    }


def _cost_policy(row: Row[Any]) -> CostPolicy:
    if row.free_of_charge:
        return CostPolicy.free()
    return CostPolicy(False, row.tariff_per_bed_day, row.currency)


class _HasIdAndVersion(Protocol):
    id: str
    version: int


E = TypeVar("E", bound=_HasIdAndVersion)


class _VersionedRepository(Generic[E]):
    """get/find/add/update and their bulk forms for one aggregate table with a version column.

    Subclasses map rows (`_to_row`, `_from_rows`) and write child rows (`_write_children`).
    """

    kind: ClassVar[str]
    table: ClassVar[Table]

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    # -- mapping, provided by subclasses ------------------------------------------------------

    def _to_row(self, entity: E) -> dict[str, Any]:
        """Every column but `version`."""
        raise NotImplementedError

    def _from_rows(self, rows: Sequence[Row[Any]]) -> list[E]:
        """Entities for rows of `table`, loading their child rows."""
        raise NotImplementedError

    def _write_children(self, entities: Sequence[E], *, replace: bool) -> None:
        """Store child rows; `replace` when the entities existed before (updates)."""

    # -- reads --------------------------------------------------------------------------------

    def _select(self) -> Select[Any]:
        return select(self.table)

    def _query(self, statement: Select[Any]) -> list[E]:
        rows = self._connection().execute(statement).all()
        if len(rows) < 1000:
            return self._from_rows(rows)
        with garbage_collection_paused():
            return self._from_rows(rows)

    def get(self, id: str) -> E:
        found = self.find(id)
        if found is None:
            raise NotFound(self.kind, id)
        return found

    def find(self, id: str) -> E | None:
        found = self._query(self._select().where(self.table.c.id == id))
        return found[0] if found else None

    def get_many(self, ids: Collection[str]) -> dict[str, E]:
        """The entities that exist among `ids`, by id (missing ids are left out)."""
        wanted = sorted(set(ids))
        connection = self._connection()
        with garbage_collection_paused():
            return self._get_many(connection, wanted)

    def _get_many(self, connection: Connection, wanted: Sequence[str]) -> dict[str, E]:
        rows: list[Row[Any]] = []
        for chunk in id_batches(connection, wanted):
            rows.extend(
                connection.execute(
                    self._select().where(among(connection, self.table.c.id, chunk))
                ).all()
            )
        return {entity.id: entity for entity in self._from_rows(rows)}

    # -- writes -------------------------------------------------------------------------------

    def add(self, entity: E) -> None:
        self.add_many([entity])

    def add_many(self, entities: Sequence[E]) -> None:
        """Insert new entities; each gets version 1."""
        if not entities:
            return
        with garbage_collection_paused():
            self._add_many(entities)

    def _add_many(self, entities: Sequence[E]) -> None:
        rows = [self._to_row(entity) | {"version": 1} for entity in entities]
        with refused_writes_as_conflict(self.kind, [e.id for e in entities]):
            insert_rows(self._connection(), self.table, rows)
            self._write_children(entities, replace=False)
        for entity in entities:
            entity.version = 1

    def update(self, entity: E) -> None:
        self.update_many([entity])

    def update_many(self, entities: Sequence[E]) -> None:
        """Write entities read earlier, if nobody changed them since; bump their versions."""
        if not entities:
            return
        with garbage_collection_paused():
            self._update_many(entities)

    def _update_many(
        self,
        entities: Sequence[E],
        values: Callable[[E], dict[str, Any]] | None = None,
        *,
        children: bool = True,
    ) -> None:
        """Write `entities` if their stored versions are those read: every column, or only
        those `values` gives; and their child rows, unless `children` is False."""
        rows = []
        for entity in entities:
            if values is None:
                row = self._to_row(entity)
                del row["id"]
            else:
                row = values(entity)
            row |= {
                "version": entity.version + 1,
                "match_id": entity.id,
                "match_version": entity.version,
            }
            rows.append(row)
        ids = [e.id for e in entities]
        with refused_writes_as_conflict(self.kind, ids):
            if len(entities) > 1:
                # Checked first so that the error names the stale entity; a partial update
                # would hide which one it was.
                self._check_versions(entities)
            updated = update_versioned_rows(self._connection(), self.table, rows)
            if updated != len(entities):
                self._check_versions(entities)
                # Someone wrote between the check and the update (SQLite takes no row locks).
                first = entities[0]
                raise ConcurrentModification(self.kind, first.id, first.version)
            if children:
                self._write_children(entities, replace=True)
        for entity in entities:
            entity.version += 1

    def _check_versions(self, entities: Sequence[E]) -> None:
        """Raise NotFound or ConcurrentModification for the first entity not stored as read.

        On PostgreSQL the rows stay locked until the end of the transaction, so nobody can
        change them between this check and the update.
        """
        stored: dict[str, int] = {}
        connection = self._connection()
        for chunk in id_batches(connection, [e.id for e in entities]):
            found = connection.execute(
                select(self.table.c.id, self.table.c.version)
                .where(among(connection, self.table.c.id, chunk))
                .with_for_update()
            )
            stored.update({row.id: row.version for row in found})
        for entity in entities:
            if entity.id not in stored:
                raise NotFound(self.kind, entity.id)
            if stored[entity.id] != entity.version:
                raise ConcurrentModification(self.kind, entity.id, entity.version)


# -- organisations ------------------------------------------------------------------------------


class SqlOrganisationRepository(_VersionedRepository[Organisation]):
    """Organisations in the `organisations` table."""

    kind = "organisation"
    table = t.organisations

    def _to_row(self, entity: Organisation) -> dict[str, Any]:
        return {
            "id": entity.id,
            "name": entity.name,
            "kind": entity.kind.value,
            "country": entity.country,
            "contact": entity.contact,
        }

    def _from_rows(self, rows: Sequence[Row[Any]]) -> list[Organisation]:
        return [
            Organisation(
                id=row.id,
                name=row.name,
                kind=OrganisationKind(row.kind),
                country=row.country,
                contact=row.contact,
                version=row.version,
            )
            for row in rows
        ]

    def list(self) -> list[Organisation]:
        return self._query(self._select().order_by(byte_order(self.table.c.id)))


# -- facilities ---------------------------------------------------------------------------------


class SqlFacilityRepository(_VersionedRepository[Facility]):
    """Facilities; specialties and capabilities are JSON lists of codes."""

    kind = "facility"
    table = t.facilities

    def _to_row(self, entity: Facility) -> dict[str, Any]:
        return {
            "id": entity.id,
            "name": entity.name,
            "kind": entity.kind.value,
            "operator_id": entity.operator_id,
            "country": entity.country,
            "lat": entity.location.lat,
            "lon": entity.location.lon,
            "specialties": _codes(entity.specialties),
            "capabilities": _codes(entity.capabilities),
            "total_beds": entity.total_beds,
            "daily_admission_limit": entity.daily_admission_limit,
            "daily_outpatient_throughput": entity.daily_outpatient_throughput,
            "city": entity.city,
        } | _cost_columns(entity.cost_policy)

    def _from_rows(self, rows: Sequence[Row[Any]]) -> list[Facility]:
        return [
            Facility(
                id=row.id,
                name=row.name,
                kind=FacilityKind(row.kind),
                operator_id=row.operator_id,
                country=row.country,
                location=Coordinates(row.lat, row.lon),
                specialties=frozenset(Specialty(s) for s in row.specialties),
                capabilities=frozenset(Capability(c) for c in row.capabilities),
                total_beds=row.total_beds,
                daily_admission_limit=row.daily_admission_limit,
                daily_outpatient_throughput=row.daily_outpatient_throughput,
                cost_policy=_cost_policy(row),
                city=row.city,
                version=row.version,
            )
            for row in rows
        ]

    def list(
        self, *, kind: FacilityKind | None = None, operator_id: str | None = None
    ) -> list[Facility]:
        statement = self._select().order_by(byte_order(self.table.c.id))
        if kind is not None:
            statement = statement.where(self.table.c.kind == FacilityKind(kind).value)
        if operator_id is not None:
            statement = statement.where(self.table.c.operator_id == operator_id)
        return self._query(statement)


# -- capacity -----------------------------------------------------------------------------------


class SqlCapacityRepository:
    """Append-only capacity reports; `latest` gives the newest per facility and specialty."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    @staticmethod
    def _to_row(report: CapacityReport) -> dict[str, Any]:
        return {
            "facility_id": report.facility_id,
            "specialty": report.specialty.value,
            "available": report.available,
            "baseline": report.baseline,
            "plus_24h": report.plus_24h,
            "plus_72h": report.plus_72h,
            "reported_at": report.reported_at,
        }

    @staticmethod
    def _from_row(row: Row[Any]) -> CapacityReport:
        return CapacityReport(
            facility_id=row.facility_id,
            specialty=Specialty(row.specialty),
            available=row.available,
            baseline=row.baseline,
            plus_24h=row.plus_24h,
            plus_72h=row.plus_72h,
            reported_at=row.reported_at,
        )

    def add(self, report: CapacityReport) -> None:
        self.add_many([report])

    def add_many(self, reports: Sequence[CapacityReport]) -> None:
        if not reports:
            return
        ids = sorted({r.facility_id for r in reports})
        with refused_writes_as_conflict("capacity reports of facility", ids):
            insert_rows(self._connection(), t.capacity_reports, [self._to_row(r) for r in reports])

    def latest(self, facility_id: str | None = None) -> list[CapacityReport]:
        """The newest report per facility and specialty, ordered by facility then specialty."""
        c = t.capacity_reports
        newest = select(
            c.c.facility_id, c.c.specialty, func.max(c.c.reported_at).label("reported_at")
        ).group_by(c.c.facility_id, c.c.specialty)
        if facility_id is not None:
            newest = newest.where(c.c.facility_id == facility_id)
        latest = newest.subquery("latest")
        statement = (
            select(c)
            .join(
                latest,
                and_(
                    c.c.facility_id == latest.c.facility_id,
                    c.c.specialty == latest.c.specialty,
                    c.c.reported_at == latest.c.reported_at,
                ),
            )
            .order_by(byte_order(c.c.facility_id), byte_order(c.c.specialty))
        )
        return [self._from_row(row) for row in self._connection().execute(statement)]

    def history(self, facility_id: str, specialty: Specialty | None = None) -> list[CapacityReport]:
        """Every report of a facility (optionally one specialty), oldest first."""
        c = t.capacity_reports
        statement = (
            select(c)
            .where(c.c.facility_id == facility_id)
            .order_by(c.c.reported_at, c.c.specialty, c.c.id)
        )
        if specialty is not None:
            statement = statement.where(c.c.specialty == Specialty(specialty).value)
        return [self._from_row(row) for row in self._connection().execute(statement)]

    def exists(self, facility_id: str, specialty: Specialty, reported_at: datetime) -> bool:
        c = t.capacity_reports
        statement = select(c.c.id).where(
            c.c.facility_id == facility_id,
            c.c.specialty == Specialty(specialty).value,
            c.c.reported_at == reported_at,
        )
        return self._connection().execute(statement.limit(1)).first() is not None


# -- patients -----------------------------------------------------------------------------------


def _condition_json(condition: Condition) -> list[str]:
    """A condition as the compact JSON triple [body region, description, mechanism]."""
    return [condition.body_region.value, condition.description, condition.mechanism.value]


_restore_condition = Restorer(Condition, "body_region", "description", "mechanism")
_restore_identity = Restorer(
    Identity, "name", "birth_date", "sex", "nationality", "service_status", "affiliation"
)
_restore_change = Restorer(
    StatusChange, "from_status", "to_status", "actor", "at", "reason", "role"
)
_restore_patient = Restorer(
    Patient,
    "id",
    "organisation_id",
    "required_specialties",
    "precedence",
    "mobility",
    "triage",
    "identity",
    "conditions",
    "companions",
    "special_needs",
    "fit_to_transport",
    "expected_length_of_stay_days",
    "location_id",
    "status",
    "history",
    "version",
)


def _condition(data: list[str]) -> Condition:
    region, description, mechanism = data
    return _restore_condition(_BODY_REGION[region], description, _MECHANISM[mechanism])


def _by_code(vocabulary: type[StrEnumT]) -> dict[str, StrEnumT]:
    """Members by stored code: a dict lookup is several times cheaper than calling the enum."""
    return {member.value: member for member in vocabulary}


_PATIENT_STATUS = _by_code(PatientStatus)
_SPECIALTY = _by_code(Specialty)
_ACTOR_ROLE = _by_code(ActorRole)
_PRECEDENCE = _by_code(Precedence)
_MOBILITY = _by_code(Mobility)
_TRIAGE = _by_code(TriageCategory)
_SEX = _by_code(Sex)
_SERVICE_STATUS = _by_code(ServiceStatus)
_SPECIAL_NEED = _by_code(SpecialNeed)
_BODY_REGION = _by_code(BodyRegion)
_MECHANISM = _by_code(InjuryMechanism)


def _special_needs(text: str) -> frozenset[SpecialNeed]:
    return frozenset(_SPECIAL_NEED[code] for code in json.loads(text))


class SqlPatientRepository(_VersionedRepository[Patient]):
    """Patients with their required specialties (ranked) and status history.

    The repository remembers, per patient it read or wrote, the specialties and the length of
    the history it saw; `update` then rewrites specialties only when they changed and inserts
    only the history entries appended since. For a patient it has not seen, it asks the
    database how many history entries are stored.
    """

    kind = "patient"
    table = t.patients

    def __init__(self, connection: ConnectionSource) -> None:
        super().__init__(connection)
        self._seen: dict[str, tuple[tuple[Specialty, ...], int]] = {}

    def _to_row(self, entity: Patient) -> dict[str, Any]:
        identity = entity.identity
        return {
            "id": entity.id,
            "organisation_id": entity.organisation_id,
            "precedence": entity.precedence.value,
            "mobility": entity.mobility.value,
            "triage": entity.triage.value,
            "name": identity.name,
            "birth_date": identity.birth_date,
            "sex": identity.sex.value,
            "nationality": identity.nationality,
            "service_status": identity.service_status.value,
            "affiliation": identity.affiliation,
            "conditions": [_condition_json(c) for c in entity.conditions],
            "special_needs": _codes(entity.special_needs),
            "companions": entity.companions,
            "fit_to_transport": entity.fit_to_transport,
            "expected_length_of_stay_days": entity.expected_length_of_stay_days,
            "location_id": entity.location_id,
            "status": entity.status.value,
        }

    def update_statuses(self, entities: Sequence[Patient]) -> None:
        """Write only the status (and the version) of patients read earlier, and the history
        entries added since: what a move changes. Approving a national plan moves 100,000
        patients; writing every column of each took a third of it."""
        if not entities:
            return
        with garbage_collection_paused():
            self._update_many(entities, lambda patient: {"status": patient.status.value})

    def _from_rows(self, rows: Sequence[Row[Any]]) -> list[Patient]:
        if not rows:
            return []
        ids = [row.id for row in rows]
        specialties: dict[str, list[Specialty]] = defaultdict(list)
        history: dict[str, list[StatusChange]] = defaultdict(list)
        connection = self._connection()
        ps, sc = t.patient_specialties, t.patient_status_changes
        status, specialty_of, role = _PATIENT_STATUS, _SPECIALTY, _ACTOR_ROLE
        for chunk in id_batches(connection, ids):
            found = connection.execute(
                select(ps.c.patient_id, ps.c.specialty)
                .where(among(connection, ps.c.patient_id, chunk))
                .order_by(byte_order(ps.c.patient_id), ps.c.rank)
            ).all()
            for patient_id, specialty in found:
                specialties[patient_id].append(specialty_of[specialty])
            changes = connection.execute(
                select(sc)
                .where(among(connection, sc.c.patient_id, chunk))
                .order_by(byte_order(sc.c.patient_id), sc.c.seq)
            ).all()
            for change in changes:
                history[change.patient_id].append(
                    _restore_change(
                        None if change.from_status is None else status[change.from_status],
                        status[change.to_status],
                        change.actor,
                        change.at,
                        change.reason,
                        role[change.role],
                    )
                )
        patients = [
            _restore_patient(
                row.id,
                row.organisation_id,
                tuple(specialties[row.id]),
                _PRECEDENCE[row.precedence],
                _MOBILITY[row.mobility],
                _TRIAGE[row.triage],
                _restore_identity(
                    row.name,
                    row.birth_date,
                    _SEX[row.sex],
                    row.nationality,
                    _SERVICE_STATUS[row.service_status],
                    row.affiliation,
                ),
                tuple(_condition(c) for c in row.conditions),
                row.companions,
                frozenset(_SPECIAL_NEED[n] for n in row.special_needs),
                row.fit_to_transport,
                row.expected_length_of_stay_days,
                row.location_id,
                status[row.status],
                history[row.id],
                row.version,
            )
            for row in rows
        ]
        for patient in patients:
            self._seen[patient.id] = (patient.required_specialties, len(patient.history))
        return patients

    @staticmethod
    def _specialty_rows(patients: Iterable[Patient]) -> list[dict[str, Any]]:
        return [
            {"patient_id": p.id, "rank": rank, "specialty": specialty.value}
            for p in patients
            for rank, specialty in enumerate(p.required_specialties)
        ]

    @staticmethod
    def _history_rows(patient: Patient, start: int) -> list[dict[str, Any]]:
        return [
            {
                "patient_id": patient.id,
                "seq": seq,
                "from_status": None if change.from_status is None else change.from_status.value,
                "to_status": change.to_status.value,
                "actor": change.actor,
                "role": change.role.value,
                "at": change.at,
                "reason": change.reason,
            }
            for seq, change in enumerate(patient.history[start:], start=start)
        ]

    def _stored_history_lengths(self, ids: Sequence[str]) -> dict[str, int]:
        sc = t.patient_status_changes
        lengths: dict[str, int] = {}
        connection = self._connection()
        for chunk in id_batches(connection, ids):
            found = connection.execute(
                select(sc.c.patient_id, func.max(sc.c.seq) + 1)
                .where(among(connection, sc.c.patient_id, chunk))
                .group_by(sc.c.patient_id)
            )
            lengths.update({patient_id: int(length) for patient_id, length in found})
        return lengths

    def _write_children(self, entities: Sequence[Patient], *, replace: bool) -> None:
        connection = self._connection()
        if replace:
            unseen = [p.id for p in entities if p.id not in self._seen]
            stored_lengths = self._stored_history_lengths(unseen) if unseen else {}
            for patient in entities:
                seen = self._seen.get(patient.id)
                if seen is not None:
                    stored_lengths[patient.id] = seen[1]
            changed = [
                p
                for p in entities
                if p.id not in self._seen or self._seen[p.id][0] != p.required_specialties
            ]
            ps = t.patient_specialties
            for chunk in id_batches(connection, [p.id for p in changed]):
                connection.execute(delete(ps).where(among(connection, ps.c.patient_id, chunk)))
        else:
            stored_lengths = {}
            changed = list(entities)
        specialty_rows = self._specialty_rows(changed)
        if specialty_rows:
            insert_rows(connection, t.patient_specialties, specialty_rows)
        history_rows = [
            row for p in entities for row in self._history_rows(p, stored_lengths.get(p.id, 0))
        ]
        if history_rows:
            insert_rows(connection, t.patient_status_changes, history_rows)
        for patient in entities:
            self._seen[patient.id] = (
                patient.required_specialties,
                max(len(patient.history), stored_lengths.get(patient.id, 0)),
            )

    def count_by_status(self) -> dict[PatientStatus, int]:
        """Patients per status; statuses nobody is in are left out."""
        statement = select(self.table.c.status, func.count()).group_by(self.table.c.status)
        return {
            PatientStatus(status): int(count)
            for status, count in self._connection().execute(statement)
        }

    def move_times(self, patient_ids: Collection[str]) -> dict[str, MoveTimes]:
        """For each patient (with any history), when it last left `referred`, was last
        admitted and last moved: one grouped query a batch of ids, without the records."""
        h = t.patient_status_changes
        connection = self._connection()
        found: dict[str, MoveTimes] = {}
        utc = t.UtcDateTime()
        left = func.max(case((h.c.from_status == PatientStatus.REFERRED.value, h.c.at)), type_=utc)
        admitted = func.max(
            case((h.c.to_status == PatientStatus.ADMITTED.value, h.c.at)), type_=utc
        )
        for chunk in id_batches(connection, sorted(patient_ids)):
            statement = (
                select(h.c.patient_id, left, admitted, func.max(h.c.at, type_=utc))
                .where(among(connection, h.c.patient_id, chunk))
                .group_by(h.c.patient_id)
            )
            for patient_id, left_at, admitted_at, last_at in connection.execute(statement):
                found[patient_id] = MoveTimes(left_at, admitted_at, last_at)
        return found

    def for_planning(self, statuses: Collection[PatientStatus]) -> list[PlanningPatient]:
        """The patients in `statuses`, by id, as the regulating engine sees them.

        One query: the patient row's planning columns and the primary specialty (rank 0),
        without identity, conditions or history. Special needs come as JSON text and are
        decoded only when there are any (most patients have none).
        """
        p, ps = self.table, t.patient_specialties
        statement = (
            select(
                p.c.id,
                p.c.version,
                p.c.organisation_id,
                ps.c.specialty,
                p.c.precedence,
                cast(p.c.special_needs, String),
                p.c.fit_to_transport,
                p.c.expected_length_of_stay_days,
                p.c.location_id,
                p.c.status,
            )
            .join(ps, (ps.c.patient_id == p.c.id) & (ps.c.rank == 0))
            .where(p.c.status.in_([PatientStatus(s).value for s in statuses]))
            .order_by(byte_order(p.c.id))
        )
        rows = self._connection().execute(statement).all()
        specialty, precedence, status = _SPECIALTY, _PRECEDENCE, _PATIENT_STATUS
        no_needs: frozenset[SpecialNeed] = frozenset()
        with garbage_collection_paused():
            return [
                PlanningPatient(
                    row[0],
                    row[1],
                    row[2],
                    specialty[row[3]],
                    precedence[row[4]],
                    _special_needs(row[5]) if len(row[5]) > 2 else no_needs,
                    row[6],
                    row[7],
                    row[8],
                    status[row[9]],
                )
                for row in rows
            ]

    def list(
        self,
        *,
        status: PatientStatus | None = None,
        specialty: Specialty | None = None,
        precedence: Precedence | None = None,
        location_id: str | None = None,
        organisation_id: str | None = None,
        limit: int | None = None,
    ) -> list[Patient]:
        """Patients matching every given filter, by id; `specialty` matches any required one."""
        p = self.table
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(p.c.status == PatientStatus(status).value)
        if specialty is not None:
            ps = t.patient_specialties
            conditions.append(
                select(ps.c.patient_id)
                .where(ps.c.patient_id == p.c.id, ps.c.specialty == Specialty(specialty).value)
                .exists()
            )
        if precedence is not None:
            conditions.append(p.c.precedence == Precedence(precedence).value)
        if location_id is not None:
            conditions.append(p.c.location_id == location_id)
        if organisation_id is not None:
            conditions.append(p.c.organisation_id == organisation_id)
        statement = self._select().where(*conditions).order_by(byte_order(p.c.id))
        if limit is not None:
            statement = statement.limit(limit)
        return self._query(statement)


# -- treatment requests -------------------------------------------------------------------------


class SqlTreatmentRequestRepository(_VersionedRepository[TreatmentRequest]):
    """Treatment requests with their patient lines and place lines (rewritten on update)."""

    kind = "treatment request"
    table = t.treatment_requests

    def _to_row(self, entity: TreatmentRequest) -> dict[str, Any]:
        return {
            "id": entity.id,
            "from_organisation_id": entity.from_organisation_id,
            "to_organisation_id": entity.to_organisation_id,
            "created_at": entity.created_at,
            "status": entity.status.value,
            "note": entity.note,
            "closed_reason": entity.closed_reason,
        }

    def _from_rows(self, rows: Sequence[Row[Any]]) -> list[TreatmentRequest]:
        if not rows:
            return []
        ids = [row.id for row in rows]
        lines: dict[str, list[RequestedPatient]] = defaultdict(list)
        places: dict[str, list[RequestedPlaces]] = defaultdict(list)
        connection = self._connection()
        rp, rl = t.request_patients, t.request_places
        for chunk in id_batches(connection, ids):
            for line in connection.execute(
                select(rp).where(among(connection, rp.c.request_id, chunk)).order_by(rp.c.position)
            ):
                lines[line.request_id].append(
                    RequestedPatient(
                        patient_id=line.patient_id,
                        decision=PatientDecision(line.decision),
                        reason=line.reason,
                        facility_id=line.facility_id,
                        admission_date=line.admission_date,
                        decided_at=line.decided_at,
                        named_at=line.named_at,
                    )
                )
            for place in connection.execute(
                select(rl).where(among(connection, rl.c.request_id, chunk)).order_by(rl.c.position)
            ):
                places[place.request_id].append(
                    RequestedPlaces(
                        specialty=Specialty(place.specialty),
                        requested=place.requested,
                        accepted=place.accepted,
                        reason=place.reason,
                    )
                )
        return [
            TreatmentRequest(
                id=row.id,
                from_organisation_id=row.from_organisation_id,
                to_organisation_id=row.to_organisation_id,
                created_at=row.created_at,
                status=RequestStatus(row.status),
                patients=lines[row.id],
                places=places[row.id],
                note=row.note,
                closed_reason=row.closed_reason,
                version=row.version,
            )
            for row in rows
        ]

    def _write_children(self, entities: Sequence[TreatmentRequest], *, replace: bool) -> None:
        """Write the requests' patient and place lines; on update only those that changed (an
        answer is one line: rewriting every line of the request for each answer had written
        the square of its patients)."""
        connection = self._connection()
        ids = [r.id for r in entities]
        patient_rows = [
            {
                "request_id": request.id,
                "patient_id": line.patient_id,
                "position": position,
                "decision": line.decision.value,
                "reason": line.reason,
                "facility_id": line.facility_id,
                "admission_date": line.admission_date,
                "decided_at": line.decided_at,
                "named_at": line.named_at,
            }
            for request in entities
            for position, line in enumerate(request.patients)
        ]
        place_rows = [
            {
                "request_id": request.id,
                "specialty": line.specialty.value,
                "position": position,
                "requested": line.requested,
                "accepted": line.accepted,
                "reason": line.reason,
            }
            for request in entities
            for position, line in enumerate(request.places)
        ]
        if replace:
            rp, places = t.request_patients, t.request_places
            patient_rows = changed_children(
                connection, rp, "request_id", ids, "patient_id", patient_rows
            )
            place_rows = changed_children(
                connection, places, "request_id", ids, "specialty", place_rows
            )
        if patient_rows:
            insert_rows(connection, t.request_patients, patient_rows)
        if place_rows:
            insert_rows(connection, t.request_places, place_rows)

    def live_for_patient(self, patient_id: str) -> list[TreatmentRequest]:
        """Live requests on which the patient's line is still open (pending or accepted)."""
        rp, r = t.request_patients, self.table
        holding = select(rp.c.request_id).where(
            rp.c.patient_id == patient_id,
            rp.c.decision.in_([PatientDecision.PENDING.value, PatientDecision.ACCEPTED.value]),
        )
        statement = (
            self._select()
            .where(r.c.id.in_(holding), r.c.status.in_(_LIVE_REQUEST_CODES))
            .order_by(r.c.created_at, byte_order(r.c.id))
        )
        return self._query(statement)

    def with_patient(self, patient_id: str) -> list[TreatmentRequest]:
        """Every request the patient is on (any status, any answer), oldest first: those
        requests only (`patients show` read every request of the registry to find them)."""
        rp, r = t.request_patients, self.table
        theirs = select(rp.c.request_id).where(rp.c.patient_id == patient_id)
        statement = (
            self._select().where(r.c.id.in_(theirs)).order_by(r.c.created_at, byte_order(r.c.id))
        )
        return self._query(statement)

    def live_for_patients(self, patient_ids: Collection[str]) -> list[TreatmentRequest]:
        """Live requests on which the line of any of `patient_ids` is still open (pending or
        accepted), each once, oldest first: `live_for_patient` for many patients, in one
        query per batch of ids."""
        rp, r = t.request_patients, self.table
        connection = self._connection()
        found: dict[str, TreatmentRequest] = {}
        for chunk in id_batches(connection, sorted(set(patient_ids))):
            holding = select(rp.c.request_id).where(
                among(connection, rp.c.patient_id, chunk),
                rp.c.decision.in_([PatientDecision.PENDING.value, PatientDecision.ACCEPTED.value]),
            )
            statement = self._select().where(
                r.c.id.in_(holding), r.c.status.in_(_LIVE_REQUEST_CODES)
            )
            for request in self._query(statement):
                found.setdefault(request.id, request)
        # code point order of ids, as `byte_order` gives `live_for_patient`
        return sorted(found.values(), key=lambda request: (request.created_at, request.id))

    def acceptances(self, patient_ids: Collection[str]) -> dict[str, Acceptance]:
        """Each patient's acceptance on the most recently created request that accepted it
        (patients no request accepted are left out). A patient is on one live request at a
        time, so the latest request's answer is also the latest answer."""
        rp, r = t.request_patients, self.table
        connection = self._connection()
        found: dict[str, Acceptance] = {}
        for chunk in id_batches(connection, sorted(patient_ids)):
            statement = (
                select(rp, r.c.to_organisation_id)
                .join(r, r.c.id == rp.c.request_id)
                .where(
                    among(connection, rp.c.patient_id, chunk),
                    rp.c.decision == PatientDecision.ACCEPTED.value,
                )
                .order_by(r.c.created_at, byte_order(r.c.id))
            )
            for row in connection.execute(statement):  # later requests overwrite earlier ones
                found[row.patient_id] = Acceptance(
                    row.request_id,
                    row.patient_id,
                    row.to_organisation_id,
                    row.decided_at,
                    row.facility_id,
                    row.admission_date,
                    row.named_at,
                )
        return found

    def list(
        self, *, status: RequestStatus | None = None, organisation_id: str | None = None
    ) -> list[TreatmentRequest]:
        """Requests, oldest first; `organisation_id` matches the sending or the receiving side."""
        r = self.table
        statement = self._select().order_by(r.c.created_at, byte_order(r.c.id))
        if status is not None:
            statement = statement.where(r.c.status == RequestStatus(status).value)
        if organisation_id is not None:
            statement = statement.where(
                or_(
                    r.c.from_organisation_id == organisation_id,
                    r.c.to_organisation_id == organisation_id,
                )
            )
        return self._query(statement)


def changed_children(
    connection: Connection,
    table: Table,
    parent_column: str,
    parents: Sequence[str],
    key_column: str,
    rows: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """On an update of ``parents``, delete their stored rows of ``table`` (keyed by
    ``parent_column`` and ``key_column``) that ``rows``, the rows they are to have, drop or
    change; return the rows to insert, the new and the changed. A decision on one screening
    candidate, or an answer for one patient of a request, then writes one row, not every row
    of the mission or request again."""
    wanted = {(row[parent_column], row[key_column]): row for row in rows}
    stale: dict[str, list[Any]] = defaultdict(list)
    kept: set[tuple[Any, Any]] = set()
    parent, child = table.c[parent_column], table.c[key_column]
    for chunk in id_batches(connection, sorted(set(parents))):
        for line in connection.execute(select(table).where(among(connection, parent, chunk))):
            stored = dict(line._mapping)
            key = (stored[parent_column], stored[key_column])
            if wanted.get(key) == stored:
                kept.add(key)
            else:
                stale[key[0]].append(key[1])
    for parent_id, children in stale.items():
        for part in chunked(children):
            connection.execute(delete(table).where(parent == parent_id, child.in_(part)))
    return [row for key, row in wanted.items() if key not in kept]


# -- screening missions -------------------------------------------------------------------------


class SqlScreeningMissionRepository(_VersionedRepository[ScreeningMission]):
    """Screening missions with their candidates and decisions (on update, the changed
    candidates rewritten)."""

    kind = "screening mission"
    table = t.screening_missions

    def _to_row(self, entity: ScreeningMission) -> dict[str, Any]:
        return {
            "id": entity.id,
            "team_organisation_id": entity.team_organisation_id,
            "place": entity.place,
            "starts_on": entity.starts_on,
            "ends_on": entity.ends_on,
            "team_members": list(entity.team_members),
            "facility_id": entity.facility_id,
        }

    def _from_rows(self, rows: Sequence[Row[Any]]) -> list[ScreeningMission]:
        if not rows:
            return []
        candidates: dict[str, dict[str, ScreeningDecision | None]] = defaultdict(dict)
        sc = t.screening_candidates
        connection = self._connection()
        for chunk in id_batches(connection, [row.id for row in rows]):
            for line in connection.execute(
                select(sc).where(among(connection, sc.c.mission_id, chunk)).order_by(sc.c.position)
            ):
                decision = None
                if line.outcome is not None:
                    decision = ScreeningDecision(
                        outcome=ScreeningOutcome(line.outcome),
                        clinician=line.clinician,
                        criteria_notes=line.criteria_notes,
                        decided_at=line.decided_at,
                    )
                candidates[line.mission_id][line.patient_id] = decision
        return [
            ScreeningMission(
                id=row.id,
                team_organisation_id=row.team_organisation_id,
                place=row.place,
                starts_on=row.starts_on,
                ends_on=row.ends_on,
                team_members=tuple(row.team_members),
                facility_id=row.facility_id,
                candidates=candidates[row.id],
                version=row.version,
            )
            for row in rows
        ]

    def _write_children(self, entities: Sequence[ScreeningMission], *, replace: bool) -> None:
        """Write the missions' candidate rows; on update only those that changed (a decision
        is one row: rewriting every candidate of the mission for each decision had written
        the square of its candidates, 12,000 rows for the demo's 110, and left as many dead
        rows behind on PostgreSQL)."""
        connection = self._connection()
        sc = t.screening_candidates
        candidate_rows = [
            {
                "mission_id": mission.id,
                "patient_id": patient_id,
                "position": position,
                "outcome": None if decision is None else decision.outcome.value,
                "clinician": None if decision is None else decision.clinician,
                "criteria_notes": None if decision is None else decision.criteria_notes,
                "decided_at": None if decision is None else decision.decided_at,
            }
            for mission in entities
            for position, (patient_id, decision) in enumerate(mission.candidates.items())
        ]
        if replace:
            missions = [m.id for m in entities]
            candidate_rows = changed_children(
                connection, sc, "mission_id", missions, "patient_id", candidate_rows
            )
        if candidate_rows:
            insert_rows(connection, sc, candidate_rows)

    def list(self) -> list[ScreeningMission]:
        """Missions by start date."""
        m = self.table
        return self._query(self._select().order_by(m.c.starts_on, byte_order(m.c.id)))


# -- agreements ---------------------------------------------------------------------------------


class SqlAgreementRepository(_VersionedRepository[Agreement]):
    """Agreements between a sending and a receiving organisation."""

    kind = "agreement"
    table = t.agreements

    def _to_row(self, entity: Agreement) -> dict[str, Any]:
        return {
            "id": entity.id,
            "sending_organisation_id": entity.sending_organisation_id,
            "receiving_organisation_id": entity.receiving_organisation_id,
            "specialties": _codes(entity.specialties),
            "quota": entity.quota,
            "valid_from": entity.valid_from,
            "valid_to": entity.valid_to,
        } | _cost_columns(entity.cost_policy)

    def _from_rows(self, rows: Sequence[Row[Any]]) -> list[Agreement]:
        return [
            Agreement(
                id=row.id,
                sending_organisation_id=row.sending_organisation_id,
                receiving_organisation_id=row.receiving_organisation_id,
                specialties=frozenset(Specialty(s) for s in row.specialties),
                quota=row.quota,
                cost_policy=_cost_policy(row),
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                version=row.version,
            )
            for row in rows
        ]

    def list(self, *, organisation_id: str | None = None) -> list[Agreement]:
        """Agreements by start date; `organisation_id` matches either party."""
        a = self.table
        statement = self._select().order_by(a.c.valid_from, byte_order(a.c.id))
        if organisation_id is not None:
            statement = statement.where(
                or_(
                    a.c.sending_organisation_id == organisation_id,
                    a.c.receiving_organisation_id == organisation_id,
                )
            )
        return self._query(statement)


# -- approved plans -----------------------------------------------------------------------------


class SqlApprovedPlanRepository(_VersionedRepository[ApprovedPlan]):
    """Approved regulating plans with their planned admissions (rewritten on update; a
    patient's withdrawal, `withdraw_patient`, writes only that patient's rows)."""

    kind = "approved plan"
    table = t.approved_plans

    def _to_row(self, entity: ApprovedPlan) -> dict[str, Any]:
        return {
            "id": entity.id,
            "approved_at": entity.approved_at,
            "approved_by": entity.approved_by,
            "built_at": entity.built_at,
            "objective": entity.objective,
            "solver": entity.solver,
            "solver_status": entity.solver_status,
            "status": entity.status.value,
        }

    def _from_rows(self, rows: Sequence[Row[Any]]) -> list[ApprovedPlan]:
        if not rows:
            return []
        admissions: dict[str, list[PlannedAdmission]] = defaultdict(list)
        connection = self._connection()
        pa = t.planned_admissions
        for chunk in id_batches(connection, [row.id for row in rows]):
            for line in connection.execute(
                select(pa).where(among(connection, pa.c.plan_id, chunk)).order_by(pa.c.position)
            ):
                admissions[line.plan_id].append(
                    PlannedAdmission(
                        patient_id=line.patient_id,
                        facility_id=line.facility_id,
                        admission_date=line.admission_date,
                        withdrawn_reason=line.withdrawn_reason,
                    )
                )
        return [
            ApprovedPlan(
                id=row.id,
                approved_at=row.approved_at,
                approved_by=row.approved_by,
                built_at=row.built_at,
                objective=row.objective,
                solver=row.solver,
                solver_status=row.solver_status,
                admissions=admissions[row.id],
                status=PlanStatus(row.status),
                version=row.version,
            )
            for row in rows
        ]

    def _write_children(self, entities: Sequence[ApprovedPlan], *, replace: bool) -> None:
        connection = self._connection()
        pa = t.planned_admissions
        if replace:
            connection.execute(delete(pa).where(pa.c.plan_id.in_([p.id for p in entities])))
        rows = [
            {
                "plan_id": plan.id,
                "patient_id": admission.patient_id,
                "position": position,
                "facility_id": admission.facility_id,
                "admission_date": admission.admission_date,
                "withdrawn_reason": admission.withdrawn_reason,
            }
            for plan in entities
            for position, admission in enumerate(plan.admissions)
        ]
        if rows:
            insert_rows(connection, pa, rows)

    def supersede(self, plan: ApprovedPlan) -> None:
        """Mark ``plan`` (read earlier, live) superseded, if nobody changed it since: its status
        and version only. `update` rewrote every admission (100,000 rows for a national plan),
        which a change of status leaves as they are."""
        plan.supersede()
        self._update_many([plan], lambda p: {"status": p.status.value}, children=False)

    def live(self) -> list[ApprovedPlan]:
        """Live plans, oldest approval first."""
        p = self.table
        statement = (
            self._select()
            .where(p.c.status == PlanStatus.LIVE.value)
            .order_by(p.c.approved_at, byte_order(p.c.id))
        )
        return self._query(statement)

    def live_for_patient(self, patient_id: str) -> list[ApprovedPlan]:
        """Live plans in which the patient still has an open admission."""
        pa, p = t.planned_admissions, self.table
        holding = select(pa.c.plan_id).where(
            pa.c.patient_id == patient_id, pa.c.withdrawn_reason == ""
        )
        statement = (
            self._select()
            .where(p.c.id.in_(holding), p.c.status == PlanStatus.LIVE.value)
            .order_by(p.c.approved_at, byte_order(p.c.id))
        )
        return self._query(statement)

    def withdraw_patient(self, patient_id: str, reason: str) -> list[PlanWithdrawal]:
        """Withdraw the patient's open admission from every live plan that holds one: two
        statements, whatever the size of the plans (`get` and `update` read and rewrite every
        admission: 1.1-1.8 s for a plan of 40,000)."""
        why = withdrawal_reason(reason)
        connection = self._connection()
        pa, p = t.planned_admissions, self.table
        holding = select(pa.c.plan_id).where(
            pa.c.patient_id == patient_id, pa.c.withdrawn_reason == ""
        )
        # The plans first, as `update` does: on PostgreSQL their rows stay locked to the end of
        # the transaction, so a concurrent supersede or update waits and then finds the version
        # moved on (ConcurrentModification) rather than writing over the withdrawal.
        plans = connection.execute(
            update(p)
            .where(p.c.id.in_(holding), p.c.status == PlanStatus.LIVE.value)
            .values(version=p.c.version + 1)
            .returning(p.c.id, p.c.version, p.c.approved_at)
        ).all()
        if not plans:
            return []
        withdrawn = connection.execute(
            update(pa)
            .where(
                pa.c.patient_id == patient_id,
                pa.c.withdrawn_reason == "",
                pa.c.plan_id.in_([plan.id for plan in plans]),
            )
            .values(withdrawn_reason=why)
            .returning(pa.c.plan_id, pa.c.facility_id, pa.c.admission_date)
        ).all()
        admissions = {row.plan_id: row for row in withdrawn}
        return [
            PlanWithdrawal(
                plan.id,
                plan.version,
                PlannedAdmission(
                    patient_id,
                    admissions[plan.id].facility_id,
                    admissions[plan.id].admission_date,
                    why,
                ),
            )
            for plan in sorted(plans, key=lambda plan: (plan.approved_at, plan.id))
            if plan.id in admissions
        ]

    def withdraw_superseded(
        self, patient_ids: Collection[str], reason: str
    ) -> list[PlanWithdrawal]:
        why = withdrawal_reason(reason)
        pa, p = t.planned_admissions, self.table
        connection = self._connection()
        gone = select(p.c.id).where(p.c.status != PlanStatus.LIVE.value)
        rows: list[Row[Any]] = []
        for chunk in id_batches(connection, sorted(patient_ids)):
            rows += connection.execute(
                update(pa)
                .where(
                    among(connection, pa.c.patient_id, chunk),
                    pa.c.withdrawn_reason == "",
                    pa.c.plan_id.in_(gone),
                )
                .values(withdrawn_reason=why)
                .returning(pa.c.plan_id, pa.c.patient_id, pa.c.facility_id, pa.c.admission_date)
            ).all()
        if not rows:
            return []
        versions = dict(
            connection.execute(
                select(p.c.id, p.c.version).where(p.c.id.in_({row.plan_id for row in rows}))
            ).all()
        )
        return [
            PlanWithdrawal(
                row.plan_id,
                versions[row.plan_id],
                PlannedAdmission(row.patient_id, row.facility_id, row.admission_date, why),
            )
            for row in sorted(rows, key=lambda row: (row.plan_id, row.patient_id))
        ]

    def live_admissions(
        self, patient_ids: Collection[str]
    ) -> dict[str, tuple[str, PlannedAdmission]]:
        """Each patient's open admission in a live plan, with the plan's id (the most recently
        approved where several hold one), reading those rows alone."""
        pa, p = t.planned_admissions, self.table
        connection = self._connection()
        found: dict[str, tuple[str, PlannedAdmission]] = {}
        for chunk in id_batches(connection, sorted(patient_ids)):
            statement = (
                select(pa.c.plan_id, pa.c.patient_id, pa.c.facility_id, pa.c.admission_date)
                .join(p, p.c.id == pa.c.plan_id)
                .where(
                    among(connection, pa.c.patient_id, chunk),
                    pa.c.withdrawn_reason == "",
                    p.c.status == PlanStatus.LIVE.value,
                )
                .order_by(p.c.approved_at, byte_order(p.c.id))
            )
            for row in connection.execute(statement):  # later approvals overwrite earlier ones
                admission = PlannedAdmission(row.patient_id, row.facility_id, row.admission_date)
                found[row.patient_id] = (row.plan_id, admission)
        return found

    def latest_admissions(self, patient_ids: Collection[str]) -> dict[str, PlannedAdmission]:
        """Each patient's open admission in the most recently approved plan that holds one."""
        pa, p = t.planned_admissions, self.table
        connection = self._connection()
        found: dict[str, PlannedAdmission] = {}
        for chunk in id_batches(connection, sorted(patient_ids)):
            statement = (
                select(pa.c.patient_id, pa.c.facility_id, pa.c.admission_date)
                .join(p, p.c.id == pa.c.plan_id)
                .where(among(connection, pa.c.patient_id, chunk), pa.c.withdrawn_reason == "")
                .order_by(p.c.approved_at, byte_order(p.c.id))
            )
            for row in connection.execute(statement):  # later approvals overwrite earlier ones
                found[row.patient_id] = PlannedAdmission(
                    row.patient_id, row.facility_id, row.admission_date
                )
        return found


# -- audit --------------------------------------------------------------------------------------


class SqlAuditLog:
    """The append-only audit trail; `before` and `after` are stored as JSON objects."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    def add(self, record: AuditRecord) -> None:
        self.add_many([record])

    def add_many(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        rows = [
            {
                "actor": r.actor,
                "at": r.at,
                "entity_type": r.entity_type,
                "entity_id": r.entity_id,
                "action": r.action,
                "before": r.before,
                "after": r.after,
                "reason": r.reason,
            }
            for r in records
        ]
        with garbage_collection_paused():
            insert_rows(self._connection(), t.audit_log, rows)

    def list(
        self,
        *,
        entity_type: str | None = None,
        entity_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Records matching the filters, newest first (ties in the order they were written)."""
        a = t.audit_log
        statement = select(a).order_by(a.c.at.desc(), a.c.id.desc())
        if entity_type is not None:
            statement = statement.where(a.c.entity_type == entity_type)
        if entity_id is not None:
            statement = statement.where(a.c.entity_id == entity_id)
        if limit is not None:
            statement = statement.limit(limit)
        return [_audit_record(row) for row in self._connection().execute(statement)]

    def trails(
        self, entity_type: str, entity_ids: Collection[str], since: datetime
    ) -> dict[str, Sequence[AuditRecord]]:
        """The records of each of ``entity_ids`` made at ``since`` or later, newest first (ties
        in the order they were written): a few statements for any number of entities (one
        `list` each had taken 0.7-1.5 ms an entity)."""
        a = t.audit_log
        connection = self._connection()
        found: dict[str, list[AuditRecord]] = defaultdict(list)
        with garbage_collection_paused():
            for chunk in id_batches(connection, sorted(set(entity_ids))):
                statement = (
                    select(a)
                    .where(
                        a.c.entity_type == entity_type,
                        among(connection, a.c.entity_id, chunk),
                        a.c.at >= since,
                    )
                    .order_by(a.c.at.desc(), a.c.id.desc())
                )
                for row in connection.execute(statement):
                    found[row.entity_id].append(_audit_record(row))
        return dict(found)


def _audit_record(row: Row[Any]) -> AuditRecord:
    return AuditRecord(
        actor=row.actor,
        at=row.at,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        action=row.action,
        before=row.before,
        after=row.after,
        reason=row.reason,
    )

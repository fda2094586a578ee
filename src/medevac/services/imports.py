"""Importing registry records from CSV or JSON files: all or nothing, idempotent.

Every row is checked first (columns, values, references to organisations and facilities,
duplicates); only a file without a single error is written, in one unit of work. Records are
upserted by their external id (capacity reports, which are never changed, by facility,
specialty and report time), so importing the same file again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

from medevac.domain.audit import AuditRecord, snapshot
from medevac.domain.errors import InvalidValue
from medevac.domain.facilities import CapacityReport, Facility
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.limits import CLOCK_SKEW, MAX_AGE_YEARS, earliest_birth_date, new_id_fault
from medevac.domain.organisations import Organisation
from medevac.domain.patients import Patient, StatusChange
from medevac.domain.repositories import UnitOfWork
from medevac.domain.vocabulary import Specialty
from medevac.interop.records import ImportFileError, ImportRejected, RecordKind, RowError
from medevac.interop.rows import SPECS, RecordSpec
from medevac.interop.tables import read_table
from medevac.interop.validation import ParsedRow, ParsedTable, parse_table
from medevac.memory import garbage_collection_paused
from medevac.planning.json_text import printable
from medevac.services.clock import day_of, shown
from medevac.services.holds import HOLDING_STATUSES
from medevac.services.registry import capacity_audit_id

__all__ = [
    "ImportFileError",
    "ImportRejected",
    "ImportResult",
    "ProgressCallback",
    "RecordKind",
    "RowError",
    "import_file",
    "import_files",
]

#: progress(done, total): every row counts one step when checked and one when written.
ProgressCallback = Callable[[int, int], None]

#: Rows per bulk read or write.
CHUNK = 5000
#: Report progress at least this often while checking rows.
PROGRESS_EVERY = 1000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: records created, updated and left unchanged."""

    kind: RecordKind
    source: str
    created: int
    updated: int
    unchanged: int

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(slots=True)
class _Plan:
    """What the import will write, decided before anything is written."""

    spec: RecordSpec[Any]
    created: list[Any] = field(default_factory=list)
    #: (entity as read, entity as it should become)
    updated: list[tuple[Any, Any]] = field(default_factory=list)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    def reject(self, row: ParsedRow, column: str, reason: str) -> None:
        self.errors.append(RowError(row.row, column, reason))


def import_file(
    uow: UnitOfWork,
    kind: RecordKind | str,
    path: Path,
    *,
    actor: str,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import a .csv or .json file of `kind` records in one unit of work.

    Raises ImportFileError when the file cannot be read as CSV or JSON, and ImportRejected
    listing every bad row (nothing is written) when any row is wrong.
    """
    [result] = import_files(uow, [(kind, path)], actor=actor, progress=progress, now=now)
    return result


def import_files(
    uow: UnitOfWork,
    files: Sequence[tuple[RecordKind | str, Path]],
    *,
    actor: str,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> list[ImportResult]:
    """Import several files in one unit of work, in order: all of them or nothing.

    A file may refer to records of the files before it (organisations, then facilities, then
    capacity and patients). The first file with bad rows raises ImportRejected for that file.
    """
    if not actor.strip():
        raise InvalidValue("actor", "an import needs the name of who makes it")
    with garbage_collection_paused():
        return _import_files(uow, files, actor=actor, progress=progress, now=now)


def _import_files(
    uow: UnitOfWork,
    files: Sequence[tuple[RecordKind | str, Path]],
    *,
    actor: str,
    progress: ProgressCallback | None,
    now: datetime | None,
) -> list[ImportResult]:
    at = now or datetime.now(UTC)
    batches = []
    for kind_name, path in files:
        kind = RecordKind(kind_name)
        table = read_table(path, kind)
        batches.append((kind, path, len(table.rows), parse_table(SPECS[kind], table)))
    total = 2 * sum(rows for _, _, rows, _ in batches)
    report = progress or (lambda done, total: None)
    report(0, total)
    counter = _Counter(report, total, 0)
    results = []
    with uow:
        for kind, path, rows, parsed in batches:
            counter.add(rows - len(parsed.rows))  # rows already refused by the parser
            plan = _plan(uow, kind, parsed, at, counter)
            errors = parsed.errors + plan.errors
            if errors:
                raise ImportRejected(path.name, errors)
            # a name may hold an ESC or a newline: the reason is free text, which refuses them
            # (a patient import had failed on it naming no row) and the trail replays it
            reason = f"imported from {printable(path.name)}"
            _write(uow, plan, actor=actor, at=at, reason=reason, done=counter)
            results.append(
                ImportResult(kind, path.name, len(plan.created), len(plan.updated), plan.unchanged)
            )
        uow.commit()
    report(total, total)
    return results


def _plan(
    uow: UnitOfWork, kind: RecordKind, parsed: ParsedTable, at: datetime, checked: _Counter
) -> _Plan:
    """Decide what to create, update or leave, and collect every error; writes nothing."""
    plan = _Plan(SPECS[kind])
    known = _known_references(
        uow, kind, [r.values for r in parsed.rows] + [item for _, item in parsed.failed]
    )
    if kind is RecordKind.CAPACITY:
        _plan_capacity(uow, plan, parsed.rows, known, at, checked)
    else:
        _plan_by_id(uow, plan, parsed.rows, known, checked, day_of(at))
    for number, item in parsed.failed:
        plan.errors.extend(_reference_errors(kind, number, item, known))
    return plan


class _Counter:
    """Counts progress steps and reports them every so often."""

    def __init__(self, report: ProgressCallback, total: int, done: int) -> None:
        self.report = report
        self.total = total
        self.done = done
        self._last = done

    def add(self, steps: int) -> None:
        self.done += steps
        if self.done - self._last >= PROGRESS_EVERY:
            self._last = self.done
            self.report(min(self.done, self.total), self.total)


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _get_many(
    get_many: Callable[[Collection[str]], Mapping[str, T]], ids: set[str]
) -> dict[str, T]:
    found: dict[str, T] = {}
    ordered = sorted(ids)
    for chunk in _chunks(ordered):
        found.update(get_many(chunk))
    return found


# --- organisations, facilities, patients: upsert by id ------------------------------------


def _repository(uow: UnitOfWork, kind: RecordKind) -> Any:
    return {
        RecordKind.ORGANISATIONS: uow.organisations,
        RecordKind.FACILITIES: uow.facilities,
        RecordKind.PATIENTS: uow.patients,
    }[kind]


def _plan_by_id(
    uow: UnitOfWork,
    plan: _Plan,
    rows: list[ParsedRow],
    known: dict[str, set[str]],
    checked: _Counter,
    today: date,
) -> None:
    """Check the rows of a kind upserted by id (``today``: the cell's, for birth dates) and
    sort them into ``plan``: created, updated, unchanged, or errors."""
    spec = plan.spec
    repository = _repository(uow, spec.kind)
    existing: dict[str, Any] = _get_many(repository.get_many, {r.values["id"] for r in rows})
    bound = _bound_to_sender(uow, rows, existing) if spec.kind is RecordKind.PATIENTS else {}
    for row in rows:
        checked.add(1)
        values = dict(row.values)
        status = values.pop("status", None)
        # Every check runs, so that one run lists all of a row's errors.
        problems = _reference_errors(spec.kind, row.row, values, known)
        current = existing.get(values["id"])
        stored = spec.values(current) if current is not None else None
        merged = stored | values if stored is not None else values
        try:
            entity = spec.build(merged)
        except InvalidValue as error:
            problems.append(RowError(row.row, spec.column_of(error.field), error.reason))
        else:
            born = entity.identity.birth_date if isinstance(entity, Patient) else None
            was = current.identity.birth_date if isinstance(current, Patient) else None
            # the domain allows today anywhere on Earth; a date on record is not checked again
            if born is not None and born != was and born > today:
                problems.append(RowError(row.row, "birth_date", f"{born} is after today ({today})"))
            elif born is not None and born != was and born < earliest_birth_date(today):
                problems.append(
                    RowError(
                        row.row,
                        "birth_date",
                        f"{born} is more than {MAX_AGE_YEARS} years before today ({today})",
                    )
                )
        why = bound.get(values["id"])
        if why is not None:  # only patients who would change organisation have a reason
            problems.append(RowError(row.row, "organisation_id", why))
        if isinstance(current, Patient) and status is not None and status != current.status:
            problems.append(
                RowError(
                    row.row,
                    "status",
                    f"patient {current.id} is {current.status} in the registry, not {status};"
                    " change a status with `medevac patients move`, not by import",
                )
            )
        fault = new_id_fault(values["id"]) if current is None else None
        if fault is not None:  # checked where records are created only (`new_id_fault`)
            problems.insert(0, RowError(row.row, spec.column_of("id"), fault))
        if problems:
            plan.errors.extend(problems)
            continue
        if current is None:
            if isinstance(entity, Patient) and status is not None:
                entity.status = PatientStatus(status)
            plan.created.append(entity)
            continue
        if spec.values(entity) == stored:
            plan.unchanged += 1
        else:
            plan.updated.append((current, entity))


#: statuses in which a patient's sending organisation is part of what was agreed: referred to
#: a receiver, accepted, on the way or in treatment under the sender's agreement
_SENT_ON = frozenset({PatientStatus.REFERRED, *HOLDING_STATUSES, PatientStatus.REHABILITATION})


def _bound_to_sender(
    uow: UnitOfWork, rows: Sequence[Any], existing: Mapping[str, Any]
) -> dict[str, str]:
    """Why the patients that ``rows`` would move to another organisation may not move (id ->
    reason): those on a live treatment request (sent by their organisation: the request would
    stay with the old one) or referred and beyond (their place was agreed for the old one's
    patient). `create_request` refuses a patient of another organisation; an import had moved
    a patient pending on a request to another organisation unsaid (found by a review)."""
    changing = {
        row.values["id"]
        for row in rows
        if isinstance(current := existing.get(row.values["id"]), Patient)
        and "organisation_id" in row.values
        and row.values["organisation_id"] != current.organisation_id
    }
    if not changing:
        return {}
    why: dict[str, str] = {}
    for request in uow.requests.live_for_patients(changing):
        for line in request.patients:
            if line.patient_id in changing and line.patient_id not in why:
                why[line.patient_id] = (
                    f"patient {line.patient_id} is on live request {request.id} from "
                    f"{request.from_organisation_id}; withdraw it from the request before "
                    "changing its organisation"
                )
    for patient_id in sorted(changing - why.keys()):
        patient = existing[patient_id]
        if patient.status in _SENT_ON:
            why[patient_id] = (
                f"patient {patient_id} is {patient.status} as {patient.organisation_id}'s "
                "patient; its organisation cannot change once it is referred"
            )
    return why


# --- references to organisations and facilities -------------------------------------------

#: Columns naming another record, and the kind of record they name.
REFERENCES: dict[RecordKind, dict[str, str]] = {
    RecordKind.ORGANISATIONS: {},
    RecordKind.FACILITIES: {"operator_id": "organisation"},
    RecordKind.CAPACITY: {"facility_id": "facility"},
    RecordKind.PATIENTS: {"organisation_id": "organisation", "location_id": "facility"},
}


def _known_references(
    uow: UnitOfWork, kind: RecordKind, rows: Sequence[Mapping[str, Any]]
) -> dict[str, set[str]]:
    """For each reference column, which of the ids the rows name exist in the registry."""
    known: dict[str, set[str]] = {}
    for column, target in REFERENCES[kind].items():
        ids = {v for row in rows if _reference(v := row.get(column))}
        get_many = (
            uow.organisations.get_many if target == "organisation" else uow.facilities.get_many
        )
        known[column] = set(_get_many(get_many, {_stripped(i) for i in ids}))
    return known


def _reference_errors(
    kind: RecordKind, row: int, values: Mapping[str, Any], known: dict[str, set[str]]
) -> list[RowError]:
    errors = []
    for column, target in REFERENCES[kind].items():
        value = values.get(column)
        if _reference(value) and _stripped(value) not in known[column]:
            errors.append(RowError(row, column, f"unknown {target} {_stripped(value)!r}"))
    return errors


#: the characters Unicode calls white space, which the row model strips from both ends of a
#: text; Python's `str.strip` strips U+001C-U+001F too, so an id ending in one was looked up
#: as another than the row holds, and refused later naming neither row nor column
WHITE_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def _stripped(value: str) -> str:
    """``value`` stripped of white space at both ends as the row model strips it."""
    return value.strip(WHITE_SPACE)


def _reference(value: object) -> TypeGuard[str]:
    """Whether a cell names a record to look up: a non-blank id without a NUL character (which
    no record's id holds, which the validation reports, and which PostgreSQL cannot even be
    asked about)."""
    return isinstance(value, str) and bool(value.strip()) and "\x00" not in value


# --- capacity reports: append-only --------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _plan_capacity(
    uow: UnitOfWork,
    plan: _Plan,
    rows: list[ParsedRow],
    known: dict[str, set[str]],
    at: datetime,
    checked: _Counter,
) -> None:
    facilities: dict[str, Facility] = _get_many(uow.facilities.get_many, known["facility_id"])
    stored: dict[tuple[str, str, datetime], CapacityReport] = {}
    for facility_id in sorted(facilities):
        for old in uow.capacity.history(facility_id):
            stored[(old.facility_id, old.specialty, _aware(old.reported_at))] = old

    latest_allowed = at + CLOCK_SKEW
    created: dict[str, datetime | None] = {}  # facility -> when it was recorded here
    for row in rows:
        checked.add(1)
        values = row.values
        # Every check runs, so that one run lists all of a row's errors.
        problems = _reference_errors(RecordKind.CAPACITY, row.row, values, known)
        specialty = Specialty(values["specialty"])
        previous = stored.get((values["facility_id"], specialty, values["reported_at"]))
        if previous is not None:
            # the figures a row of a recorded report leaves out are the recorded ones, as for
            # every kind: read as 0, a plus_72h left out had made the row "available exceeds
            # baseline plus surge" (found by a review)
            values = {f: getattr(previous, f) for f in FIGURES} | values
        report: CapacityReport | None = None
        try:
            report = plan.spec.build(values)
            assert isinstance(report, CapacityReport)
        except InvalidValue as error:
            problems.append(RowError(row.row, plan.spec.column_of(error.field), error.reason))
        facility = facilities.get(values["facility_id"])  # None: unknown, reported above
        # A report already recorded, with the same figures, is accepted as unchanged though the
        # facility no longer offers the specialty: an exported file had stopped importing back.
        differing = (
            [] if previous is None or report is None else _differing(previous, report, values)
        )
        recorded = previous is not None and report is not None and not differing
        if (
            facility is not None
            and not facility.offers(specialty)
            and not recorded
            and not _before_creation(uow, created, facility.id, values["reported_at"])
        ):
            offered = ", ".join(sorted(facility.specialties)) or "none"
            problems.append(
                RowError(
                    row.row,
                    "specialty",
                    f"{facility.id} does not offer {specialty} (it offers: {offered})",
                )
            )
        reported_at: datetime = values["reported_at"]
        if reported_at > latest_allowed:
            problems.append(
                RowError(row.row, "reported_at", f"{shown(reported_at)} is in the future")
            )
        if problems or report is None:
            plan.errors.extend(problems)
            continue
        if previous is None:
            plan.created.append(report)
        elif recorded:
            plan.unchanged += 1
        else:
            plan.reject(
                row,
                "reported_at",
                "a report of this facility, specialty and time is already recorded with other"
                f" figures ({_describe(previous, report, differing)}); reports are never changed,"
                " send a new one with a later reported_at",
            )


def _before_creation(
    uow: UnitOfWork, created: dict[str, datetime | None], facility_id: str, reported_at: datetime
) -> bool:
    """Whether a report made at ``reported_at`` predates the facility's record in this
    registry (its audit trail's first entry; ``created`` caches it per facility): such a
    report of a specialty the facility does not offer is history from another registry, a
    backup restored say, made while it may have offered it, and imports. A full export
    restored into an empty registry had been refused for one old report (its facility,
    imported first, was new there). A report made since the facility was recorded here, a new
    one naming a specialty by mistake say, is still refused, as is one made before a later
    change of the facility (its specialties are known here from then on)."""
    if facility_id not in created:
        trail = uow.audit.list(entity_type="facility", entity_id=facility_id)
        created[facility_id] = _aware(trail[-1].at) if trail else None
    first = created[facility_id]
    return first is not None and reported_at < first


#: the figures of a capacity report, as its columns name them
FIGURES = ("available", "baseline", "plus_24h", "plus_72h")


def _differing(
    previous: CapacityReport, report: CapacityReport, values: dict[str, Any]
) -> list[str]:
    """The figures a row gives (``values``) that differ from the report recorded: a column
    left out of the file (the optional plus_24h and plus_72h) leaves the recorded figure as
    it is, as for every kind (an export without them had been refused as "other figures",
    quoting the recorded ones only, equal to all the row gave: found by a review)."""
    return [f for f in FIGURES if f in values and getattr(previous, f) != getattr(report, f)]


def _describe(previous: CapacityReport, report: CapacityReport, differing: list[str]) -> str:
    return ", ".join(
        f"{f} {getattr(previous, f)} recorded, {getattr(report, f)} in the file" for f in differing
    )


# --- writing ------------------------------------------------------------------------------


def _audit_id(entity: Any) -> str:
    if isinstance(entity, CapacityReport):
        return capacity_audit_id(entity)
    assert isinstance(entity, Organisation | Facility | Patient)
    return entity.id


def _apply(target: Any, source: Any) -> None:
    """Copy the imported fields of `source` onto the entity read from the registry."""
    for f in fields(target):
        if f.name not in ("id", "version", "status", "history"):
            setattr(target, f.name, getattr(source, f.name))


def _write(
    uow: UnitOfWork, plan: _Plan, *, actor: str, at: datetime, reason: str, done: _Counter
) -> None:
    spec = plan.spec
    done.add(plan.unchanged)
    # Capacity reports are only ever added; the other kinds are added or updated.
    repository: Any = (
        uow.capacity if spec.kind is RecordKind.CAPACITY else _repository(uow, spec.kind)
    )

    for chunk in _chunks(plan.created):
        records = []
        for entity in chunk:
            if isinstance(entity, Patient):
                entity.history = [StatusChange(None, entity.status, actor, at, reason)]
            records.append(
                AuditRecord(
                    actor,
                    at,
                    spec.entity_type,
                    _audit_id(entity),
                    "create",
                    None,
                    snapshot(entity),
                    reason,
                )
            )
        repository.add_many(chunk)
        uow.audit.add_many(records)
        done.add(len(chunk))

    for pairs in _chunks(plan.updated):
        records = []
        for current, entity in pairs:
            before = snapshot(current)
            _apply(current, entity)
            records.append(
                AuditRecord(
                    actor,
                    at,
                    spec.entity_type,
                    _audit_id(current),
                    "update",
                    before,
                    snapshot(current),
                    reason,
                )
            )
        repository.update_many([current for current, _ in pairs])
        uow.audit.add_many(records)
        done.add(len(pairs))

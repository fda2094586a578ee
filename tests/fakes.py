"""In-memory implementations of every storage protocol of medevac.domain.repositories.

`FakeDatabase` holds the committed state; each `FakeUnitOfWork` works on a deep copy taken when
it is entered and publishes it on `commit`, so leaving without commit rolls back. Repositories
hand out and keep deep copies: changing an entity without `update` changes nothing stored.
Versions, duplicate ids and references (organisation, facility) are checked as the SQL store
checks them.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from medevac.domain.agreements import Agreement
from medevac.domain.audit import AuditRecord, snapshot
from medevac.domain.errors import ConcurrentModification, DomainError, NotFound
from medevac.domain.facilities import CapacityReport, Facility
from medevac.domain.lifecycle import PatientStatus
from medevac.domain.organisations import Organisation
from medevac.domain.patients import MoveTimes, Patient, PlanningPatient
from medevac.domain.plans import (
    ApprovedPlan,
    PlannedAdmission,
    PlanWithdrawal,
    withdrawal_reason,
)
from medevac.domain.repositories import (
    AgreementRepository,
    ApprovedPlanRepository,
    AuditLog,
    CapacityRepository,
    FacilityRepository,
    OrganisationRepository,
    PatientRepository,
    ScreeningMissionRepository,
    TreatmentRequestRepository,
)
from medevac.domain.requests import (
    Acceptance,
    PatientDecision,
    RequestStatus,
    TreatmentRequest,
)
from medevac.domain.screening import ScreeningMission
from medevac.domain.vocabulary import FacilityKind, Precedence, Specialty


class FakeStorageConflict(DomainError):
    """What the fake raises where the database would refuse a write (duplicate or dangling id)."""


class _Versioned(Protocol):
    id: str
    version: int


V = TypeVar("V", bound=_Versioned)


@dataclass
class FakeState:
    """Everything stored; a unit of work copies it on entry."""

    organisations: dict[str, Organisation] = field(default_factory=dict)
    facilities: dict[str, Facility] = field(default_factory=dict)
    capacity: list[CapacityReport] = field(default_factory=list)
    patients: dict[str, Patient] = field(default_factory=dict)
    requests: dict[str, TreatmentRequest] = field(default_factory=dict)
    screenings: dict[str, ScreeningMission] = field(default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    plans: dict[str, ApprovedPlan] = field(default_factory=dict)
    audit: list[AuditRecord] = field(default_factory=list)


def _copied(state: FakeState) -> FakeState:
    """A copy a unit of work can change freely: the entities deep, the append-only lists of
    frozen audit records and capacity reports shallow (deep copies of the growing audit
    trail had taken most of the time of long workflow tests)."""
    audit, capacity = state.audit, state.capacity
    state.audit, state.capacity = [], []
    try:
        copied = copy.deepcopy(state)
    finally:
        state.audit, state.capacity = audit, capacity
    copied.audit, copied.capacity = list(audit), list(capacity)
    return copied


class FakeDatabase:
    """The committed state shared by the units of work made from it."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.commits = 0

    def unit_of_work(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)


class _VersionedRepository(Generic[V]):
    """get / find / add / update and their bulk forms over a dict keyed by id."""

    kind = "entity"

    def __init__(self, rows: dict[str, V], check: Callable[[V], None] | None = None) -> None:
        self._rows = rows
        self._check = check

    def get(self, id: str) -> V:
        found = self.find(id)
        if found is None:
            raise NotFound(self.kind, id)
        return found

    def find(self, id: str) -> V | None:
        stored = self._rows.get(id)
        return copy.deepcopy(stored) if stored is not None else None

    def add(self, entity: V) -> None:
        self.add_many([entity])

    def add_many(self, entities: Sequence[V]) -> None:
        counts = Counter(e.id for e in entities)
        clashes = sorted(i for i, n in counts.items() if n > 1 or i in self._rows)
        if clashes:
            raise FakeStorageConflict(f"{self.kind} {', '.join(clashes)} already exists")
        for entity in entities:
            if self._check is not None:
                self._check(entity)
        for entity in entities:
            entity.version = 1
            self._rows[entity.id] = copy.deepcopy(entity)

    def update(self, entity: V) -> None:
        self.update_many([entity])

    def update_many(self, entities: Sequence[V]) -> None:
        for entity in entities:
            stored = self._rows.get(entity.id)
            if stored is None:
                raise NotFound(self.kind, entity.id)
            if stored.version != entity.version:
                raise ConcurrentModification(self.kind, entity.id, entity.version)
            if self._check is not None:
                self._check(entity)
        for entity in entities:
            entity.version += 1
            self._rows[entity.id] = copy.deepcopy(entity)

    def get_many(self, ids: Collection[str]) -> dict[str, V]:
        return {i: copy.deepcopy(self._rows[i]) for i in ids if i in self._rows}

    def _all(self, keep: Callable[[V], bool] = lambda _: True) -> list[V]:
        return [copy.deepcopy(e) for _, e in sorted(self._rows.items()) if keep(e)]


class FakeOrganisationRepository(_VersionedRepository[Organisation]):
    """Organisations by id."""

    kind = "organisation"

    def list(self) -> list[Organisation]:
        return self._all()


class FakeFacilityRepository(_VersionedRepository[Facility]):
    """Facilities by id; the operator must be a stored organisation."""

    kind = "facility"

    def list(
        self, *, kind: FacilityKind | None = None, operator_id: str | None = None
    ) -> list[Facility]:
        return self._all(
            lambda f: (
                (kind is None or f.kind == kind)
                and (operator_id is None or f.operator_id == operator_id)
            )
        )


class FakeCapacityRepository:
    """Append-only capacity reports; one per facility, specialty and time."""

    def __init__(self, state: FakeState) -> None:
        self._state = state

    def add(self, report: CapacityReport) -> None:
        self.add_many([report])

    def add_many(self, reports: Sequence[CapacityReport]) -> None:
        keys = {(r.facility_id, r.specialty, r.reported_at) for r in self._state.capacity}
        for report in reports:
            key = (report.facility_id, report.specialty, report.reported_at)
            if report.facility_id not in self._state.facilities:
                raise FakeStorageConflict(f"capacity of unknown facility {report.facility_id}")
            if key in keys:
                raise FakeStorageConflict(f"capacity report {key} already exists")
            keys.add(key)
        self._state.capacity.extend(reports)  # frozen dataclasses: no copy needed

    def latest(self, facility_id: str | None = None) -> list[CapacityReport]:
        newest: dict[tuple[str, Specialty], CapacityReport] = {}
        for report in self._state.capacity:
            if facility_id is not None and report.facility_id != facility_id:
                continue
            key = (report.facility_id, report.specialty)
            if key not in newest or report.reported_at > newest[key].reported_at:
                newest[key] = report
        return [newest[key] for key in sorted(newest)]

    def history(self, facility_id: str, specialty: Specialty | None = None) -> list[CapacityReport]:
        found = [
            r
            for r in self._state.capacity
            if r.facility_id == facility_id and (specialty is None or r.specialty == specialty)
        ]
        return sorted(found, key=lambda r: (r.reported_at, r.specialty))

    def exists(self, facility_id: str, specialty: Specialty, reported_at: datetime) -> bool:
        return any(
            r.facility_id == facility_id
            and r.specialty == specialty
            and r.reported_at == reported_at
            for r in self._state.capacity
        )


class FakePatientRepository(_VersionedRepository[Patient]):
    """Patients with their history; organisation and location must be stored."""

    kind = "patient"

    def update_statuses(self, patients: Sequence[Patient]) -> None:
        for patient in patients:  # the SQL repository writes the status alone
            stored = self._rows.get(patient.id)
            if stored is not None and _all_but_status(stored) != _all_but_status(patient):
                raise AssertionError(f"patient {patient.id} changed more than its status")
        self.update_many(patients)

    def count_by_status(self) -> dict[PatientStatus, int]:
        counts: dict[PatientStatus, int] = {}
        for patient in self._rows.values():
            counts[patient.status] = counts.get(patient.status, 0) + 1
        return counts

    def move_times(self, patient_ids: Collection[str]) -> dict[str, MoveTimes]:
        return {
            i: MoveTimes.of(self._rows[i])
            for i in patient_ids
            if i in self._rows and self._rows[i].history
        }

    def for_planning(self, statuses: Collection[PatientStatus]) -> list[PlanningPatient]:
        wanted = set(statuses)
        return [PlanningPatient.of(p) for p in self._all(lambda p: p.status in wanted)]

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
        found = self._all(
            lambda p: (
                (status is None or p.status == status)
                and (specialty is None or specialty in p.required_specialties)
                and (precedence is None or p.precedence == precedence)
                and (location_id is None or p.location_id == location_id)
                and (organisation_id is None or p.organisation_id == organisation_id)
            )
        )
        return found if limit is None else found[:limit]


class FakeTreatmentRequestRepository(_VersionedRepository[TreatmentRequest]):
    """Treatment requests by id."""

    kind = "treatment request"

    def live_for_patient(self, patient_id: str) -> list[TreatmentRequest]:
        found = [
            copy.deepcopy(r) for r in self._rows.values() if patient_id in r.open_patient_ids()
        ]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def with_patient(self, patient_id: str) -> list[TreatmentRequest]:
        found = self._all(lambda r: any(line.patient_id == patient_id for line in r.patients))
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def live_for_patients(self, patient_ids: Collection[str]) -> list[TreatmentRequest]:
        wanted = set(patient_ids)
        found = [
            copy.deepcopy(r) for r in self._rows.values() if wanted & set(r.open_patient_ids())
        ]
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def list(
        self, *, status: RequestStatus | None = None, organisation_id: str | None = None
    ) -> list[TreatmentRequest]:
        found = self._all(
            lambda r: (
                (status is None or r.status == status)
                and (
                    organisation_id is None
                    or organisation_id in (r.from_organisation_id, r.to_organisation_id)
                )
            )
        )
        return sorted(found, key=lambda r: (r.created_at, r.id))

    def acceptances(self, patient_ids: Collection[str]) -> dict[str, Acceptance]:
        wanted = set(patient_ids)
        found = [
            Acceptance(
                r.id,
                line.patient_id,
                r.to_organisation_id,
                line.decided_at,
                line.facility_id,
                line.admission_date,
                line.named_at,
            )
            for r in sorted(self._rows.values(), key=lambda r: (r.created_at, r.id))
            for line in r.patients
            if line.patient_id in wanted and line.decision is PatientDecision.ACCEPTED
        ]
        return {a.patient_id: a for a in found}


class FakeScreeningMissionRepository(_VersionedRepository[ScreeningMission]):
    """Screening missions by id."""

    kind = "screening mission"

    def list(self) -> list[ScreeningMission]:
        return sorted(self._all(), key=lambda m: (m.starts_on, m.id))


class FakeAgreementRepository(_VersionedRepository[Agreement]):
    """Agreements by id."""

    kind = "agreement"

    def list(self, *, organisation_id: str | None = None) -> list[Agreement]:
        found = self._all(
            lambda a: (
                organisation_id is None
                or organisation_id in (a.sending_organisation_id, a.receiving_organisation_id)
            )
        )
        return sorted(found, key=lambda a: (a.valid_from, a.id))


class FakeApprovedPlanRepository(_VersionedRepository[ApprovedPlan]):
    """Approved plans by id."""

    kind = "approved plan"

    def supersede(self, plan: ApprovedPlan) -> None:
        plan.supersede()
        self.update(plan)

    def live(self) -> list[ApprovedPlan]:
        return sorted(self._all(lambda p: p.is_live), key=lambda p: (p.approved_at, p.id))

    def live_for_patient(self, patient_id: str) -> list[ApprovedPlan]:
        found = self._all(lambda p: patient_id in p.open_patient_ids())
        return sorted(found, key=lambda p: (p.approved_at, p.id))

    def withdraw_patient(self, patient_id: str, reason: str) -> list[PlanWithdrawal]:
        why = withdrawal_reason(reason)  # refused before anything is looked up, as in SQL
        withdrawals = []
        for plan in self.live_for_patient(patient_id):
            plan.withdraw_patient(patient_id, why)
            self.update(plan)
            admission = plan.admission_of(patient_id)
            assert admission is not None
            withdrawals.append(PlanWithdrawal(plan.id, plan.version, admission))
        return withdrawals

    def withdraw_superseded(
        self, patient_ids: Collection[str], reason: str
    ) -> list[PlanWithdrawal]:
        why = withdrawal_reason(reason)
        withdrawals = []
        for plan in sorted(self._all(lambda p: not p.is_live), key=lambda p: p.id):
            changed = [i for i in sorted(set(patient_ids)) if plan.withdraw_patient(i, why)]
            for patient_id in changed:
                admission = plan.admission_of(patient_id)
                assert admission is not None
                withdrawals.append(PlanWithdrawal(plan.id, plan.version, admission))
            if changed:
                self._rows[plan.id] = copy.deepcopy(plan)  # its version stays, as in SQL
        return withdrawals

    def live_admissions(
        self, patient_ids: Collection[str]
    ) -> dict[str, tuple[str, PlannedAdmission]]:
        wanted = set(patient_ids)
        found: dict[str, tuple[str, PlannedAdmission]] = {}
        for plan in self.live():
            for admission in plan.admissions:
                if admission.patient_id in wanted and admission.is_open:
                    found[admission.patient_id] = (plan.id, copy.deepcopy(admission))
        return found

    def latest_admissions(self, patient_ids: Collection[str]) -> dict[str, PlannedAdmission]:
        wanted = set(patient_ids)
        found: dict[str, PlannedAdmission] = {}
        for plan in sorted(self._all(lambda p: True), key=lambda p: (p.approved_at, p.id)):
            for admission in plan.admissions:
                if admission.patient_id in wanted and admission.is_open:
                    found[admission.patient_id] = copy.deepcopy(admission)
        return found


class FakeAuditLog:
    """The audit trail as a list; `list` gives the newest first, like the SQL store."""

    def __init__(self, records: list[AuditRecord]) -> None:
        self._records = records

    def add(self, record: AuditRecord) -> None:
        self.add_many([record])

    def add_many(self, records: Sequence[AuditRecord]) -> None:
        self._records.extend(copy.deepcopy(list(records)))

    def list(
        self,
        *,
        entity_type: str | None = None,
        entity_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        numbered = [
            (r.at, n, r)
            for n, r in enumerate(self._records)
            if (entity_type is None or r.entity_type == entity_type)
            and (entity_id is None or r.entity_id == entity_id)
        ]
        numbered.sort(key=lambda item: (item[0], item[1]), reverse=True)
        found = [copy.deepcopy(r) for _, _, r in numbered]
        return found if limit is None else found[:limit]

    def trails(
        self, entity_type: str, entity_ids: Collection[str], since: datetime
    ) -> dict[str, Sequence[AuditRecord]]:
        found: dict[str, Sequence[AuditRecord]] = {}
        for entity_id in sorted(set(entity_ids)):
            trail = self.list(entity_type=entity_type, entity_id=entity_id)
            if records := [r for r in trail if r.at >= since]:
                found[entity_id] = records
        return found


class FakeUnitOfWork:
    """A unit of work over a FakeDatabase: `with uow: ...; uow.commit()`."""

    # Typed as the protocols (like SqlUnitOfWork) so that the fake is a UnitOfWork for mypy.
    organisations: OrganisationRepository
    facilities: FacilityRepository
    capacity: CapacityRepository
    patients: PatientRepository
    requests: TreatmentRequestRepository
    screenings: ScreeningMissionRepository
    agreements: AgreementRepository
    plans: ApprovedPlanRepository
    audit: AuditLog

    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.database = database or FakeDatabase()
        self.committed = False
        self._open = False
        self._close()

    def _close(self) -> None:
        """Repositories refuse use outside `with`, as the SQL unit of work does."""
        closed: Any = _ClosedRepository()
        self.organisations = self.facilities = self.capacity = self.patients = closed
        self.requests = self.screenings = self.agreements = self.audit = closed
        self.plans = closed

    def _begin(self) -> None:
        state = _copied(self.database.state)
        self._state = state

        def operator_known(facility: Facility) -> None:
            if facility.operator_id not in state.organisations:
                raise FakeStorageConflict(f"unknown operator organisation {facility.operator_id}")

        def references_known(patient: Patient) -> None:
            if patient.organisation_id not in state.organisations:
                raise FakeStorageConflict(f"unknown organisation {patient.organisation_id}")
            if patient.location_id is not None and patient.location_id not in state.facilities:
                raise FakeStorageConflict(f"unknown facility {patient.location_id}")

        self.organisations = FakeOrganisationRepository(state.organisations)
        self.facilities = FakeFacilityRepository(state.facilities, operator_known)
        self.capacity = FakeCapacityRepository(state)
        self.patients = FakePatientRepository(state.patients, references_known)
        self.requests = FakeTreatmentRequestRepository(state.requests)
        self.screenings = FakeScreeningMissionRepository(state.screenings)
        self.agreements = FakeAgreementRepository(state.agreements)
        self.plans = FakeApprovedPlanRepository(state.plans)
        self.audit = FakeAuditLog(state.audit)

    def serialized(self) -> Self:
        """Blocks of the fake already run alone: each works on its own copy of the state."""
        return self

    def __enter__(self) -> Self:
        if self._open:
            raise RuntimeError("the unit of work is already open; nested `with` is not supported")
        self._open = True
        self.committed = False
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        self._close()

    def commit(self) -> None:
        """Publish everything written since `with` (or the last commit); the block may go on."""
        if not self._open:
            raise RuntimeError("the unit of work is not open: use it as `with uow: ...`")
        self.database.state = _copied(self._state)
        self.database.commits += 1
        self.committed = True

    def rollback(self) -> None:
        """Drop everything written since the last commit."""
        if self._open:
            self._begin()


class _ClosedRepository:
    """Stands in for every repository while the unit of work is not open."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("the unit of work is not open: use it as `with uow: ...`")


def make_fake_uow() -> FakeUnitOfWork:
    """A unit of work over a new, empty in-memory database."""
    return FakeUnitOfWork(FakeDatabase())


__all__ = ["FakeDatabase", "FakeStorageConflict", "FakeUnitOfWork", "make_fake_uow"]


def _all_but_status(patient: Patient) -> dict[str, object]:
    return {k: v for k, v in snapshot(patient).items() if k != "status"}

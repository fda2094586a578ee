"""The SQL unit of work: one connection and one transaction per `with` block."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import psycopg
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from medevac.domain.errors import RegistryBusy, TransactionConflict
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
    UnitOfWork,
)
from medevac.store.database import (
    engine_for,
    guard_writes,
    lock_out_writers,
    lock_wait_of,
    lock_wait_ran_out,
)
from medevac.store.repositories import (
    SqlAgreementRepository,
    SqlApprovedPlanRepository,
    SqlAuditLog,
    SqlCapacityRepository,
    SqlFacilityRepository,
    SqlOrganisationRepository,
    SqlPatientRepository,
    SqlScreeningMissionRepository,
    SqlTreatmentRequestRepository,
)


class SqlUnitOfWork:
    """Repositories on one database transaction.

    Use as `with SqlUnitOfWork(url) as uow: ...; uow.commit()`. Leaving the block without
    `commit()` (or with an exception) rolls everything back. After `commit()` the block may go
    on; later writes need another `commit()`. Engines are shared per URL.
    """

    organisations: OrganisationRepository
    facilities: FacilityRepository
    capacity: CapacityRepository
    patients: PatientRepository
    requests: TreatmentRequestRepository
    screenings: ScreeningMissionRepository
    agreements: AgreementRepository
    plans: ApprovedPlanRepository
    audit: AuditLog

    def __init__(self, database: Engine | str) -> None:
        self.engine = database if isinstance(database, Engine) else engine_for(database)
        guard_writes(self.engine)  # already done for engines made by `create_engine_for`
        self._open: Connection | None = None
        self._serialize_next = False
        self._fresh_repositories()

    @property
    def connection(self) -> Connection:
        """The connection of the open block (for diagnostics and tests)."""
        return self._connection()

    def _connection(self) -> Connection:
        if self._open is None:
            raise RuntimeError("the unit of work is not open: use it as `with uow: ...`")
        return self._open

    def __enter__(self) -> Self:
        if self._open is not None:
            raise RuntimeError("the unit of work is already open; nested `with` is not supported")
        connection = self.engine.connect()
        if self._serialize_next:
            self._serialize_next = False
            try:
                connection = _serialize(connection)
            except BaseException as error:
                connection.close()
                if isinstance(error, DBAPIError) and (refusal := _refusal(error, self.engine)):
                    raise refusal from error
                raise
        self._open = connection
        self._fresh_repositories()
        return self

    def serialized(self) -> Self:
        """Run the next `with` block as if it were alone (see `UnitOfWork.serialized`): it
        begins once the transactions that have written ended, and no other transaction
        writes until it commits or ends. Transactions that only read go on meanwhile.

        SQLite: `BEGIN IMMEDIATE` takes the database's write lock before the first read;
        other writers wait at their first write.
        PostgreSQL: the block begins by taking the write lock exclusively (an advisory lock,
        `store.database.lock_out_writers`), which every other transaction takes in shared
        mode just before its first write (`guard_writes`), so they wait for each other in
        the same way. Either way a wait longer than the engine's lock wait
        (`store.database.DEFAULT_LOCK_WAIT_SECONDS`) ends in `RegistryBusy`, nothing
        written. After `commit()` the rest of the block runs as an ordinary transaction.
        """
        if self._open is not None:
            raise RuntimeError("serialized() must be called before the `with` block opens")
        self._serialize_next = True
        return self

    def _fresh_repositories(self) -> None:
        # New repositories per block: what they remember is only valid in one transaction.
        self.organisations = SqlOrganisationRepository(self._connection)
        self.facilities = SqlFacilityRepository(self._connection)
        self.capacity = SqlCapacityRepository(self._connection)
        self.patients = SqlPatientRepository(self._connection)
        self.requests = SqlTreatmentRequestRepository(self._connection)
        self.screenings = SqlScreeningMissionRepository(self._connection)
        self.agreements = SqlAgreementRepository(self._connection)
        self.plans = SqlApprovedPlanRepository(self._connection)
        self.audit = SqlAuditLog(self._connection)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._open = self._open, None
        if connection is None:
            return
        try:
            connection.rollback()
        finally:
            connection.close()
        # psycopg's own errors come from the statements run on the driver directly (COPY)
        if isinstance(exc, DBAPIError | psycopg.Error) and (refusal := _refusal(exc, self.engine)):
            raise refusal from exc

    def commit(self) -> None:
        try:
            self._connection().commit()
        except DBAPIError as error:
            if (refusal := _refusal(error, self.engine)) is not None:
                raise refusal from error
            raise

    def rollback(self) -> None:
        self._connection().rollback()


#: PostgreSQL's SQLSTATEs for "run the transaction again": serialization failure, deadlock.
_RETRY_STATES = frozenset({"40001", "40P01"})


def _serialize(connection: Connection) -> Connection:
    if connection.dialect.name == "sqlite":
        # pysqlite would only begin at the first write; begin now, holding the write lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return connection
    # An exclusive lock that writers wait for, not SERIALIZABLE: PostgreSQL checks
    # serializability only among SERIALIZABLE transactions, so an ordinary writer could commit
    # between the block's checks and its writes (a patient cancelled while its request was
    # drafted was left on the live request).
    return lock_out_writers(connection)


def _refusal(
    error: DBAPIError | psycopg.Error, engine: Engine
) -> TransactionConflict | RegistryBusy | None:
    """What a database error means for the caller, when it is not a fault: the lock wait of
    `engine` ran out (`RegistryBusy`), or a serialization failure or deadlock
    (`TransactionConflict`, named by the first line of the database's message; running again
    may go through). None for any other error. `error` is SQLAlchemy's
    wrapper, or psycopg's own error from a statement run on the driver directly (COPY)."""
    if lock_wait_ran_out(error):
        return RegistryBusy(lock_wait_of(engine))
    driver_error = error.orig if isinstance(error, DBAPIError) else error
    if getattr(driver_error, "sqlstate", None) not in _RETRY_STATES:
        return None
    text = str(driver_error or error).strip()
    return TransactionConflict(text.splitlines()[0] if text else "serialization failure")


def _conforms_to_protocol(uow: SqlUnitOfWork) -> UnitOfWork:
    """Lets the type checker prove that SqlUnitOfWork implements the UnitOfWork protocol."""
    return uow

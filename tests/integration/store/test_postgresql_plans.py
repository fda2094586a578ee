"""PostgreSQL plans every query with its real parameters (no cached generic plans)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.integration.store.builders import make_patient
from tests.integration.store.conftest import UowFactory

pytestmark = pytest.mark.storage


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")
def test_repeated_bulk_reads_leave_no_prepared_statement_behind(registry: UowFactory) -> None:
    # A generic plan prepared while the table was empty once made a re-import of 100,000
    # patients take minutes (a sequential scan testing `id = ANY($1)` element by element).
    with registry() as uow:
        uow.patients.add_many([make_patient(f"P-{i}") for i in range(20)])
        for _ in range(12):
            uow.patients.get_many([f"P-{i}" for i in range(20)])
        statements = text("SELECT count(*) FROM pg_prepared_statements")
        count = uow.connection.execute(statements).scalar()
    assert count == 0

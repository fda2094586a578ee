"""Refusals by PostgreSQL's own concurrency checks become a TransactionConflict, whether the
database refuses a statement or the commit.

Serialized blocks no longer meet such refusals (they exclude writers: see
test_serialized_blocks_exclude_writers.py), so these tests make two ordinary blocks
SERIALIZABLE themselves to provoke them; the translation is the unit of work's all the same.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from medevac.domain.errors import TransactionConflict
from tests.integration.concurrency import serializable
from tests.integration.store.builders import make_patient
from tests.integration.store.conftest import UowFactory

pytestmark = pytest.mark.storage


def _update_a_row_another_block_changed(registry: UowFactory) -> None:
    with registry() as first, registry() as second:
        serializable(first)
        serializable(second)
        patient = first.patients.get("P-1")
        other = second.patients.get("P-1")  # takes the second block's snapshot
        patient.companions = 1
        first.patients.update(patient)
        first.commit()
        other.companions = 2
        second.patients.update(other)  # refused: the row changed after the snapshot


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")
def test_a_row_changed_by_a_concurrent_transaction_is_a_conflict(registry: UowFactory) -> None:
    with registry() as uow:
        uow.patients.add(make_patient("P-1"))
        uow.commit()
    with pytest.raises(TransactionConflict, match="could not serialize"):
        _update_a_row_another_block_changed(registry)
    with registry() as uow:
        assert uow.patients.get("P-1").companions == 1


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")
def test_two_writers_that_read_what_the_other_writes_conflict_at_commit(
    registry: UowFactory,
) -> None:
    count = text("SELECT count(*) FROM patients")
    with registry() as first, registry() as second:
        serializable(first)
        serializable(second)
        # each decides on what the other is about to change (write skew)
        assert first.connection.execute(count).scalar() == 0
        assert second.connection.execute(count).scalar() == 0
        first.patients.add(make_patient("P-1"))
        second.patients.add(make_patient("P-2"))
        first.commit()
        with pytest.raises(TransactionConflict, match="could not serialize"):
            second.commit()
    with registry() as uow:
        assert uow.patients.find("P-1") is not None
        assert uow.patients.find("P-2") is None

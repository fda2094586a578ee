"""What the import tests share: the moment they import at, seeding a fake registry from a
sample one, and an import that must be refused having written nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from medevac.interop.records import ImportRejected, RecordKind, RowError
from medevac.interop.samples import SampleRegistry
from medevac.interop.tables import write_records
from medevac.services.imports import import_file
from tests.fakes import FakeDatabase

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
REFERENCE_KINDS = (RecordKind.ORGANISATIONS, RecordKind.FACILITIES)


def load(
    database: FakeDatabase, registry: SampleRegistry, tmp_path: Path, *kinds: RecordKind
) -> None:
    """Import the sample ``registry``'s records of ``kinds`` into ``database``, in order."""
    for kind in kinds:
        path = tmp_path / f"seed-{kind.value}.json"
        write_records(path, kind, registry.rows(kind))
        import_file(database.unit_of_work(), kind, path, actor="alice", now=NOW)


def rejected(database: FakeDatabase, kind: RecordKind, path: Path) -> list[RowError]:
    """The row errors of an import that must be refused, checking that it wrote nothing: no
    commit, no audit record, no facility, patient or capacity report changed."""
    state = database.state
    commits, audit = database.commits, list(state.audit)
    facilities, patients = dict(state.facilities), dict(state.patients)
    capacity = list(state.capacity)
    with pytest.raises(ImportRejected) as refusal:
        import_file(database.unit_of_work(), kind, path, actor="alice", now=NOW)
    assert database.commits == commits
    assert state.audit == audit
    assert state.facilities == facilities
    assert state.patients == patients
    assert state.capacity == capacity
    return refusal.value.errors

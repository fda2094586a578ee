"""Exporting registry records to CSV or JSON files with the columns the import reads.

An exported file imports back as "unchanged": the columns, separators and codes are the same.
Patients carry their current `status` as well (accepted again only when it is unchanged).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medevac.domain.repositories import UnitOfWork
from medevac.interop.records import RecordKind
from medevac.interop.rows import SPECS, export_row
from medevac.interop.tables import FileFormat, write_records

__all__ = ["export_file"]


def export_file(uow: UnitOfWork, kind: RecordKind | str, path: Path) -> int:
    """Write every `kind` record to a .csv or .json file; returns the number of rows written."""
    kind = RecordKind(kind)
    FileFormat.of(path)  # refuse a bad suffix before reading the registry
    spec = SPECS[kind]
    with uow:
        entities = _entities(uow, kind)
        rows = [export_row(spec, entity) for entity in entities]
    return write_records(path, kind, rows)


def _entities(uow: UnitOfWork, kind: RecordKind) -> list[Any]:
    if kind is RecordKind.ORGANISATIONS:
        return sorted(uow.organisations.list(), key=lambda o: o.id)
    if kind is RecordKind.FACILITIES:
        return sorted(uow.facilities.list(), key=lambda f: f.id)
    if kind is RecordKind.PATIENTS:
        return sorted(uow.patients.list(), key=lambda p: p.id)
    return list(_all_capacity_reports(uow))


def _all_capacity_reports(uow: UnitOfWork) -> Iterator[Any]:
    for facility in sorted(uow.facilities.list(), key=lambda f: f.id):
        history = uow.capacity.history(facility.id)
        yield from sorted(history, key=lambda r: (r.specialty.value, r.reported_at))

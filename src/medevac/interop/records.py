"""Record kinds that can be imported and exported, and the errors an import reports."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from medevac.domain.errors import DomainError

#: How many row errors the exception message spells out; `errors` always holds all of them.
MESSAGE_ERROR_LIMIT = 50
#: The column of an error about a whole row (too few or too many cells, not a JSON object).
WHOLE_ROW = "-"


class RecordKind(StrEnum):
    """The kinds of registry records that travel as CSV or JSON files."""

    ORGANISATIONS = "organisations"
    FACILITIES = "facilities"
    CAPACITY = "capacity"
    PATIENTS = "patients"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in an import file.

    `row` follows what a spreadsheet shows for CSV (header = row 1, first data row = row 2) and
    the 1-based position of the object in the array for JSON; None means the whole file (a
    column missing from every object of a JSON file). The column WHOLE_ROW means the whole row.
    """

    row: int | None
    column: str
    reason: str

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.column == WHOLE_ROW:
            return f"{where}: {self.reason}"
        return f"{where}, column {self.column}: {self.reason}"

    @property
    def sort_key(self) -> tuple[int, str]:
        return (-1 if self.row is None else self.row, self.column)


class ImportRejected(DomainError):
    """The file has bad rows; nothing was written. `errors` lists every one of them."""

    def __init__(self, source: str, errors: list[RowError]) -> None:
        self.source = source
        self.errors = sorted(errors, key=lambda e: e.sort_key)
        shown = "\n".join(str(e) for e in self.errors[:MESSAGE_ERROR_LIMIT])
        more = len(self.errors) - MESSAGE_ERROR_LIMIT
        tail = f"\n... and {more} more" if more > 0 else ""
        count = len(self.errors)
        super().__init__(
            f"{source}: {count} error{'s' if count != 1 else ''}, nothing imported\n{shown}{tail}"
        )


class ImportFileError(DomainError):
    """The file cannot be read as an import at all (missing, wrong suffix, not CSV or JSON)."""

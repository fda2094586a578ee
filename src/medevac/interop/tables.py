"""Reading and writing CSV and JSON record files.

A CSV file has a header row; its rows are numbered as a spreadsheet shows them (header = row 1,
first data row = row 2, blank lines count but are skipped). A JSON file is an array of objects
or an object with a single key naming the kind (`{"patients": [...]}`, which export writes);
its rows are numbered by position in the array from 1.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from medevac.domain.errors import json_error
from medevac.interop.records import ImportFileError, RecordKind, RowError
from medevac.interop.rows import SPECS, encode_csv_cell


class FileFormat(StrEnum):
    """File formats, chosen by suffix."""

    CSV = "csv"
    JSON = "json"

    @classmethod
    def of(cls, path: Path) -> FileFormat:
        suffix = path.suffix.lower().lstrip(".")
        try:
            return cls(suffix)
        except ValueError:
            raise ImportFileError(
                f"{path.name}: unsupported file type {path.suffix or '(no suffix)'!r};"
                " use a .csv or .json file"
            ) from None


@dataclass(slots=True)
class RawTable:
    """Rows of a file before validation: row number and the cells or object as read."""

    source: str
    format: FileFormat
    #: CSV header (None for JSON, whose objects each carry their own keys).
    header: list[str] | None
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: Problems found while reading (cells beyond the header, array items that are no objects).
    errors: list[RowError] = field(default_factory=list)


def read_table(path: Path, kind: RecordKind) -> RawTable:
    """Read a CSV or JSON file of `kind` records; raises ImportFileError if it is unreadable."""
    file_format = FileFormat.of(path)
    try:
        if file_format is FileFormat.CSV:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return _read_csv(path.name, handle)
        with path.open("rb") as handle:
            try:
                data = json.load(handle)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise  # each told below
            except (ValueError, RecursionError) as error:  # too deep, an integer too long
                raise ImportFileError(f"{path.name}: not valid JSON: {json_error(error)}") from None
        return _read_json(path.name, data, kind)
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path}: is a directory, not a file") from None
    except UnicodeDecodeError as error:
        raise ImportFileError(f"{path.name}: not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise ImportFileError(
            f"{path.name}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except csv.Error as error:
        raise ImportFileError(f"{path.name}: not valid CSV: {error}") from None
    except OSError as error:
        raise ImportFileError(f"{path}: cannot be read: {error.strerror}") from None


def _read_csv(source: str, lines: Iterable[str]) -> RawTable:
    reader: Iterator[list[str]] = csv.reader(lines, strict=True)
    header_cells = next(reader, None)
    if header_cells is None or not any(c.strip() for c in header_cells):
        raise ImportFileError(f"{source}: empty file; the first row must name the columns")
    header = [c.strip() for c in header_cells]
    # Spreadsheets often save empty trailing columns: a blank header is fine while its
    # cells are empty too.
    blank = [i for i, name in enumerate(header) if not name]
    named = [(i, name) for i, name in enumerate(header) if name]
    table = RawTable(source, FileFormat.CSV, [name for _, name in named])
    width = len(header)
    for row_number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        stray = [i for i in blank if cells[i].strip()]
        stray += [i for i in range(width, len(cells)) if cells[i].strip()]
        if stray:
            table.errors.append(
                RowError(
                    row_number,
                    f"#{stray[0] + 1}",
                    "holds a value in a column without a name in the header",
                )
            )
            continue
        table.rows.append((row_number, {name: cells[i] for i, name in named}))
    return table


def _read_json(source: str, data: Any, kind: RecordKind) -> RawTable:
    if isinstance(data, dict):
        if list(data) != [kind.value]:
            keys = ", ".join(repr(k) for k in data) or "none"
            raise ImportFileError(
                f"{source}: expected an array of {kind.value} or an object with the single key"
                f" {kind.value!r}; found the keys {keys}"
            )
        data = data[kind.value]
    if not isinstance(data, list):
        raise ImportFileError(f"{source}: expected an array of {kind.value} objects")
    table = RawTable(source, FileFormat.JSON, None)
    for index, item in enumerate(data):
        if isinstance(item, dict):
            table.rows.append((index + 1, item))
        else:
            table.errors.append(
                RowError(index + 1, "-", f"is a JSON {type(item).__name__}, not an object")
            )
    return table


def write_csv(path: Path, columns: list[str], rows: Iterable[Mapping[str, str]]) -> int:
    """Write text rows under a header; returns the number of data rows."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row[c] for c in columns])
            count += 1
    return count


def write_json(path: Path, kind: RecordKind, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write `{"<kind>": [...]}` with one object per line; returns the number of objects."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write(f'{{"{kind.value}": [')
        for row in rows:
            handle.write(",\n " if count else "\n ")
            handle.write(json.dumps(row, ensure_ascii=False))
            count += 1
        handle.write("\n]}\n" if count else "]}\n")
    return count


def write_records(path: Path, kind: RecordKind, rows: list[dict[str, Any]]) -> int:
    """Write rows in their JSON form to a .csv or .json file chosen by suffix.

    CSV cells are all encoded before the file is opened, so a value CSV cannot carry
    leaves no half-written file.
    """
    file_format = FileFormat.of(path)
    if file_format is FileFormat.JSON:
        return write_json(path, kind, rows)
    spec = SPECS[kind]
    columns = spec.columns
    text_rows = [{c: encode_csv_cell(spec, c, row.get(c)) for c in columns} for row in rows]
    return write_csv(path, columns, text_rows)

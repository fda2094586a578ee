"""Reading and writing CSV and JSON record files.

A CSV file has a header row; its rows are numbered as a spreadsheet shows them (header = row 1,
first data row = row 2, blank lines count but are skipped). A JSON file is an array of objects
or an object with a single key naming the kind (`{"patients": [...]}`, which export writes);
its rows are numbered by position in the array from 1.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from medevac.domain.errors import InvalidValue, json_error
from medevac.interop.records import (
    MESSAGE_ERROR_LIMIT,
    WHOLE_ROW,
    ImportFileError,
    RecordKind,
    RowError,
)
from medevac.interop.rows import SPECS, encode_csv_cell
from medevac.planning import json_text
from medevac.planning.plan import write_texts

#: The byte-order mark spreadsheets write at the start of a UTF-8 file.
BOM = b"\xef\xbb\xbf"
#: Byte-order marks of UTF-16 (little- and big-endian; UTF-32's little-endian one begins alike).
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: How many bytes at the start of a CSV file are looked at for the NULs of UTF-16 text.
ENCODING_SNIFF_BYTES = 64


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
    #: Problems found while reading (rows with too few or too many cells, cells under a blank
    #: header, array items that are no objects, keys given twice in a row's object).
    errors: list[RowError] = field(default_factory=list)


def read_table(path: Path, kind: RecordKind) -> RawTable:
    """Read a CSV or JSON file of `kind` records; raises ImportFileError if it is unreadable."""
    file_format = FileFormat.of(path)
    raw = b""
    try:
        # read a block at a time, up to a limit: a device or pipe that never ends (/dev/zero,
        # /dev/urandom) had been read until memory ran out (found by a review)
        try:
            raw = json_text.read_bytes(path)
        except json_text.FileTooLarge as error:
            raise ImportFileError(f"{path.name}: {error}") from None
        if file_format is FileFormat.CSV:
            _refuse_utf16(path.name, raw[:ENCODING_SNIFF_BYTES])
            text = raw.decode("utf-8-sig")
            return _read_csv(path.name, io.StringIO(text, newline=""))
        # decoded as json.loads decodes bytes (UTF-8, with or without a BOM, or UTF-16/32)
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
        repeated: list[str] = []
        try:
            data = json_text.loads(text)
        except json_text.RepeatedKeys as error:
            # the last value of each repeated key, so that the other rows are checked too, their
            # numbers marked as `json_text.loads` marks them (a rounded one had gone unsaid)
            repeated = error.paths
            data = json.loads(
                text, parse_float=json_text.read_number, parse_constant=json_text.read_constant
            )
        except json.JSONDecodeError:
            raise  # told below
        except (ValueError, RecursionError) as error:  # too deep, an integer too long
            # the text given, the number's line and column are named (the whole file had been
            # refused naming no place)
            raise ImportFileError(
                f"{path.name}: not valid JSON: {json_error(error, text)}"
            ) from None
        table = _read_json(path.name, data, kind, repeated)
        _decimals_as_written(text, kind, table)
        return table
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path}: is a directory, not a file") from None
    except UnicodeDecodeError as error:
        place = _undecodable_place(raw, file_format)
        raise ImportFileError(f"{path.name}: {place}not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise ImportFileError(
            f"{path.name}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except OSError as error:
        raise ImportFileError(f"{path}: cannot be read: {error.strerror}") from None


def _read_csv(source: str, lines: Iterable[str]) -> RawTable:
    reader = csv.reader(lines, strict=True)
    records = 0  # rows read so far, the header and blank lines included
    try:
        header_cells = next(reader, None)
        if header_cells is None or not any(c.strip() for c in header_cells):
            raise ImportFileError(f"{source}: empty file; the first row must name the columns")
        records = 1
        header = [c.strip() for c in header_cells]
        # Spreadsheets often save empty trailing columns: a blank header is fine while its
        # cells are empty too, and a row may leave them out.
        blank = [i for i, name in enumerate(header) if not name]
        named = [(i, name) for i, name in enumerate(header) if name]
        table = RawTable(source, FileFormat.CSV, [name for _, name in named])
        width = len(header)
        needed = named[-1][0] + 1
        for cells in reader:
            records += 1
            if not any(c.strip() for c in cells):
                continue
            if not needed <= len(cells) <= width:
                # A missing cell is not an empty one (which clears a field), and a cell too
                # many shifts the others: either way the row cannot be read as meant.
                hint = (
                    "every column needs a cell, an empty one to clear a field"
                    if len(cells) < needed
                    else "a text holding a comma must be in double quotes"
                )
                table.errors.append(
                    RowError(
                        records,
                        WHOLE_ROW,
                        f"has {len(cells)} cells, the header has {width} ({hint})",
                    )
                )
                continue
            stray = [i for i in blank if i < len(cells) and cells[i].strip()]
            if stray:
                table.errors.append(
                    RowError(
                        records,
                        f"#{stray[0] + 1}",
                        "holds a value in a column without a name in the header",
                    )
                )
                continue
            table.rows.append((records, {name: cells[i] for i, name in named}))
    except csv.Error as error:
        # The row being read when the reader gave up; a quoted cell may span several lines.
        line = "" if reader.line_num == records + 1 else f" (line {reader.line_num})"
        raise ImportFileError(
            f"{source}: row {records + 1}{line}: not valid CSV: {error}"
        ) from None
    return table


def _undecodable_place(data: bytes, file_format: FileFormat) -> str:
    """Where the first byte of the file's ``data`` that is not UTF-8 lies, as a prefix of the
    message: `row N: ` of a CSV file (`row N (line L): ` when a quoted cell spans lines before
    it), `line L: ` of a JSON file; "" if it cannot be told."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start].decode("utf-8")
    else:
        return ""  # a JSON file in UTF-16 or UTF-32, refused by the decoder of its own
    if file_format is not FileFormat.CSV:
        breaks = before.count("\n")  # as the JSON decoder counts lines
        return f"line {breaks + 1}: "
    # lines as the CSV reader counts them (ended by \n, \r\n or \r)
    lines = io.StringIO(before, newline="").readlines()
    line = len(lines) + (1 if not lines or lines[-1].endswith(("\n", "\r")) else 0)
    # The row holding the bad byte: the rows up to it, with a stand-in for the byte.
    try:
        row = sum(1 for _ in csv.reader(io.StringIO(before + "x", newline="")))
    except csv.Error:  # a cell beyond the size limit; the line is all there is to tell
        return f"line {line}: "
    return f"row {row}: " if row == line else f"row {row} (line {line}): "


def _refuse_utf16(name: str, head: bytes) -> None:
    """Refuse a CSV file (``name``, beginning with ``head``) in UTF-16, whose header had been
    read as column names full of NULs (`"\\x00i\\x00d"`) and reported as unknown columns: by
    its byte-order mark, or where it has none by the NULs of every other byte at the start
    (the header is ASCII)."""
    if head.startswith(UTF16_BOMS):
        reason = "is UTF-16 text (it starts with a UTF-16 byte-order mark)"
    elif len(head) >= 4 and any(
        half.count(0) >= 0.75 * len(half) for half in (head[0::2], head[1::2])
    ):
        reason = (
            "looks like UTF-16 text without a byte-order mark (NUL bytes between the characters"
            " of its first line)"
        )
    else:
        return
    raise ImportFileError(f"{name}: {reason}; save it as UTF-8 and import it again")


#: A path `json_text` names inside the array of rows: `[3].id`, `patients[3].conditions[0].x`.
_ROW_PATH = re.compile(r"\[([0-9]+)\](.+)", re.DOTALL)


def _repeated_key_errors(source: str, kind: RecordKind, paths: list[str]) -> list[RowError]:
    """Row errors for keys given twice in a row's object (the decoder keeps the last, so that
    `{"id": "A", ..., "id": "B"}` had become B unsaid), naming row and key; ImportFileError
    for keys given twice outside the rows (`{"patients": [...], "patients": [...]}` had lost
    the first array)."""
    errors = []
    outside = []
    for path in paths:
        inside = path.removeprefix(kind.value) if path.startswith(f"{kind.value}[") else path
        match = _ROW_PATH.fullmatch(inside)
        if match is None:
            outside.append(path)
            continue
        errors.append(
            RowError(
                int(match[1]) + 1,
                match[2].removeprefix("."),
                "is given more than once in its object; give each key once",
            )
        )
    if outside:
        keys = ", ".join(outside)
        which = f"the key {keys} is" if len(outside) == 1 else f"the keys {keys} are"
        raise ImportFileError(
            f"{source}: {which} given more than once in the file's object; give each key once"
        )
    return errors


def _json_type(value: Any) -> str:
    """A JSON value's type in JSON's words, with its article: `a JSON number`, `JSON null`."""
    if value is None:
        return "JSON null"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | float):
        return "a JSON number"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, list):
        return "a JSON array"
    return "a JSON object"


def _read_json(source: str, data: Any, kind: RecordKind, repeated: list[str]) -> RawTable:
    errors = _repeated_key_errors(source, kind, repeated)
    if isinstance(data, dict):
        if list(data) != [kind.value]:
            keys = ", ".join(repr(k) for k in data)
            raise ImportFileError(
                f"{source}: expected an array of {kind.value} or an object with the single key"
                f" {kind.value!r}; found "
                + (f"the keys {keys}" if keys else "an object without keys")
            )
        data = data[kind.value]
    if not isinstance(data, list):
        raise ImportFileError(f"{source}: expected an array of {kind.value} objects")
    table = RawTable(source, FileFormat.JSON, None, errors=errors)
    for index, item in enumerate(data):
        if isinstance(item, dict):
            table.rows.append((index + 1, item))
        else:
            table.errors.append(
                RowError(index + 1, WHOLE_ROW, f"is {_json_type(item)}, not an object")
            )
    return table


class WrittenDecimal(Decimal):
    """A decimal read from a JSON number, with the number's ``text`` as the file wrote it (a
    refusal quotes `1e400`, not `1E+400`)."""

    text: str

    @classmethod
    def of(cls, text: str) -> WrittenDecimal:
        number = cls(text)
        number.text = text
        return number


def _decimals_as_written(text: str, kind: RecordKind, table: RawTable) -> None:
    """Give the JSON numbers of the kind's decimal columns (tariffs) the value the file wrote
    where their float holds another: a tariff `0.30000000000000001` had been stored as 0.3 and
    `2.0000000000000000001` as 2.0, where the same CSV cell is refused for its decimal places.
    The file is decoded once more, its numbers as text, only where a row gives one of these
    columns a number with a point or an exponent (export writes a tariff as a string)."""
    columns = SPECS[kind].decimal_columns
    if not columns:
        return
    numbers = [
        (number, item, column)
        for number, item in table.rows
        for column in columns
        # `NaN` and `Infinity` stay the `json_text.NotJson` floats they are, for the row model
        # to refuse as no JSON numbers
        if isinstance(item.get(column), float) and not isinstance(item[column], json_text.NotJson)
    ]
    if not numbers:
        return
    # constants as text too: `NaN` had come back a float, and a tariff `NaN` had crashed
    written = json.loads(text, parse_float=str, parse_constant=str)
    if isinstance(written, dict):
        written = written[kind.value]
    for number, item, column in numbers:
        try:
            exact = WrittenDecimal.of(written[number - 1][column])
        except ArithmeticError:  # an exponent beyond a decimal's: refused as the float it is
            continue
        if not exact.is_finite():
            continue
        if exact != Decimal(repr(item[column])):  # as the row model makes a decimal of a float
            item[column] = exact


def write_csv(path: Path, columns: list[str], rows: Iterable[Mapping[str, str]]) -> int:
    """Write text rows under a header, whole or not at all (`write_texts`: an earlier file
    at ``path`` stays as it was where the writing fails, a full disk say, where writing in
    place had left it cut short); returns the number of data rows."""
    count = 0
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[c] for c in columns])
        count += 1
    write_texts([(path, handle.getvalue())])
    return count


def write_json(path: Path, kind: RecordKind, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write `{"<kind>": [...]}` with one object per line, whole or not at all (as
    `write_csv`); returns the number of objects."""
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    body = "\n " + ",\n ".join(lines) + "\n" if lines else ""
    write_texts([(path, f'{{"{kind.value}": [{body}]}}\n')])
    return len(lines)


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
    text_rows = []
    problems: list[tuple[str, InvalidValue]] = []
    for row in rows:
        try:
            text_rows.append({c: encode_csv_cell(spec, c, row.get(c)) for c in columns})
        except InvalidValue as error:
            problems.append((_record_name(spec.entity_type, row), error))
    if problems:
        # every record CSV cannot carry, each named, so that one run shows them all
        (record, first), more = problems[0], problems[1:MESSAGE_ERROR_LIMIT]
        lines = [f"{name}, {e.field}: {e.reason}" for name, e in more]
        if len(problems) > MESSAGE_ERROR_LIMIT:
            lines.append(f"... and {len(problems) - MESSAGE_ERROR_LIMIT} more")
        raise InvalidValue(f"{record}, {first.field}", "\n".join([first.reason, *lines]))
    return write_csv(path, columns, text_rows)


def _record_name(entity_type: str, row: Mapping[str, Any]) -> str:
    """How an export error names a record: `patient P-1`, `capacity_report F-1/burns at T`."""
    if "id" in row:
        return f"{entity_type} {row['id']}"
    return f"{entity_type} {row['facility_id']}/{row['specialty']} at {row['reported_at']}"

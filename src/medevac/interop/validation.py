"""Checking the rows of a file against the columns of its kind, collecting every error.

Column problems (unknown or missing columns) are reported once for the file, then every row
is validated with the kind's pydantic model; a bad row never hides the errors of later rows.
Cross-references to the registry are checked by the import service, which has the database.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model
from pydantic_core import ErrorDetails

from medevac.interop.records import WHOLE_ROW, RowError
from medevac.interop.rows import CSV_CONTEXT, RecordSpec, decode_csv_row
from medevac.interop.tables import FileFormat, RawTable
from medevac.planning import json_text


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A row that passed column validation: its number and the values it sets."""

    row: int
    #: Column -> value for the columns the row sets (a JSON object may leave some out).
    values: dict[str, Any]


@dataclass(slots=True)
class ParsedTable:
    """The valid rows of a file and the errors of the others."""

    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: Rows that failed validation or repeat a key, as decoded: their references are still
    #: worth checking.
    failed: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


_ADAPTERS: dict[type[Any], TypeAdapter[list[Any]]] = {}
_KEY_MODELS: dict[type[BaseModel], type[BaseModel]] = {}


def _adapter(model: type[Any]) -> TypeAdapter[list[Any]]:
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return _ADAPTERS[model]


def _key_of_failed_row(spec: RecordSpec[Any], item: dict[str, Any]) -> Hashable | None:
    """The key of a row that failed validation, when its key columns themselves are valid (so
    that a duplicate id is reported even between rows with other errors); else None."""
    model = spec.row_model
    if model not in _KEY_MODELS:
        fields: dict[str, Any] = {
            name: (model.model_fields[name].annotation, model.model_fields[name])
            for name in spec.key_columns
        }
        _KEY_MODELS[model] = create_model(
            f"{model.__name__}Key",
            __config__=ConfigDict(extra="ignore", str_strip_whitespace=True),
            **fields,
        )
    try:
        key = _KEY_MODELS[model].model_validate(item)
    except ValidationError:
        return None
    return spec.key(key.__dict__)


def _holds_nul(value: object) -> bool:
    """Whether a decoded cell or JSON value holds the character U+0000 anywhere."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict) and all(type(v) is str for v in value.values()):
        return "\x00" in "".join(value.values())  # a CSV row: one look (0.04 s for 100,000)
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return False


def parse_table(spec: RecordSpec[Any], table: RawTable) -> ParsedTable:
    """Validate every row of `table` as a `spec.kind` record; duplicates of a key are errors."""
    result = ParsedTable(errors=list(table.errors))
    columns = spec.columns
    known = set(columns)
    is_csv = table.format is FileFormat.CSV

    # Columns, once per file.
    present: dict[str, int] = {}
    if table.header is not None:
        seen: set[str] = set()
        for name in table.header:
            if name in seen:
                result.errors.append(
                    RowError(1, column_name(name), "column appears twice in the header")
                )
            seen.add(name)
            present.setdefault(name, 1)
    else:
        for number, item in table.rows:
            for name in item:
                present.setdefault(name, number)
    unknown = [name for name in present if name not in known]
    for name in unknown:
        result.errors.append(
            RowError(
                present[name],
                column_name(name) if name else "(blank)",
                f"unknown column; the columns are: {', '.join(columns)}",
            )
        )
    # An empty JSON array has no columns to miss.
    has_columns = is_csv or bool(table.rows)
    missing = {n for n in spec.required_columns if n not in present and has_columns}
    for name in sorted(missing, key=columns.index):
        result.errors.append(RowError(1 if is_csv else None, name, "required column is missing"))

    # Rows: decode CSV cells into JSON shapes, then validate all rows in one pass.
    numbers: list[int] = []
    items: list[dict[str, Any]] = []
    undecodable: set[int] = set()
    for number, raw in table.rows:
        item = raw
        if is_csv:
            cells = {k: v for k, v in item.items() if k in known} if unknown else item
            decoded, problems = decode_csv_row(spec, cells)
            for column, reason in problems.items():
                result.errors.append(RowError(number, column, reason))
            if problems:
                # Validate the other cells too, so that the row's other errors show as well.
                undecodable.add(len(items))
            item = decoded
        elif unknown:
            item = {k: v for k, v in item.items() if k in known}
        if _holds_nul(raw):  # one look at the row as read, then at its cells
            for column, value in item.items():
                if _holds_nul(value):
                    # PostgreSQL refuses NUL in text (naming no row or column); SQLite kept it
                    result.errors.append(
                        RowError(number, column, "contains a NUL character, which cannot be stored")
                    )
                    undecodable.add(len(items))
        numbers.append(number)
        items.append(item)

    adapter = _adapter(spec.row_model)
    context = CSV_CONTEXT if is_csv else None
    bad = set(undecodable)
    try:
        models = adapter.validate_python(items, context=context)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            index = detail["loc"][0]
            assert isinstance(index, int)
            bad.add(index)
            column = str(detail["loc"][1]) if len(detail["loc"]) > 1 else WHOLE_ROW
            if detail["type"] == "missing" and column in missing:
                continue  # reported once for the file
            result.errors.append(RowError(numbers[index], column, _reason(detail, is_csv)))
        kept = [i for i in range(len(items)) if i not in bad]
        models = adapter.validate_python([items[i] for i in kept], context=context)
    else:
        kept = list(range(len(items)))
    # a row refused above (a NUL, a CSV cell that cannot be decoded) is no valid row even where
    # the model takes it: it had gone on to be built and refused a second time
    valid = {i: model for i, model in zip(kept, models, strict=True) if i not in bad}

    # Duplicates of a key, among all rows whose key can be read: a row with other errors
    # still shows that it repeats an id. A valid duplicate is checked for references only.
    first_row: dict[Hashable, int] = {}
    duplicates: set[int] = set()
    column = "id" if "id" in known else "reported_at"
    what = "id" if column == "id" else "facility, specialty and reported_at"
    for index, number in enumerate(numbers):
        model = valid.get(index)
        if model is None:
            key = _key_of_failed_row(spec, items[index])
            if key is None:
                continue
        else:
            # The fields the row sets (nested conditions stay models); cheaper than model_dump.
            fields = model.__dict__
            values = {name: fields[name] for name in model.model_fields_set}
            key = spec.key(values)
        if key in first_row:
            result.errors.append(
                RowError(number, column, f"duplicate of row {first_row[key]} (same {what})")
            )
            duplicates.add(index)
            continue
        first_row[key] = number
        if model is not None:
            result.rows.append(ParsedRow(number, values))
    result.failed = [(numbers[i], items[i]) for i in sorted(bad | duplicates)]
    return result


def column_name(name: str) -> str:
    """A column name as a message shows it: as it is where every character is printable, else
    quoted with the others escaped as values are (`'\\x1b[31mEVIL'`), so that an ESC sequence
    in a header cannot reach the terminal and an invisible character shows."""
    return name if name.isprintable() else repr(name)


def _reason(detail: ErrorDetails, is_csv: bool) -> str:
    """A readable reason for one pydantic error, naming the list item or sub-field."""
    if detail["type"] == "missing":
        return "is required but empty" if is_csv else "is required"
    message = detail["msg"]
    if detail["type"] == "string_pattern_mismatch":
        message = "Must be one word without spaces"
    message = message[0].lower() + message[1:]
    place = ""
    for part in detail["loc"][2:]:
        place += f" item {part + 1}" if isinstance(part, int) else f" {part}"
    value = detail.get("input")
    if isinstance(value, bool):
        shown = f" (got {str(value).lower()})"  # as JSON writes it
    elif isinstance(value, json_text.WrittenNumber | Decimal):  # `WrittenDecimal` is a Decimal
        # the number as the file wrote it (`1e-400`, `1e400`), not the float it became
        written = getattr(value, "text", None)
        if not isinstance(written, str):  # a plain decimal, or one whose text was not kept
            written = str(value)
        shown = f" (got {written if len(written) <= 40 else written[:37] + '...'})"
    elif isinstance(value, str) and len(value) > 40:
        # a cell of thousands of characters had made a message as long (a latitude of 3,000
        # digits, 3,077 characters): its start and its length
        shown = f" (got {value[:37]!r}... {len(value):,} characters)"
    elif isinstance(value, str | int | float):
        shown = f" (got {value!r})"
    else:
        shown = ""
    return f"{place.strip()}: {message}{shown}" if place else f"{message}{shown}"

"""Fast paths for inserting and updating many rows in one statement stream.

SQLAlchemy's executemany spends about 30 µs per row turning each dict into parameters, which
is most of the time of a 100,000-patient import. For big batches these functions compile the
statement once, run the column types' bind processors themselves and hand plain tuples to the
driver: `executemany` on SQLite, `COPY` on PostgreSQL (and, for updates, COPY into a temporary
table followed by one version-checked `UPDATE ... FROM`). Small batches take the plain Core path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, Dialect, Table, bindparam, insert, update

from medevac.store.database import claim_write_lock, dumps_json
from medevac.store.tables import UtcDateTime

#: Below this many rows the ordinary Core executemany is used.
BULK_THRESHOLD = 500

Processor = Callable[[Any], Any] | None


def _sqlite_processors(table: Table, keys: Sequence[str], dialect: Dialect) -> list[Processor]:
    """The bind processors SQLAlchemy would apply, per key (so stored formats stay identical)."""
    processors: list[Processor] = []
    for key in keys:
        column = table.c.get(key)
        if column is None:
            processors.append(None)
            continue
        processors.append(column.type.dialect_impl(dialect).bind_processor(dialect))
    return processors


def _copy_processors(table: Table, keys: Sequence[str], dialect: Dialect) -> list[Processor]:
    """What COPY needs beyond psycopg's own adaptation: JSON as text, times checked and in UTC."""
    processors: list[Processor] = []
    for key in keys:
        column = table.c.get(key)
        if column is not None and isinstance(column.type, JSON):
            processors.append(lambda value: None if value is None else dumps_json(value))
        elif column is not None and isinstance(column.type, UtcDateTime):
            utc = column.type

            def to_utc(value: Any, utc: UtcDateTime = utc) -> Any:
                return utc.process_bind_param(value, dialect)

            processors.append(to_utc)
        else:
            processors.append(None)
    return processors


def _tuples(
    rows: Sequence[dict[str, Any]], keys: Sequence[str], processors: Sequence[Processor]
) -> list[Sequence[Any]]:
    """Parameter sequences in `keys` order, processed where a processor is given."""
    if len(keys) == 1:
        (key,) = keys
        (process,) = processors
        return [(row[key] if process is None else process(row[key]),) for row in rows]
    pick = itemgetter(*keys)
    processed = [(i, process) for i, process in enumerate(processors) if process is not None]
    if not processed:
        return [pick(row) for row in rows]
    result: list[Sequence[Any]] = []
    for row in rows:
        values = list(pick(row))
        for i, process in processed:
            values[i] = process(values[i])
        result.append(tuple(values))
    return result


def _ensure_transaction(connection: Connection) -> None:
    """Make SQLAlchemy own the transaction before talking to the driver directly."""
    if not connection.in_transaction():
        connection.begin()


def _copy(connection: Connection, target: str, keys: Sequence[str], tuples: Sequence[Any]) -> None:
    quote = connection.dialect.identifier_preparer.quote_identifier
    columns = ", ".join(quote(key) for key in keys)
    _ensure_transaction(connection)
    # COPY runs on the driver's cursor, where the engine's write guard does not see it
    claim_write_lock(connection)
    cursor = connection.connection.cursor()
    try:
        with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
            for values in tuples:
                copy.write_row(values)
    finally:
        cursor.close()


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert dict rows (all with the same keys) into `table`."""
    if not rows:
        return
    if len(rows) < BULK_THRESHOLD:
        connection.execute(insert(table), rows)
        return
    dialect = connection.dialect
    keys = list(rows[0])
    if dialect.name == "postgresql":
        tuples = _tuples(rows, keys, _copy_processors(table, keys, dialect))
        _copy(connection, dialect.identifier_preparer.quote_identifier(table.name), keys, tuples)
        return
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    order = list(compiled.positiontup or keys)
    processors = _sqlite_processors(table, order, dialect)
    connection.exec_driver_sql(str(compiled), _tuples(rows, order, processors))


def update_versioned_rows(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> int:
    """Run `UPDATE table SET ... WHERE id = match_id AND version = match_version` for each row.

    Each row holds the new column values (including the new `version`) plus `match_id` and
    `match_version`. Returns how many rows were updated.
    """
    if not rows:
        return 0
    keys = list(rows[0])
    values = [key for key in keys if key not in ("match_id", "match_version")]
    statement = update(table).where(
        table.c.id == bindparam("match_id"), table.c.version == bindparam("match_version")
    )
    if len(rows) < BULK_THRESHOLD:
        return connection.execute(statement, rows).rowcount
    dialect = connection.dialect
    if dialect.name == "postgresql":
        return _update_through_temporary_table(connection, table, rows, keys, values)
    compiled = statement.compile(dialect=dialect, column_keys=values)
    order = list(compiled.positiontup or keys)
    processors = _sqlite_processors(table, order, dialect)
    return connection.exec_driver_sql(str(compiled), _tuples(rows, order, processors)).rowcount


def _update_through_temporary_table(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    values: Sequence[str],
) -> int:
    quote = connection.dialect.identifier_preparer.quote_identifier
    target = quote(table.name)
    staging = quote(f"staging_{table.name}_{uuid.uuid4().hex[:8]}")
    _ensure_transaction(connection)
    columns = ", ".join(quote(key) for key in values)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "
        f"SELECT {columns} FROM {target} WITH NO DATA"
    )
    connection.exec_driver_sql(
        f"ALTER TABLE {staging} ADD COLUMN match_id text, ADD COLUMN match_version integer"
    )
    tuples = _tuples(rows, keys, _copy_processors(table, keys, connection.dialect))
    _copy(connection, staging, keys, tuples)
    assignments = ", ".join(f"{quote(key)} = s.{quote(key)}" for key in values)
    result = connection.exec_driver_sql(
        f"UPDATE {target} AS t SET {assignments} FROM {staging} AS s "
        "WHERE t.id = s.match_id AND t.version = s.match_version"
    )
    connection.exec_driver_sql(f"DROP TABLE {staging}")
    return result.rowcount

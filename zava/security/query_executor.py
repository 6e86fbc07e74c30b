"""Run a guarded free-form query inside a read unit of work, with row and byte caps.

The query must already have passed the SQL guard. It runs in the unit's transaction
(read-only, reader role, the caller's identity, statement timeout), wrapped so at most
``max_rows + 1`` rows are produced; the extra row only tells that the result was cut.
Values are converted to JSON-safe types, and the rendered result is capped in bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from zava.db.errors import translate_errors
from zava.db.unit_of_work import UnitOfWork
from zava.security.sql_guard import GuardedQuery

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]


@dataclass(frozen=True)
class QueryResult:
    """The rows of a query: columns, JSON-safe rows, and whether a cap cut them."""

    columns: list[str]
    rows: list[list[JsonValue]]
    truncated: bool
    elapsed_ms: float

    @property
    def row_count(self) -> int:
        """How many rows are returned (after any cut)."""
        return len(self.rows)


def to_json_value(value: object) -> JsonValue:
    """A JSON-safe form of a value asyncpg returned."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() and len(value.as_tuple().digits) <= 15 \
            else str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if hasattr(value, "items") and hasattr(value, "keys"):  # asyncpg.Record (composite)
        return {str(k): to_json_value(v) for k, v in value.items()}
    return str(value)


async def execute_guarded(
    uow: UnitOfWork, query: GuardedQuery, *, max_rows: int, max_bytes: int
) -> QueryResult:
    """Run ``query`` in ``uow`` and return at most ``max_rows`` rows and ~``max_bytes``."""
    connection = await uow.driver_connection()
    sql = query.sql if query.is_explain else (
        f"SELECT * FROM (\n{query.sql}\n) AS zava_query LIMIT {max_rows + 1}"
    )
    started = time.perf_counter()
    with translate_errors():
        # fetch() reuses the connection's prepared-statement cache: one round trip for a
        # repeated query. Only an empty result needs a describe to learn its columns.
        records = await connection.fetch(sql)
        if records:
            columns = list(records[0].keys())
        else:
            statement = await connection.prepare(sql)
            columns = [attribute.name for attribute in statement.get_attributes()]
    elapsed_ms = (time.perf_counter() - started) * 1000
    truncated = len(records) > max_rows
    rows: list[list[JsonValue]] = []
    size = 0
    for record in records[:max_rows]:
        row = [to_json_value(value) for value in record]
        size += len(json.dumps(row, default=str))
        if size > max_bytes:
            truncated = True
            break
        rows.append(row)
    return QueryResult(columns=columns, rows=rows, truncated=truncated, elapsed_ms=elapsed_ms)


async def plan_top_line(uow: UnitOfWork, query: GuardedQuery) -> str:
    """The first line of PostgreSQL's estimated plan for ``query`` (for the slow-query
    log; the query is not run again). Empty for an EXPLAIN or if planning fails."""
    if query.is_explain:
        return ""
    connection = await uow.driver_connection()
    try:
        return str(await connection.fetchval(f"EXPLAIN {query.sql}"))
    except Exception:  # the log line must not turn a served result into an error
        return ""

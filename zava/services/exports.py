"""Exports: a result the row cap cut, run again in full and written as CSV, chunk by
chunk, in the reader's own unit of work (so row-level security decides the rows).

Free SQL goes through ``queries.stream_query`` (the same guard and cost gate as
``execute_sales_query``, rows from a server-side cursor); governed metrics through
``metrics.query_metrics`` with the export's row cap as its limit. Values are written as
the SQL tool returns them: text as it is, numbers as JSON writes them, true/false,
empty for null, arrays and records as JSON. A text cell that a spreadsheet would run as
a formula (``=``, ``+``, ``-``, ``@`` first, and not a number) gets a leading ``'``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel

from zava.errors import ResultTooLargeError
from zava.repositories.json_values import JsonValue
from zava.security.sql_guard import SqlGuard
from zava.services.metrics import query_metrics
from zava.services.queries import QueryLimits, stream_query
from zava.services.unit_of_work import UnitOfWork

CHUNK_ROWS = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class MetricsRequest(BaseModel):
    """A ``query_metrics`` call to export: its arguments and the day its period was
    resolved on (a link read tomorrow still covers the same dates)."""

    metrics: list[str]
    group_by: list[str] = []
    filters: dict[str, list[str]] | None = None
    period: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    compare_to: str | None = None
    order_by: str | None = None
    today: dt.date


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def cell(value: JsonValue) -> str:
    """One CSV cell for a JSON-safe value (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        risky = value.startswith(_FORMULA_START) and not _is_number(value)
        return "'" + value if risky else value
    return json.dumps(value, ensure_ascii=False)


class CsvChunks:
    """CSV text (RFC 4180, CRLF line ends) one chunk of rows at a time, the header first;
    ``ResultTooLargeError`` once the text passes ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._size = 0
        self._started = False

    def write(self, columns: Sequence[str], rows: Sequence[Sequence[JsonValue]]) -> str:
        """The CSV text of ``rows`` (after the header, the first time)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        if not self._started:
            writer.writerow([cell(name) for name in columns])
            self._started = True
        writer.writerows([cell(value) for value in row] for row in rows)
        text = buffer.getvalue()
        self._size += len(text.encode())
        if self._size > self._max_bytes:
            raise ResultTooLargeError(
                f"the export is over {self._max_bytes:,} bytes (ZAVA_EXPORT_MAX_BYTES); "
                "select fewer columns, filter or aggregate")
        return text


async def query_csv(uow: UnitOfWork, guard: SqlGuard, sql: str, limits: QueryLimits, *,
                    max_bytes: int) -> AsyncGenerator[str]:
    """Every row of the free SQL ``sql`` (at most ``limits.max_rows``) as CSV chunks."""
    writer = CsvChunks(max_bytes)
    async with aclosing(stream_query(uow, guard, sql, limits,
                                     chunk_rows=CHUNK_ROWS)) as chunks:
        async for columns, rows in chunks:
            yield writer.write(columns, rows)


async def metrics_csv(uow: UnitOfWork, request: MetricsRequest, *, max_rows: int,
                      max_bytes: int) -> AsyncGenerator[str]:
    """Every group of the governed-metrics ``request`` (at most ``max_rows``) as CSV
    chunks: the dimension columns, then each metric column."""
    result = await query_metrics(
        uow, metrics=request.metrics, group_by=request.group_by, filters=request.filters,
        period=request.period, start=request.start, end=request.end,
        compare_to=request.compare_to, order_by=request.order_by, limit=max_rows,
        max_limit=max_rows, today=request.today)
    if result.truncated:
        raise ResultTooLargeError(f"the export is over {max_rows:,} rows "
                                  "(ZAVA_EXPORT_MAX_ROWS); filter or group by less")
    columns = [*result.group_by, *result.units]
    writer = CsvChunks(max_bytes)
    for first in range(0, max(len(result.rows), 1), CHUNK_ROWS):
        chunk = result.rows[first:first + CHUNK_ROWS]
        yield writer.write(columns, [[row.get(name) for name in columns] for row in chunk])

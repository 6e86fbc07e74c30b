"""Guarded free-form queries, run on the unit of work's session with row and byte caps.

The query must already have passed the SQL guard. It runs in the unit's transaction
(read-only, reader role, the caller's identity, statement timeout), wrapped so at most
``max_rows + 1`` rows are produced; the extra row only tells that the result was cut.
Values are converted to JSON-safe types, and the rendered result is capped in bytes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zava.db.errors import translate_errors
from zava.repositories.json_values import JsonValue, to_json_value
from zava.security.sql_guard import GuardedQuery


@dataclass
class QueryResult:
    """The rows of a query: columns, JSON-safe rows, and whether a cap cut them."""

    columns: list[str]
    rows: list[list[JsonValue]]
    truncated: bool
    elapsed_ms: float
    slow: bool = False
    """Set by the use case when the query took longer than the slow-query threshold."""

    @property
    def row_count(self) -> int:
        """How many rows are returned (after any cut)."""
        return len(self.rows)


class QueryRepository:
    """Runs guarded queries (and their plans) on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _driver(self) -> Any:
        """The asyncpg connection under the session (inside the unit's transaction)."""
        connection = await self._session.connection()
        return (await connection.get_raw_connection()).driver_connection

    async def run(self, query: GuardedQuery, *, max_rows: int, max_bytes: int) -> QueryResult:
        """Run ``query``; return at most ``max_rows`` rows and about ``max_bytes``."""
        connection = await self._driver()
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
        return QueryResult(columns=columns, rows=rows, truncated=truncated,
                           elapsed_ms=elapsed_ms)

    async def plan_top_line(self, query: GuardedQuery) -> str:
        """The first line of PostgreSQL's estimated plan for ``query`` (for the slow-query
        log; the query is not run again). Empty for an EXPLAIN or if planning fails."""
        if query.is_explain:
            return ""
        connection = await self._driver()
        try:
            return str(await connection.fetchval(f"EXPLAIN {query.sql}"))
        except Exception:  # the log line must not turn a served result into an error
            return ""

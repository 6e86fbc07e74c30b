"""Guarded free-form queries, run on the unit of work's session with row and byte caps
enforced inside PostgreSQL, before any value reaches this process.

The query must already have passed the SQL guard. It runs in the unit's transaction
(read-only, reader role, the caller's identity, statement timeout), wrapped so that:

- at most ``max_rows + 1`` rows are produced (the extra row only tells that the result
  was cut);
- PostgreSQL turns each row into JSON text (``row_to_json``): every type it has comes
  back as a faithful JSON value, text where JSON has none (dates beyond 9999, infinity,
  numerics beyond a double, ``"char"``), and no value ever reaches a Python decoder
  that could fail on it;
- a row's JSON text is made and sent only when the row is under ``max_bytes``
  (``pg_column_size``), and at most ``_PREFETCH`` + 1 rows are held at once: a 500 MB
  value costs this process a few bytes.

A query is first run whole with its rows limited to ``_PREFETCH`` + 1, in one execution
(so PostgreSQL may use parallel workers, which it never does for a portal read in
batches). Most answers (aggregates) end there; a longer one is run again through a
cursor, ``_PREFETCH`` rows per round trip, until the caps cut it.

Statements are unnamed: free SQL never leaves a server-side prepared statement (and its
plan) behind on a pooled connection. The repositories' own statements keep asyncpg's
statement cache.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from zava.db.errors import translate_errors
from zava.errors import QueryRejectedError, ResultTooLargeError, ResultTooNestedError
from zava.repositories.json_values import JsonValue, nesting_depth
from zava.security.sql_guard import GuardedQuery

_ROW = "zava_query_row"
_WRAPPED = """SELECT CASE WHEN z.zava_size <= {max_bytes} THEN row_to_json({row})::text END
FROM (
{sql}
) AS {row}, LATERAL (SELECT pg_column_size({row}.*) AS zava_size) AS z
LIMIT {limit}"""
_PREFETCH = 16
"""Rows read per round trip: what the server may hold beyond the cap is this many rows,
each under the cap."""
_COLUMNS = "SELECT * FROM (\n{sql}\n) AS {row} LIMIT 0"
_DOUBLE_DIGITS = 17
"""Significant digits that tell any double apart (what PostgreSQL writes at most)."""


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


def _number(text: str) -> int | float | str:
    """A JSON number as PostgreSQL wrote it: a number when a double is exactly that
    number, else its exact digits as text.

    An integer is a number when a double holds it exactly (2^63-1 is text). A decimal is
    a number when it is a nearest decimal of its length (at most 17 digits) to the double
    nearest it, i.e. what a correct printer writes for that double: so every float8 is a
    number (0.30000000000000004 too), while a numeric a double would round
    (2.3333333333333333), overflow (1e400) or flush towards zero (1e-400, most
    subnormals) keeps its digits as text."""
    value = Decimal(text)
    as_float = float(value)
    if not math.isfinite(as_float):
        return text
    if "." not in text and "e" not in text.lower():
        return int(text) if Decimal(as_float) == value else text
    digits = len(value.normalize().as_tuple().digits)
    if digits > _DOUBLE_DIGITS:
        return text
    unit = Fraction(10) ** (value.adjusted() - digits + 1)  # of the last digit written
    return as_float if 2 * abs(Fraction(value) - Fraction(as_float)) <= unit else text


class _Pairs(list[tuple[str, Any]]):
    """A JSON object's members in order, duplicate names kept."""


def _row(text: str) -> tuple[list[str], list[JsonValue]]:
    """Column names and values of one ``row_to_json`` text, in order, duplicates kept."""
    pairs: _Pairs = json.loads(text, object_pairs_hook=_Pairs, parse_float=_number,
                               parse_int=_number)
    return [name for name, _ in pairs], [_plain(value) for _, value in pairs]


def _plain(value: Any) -> JsonValue:
    """Nested records (member lists) as objects; arrays element-wise."""
    if isinstance(value, _Pairs):
        return {name: _plain(member) for name, member in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    plain: JsonValue = value
    return plain


def _too_nested(max_depth: int) -> ResultTooNestedError:
    return ResultTooNestedError(
        f"a value nests arrays or records more than {max_depth} levels deep; flatten it "
        "(select its fields, or cast it to text)")


def _wrapped(query: GuardedQuery, limit: int, max_bytes: int) -> str:
    """``query`` wrapped to at most ``limit`` rows of JSON text, each under ``max_bytes``."""
    return _WRAPPED.format(sql=query.sql, row=_ROW, limit=int(limit), max_bytes=int(max_bytes))


class _Rows:
    """The rows of a result as they arrive, cut at ``max_rows`` rows or ``max_bytes`` of
    JSON text."""

    def __init__(self, *, max_rows: int, max_bytes: int, max_depth: int) -> None:
        self.max_rows, self.max_bytes, self.max_depth = max_rows, max_bytes, max_depth
        self.values: list[list[JsonValue]] = []
        self.columns: list[str] | None = None
        self.truncated = False
        self._size = 0

    def add(self, text: str | None) -> bool:
        """Take one row's JSON text (None: over the byte cap); True when the result is
        cut here (the row is not taken). Raises ``ResultTooLargeError`` when the first
        row alone is over the cap and ``ResultTooNestedError`` for a value nested too
        deep."""
        self._size += len(text.encode()) if text is not None else self.max_bytes + 1
        if self._size > self.max_bytes or len(self.values) == self.max_rows:
            if not self.values and self.max_rows > 0:
                raise ResultTooLargeError(
                    f"the first row alone is over the {self.max_bytes:,}-byte result cap "
                    "(ZAVA_MAX_RESULT_BYTES); select fewer or shorter columns "
                    "(left(text, 200), length(text)) or aggregate")
            self.truncated = True
            return True
        assert text is not None
        try:
            self.columns, values = _row(text)
        except RecursionError:  # deeper than any parser here follows
            raise _too_nested(self.max_depth) from None
        if any(nesting_depth(value) > self.max_depth for value in values):
            raise _too_nested(self.max_depth)
        self.values.append(values)
        return False


class QueryRepository:
    """Runs guarded queries (and their plans) on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _driver(self) -> Any:
        """The asyncpg connection under the session (inside the unit's transaction): the
        connection the session is bound to, read directly while it is valid (the unit
        opened it; no session transaction and no greenlet hop are needed to reach it)."""
        bind = self._session.bind
        if isinstance(bind, AsyncConnection):
            sync = bind.sync_connection
            if sync is not None and not sync.invalidated and not sync.closed:
                return sync.connection.driver_connection
        connection = await self._session.connection()
        return (await connection.get_raw_connection()).driver_connection

    async def run(self, query: GuardedQuery, *, max_rows: int, max_bytes: int,
                  max_depth: int = 32) -> QueryResult:
        """Run ``query``; return at most ``max_rows`` rows and ``max_bytes`` of JSON text.

        Raises ``ResultTooLargeError`` when the first row alone is over ``max_bytes`` and
        ``ResultTooNestedError`` when a value nests deeper than ``max_depth``.
        """
        if query.is_explain:
            return await self._explain(query, max_rows=max_rows)
        connection = await self._driver()
        started = time.perf_counter()
        with translate_errors():
            # First the result whole if it is small: one execution with no row limit,
            # which PostgreSQL may run in parallel (a portal read in batches never is:
            # head office's revenue by store took 64 ms that way against 39 ms).
            first = min(int(max_rows), _PREFETCH)
            small = await connection.prepare(_wrapped(query, first + 1, max_bytes), name="")
            caps = {"max_rows": max_rows, "max_bytes": max_bytes, "max_depth": max_depth}
            rows = _Rows(**caps)
            records = await small.fetch()
            for (text,) in records:
                if rows.add(text):
                    break
            else:
                if len(records) > first:  # more may follow: read it all in batches
                    rows = _Rows(**caps)
                    statement = await connection.prepare(
                        _wrapped(query, int(max_rows) + 1, max_bytes), name="")
                    async for (text,) in statement.cursor(prefetch=_PREFETCH):
                        if rows.add(text):
                            break
            columns = rows.columns
            if columns is None:
                empty = await connection.prepare(_COLUMNS.format(sql=query.sql, row=_ROW),
                                                 name="")
                columns = [attribute.name for attribute in empty.get_attributes()]
        elapsed_ms = (time.perf_counter() - started) * 1000
        return QueryResult(columns=columns, rows=rows.values, truncated=rows.truncated,
                           elapsed_ms=elapsed_ms)

    async def stream(self, query: GuardedQuery, *, max_rows: int, max_row_bytes: int,
                     max_depth: int = 32, chunk_rows: int = 1000,
                     ) -> AsyncGenerator[tuple[list[str], list[list[JsonValue]]]]:
        """Run the SELECT ``query`` through a server-side cursor and yield its column
        names with each chunk of at most ``chunk_rows`` rows (once with no rows when it
        has none), values as ``run`` returns them. Raises ``ResultTooLargeError`` once
        more than ``max_rows`` rows come, or a row is over ``max_row_bytes``."""
        if query.is_explain:
            raise QueryRejectedError("an export runs a SELECT, not EXPLAIN")
        connection = await self._driver()
        sql = _WRAPPED.format(sql=query.sql, row=_ROW, limit=int(max_rows) + 1,
                              max_bytes=int(max_row_bytes))
        columns: list[str] | None = None
        chunk: list[list[JsonValue]] = []
        count = 0
        with translate_errors():
            statement = await connection.prepare(sql, name="")
            async for (text,) in statement.cursor(prefetch=chunk_rows):
                count += 1
                if count > max_rows or text is None:
                    raise ResultTooLargeError(
                        f"the export is over {max_rows:,} rows (ZAVA_EXPORT_MAX_ROWS); filter "
                        "or aggregate the query" if text is not None else
                        f"a row is over the {max_row_bytes:,}-byte cap (ZAVA_MAX_RESULT_BYTES)"
                        "; select fewer or shorter columns")
                try:
                    columns, values = _row(text)
                except RecursionError:
                    raise _too_nested(max_depth) from None
                if any(nesting_depth(value) > max_depth for value in values):
                    raise _too_nested(max_depth)
                chunk.append(values)
                if len(chunk) == chunk_rows:
                    yield columns, chunk
                    chunk = []
            if columns is None:
                empty = await connection.prepare(_COLUMNS.format(sql=query.sql, row=_ROW),
                                                 name="")
                columns = [attribute.name for attribute in empty.get_attributes()]
        if chunk or not count:
            yield columns, chunk

    async def _explain(self, query: GuardedQuery, *, max_rows: int) -> QueryResult:
        connection = await self._driver()
        started = time.perf_counter()
        with translate_errors():
            statement = await connection.prepare(query.sql, name="")
            records = await statement.fetch()
        elapsed_ms = (time.perf_counter() - started) * 1000
        return QueryResult(columns=["QUERY PLAN"],
                           rows=[[str(r[0])] for r in records[:max_rows]],
                           truncated=len(records) > max_rows, elapsed_ms=elapsed_ms)

    async def plan(self, query: GuardedQuery) -> list[str]:
        """The plan of the SELECT ``query``, without cost or row estimates."""
        connection = await self._driver()
        with translate_errors():
            statement = await connection.prepare(f"EXPLAIN (COSTS OFF) {query.sql}", name="")
            return [str(row[0]) for row in await statement.fetch()]

    async def estimated_cost(self, query: GuardedQuery) -> float:
        """The planner's total cost estimate for ``query`` (EXPLAIN, nothing is run)."""
        if query.is_explain:
            return 0.0
        connection = await self._driver()
        with translate_errors():
            statement = await connection.prepare(f"EXPLAIN (FORMAT JSON) {query.sql}",
                                                 name="")
            plan = await statement.fetchval()
        document = json.loads(plan) if isinstance(plan, str) else plan
        return float(document[0]["Plan"]["Total Cost"])

    async def plan_top_line(self, query: GuardedQuery) -> str:
        """The first line of PostgreSQL's estimated plan for ``query`` (for the slow-query
        log; the query is not run again). Empty for an EXPLAIN or if planning fails."""
        if query.is_explain:
            return ""
        connection = await self._driver()
        try:
            statement = await connection.prepare(f"EXPLAIN {query.sql}", name="")
            return str(await statement.fetchval())
        except Exception:  # the log line must not turn a served result into an error
            return ""

"""Free SQL as a use case: guard the text, refuse it when the planner expects it to be far
too costly, run it in the caller's unit of work with row and byte caps, and log it with
its plan's top line when it was slow."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from loguru import logger

from zava.cache.lru import Lru
from zava.errors import QueryRejectedError, QueryTooCostlyError
from zava.observability import tracing
from zava.repositories.json_values import JsonValue
from zava.repositories.queries import QueryResult
from zava.security.sql_guard import GuardedQuery, SqlGuard
from zava.services.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class QueryLimits:
    """What one free-form query may cost and return, and when it counts as slow."""

    max_rows: int
    max_bytes: int
    slow_query_ms: float
    max_cost: float = 0.0
    """The planner cost above which a query is refused (0: no gate)."""
    max_depth: int = 32
    log_query_text: bool = False
    """Put the query's text in the slow-query line (``--log-queries``)."""


class CheapQueries:
    """Queries the cost gate has passed recently, per caller: a repeated query skips its
    EXPLAIN (two round trips and a planning). Keyed by the caller because the estimate
    depends on their policies; an entry lasts ``ttl_s`` so that a verdict follows the
    statistics; at most ``size`` entries. Only passes are kept: a refused query is
    planned again each time."""

    def __init__(self, size: int = 10_000, ttl_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._passed: Lru[tuple[uuid.UUID, float, str], float] = Lru(size)
        self._ttl_s = ttl_s
        self._clock = clock

    def passed(self, caller: uuid.UUID, max_cost: float, sql: str) -> bool:
        """True when ``caller``'s ``sql`` passed a gate of ``max_cost`` within the TTL."""
        until = self._passed.get((caller, max_cost, sql))
        return until is not None and self._clock() < until

    def remember(self, caller: uuid.UUID, max_cost: float, sql: str) -> None:
        """``caller``'s ``sql`` passed a gate of ``max_cost`` just now."""
        self._passed.put((caller, max_cost, sql), self._clock() + self._ttl_s)


def query_hash(sql: str) -> str:
    """A short, stable fingerprint of a query's text (logged instead of the text)."""
    return hashlib.sha256(sql.encode()).hexdigest()[:16]


async def run_query(uow: UnitOfWork, guard: SqlGuard, sql: str, limits: QueryLimits, *,
                    cheap: tuple[CheapQueries, uuid.UUID] | None = None) -> QueryResult:
    """Guard ``sql`` (no connection is taken for a rejected query), gate it on the
    planner's estimate, run it in ``uow``, and log one warning with the plan's top line
    when it took ``slow_query_ms`` or more. ``cheap``: the recent passes of the gate and
    the caller ``uow`` acts for (a pass there skips the estimate)."""
    with tracing.span("zava.guard"):
        guarded = await guard.check_async(sql)
    async with uow:
        await _gate(uow, guarded, limits, cheap)
        result = await uow.queries.run(guarded, max_rows=limits.max_rows,
                                       max_bytes=limits.max_bytes, max_depth=limits.max_depth)
        if result.elapsed_ms >= limits.slow_query_ms:
            plan = await uow.queries.plan_top_line(guarded)
            _log_slow_query(sql, result.elapsed_ms, plan, limits)
            result.slow = True
    return result


async def stream_query(uow: UnitOfWork, guard: SqlGuard, sql: str, limits: QueryLimits, *,
                       chunk_rows: int = 1000,
                       ) -> AsyncGenerator[tuple[list[str], list[list[JsonValue]]]]:
    """``run_query`` for an export: the same guard and cost gate, then every row (at
    most ``limits.max_rows``; ``limits.max_bytes`` per row) in chunks from a server-side
    cursor, with the column names, while ``uow`` stays open (close the generator to end
    it early)."""
    guarded = await guard.check_async(sql)
    async with uow:
        await _gate(uow, guarded, limits, None)
        async with aclosing(uow.queries.stream(
                guarded, max_rows=limits.max_rows, max_row_bytes=limits.max_bytes,
                max_depth=limits.max_depth, chunk_rows=chunk_rows)) as chunks:
            async for columns, rows in chunks:
                yield columns, rows


async def _gate(uow: UnitOfWork, guarded: GuardedQuery, limits: QueryLimits,
                cheap: tuple[CheapQueries, uuid.UUID] | None) -> None:
    """Refuse ``guarded`` when the planner expects it to cost more than the budget
    (unless it passed lately); remember a pass."""
    if limits.max_cost and not _passed_recently(cheap, limits.max_cost, guarded.sql) \
            and await uow.queries.estimated_cost(guarded) > limits.max_cost:
        # The estimate itself is not shown: planner statistics count every store's
        # rows, and the number would tell a manager about the others' volumes.
        raise QueryTooCostlyError(
            f"the planner expects this query to cost far more than the budget "
            f"(ZAVA_MAX_QUERY_COST={limits.max_cost:g}), so it was not started; "
            "filter it (a date range on order_date, a store, a category), aggregate "
            "(GROUP BY with count/sum instead of raw rows), or avoid a join without a "
            "condition")
    if limits.max_cost and cheap is not None:
        cheap[0].remember(cheap[1], limits.max_cost, guarded.sql)


def _passed_recently(cheap: tuple[CheapQueries, uuid.UUID] | None, max_cost: float,
                     sql: str) -> bool:
    return cheap is not None and cheap[0].passed(cheap[1], max_cost, sql)


async def explain_query(uow: UnitOfWork, guard: SqlGuard, sql: str) -> list[str]:
    """PostgreSQL's plan for the SELECT ``sql`` without running it, and without cost or
    row estimates (statistics count every store's rows)."""
    with tracing.span("zava.guard"):
        guarded = await guard.check_async(sql)
    if guarded.is_explain:
        raise QueryRejectedError("pass the SELECT itself, without EXPLAIN")
    async with uow:
        return await uow.queries.plan(guarded)


def _log_slow_query(sql: str, elapsed_ms: float, plan: str, limits: QueryLimits) -> None:
    """One warning line; the caller's trace id comes from the logging context."""
    fields: dict[str, object] = {"query_hash": query_hash(sql), "ms": round(elapsed_ms, 1),
                                 "plan": plan}
    if limits.log_query_text:
        fields["query"] = sql
    logger.bind(slow_query=True, **fields).warning(
        "slow query " + " ".join(f"{k}={v}" for k, v in fields.items()))

"""Exports of free SQL through the same use case as execute_sales_query: the guard and
the cost gate again, rows from a server-side cursor in chunks (the same values as a
capped run, every row instead of the cap), the export caps as clear errors, under RLS."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.catalog_snapshot import load_catalog, production_guard
from zava.config import Settings
from zava.errors import QueryRejectedError, QueryTooCostlyError, ResultTooLargeError
from zava.repositories.json_values import JsonValue
from zava.security.sql_guard import SqlGuard
from zava.seeding import company
from zava.services.exports import query_csv
from zava.services.queries import QueryLimits, run_query, stream_query
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

SEATTLE = company.SEATTLE_MANAGER_ID
ORDERS = ("SELECT order_id, order_date, total_amount, status FROM retail.orders "
          "ORDER BY order_id")


@pytest.fixture(scope="module")
def guard() -> SqlGuard:
    return production_guard(load_catalog())


def limits(settings: Settings, max_rows: int = 100_000, max_cost: float = 0) -> QueryLimits:
    return QueryLimits(max_rows=max_rows, max_bytes=settings.max_result_bytes,
                       slow_query_ms=1e9, max_cost=max_cost)


async def streamed(engine: AsyncEngine, settings: Settings, guard: SqlGuard, sql: str,
                   chunk_rows: int, **limit: int) -> list[tuple[list[str], list[list[JsonValue]]]]:
    unit = SqlAlchemyUnitOfWork(engine, settings, SEATTLE)
    return [(columns, rows) async for columns, rows in stream_query(
        unit, guard, sql, limits(settings, **limit), chunk_rows=chunk_rows)]


async def test_chunks_hold_every_row_the_caller_sees(
        seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
        guard: SqlGuard) -> None:
    async with seeded_admin_engine.connect() as connection:
        seattle = await connection.scalar(text(
            "SELECT count(*) FROM retail.orders WHERE store_id = ANY(:ids)"),
            {"ids": sorted(company.visible_stores(company.managers()[0]))})
    chunks = await streamed(seeded_app_engine, settings, guard, ORDERS, chunk_rows=37)
    rows = [row for _, chunk in chunks for row in chunk]
    assert len(rows) == seattle and all(len(chunk) == 37 for _, chunk in chunks[:-1])
    assert all(columns == ["order_id", "order_date", "total_amount", "status"]
               for columns, _ in chunks)
    capped = await run_query(SqlAlchemyUnitOfWork(seeded_app_engine, settings, SEATTLE),
                             guard, ORDERS, limits(settings, max_rows=50))
    assert rows[:50] == capped.rows  # the values the SQL tool returns


async def test_an_empty_result_still_names_its_columns(
        seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard) -> None:
    chunks = await streamed(seeded_app_engine, settings, guard,
                            "SELECT order_id AS id FROM retail.orders WHERE false", chunk_rows=10)
    assert chunks == [(["id"], [])]


async def test_the_export_caps_and_the_guard_apply(
        seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard) -> None:
    with pytest.raises(ResultTooLargeError, match="ZAVA_EXPORT_MAX_ROWS"):
        await streamed(seeded_app_engine, settings, guard, ORDERS, chunk_rows=10, max_rows=25)
    with pytest.raises(QueryRejectedError):
        await streamed(seeded_app_engine, settings, guard, "DELETE FROM retail.orders",
                       chunk_rows=10)
    with pytest.raises(QueryTooCostlyError):
        await streamed(seeded_app_engine, settings, guard, ORDERS, chunk_rows=10, max_cost=1)


async def test_csv_of_a_query(seeded_app_engine: AsyncEngine, settings: Settings,
                              guard: SqlGuard) -> None:
    unit = SqlAlchemyUnitOfWork(seeded_app_engine, settings, SEATTLE)
    text_chunks = [chunk async for chunk in query_csv(
        unit, guard, "SELECT 1 AS n, 'a,b' AS t, NULL AS z, ARRAY[1,2] AS a",
        limits(settings), max_bytes=10_000)]
    assert list(csv.reader(io.StringIO("".join(text_chunks), newline=""))) == [
        ["n", "t", "z", "a"], ["1", "a,b", "", "[1, 2]"]]


async def test_a_reader_that_stops_early_gives_the_connection_back(
        seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard) -> None:
    chunks = stream_query(SqlAlchemyUnitOfWork(seeded_app_engine, settings, SEATTLE), guard,
                          ORDERS, limits(settings), chunk_rows=10)
    _, rows = await anext(chunks)
    assert len(rows) == 10 and seeded_app_engine.sync_engine.pool.checkedout() == 1
    await chunks.aclose()
    assert seeded_app_engine.sync_engine.pool.checkedout() == 0

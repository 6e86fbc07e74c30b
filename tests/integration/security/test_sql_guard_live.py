"""The SQL guard on the live catalog of a migrated database, read as the server's login
and built as the server builds it: what the catalog snapshot cannot show (the database's
own volatility and columns, a setting the guard depends on, the accepted queries being
real SQL here), and the same decisions as the snapshot guard of ``tests/unit/security``."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.attacks import ACCEPTED_ATTACKS, ATTACKS
from tests.support.catalog_snapshot import load_catalog, production_guard
from tests.unit.security.test_sql_guard import ACCEPTED, BYPASSES
from zava.errors import ConfigurationError, QueryRejectedError
from zava.repositories.schema import TABLE_DESCRIPTIONS
from zava.security.function_catalog import HARMLESS_VOLATILE
from zava.security.sql_guard import SqlGuard, load_function_catalog


@pytest.fixture(scope="module")
async def guard(app_engine: AsyncEngine) -> SqlGuard:
    async with app_engine.connect() as connection:
        catalog = await load_function_catalog(connection)
    return production_guard(catalog)


def decision(guard: SqlGuard, sql: str) -> str:
    """The accepted statement, or the rejection message."""
    try:
        return "accepted: " + guard.check(sql).sql
    except QueryRejectedError as exc:
        return "rejected: " + exc.message


def test_the_live_guard_decides_as_the_snapshot_guard(guard: SqlGuard) -> None:
    snapshot = production_guard(load_catalog())
    queries = ATTACKS + ACCEPTED + [sql for sql, _ in BYPASSES]
    differ = [sql for sql in queries if decision(guard, sql) != decision(snapshot, sql)]
    assert not differ, differ[:5]


async def test_accepted_queries_are_valid_postgresql(guard: SqlGuard,
                                                     admin_engine: AsyncEngine) -> None:
    """The acceptance list is real SQL for this database: each plans (EXPLAIN runs none)."""
    async with admin_engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute("SET search_path = retail, public")  # as the reader's
        for sql in ACCEPTED + sorted(ACCEPTED_ATTACKS):
            accepted = guard.check(sql)
            await driver.execute(accepted.sql if accepted.is_explain
                                 else f"EXPLAIN {accepted.sql}")
        await driver.execute("RESET search_path")


async def test_catalog_allows_no_volatile_function_but_the_harmless(
        guard: SqlGuard, admin_engine: AsyncEngine) -> None:
    async with admin_engine.connect() as connection:
        volatile = {row[0] for row in await connection.execute(text(
            "SELECT proname FROM pg_proc WHERE provolatile = 'v' AND prokind NOT IN ('a', 'w')"))}
    assert volatile & guard.catalog.functions <= HARMLESS_VOLATILE
    assert "random" in volatile & guard.catalog.functions


async def test_catalog_lets_every_retail_column_be_named_after_a_dot(
        guard: SqlGuard, admin_engine: AsyncEngine) -> None:
    async with admin_engine.connect() as connection:
        columns = [tuple(row) for row in await connection.execute(text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'retail'"))]
    assert len(columns) > 30
    for table, column in columns:
        if table in TABLE_DESCRIPTIONS:
            guard.check(f'SELECT t."{column}" FROM retail."{table}" AS t')


async def test_catalog_refuses_a_database_without_standard_conforming_strings(
        admin_engine: AsyncEngine) -> None:
    async with admin_engine.connect() as connection:
        await connection.execute(text("SET standard_conforming_strings = off"))
        with pytest.raises(ConfigurationError, match="standard_conforming_strings"):
            await load_function_catalog(connection)
        await connection.rollback()

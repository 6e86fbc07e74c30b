"""The foundation's isolation check on the seeded data: per store, each manager sees
exactly the rows of their visible stores, both under the reader role's policies alone
(``SET LOCAL ROLE zava_reader`` + the transaction-local caller) and through the unit of
work the server uses (which may pick the single-store reader role)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from zava.config import Settings
from zava.seeding import company
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

TABLES = ("orders", "order_items", "inventory", "stores")
PER_STORE = "SELECT store_id, count(*) FROM retail.{table} GROUP BY 1"


async def per_store(connection: AsyncConnection, table: str) -> dict[uuid.UUID, int]:
    rows = await connection.execute(text(PER_STORE.format(table=table)))
    return {store: count for store, count in rows}


async def expected(admin: AsyncEngine, table: str,
                   visible: frozenset[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Counts per store as the superuser, filtered explicitly to ``visible``."""
    async with admin.connect() as connection:
        rows = await connection.execute(
            text(f"SELECT store_id, count(*) FROM retail.{table} "
                 "WHERE store_id = ANY(:stores) GROUP BY 1"), {"stores": list(visible)})
        return {store: count for store, count in rows}


async def as_reader(app: AsyncEngine, manager_id: uuid.UUID, sql: str) -> list[Any]:
    """Run ``sql`` as zava_reader with ``manager_id`` as the caller (then roll back)."""
    async with app.connect() as connection, connection.begin() as transaction:
        await connection.execute(text("SET LOCAL ROLE zava_reader"))
        await connection.execute(
            text("SELECT set_config('app.current_rls_user_id', :caller, true)"),
            {"caller": str(manager_id)})
        rows = [tuple(row) for row in await connection.execute(text(sql))]
        await transaction.rollback()
        return rows


@pytest.mark.parametrize("manager", company.managers(), ids=lambda m: m.name)
@pytest.mark.parametrize("table", TABLES)
async def test_the_reader_policies_show_exactly_the_visible_stores(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine,
    manager: company.ManagerDef, table: str,
) -> None:
    visible = company.visible_stores(manager)
    seen = dict(await as_reader(seeded_app_engine, manager.manager_id,
                                PER_STORE.format(table=table)))
    assert seen == await expected(seeded_admin_engine, table, visible)
    assert set(seen) == visible  # every visible store has rows in the seed


@pytest.mark.parametrize("manager", company.managers(), ids=lambda m: m.name)
@pytest.mark.parametrize("table", TABLES)
async def test_the_unit_of_work_shows_exactly_the_visible_stores(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
    manager: company.ManagerDef, table: str,
) -> None:
    visible = company.visible_stores(manager)
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, manager.manager_id) as uow:
        seen = await per_store(uow.connection, table)
    assert seen == await expected(seeded_admin_engine, table, visible)
    assert set(seen) == visible


@pytest.mark.parametrize("manager", company.managers(), ids=lambda m: m.name)
async def test_customers_are_those_of_or_ordering_at_the_visible_stores(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine,
    manager: company.ManagerDef,
) -> None:
    visible = list(company.visible_stores(manager))
    async with seeded_admin_engine.connect() as connection:
        wanted = set((await connection.execute(text("""
            SELECT c.customer_id FROM retail.customers c
            WHERE c.store_id = ANY(:stores) OR EXISTS (
                SELECT FROM retail.orders o
                WHERE o.customer_id = c.customer_id AND o.store_id = ANY(:stores))"""),
            {"stores": visible})).scalars())
    seen = {row[0] for row in await as_reader(
        seeded_app_engine, manager.manager_id, "SELECT customer_id FROM retail.customers")}
    assert seen == wanted and wanted


async def test_no_caller_sees_nothing(seeded_app_engine: AsyncEngine) -> None:
    async with seeded_app_engine.connect() as connection, connection.begin():
        await connection.execute(text("SET LOCAL ROLE zava_reader"))
        for table in (*TABLES, "customers"):
            count = await connection.scalar(text(f"SELECT count(*) FROM retail.{table}"))
            assert count == 0, table

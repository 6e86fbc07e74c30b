"""The foundation's isolation check on the seeded data: per store, each manager sees
exactly the rows of their visible stores in every tenant table."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.db.unit_of_work import UnitOfWork
from zava.seeding import company

TABLES = ("orders", "order_items", "inventory", "stores")


@pytest.mark.parametrize("manager", company.managers(), ids=lambda m: m.name)
@pytest.mark.parametrize("table", TABLES)
async def test_rows_per_store_match_the_visible_stores(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
    manager: company.ManagerDef, table: str,
) -> None:
    count = f"SELECT store_id, count(*) FROM retail.{table} GROUP BY 1"
    async with seeded_admin_engine.connect() as connection:
        everything = dict((await connection.execute(text(count))).all())
    async with UnitOfWork(seeded_app_engine, settings, manager.manager_id) as uow:
        seen = dict((await uow.connection.execute(text(count))).all())
    visible = company.visible_stores(manager)
    assert seen == {store: n for store, n in everything.items() if store in visible}
    assert set(seen) == visible

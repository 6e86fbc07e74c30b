"""A witnessed unit of work records the newest order its caller can see, read in the same
transaction as the service's queries, for every manager; and the engine that served it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.seeding import company
from zava.services.provenance import FreshnessMemory, witnessed
from zava.services.unit_of_work import UnitOfWorkFactory

SEATTLE_STORE = next(s.store_id for s in company.stores() if s.name == "Seattle")


@pytest.mark.parametrize("manager", company.managers(), ids=lambda m: m.name)
async def test_the_newest_visible_order_is_recorded(
        seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
        manager: company.ManagerDef) -> None:
    async with seeded_admin_engine.connect() as connection:
        newest = await connection.scalar(
            text("SELECT max(order_date) FROM retail.orders WHERE store_id = ANY(:ids)"),
            {"ids": sorted(company.visible_stores(manager))})
    unit = witnessed(UnitOfWorkFactory(seeded_app_engine, settings), manager.manager_id)
    async with unit as uow:
        await uow.stores.visible()
    assert unit.freshness is not None
    assert unit.freshness.as_of == newest
    assert unit.freshness.engine is seeded_app_engine


async def test_a_failed_unit_records_nothing(seeded_app_engine: AsyncEngine,
                                             settings: Settings) -> None:
    unit = witnessed(UnitOfWorkFactory(seeded_app_engine, settings),
                     company.managers()[0].manager_id)
    with pytest.raises(RuntimeError):
        async with unit:
            raise RuntimeError("the service failed")
    assert unit.freshness is None


async def test_the_memory_reuses_a_callers_date_until_its_ttl(
        seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine,
        settings: Settings) -> None:
    seattle = company.SEATTLE_MANAGER_ID
    units = UnitOfWorkFactory(seeded_app_engine, settings)
    memory = FreshnessMemory(ttl_s=3600)

    async def as_of(memory: FreshnessMemory) -> object:
        unit = witnessed(units, seattle, memory=memory)
        async with unit as uow:
            await uow.stores.visible()
        assert unit.freshness is not None
        return unit.freshness.as_of

    before = await as_of(memory)
    async with seeded_admin_engine.begin() as connection:  # a later order, then undone
        moved = await connection.execute(text(
            "UPDATE retail.orders SET order_date = order_date + 400 WHERE order_id = "
            "(SELECT order_id FROM retail.orders WHERE store_id = :s "
            " ORDER BY order_date DESC LIMIT 1) RETURNING order_date"), {"s": SEATTLE_STORE})
        later = moved.scalar_one()
        assert await as_of(memory) == before  # remembered: no second read within the TTL
        assert await as_of(FreshnessMemory(ttl_s=0)) == before  # not committed yet
        await connection.commit()
    assert await as_of(memory) == before
    assert await as_of(FreshnessMemory(ttl_s=0)) == later  # a fresh read sees it
    expired = FreshnessMemory(ttl_s=0)
    expired.remember(seattle, seeded_app_engine, before)
    assert await as_of(expired) == later

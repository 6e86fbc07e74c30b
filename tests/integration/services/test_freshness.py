"""A witnessed unit of work records the newest order its caller can see, read in the same
transaction as the service's queries, for every manager; and the engine that served it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.seeding import company
from zava.services.provenance import witnessed
from zava.services.unit_of_work import UnitOfWorkFactory


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

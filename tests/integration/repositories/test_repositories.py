"""Repositories as each manager vs. plain SQL computed independently as superuser."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.seeding import company
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

MANAGERS = company.managers()
ALL_TIME = (dt.date(2000, 1, 1), dt.date(2100, 1, 1))
ONE_YEAR = (dt.date(2024, 1, 1), dt.date(2025, 1, 1))
COUNTED = "o.status IN ('placed', 'shipped', 'delivered')"


def ids(manager: company.ManagerDef) -> list[uuid.UUID]:
    return sorted(company.visible_stores(manager))


async def admin_rows(engine: AsyncEngine, sql: str, **params: object) -> list[tuple[object, ...]]:
    async with engine.connect() as connection:
        return [tuple(r) for r in await connection.execute(text(sql), params)]


@pytest.mark.parametrize("manager", MANAGERS, ids=lambda m: m.name)
async def test_visible_stores(seeded_app_engine: AsyncEngine, settings: Settings,
                              manager: company.ManagerDef) -> None:
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, manager.manager_id) as uow:
        names = [s.name for s in await uow.stores.visible()]
    expected = sorted(s.name for s in company.stores()
                      if s.store_id in company.visible_stores(manager))
    assert names == expected


@pytest.mark.parametrize("manager", MANAGERS, ids=lambda m: m.name)
async def test_top_products(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
    manager: company.ManagerDef,
) -> None:
    top = await admin_rows(seeded_admin_engine, f"""
        SELECT p.sku, sum(i.total_amount) FROM retail.order_items i
        JOIN retail.orders o USING (store_id, order_id) JOIN retail.products p USING (product_id)
        WHERE o.store_id = ANY(:ids) AND {COUNTED}
        GROUP BY p.sku ORDER BY 2 DESC, 1 LIMIT 5""", ids=ids(manager))
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, manager.manager_id) as uow:
        products = await uow.sales.top_products(*ALL_TIME, limit=5)
    assert [(p.sku, p.revenue) for p in products] == top


@pytest.mark.parametrize("manager", MANAGERS, ids=lambda m: m.name)
async def test_order_years(seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine,
                           settings: Settings, manager: company.ManagerDef) -> None:
    ((first, last),) = await admin_rows(seeded_admin_engine, """
        SELECT min(o.order_date), max(o.order_date) FROM retail.orders o
        WHERE o.store_id = ANY(:ids)""", ids=ids(manager))
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, manager.manager_id) as uow:
        years = await uow.sales.order_years()
    assert years == list(range(first.year, last.year + 1))  # type: ignore[attr-defined]


@pytest.mark.parametrize("manager", MANAGERS, ids=lambda m: m.name)
async def test_low_stock(seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine,
                         settings: Settings, manager: company.ManagerDef) -> None:
    expected = await admin_rows(seeded_admin_engine, """
        SELECT s.name, p.sku, v.stock_level FROM retail.inventory v
        JOIN retail.stores s USING (store_id) JOIN retail.products p USING (product_id)
        WHERE v.store_id = ANY(:ids) AND v.stock_level < 10
        ORDER BY v.stock_level, s.name, p.sku""", ids=ids(manager))
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, manager.manager_id) as uow:
        levels = await uow.inventory.low_stock(below=10, limit=100_000)
    assert [(s.store, s.sku, s.stock_level) for s in levels] == expected
    assert expected, "the tiny seed has low stock in every scope"


@pytest.mark.parametrize("manager", MANAGERS, ids=lambda m: m.name)
async def test_customer_activity(seeded_app_engine: AsyncEngine,
                                 seeded_admin_engine: AsyncEngine, settings: Settings,
                                 manager: company.ManagerDef) -> None:
    start, end = ONE_YEAR
    expected = await admin_rows(seeded_admin_engine, """
        WITH firsts AS (
            SELECT store_id, customer_id, min(order_date) AS first_date FROM retail.orders
            WHERE order_date < :end AND store_id = ANY(:ids) GROUP BY 1, 2),
        active AS (
            SELECT DISTINCT store_id, customer_id FROM retail.orders
            WHERE order_date >= :start AND order_date < :end AND store_id = ANY(:ids))
        SELECT s.name, count(*), count(*) FILTER (WHERE f.first_date >= :start)
        FROM active a JOIN firsts f USING (store_id, customer_id)
        JOIN retail.stores s USING (store_id) GROUP BY s.name ORDER BY s.name""",
        start=start, end=end, ids=ids(manager))
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, manager.manager_id) as uow:
        counts = await uow.customers.activity(start, end)
    assert [(c.store, c.customers, c.new_customers) for c in counts] == expected
    assert all(c.customers == c.new_customers + c.returning_customers for c in counts)


async def test_products_catalog_and_similarity(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings
) -> None:
    (sku, product_id), = await admin_rows(
        seeded_admin_engine, "SELECT sku, product_id FROM retail.products ORDER BY sku LIMIT 1")
    (vector,), = await admin_rows(
        seeded_admin_engine,
        "SELECT embedding::text FROM retail.product_description_embeddings "
        "WHERE product_id = :id", id=product_id)
    embedding = [float(x) for x in str(vector).strip("[]").split(",")]
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, company.SEATTLE_MANAGER_ID) as uow:
        categories = await uow.products.categories()
        matches = await uow.products.similar(embedding, min_similarity=0.3, limit=5)
    assert len(categories) >= 5 and categories == sorted(categories)
    by_sku = matches[0].product
    assert by_sku.sku == sku and matches[0].similarity == pytest.approx(1, abs=1e-3)
    assert all(m.similarity >= 0.3 for m in matches)
    assert by_sku.gross_margin_percent == ((by_sku.base_price - by_sku.cost) * 100
                                           / by_sku.base_price).quantize(Decimal("0.01"))

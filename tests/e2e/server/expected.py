"""Answers computed independently, as superuser with explicit store filters."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.seeding import company
from zava.services import periods

COUNTED = "o.status IN ('placed', 'shipped', 'delivered')"


class Expected:
    """What a manager should see, from SQL over every store filtered explicitly."""

    def __init__(self, engine: AsyncEngine, manager: company.ManagerDef) -> None:
        self.engine = engine
        self.manager = manager
        self.ids = sorted(company.visible_stores(manager))
        self.store_names = sorted(s.name for s in company.stores() if s.store_id in self.ids)

    async def rows(self, sql: str, **params: Any) -> list[list[Any]]:
        async with self.engine.connect() as connection:
            result = await connection.execute(text(sql), {"ids": self.ids, **params})
            return [list(r) for r in result]

    async def orders_per_store(self) -> list[list[Any]]:
        return await self.rows("""
            SELECT s.name, count(*) FROM retail.orders o JOIN retail.stores s USING (store_id)
            WHERE o.store_id = ANY(:ids) GROUP BY s.name ORDER BY s.name""")

    async def revenue_per_store(self, period: str) -> dict[str, float]:
        current, _ = periods.resolve(period, dt.datetime.now(dt.UTC).date())
        rows = await self.rows(f"""
            SELECT s.name, coalesce(sum(o.total_amount), 0) FROM retail.stores s
            LEFT JOIN retail.orders o ON o.store_id = s.store_id AND {COUNTED}
              AND o.order_date >= :start AND o.order_date < :end
            WHERE s.store_id = ANY(:ids) GROUP BY s.name""", start=current.start, end=current.end)
        return {name: float(revenue) for name, revenue in rows}

    async def top_skus(self, period: str, limit: int) -> list[str]:
        current, _ = periods.resolve(period, dt.datetime.now(dt.UTC).date())
        rows = await self.rows(f"""
            SELECT p.sku FROM retail.order_items i JOIN retail.orders o USING (store_id, order_id)
            JOIN retail.products p USING (product_id)
            WHERE o.store_id = ANY(:ids) AND {COUNTED}
              AND o.order_date >= :start AND o.order_date < :end
            GROUP BY p.sku ORDER BY sum(i.total_amount) DESC, p.sku LIMIT :limit""",
            start=current.start, end=current.end, limit=limit)
        return [r[0] for r in rows]

    async def low_stock(self, threshold: int) -> list[list[Any]]:
        return await self.rows("""
            SELECT s.name, p.sku, v.stock_level FROM retail.inventory v
            JOIN retail.stores s USING (store_id) JOIN retail.products p USING (product_id)
            WHERE v.store_id = ANY(:ids) AND v.stock_level < :threshold
            ORDER BY v.stock_level, s.name, p.sku LIMIT 50""", threshold=threshold)

    async def units_on_hand(self, skus: list[str]) -> dict[str, int]:
        rows = await self.rows("""
            SELECT p.sku, sum(v.stock_level) FROM retail.inventory v
            JOIN retail.products p USING (product_id)
            WHERE v.store_id = ANY(:ids) AND p.sku = ANY(:skus) GROUP BY p.sku""", skus=skus)
        return {sku: int(units) for sku, units in rows}

    async def store_ids_in_table(self, table: str) -> set[uuid.UUID]:
        rows = await self.rows(f"SELECT DISTINCT store_id FROM retail.{table}")
        return {r[0] for r in rows}

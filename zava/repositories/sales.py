"""Sales: the best-selling products, the years with orders.

The typed tools' other sales figures come from the metrics layer
(``zava.repositories.metrics``), which reads counted orders as defined here."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from decimal import Decimal

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from zava.db.errors import translate_errors
from zava.db.models import Category, Order, OrderItem, Product, Store
from zava.repositories.results import ProductSales

COUNTED_STATUSES = ("placed", "shipped", "delivered")
"""Orders that count as sales (returned and cancelled ones do not)."""


def _in_period(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    return (Order.order_date >= start) & (Order.order_date < end) & Order.status.in_(
        COUNTED_STATUSES
    )


def _in_stores(store_ids: Collection[uuid.UUID] | None) -> ColumnElement[bool]:
    if store_ids is None:
        return Order.store_id.is_not(None)
    return Order.store_id.in_(list(store_ids))


class SalesRepository:
    """Aggregates over orders and order items (RLS keeps them to the caller's stores)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def top_products(self, start: dt.date, end: dt.date, *, limit: int = 10,
                           store_ids: Collection[uuid.UUID] | None = None,
                           category: str | None = None) -> list[ProductSales]:
        """Best-selling products by revenue in [start, end)."""
        revenue = func.sum(OrderItem.total_amount)
        query = (
            select(Product.sku, Product.name, Category.name, func.sum(OrderItem.quantity),
                   revenue)
            .join(Order, (Order.store_id == OrderItem.store_id)
                  & (Order.order_id == OrderItem.order_id))
            .join(Product, Product.product_id == OrderItem.product_id)
            .join(Category, Category.category_id == Product.category_id)
            .where(_in_period(start, end), _in_stores(store_ids))
            .group_by(Product.sku, Product.name, Category.name)
            .order_by(revenue.desc(), Product.sku)
            .limit(limit)
        )
        if category is not None:
            query = query.where(Category.name.ilike(category))
        with translate_errors():
            rows = (await self._session.execute(query)).all()
        return [ProductSales(row[0], row[1], row[2], int(row[3]), Decimal(row[4]))
                for row in rows]

    async def order_years(self) -> list[int]:
        """Calendar years from the first to the last order, oldest first."""
        query = select(func.min(Order.order_date), func.max(Order.order_date))
        with translate_errors():
            first, last = (await self._session.execute(query)).one()
        if first is None:
            return []
        return list(range(first.year, last.year + 1))

    async def newest_order_date(self) -> dt.date | None:
        """The date of the newest order the caller can see (any status), or None: one
        backward probe of the (store_id, order_date) index per visible store."""
        newest = (select(Order.order_date).where(Order.store_id == Store.store_id)
                  .order_by(Order.order_date.desc()).limit(1).lateral())
        query = select(func.max(newest.c.order_date)).select_from(Store).join(newest, true())
        with translate_errors():
            found: dt.date | None = await self._session.scalar(query)
        return found

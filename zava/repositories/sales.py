"""Sales: revenue, orders, units and margin per store, category, product and month."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from decimal import Decimal

from sqlalchemy import Date, cast, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from zava.db.errors import translate_errors
from zava.db.models import Category, Order, OrderItem, Product, Store
from zava.repositories.results import MonthlySales, ProductSales, SalesFigures

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

    async def by_store(self, start: dt.date, end: dt.date,
                       store_ids: Collection[uuid.UUID] | None = None) -> list[SalesFigures]:
        """Per visible store, totals for orders dated in [start, end), by store name."""
        items = (
            select(
                OrderItem.store_id,
                func.sum(OrderItem.quantity).label("units"),
                func.sum(OrderItem.total_amount - OrderItem.quantity * Product.cost)
                .label("profit"),
            )
            .join(Order, (Order.store_id == OrderItem.store_id)
                  & (Order.order_id == OrderItem.order_id))
            .join(Product, Product.product_id == OrderItem.product_id)
            .where(_in_period(start, end), _in_stores(store_ids))
            .group_by(OrderItem.store_id)
            .subquery()
        )
        orders = (
            select(Order.store_id, func.sum(Order.total_amount).label("revenue"),
                   func.count().label("orders"))
            .where(_in_period(start, end), _in_stores(store_ids))
            .group_by(Order.store_id)
            .subquery()
        )
        query = (
            select(Store.name, func.coalesce(orders.c.revenue, 0),
                   func.coalesce(orders.c.orders, 0), func.coalesce(items.c.units, 0),
                   func.coalesce(items.c.profit, 0))
            .outerjoin(orders, orders.c.store_id == Store.store_id)
            .outerjoin(items, items.c.store_id == Store.store_id)
            .order_by(Store.name)
        )
        if store_ids is not None:
            query = query.where(Store.store_id.in_(list(store_ids)))
        return await self._figures(query)

    async def by_store_and_category(
        self, start: dt.date, end: dt.date, store_ids: Collection[uuid.UUID] | None = None
    ) -> list[tuple[str, SalesFigures]]:
        """(store name, category totals) for item lines in [start, end), per store the
        largest revenue first."""
        revenue = func.sum(OrderItem.total_amount)
        query = (
            select(
                Store.name, Category.name, revenue,
                func.count(func.distinct(OrderItem.order_id)),
                func.sum(OrderItem.quantity),
                func.sum(OrderItem.total_amount - OrderItem.quantity * Product.cost),
            )
            .join(Order, (Order.store_id == OrderItem.store_id)
                  & (Order.order_id == OrderItem.order_id))
            .join(Product, Product.product_id == OrderItem.product_id)
            .join(Category, Category.category_id == Product.category_id)
            .join(Store, Store.store_id == OrderItem.store_id)
            .where(_in_period(start, end), _in_stores(store_ids))
            .group_by(Store.name, Category.name)
            .order_by(Store.name, revenue.desc(), Category.name)
        )
        with translate_errors():
            rows = (await self._session.execute(query)).all()
        return [
            (row[0], SalesFigures(key=row[1], revenue=Decimal(row[2]), orders=int(row[3]),
                                  units=int(row[4]), gross_profit=Decimal(row[5])))
            for row in rows
        ]

    async def _figures(self, query: object) -> list[SalesFigures]:
        with translate_errors():
            rows = (await self._session.execute(query)).all()  # type: ignore[call-overload]
        return [
            SalesFigures(key=row[0], revenue=Decimal(row[1]), orders=int(row[2]),
                         units=int(row[3]), gross_profit=Decimal(row[4]))
            for row in rows
        ]

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

    async def monthly(self, start: dt.date, end: dt.date,
                      store_ids: Collection[uuid.UUID] | None = None) -> list[MonthlySales]:
        """Totals per calendar month for orders in [start, end), oldest first."""
        month = cast(func.date_trunc("month", Order.order_date), Date).label("month")
        units = (
            select(func.sum(OrderItem.quantity))
            .where(OrderItem.store_id == Order.store_id, OrderItem.order_id == Order.order_id)
            .scalar_subquery()
        )
        query = (
            select(month, func.sum(Order.total_amount), func.count(), func.sum(units))
            .where(_in_period(start, end), _in_stores(store_ids))
            .group_by(month)
            .order_by(month)
        )
        with translate_errors():
            rows = (await self._session.execute(query)).all()
        return [MonthlySales(row[0], Decimal(row[1]), int(row[2]), int(row[3] or 0))
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

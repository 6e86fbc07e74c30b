"""Customers: how many ordered, and how many of them were new."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zava.db.errors import translate_errors
from zava.db.models import Order, Store
from zava.repositories.results import CustomerCounts


class CustomerRepository:
    """Customer activity per store, from the orders the caller may see."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def activity(self, start: dt.date, end: dt.date) -> list[CustomerCounts]:
        """Per store: customers who ordered in [start, end), new ones (first order at
        that store in the period) and returning ones."""
        first_order = (
            select(Order.store_id, Order.customer_id,
                   func.min(Order.order_date).label("first_date"))
            .where(Order.order_date < end)
            .group_by(Order.store_id, Order.customer_id)
            .subquery()
        )
        active = (
            select(Order.store_id, Order.customer_id)
            .where(Order.order_date >= start, Order.order_date < end)
            .distinct()
            .subquery()
        )
        is_new = first_order.c.first_date >= start
        query = (
            select(Store.name, func.count(),
                   func.count().filter(is_new), func.count().filter(~is_new))
            .select_from(active)
            .join(first_order, (first_order.c.store_id == active.c.store_id)
                  & (first_order.c.customer_id == active.c.customer_id))
            .join(Store, Store.store_id == active.c.store_id)
            .group_by(Store.name)
            .order_by(Store.name)
        )
        with translate_errors():
            rows = (await self._session.execute(query)).all()
        return [CustomerCounts(row[0], int(row[1]), int(row[2]), int(row[3])) for row in rows]

"""Stock levels in the caller's stores."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zava.db.errors import translate_errors
from zava.db.models import Category, Inventory, Product, Store
from zava.repositories.results import StockLevel


class InventoryRepository:
    """Reads ``retail.inventory`` (filtered by RLS)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def low_stock(self, *, below: int, limit: int = 50,
                        store_ids: Collection[uuid.UUID] | None = None,
                        category: str | None = None) -> list[StockLevel]:
        """Products with fewer than ``below`` units on hand, lowest first."""
        query = (
            select(Store.name, Product.sku, Product.name, Category.name, Inventory.stock_level)
            .join(Store, Store.store_id == Inventory.store_id)
            .join(Product, Product.product_id == Inventory.product_id)
            .join(Category, Category.category_id == Product.category_id)
            .where(Inventory.stock_level < below)
            .order_by(Inventory.stock_level, Store.name, Product.sku)
            .limit(limit)
        )
        if store_ids is not None:
            query = query.where(Inventory.store_id.in_(list(store_ids)))
        if category is not None:
            query = query.where(Category.name.ilike(category))
        with translate_errors():
            rows = (await self._session.execute(query)).all()
        return [StockLevel(*row) for row in rows]

    async def units_on_hand(self, product_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
        """Total stock of each product across the caller's stores."""
        if not product_ids:
            return {}
        query = (
            select(Inventory.product_id, func.sum(Inventory.stock_level))
            .where(Inventory.product_id.in_(list(product_ids)))
            .group_by(Inventory.product_id)
        )
        with translate_errors():
            rows = (await self._session.execute(query)).all()
        return {row[0]: int(row[1]) for row in rows}

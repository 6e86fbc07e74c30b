"""A fake unit of work for service tests: repositories answering from plain lists."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from zava.repositories.results import (
    CustomerCounts,
    MonthlySales,
    ProductSales,
    SalesFigures,
    StockLevel,
    StoreInfo,
)
from zava.repositories.schema import SchemaRepository


def store(name: str) -> StoreInfo:
    return StoreInfo(uuid.uuid5(uuid.NAMESPACE_DNS, name), name, f"{name}, WA", "Test", False)


class FakeStores:
    def __init__(self, stores: list[StoreInfo]) -> None:
        self.stores = stores

    async def visible(self) -> list[StoreInfo]:
        return list(self.stores)


class FakeSales:
    """Figures keyed by period start; records what it was asked."""

    def __init__(self) -> None:
        self.by_store_figures: dict[dt.date, list[SalesFigures]] = {}
        self.category_figures: dict[dt.date, list[tuple[str, SalesFigures]]] = {}
        self.months: list[MonthlySales] = []
        self.top: list[ProductSales] = []
        self.calls: list[tuple[str, object]] = []

    async def by_store(self, start, end, store_ids=None):  # type: ignore[no-untyped-def]
        self.calls.append(("by_store", (start, end, store_ids)))
        return self.by_store_figures.get(start, [])

    async def by_store_and_category(self, start, end, store_ids=None):  # type: ignore[no-untyped-def]
        return self.category_figures.get(start, [])

    async def monthly(self, start, end, store_ids=None):  # type: ignore[no-untyped-def]
        self.calls.append(("monthly", (start, end, store_ids)))
        return [m for m in self.months if start <= m.month < end]

    async def top_products(self, start, end, *, limit=10, store_ids=None, category=None):  # type: ignore[no-untyped-def]
        self.calls.append(("top_products", (start, end, limit, store_ids, category)))
        return self.top[:limit]

    async def order_years(self) -> list[int]:
        return [2024, 2025]


class FakeCustomers:
    def __init__(self) -> None:
        self.counts: list[CustomerCounts] = []

    async def activity(self, start, end):  # type: ignore[no-untyped-def]
        return self.counts


class FakeInventory:
    def __init__(self) -> None:
        self.levels: list[StockLevel] = []

    async def low_stock(self, *, below, limit=50, store_ids=None, category=None):  # type: ignore[no-untyped-def]
        return [s for s in self.levels if s.stock_level < below][:limit]


class FakeProducts:
    async def categories(self) -> list[str]:
        return ["Garden & Outdoor", "Power Tools"]


class FakeUnitOfWork:
    """Duck-types the attributes services use from ``UnitOfWork``."""

    def __init__(self, stores: list[StoreInfo]) -> None:
        self.stores = FakeStores(stores)
        self.sales = FakeSales()
        self.customers = FakeCustomers()
        self.inventory = FakeInventory()
        self.products = FakeProducts()
        self.schema = SchemaRepository(session=None)  # type: ignore[arg-type]


def figures(key: str, revenue: str, orders: int = 10, units: int = 20,
            profit: str = "0") -> SalesFigures:
    return SalesFigures(key, Decimal(revenue), orders, units, Decimal(profit))

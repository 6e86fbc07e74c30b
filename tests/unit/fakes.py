"""A fake unit of work for service tests: the repositories' interfaces answering from
plain lists, no database. Each fake subclasses the repository it stands for, so mypy
checks that the signatures still match."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from decimal import Decimal
from types import TracebackType
from typing import Self

from zava.repositories.customers import CustomerRepository
from zava.repositories.inventory import InventoryRepository
from zava.repositories.products import ProductRepository
from zava.repositories.queries import QueryRepository
from zava.repositories.results import (
    CustomerCounts,
    MonthlySales,
    ProductSales,
    SalesFigures,
    StockLevel,
    StoreInfo,
)
from zava.repositories.sales import SalesRepository
from zava.repositories.schema import SchemaRepository
from zava.repositories.stores import StoreRepository


def store(name: str) -> StoreInfo:
    return StoreInfo(uuid.uuid5(uuid.NAMESPACE_DNS, name), name, f"{name}, WA", "Test", False)


StoreIds = Collection[uuid.UUID] | None


class FakeStores(StoreRepository):
    def __init__(self, stores: list[StoreInfo]) -> None:
        self.stores = stores

    async def visible(self) -> list[StoreInfo]:
        return list(self.stores)


class FakeSales(SalesRepository):
    """Figures keyed by period start; records what it was asked."""

    def __init__(self) -> None:
        self.by_store_figures: dict[dt.date, list[SalesFigures]] = {}
        self.category_figures: dict[dt.date, list[tuple[str, SalesFigures]]] = {}
        self.months: list[MonthlySales] = []
        self.top: list[ProductSales] = []
        self.calls: list[tuple[str, object]] = []

    async def by_store(self, start: dt.date, end: dt.date,
                       store_ids: StoreIds = None) -> list[SalesFigures]:
        self.calls.append(("by_store", (start, end, store_ids)))
        return self.by_store_figures.get(start, [])

    async def by_store_and_category(self, start: dt.date, end: dt.date,
                                    store_ids: StoreIds = None) -> list[tuple[str, SalesFigures]]:
        return self.category_figures.get(start, [])

    async def monthly(self, start: dt.date, end: dt.date,
                      store_ids: StoreIds = None) -> list[MonthlySales]:
        self.calls.append(("monthly", (start, end, store_ids)))
        return [m for m in self.months if start <= m.month < end]

    async def top_products(self, start: dt.date, end: dt.date, *, limit: int = 10,
                           store_ids: StoreIds = None,
                           category: str | None = None) -> list[ProductSales]:
        self.calls.append(("top_products", (start, end, limit, store_ids, category)))
        return self.top[:limit]

    async def order_years(self) -> list[int]:
        return [2024, 2025]


class FakeCustomers(CustomerRepository):
    def __init__(self) -> None:
        self.counts: list[CustomerCounts] = []

    async def activity(self, start: dt.date, end: dt.date) -> list[CustomerCounts]:
        return self.counts


class FakeInventory(InventoryRepository):
    def __init__(self) -> None:
        self.levels: list[StockLevel] = []

    async def low_stock(self, *, below: int, limit: int = 50, store_ids: StoreIds = None,
                        category: str | None = None) -> list[StockLevel]:
        return [s for s in self.levels if s.stock_level < below][:limit]


class FakeProducts(ProductRepository):
    def __init__(self) -> None:
        self.category_names = ["Garden & Outdoor", "Power Tools"]

    async def categories(self) -> list[str]:
        return list(self.category_names)


class FakeSchema(SchemaRepository):
    """The real table descriptions: they come from the models, not from a query."""

    def __init__(self) -> None:
        pass


class FakeQueries(QueryRepository):
    def __init__(self) -> None:
        pass


class FakeUnitOfWork:
    """Implements ``zava.services.unit_of_work.UnitOfWork`` with the fakes above; counts
    how often it was entered and whether it is open now."""

    def __init__(self, stores: list[StoreInfo]) -> None:
        self.stores = FakeStores(stores)
        self.sales = FakeSales()
        self.customers = FakeCustomers()
        self.inventory = FakeInventory()
        self.products = FakeProducts()
        self.schema = FakeSchema()
        self.queries = FakeQueries()
        self.entered = 0
        self.open = False

    async def __aenter__(self) -> Self:
        self.entered += 1
        self.open = True
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.open = False


def figures(key: str, revenue: str, orders: int = 10, units: int = 20,
            profit: str = "0") -> SalesFigures:
    return SalesFigures(key, Decimal(revenue), orders, units, Decimal(profit))

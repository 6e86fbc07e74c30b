"""A fake unit of work for service tests: the repositories' interfaces answering from
plain lists, no database. Each fake subclasses the repository it stands for, so mypy
checks that the signatures still match, and fails a call made while the unit is not
entered (services enter the unit they are given: ``async with uow:``)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Self

from zava.repositories.customers import CustomerRepository
from zava.repositories.inventory import InventoryRepository
from zava.repositories.metrics import Key, MeasureRequest, MetricsRepository
from zava.repositories.products import EmbeddingSpaceKey, ProductRepository, check_embedding_space
from zava.repositories.queries import QueryRepository, QueryResult
from zava.repositories.results import (
    CustomerCounts,
    ProductInfo,
    ProductMatch,
    ProductSales,
    StockLevel,
    StoreInfo,
)
from zava.repositories.sales import SalesRepository
from zava.repositories.schema import SchemaRepository
from zava.repositories.stores import StoreRepository
from zava.security.sql_guard import GuardedQuery
from zava.services.sales_figures import SalesFigures


def store(name: str) -> StoreInfo:
    return StoreInfo(uuid.uuid5(uuid.NAMESPACE_DNS, name), name, f"{name}, WA", "Test", False)


StoreIds = Collection[uuid.UUID] | None


class Gate:
    """Open while the fake unit of work is entered."""

    def __init__(self) -> None:
        self.open = False

    def check(self, call: str) -> None:
        assert self.open, f"{call} was called outside `async with uow:`"


class FakeStores(StoreRepository):
    def __init__(self, stores: list[StoreInfo], gate: Gate) -> None:
        self.stores = stores
        self.gate = gate

    async def visible(self) -> list[StoreInfo]:
        self.gate.check("stores.visible")
        return list(self.stores)


class FakeSales(SalesRepository):
    """Best sellers set by the test; records what it was asked."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.top: list[ProductSales] = []
        self.calls: list[tuple[str, object]] = []

    async def top_products(self, start: dt.date, end: dt.date, *, limit: int = 10,
                           store_ids: StoreIds = None,
                           category: str | None = None) -> list[ProductSales]:
        self.gate.check("sales.top_products")
        self.calls.append(("top_products", (start, end, limit, store_ids, category)))
        return self.top[:limit]

    async def order_years(self) -> list[int]:
        self.gate.check("sales.order_years")
        return [2024, 2025]


class FakeCustomers(CustomerRepository):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.counts: list[CustomerCounts] = []

    async def activity(self, start: dt.date, end: dt.date) -> list[CustomerCounts]:
        self.gate.check("customers.activity")
        return self.counts


class FakeInventory(InventoryRepository):
    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.levels: list[StockLevel] = []
        self.on_hand: dict[uuid.UUID, int] = {}
        self.calls: list[tuple[int, int, StoreIds, str | None]] = []

    async def low_stock(self, *, below: int, limit: int = 50, store_ids: StoreIds = None,
                        category: str | None = None) -> list[StockLevel]:
        self.gate.check("inventory.low_stock")
        self.calls.append((below, limit, store_ids, category))
        return [s for s in self.levels if s.stock_level < below][:limit]

    async def units_on_hand(self, product_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
        self.gate.check("inventory.units_on_hand")
        return {p: n for p, n in self.on_hand.items() if p in set(product_ids)}


class FakeProducts(ProductRepository):
    """Categories, the recorded embedding space, and search answers set by the test."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.category_names = ["Garden & Outdoor", "Power Tools"]
        self.space: tuple[str, int] | None = ("fake-model", 4)
        self.matches: list[ProductMatch] = []
        self.calls: list[tuple[str, object]] = []

    async def categories(self) -> list[str]:
        self.gate.check("products.categories")
        return list(self.category_names)

    async def embedding_space(self) -> tuple[str, int] | None:
        self.gate.check("products.embedding_space")
        self.calls.append(("embedding_space", None))
        return self.space

    async def similar(self, embedding: Sequence[float], *, min_similarity: float,
                      limit: int, space: EmbeddingSpaceKey | None = None) -> list[ProductMatch]:
        self.gate.check("products.similar")
        self._check(space)
        self.calls.append(("similar", (list(embedding), min_similarity, limit)))
        return [m for m in self.matches if m.similarity >= min_similarity][:limit]

    async def fused(self, query: str, embedding: Sequence[float] | None, *,
                    min_similarity: float, limit: int, candidates: int = 50, rrf_k: int = 60,
                    vector_weight: float = 2.0,
                    space: EmbeddingSpaceKey | None = None) -> list[ProductMatch]:
        self.gate.check("products.fused")
        if embedding is not None:
            self._check(space)
        self.calls.append(("fused", (query, None if embedding is None else list(embedding),
                                     min_similarity, limit)))
        return [m for m in self.matches
                if m.lexical_match or m.similarity >= min_similarity][:limit]

    def _check(self, space: EmbeddingSpaceKey | None) -> None:
        """The real repository's check of the recorded space, before it searches."""
        if space is not None:
            check_embedding_space(self.space, space)


class FakeSchema(SchemaRepository):
    """The real table descriptions: they come from the models, not from a query."""

    def __init__(self) -> None:
        pass


class FakeQueries(QueryRepository):
    """Answers guarded queries with ``result``, ``cost`` and ``plan_lines``; records the
    queries it was given (the guard has already accepted them)."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.result = QueryResult(columns=["n"], rows=[[1]], truncated=False, elapsed_ms=5.0)
        self.cost = 10.0
        self.plan_lines = ["Seq Scan on orders", "  Filter: (total_amount > 0)"]
        self.calls: list[tuple[str, str, dict[str, int]]] = []

    async def run(self, query: GuardedQuery, *, max_rows: int, max_bytes: int,
                  max_depth: int = 32) -> QueryResult:
        self.gate.check("queries.run")
        self.calls.append(("run", query.sql, {"max_rows": max_rows, "max_bytes": max_bytes,
                                              "max_depth": max_depth}))
        return self.result

    async def estimated_cost(self, query: GuardedQuery) -> float:
        self.gate.check("queries.estimated_cost")
        self.calls.append(("estimated_cost", query.sql, {}))
        return self.cost

    async def plan(self, query: GuardedQuery) -> list[str]:
        self.gate.check("queries.plan")
        self.calls.append(("plan", query.sql, {}))
        return list(self.plan_lines)

    async def plan_top_line(self, query: GuardedQuery) -> str:
        self.gate.check("queries.plan_top_line")
        self.calls.append(("plan_top_line", query.sql, {}))
        return self.plan_lines[0]


class FakeMetrics(MetricsRepository):
    """Answers ``aggregate`` from ``grouped`` keyed by period start and dimensions, else
    from ``groups`` keyed by period start (the groups of the request's dimensions, each
    with its base measures), keeping the groups a filter on a grouped dimension allows
    (case-insensitive, as the compiler does); records the requests."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.groups: dict[dt.date, dict[Key, dict[str, Decimal]]] = {}
        self.grouped: dict[tuple[dt.date, tuple[str, ...]], dict[Key, dict[str, Decimal]]] = {}
        self.requests: list[MeasureRequest] = []

    async def aggregate(self, request: MeasureRequest) -> dict[Key, dict[str, Decimal]]:
        self.gate.check("metrics.aggregate")
        self.requests.append(request)
        groups = self.grouped.get((request.start, request.dimensions),
                                  self.groups.get(request.start, {}))
        for name, values in request.filters.items():
            if name in request.dimensions:
                at = request.dimensions.index(name)
                wanted = {v.strip().lower() for v in values}
                groups = {k: v for k, v in groups.items() if str(k[at]).lower() in wanted}
        return {key: {m: values.get(m, Decimal(0)) for m in request.measures}
                for key, values in groups.items()}


class FakeUnitOfWork:
    """Implements ``zava.services.unit_of_work.UnitOfWork`` with the fakes above; counts
    how often it was entered and whether it is open now."""

    def __init__(self, stores: list[StoreInfo]) -> None:
        self.gate = Gate()
        self.stores = FakeStores(stores, self.gate)
        self.sales = FakeSales(self.gate)
        self.customers = FakeCustomers(self.gate)
        self.inventory = FakeInventory(self.gate)
        self.products = FakeProducts(self.gate)
        self.schema = FakeSchema()
        self.queries = FakeQueries(self.gate)
        self.metrics = FakeMetrics(self.gate)
        self.entered = 0
        self.exits: list[type[BaseException] | None] = []
        """The exception type each exit saw (None for a clean exit)."""

    @property
    def open(self) -> bool:
        return self.gate.open

    async def __aenter__(self) -> Self:
        assert not self.gate.open, "the unit was entered twice"
        self.entered += 1
        self.gate.open = True
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.gate.open = False
        self.exits.append(exc_type)


def figures(key: str, revenue: str, orders: int = 10, units: int = 20,
            profit: str = "0") -> SalesFigures:
    return SalesFigures(key, Decimal(revenue), orders, units, Decimal(profit))


def sales(revenue: str, orders: int = 10, units: int = 20, margin: str = "0"
          ) -> dict[str, Decimal]:
    """A group's sales measures, as ``uow.metrics.aggregate`` gives them."""
    return {"revenue": Decimal(revenue), "orders": Decimal(orders), "units": Decimal(units),
            "gross_margin": Decimal(margin)}


def product(sku: str, name: str = "Cordless drill", price: str = "99.00") -> ProductInfo:
    return ProductInfo(uuid.uuid5(uuid.NAMESPACE_DNS, sku), sku, name, "Power Tools", "Drills",
                       Decimal("40.00"), Decimal(price), Decimal("59.60"), f"A {name.lower()}")

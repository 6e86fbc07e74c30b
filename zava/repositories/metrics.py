"""The metrics compiler: base measures by dimensions, as SQLAlchemy ``select()``s.

The governed catalog (``zava.services.metrics_catalog``) defines metrics as formulas over
the base measures named here; this module knows the tables, joins and filters. Every
query runs on the unit of work's session, so row-level security applies to it.

Counted orders are those ``zava.repositories.sales`` counts (placed, shipped, delivered).
Sales measures are read at order grain (``orders.total_amount``, one row per order) unless
a product dimension is grouped or filtered on; then at line grain (the lines' totals and
the distinct orders with a line in the group), exactly as the sales repository does for
stores and for categories.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Integer, Select, cast, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import ColumnElement

from zava.db.errors import translate_errors
from zava.db.models import Category, Inventory, Order, OrderItem, Product, ProductType, Store
from zava.errors import ValidationError
from zava.repositories.sales import COUNTED_STATUSES

ORDER_MEASURES = frozenset({"revenue", "orders"})
LINE_MEASURES = frozenset({"units", "gross_margin", "discount", "gross_sales"})
CUSTOMER_MEASURES = frozenset({"customers", "new_customers"})
STOCK_MEASURES = frozenset({"stock_on_hand"})
MEASURES = ORDER_MEASURES | LINE_MEASURES | CUSTOMER_MEASURES | STOCK_MEASURES
"""Every base measure the compiler knows."""

STORE_DIMENSIONS = frozenset({"store", "region", "channel"})
PRODUCT_DIMENSIONS = frozenset({"category", "product_type", "product"})
TIME_DIMENSIONS = frozenset({"day", "week", "month", "quarter", "year", "day_of_week"})
DIMENSIONS = STORE_DIMENSIONS | PRODUCT_DIMENSIONS | TIME_DIMENSIONS
"""Every dimension the compiler can group by."""

FILTERABLE = STORE_DIMENSIONS | PRODUCT_DIMENSIONS
"""Dimensions a request may filter on (values compared case-insensitively)."""

JOINS: Mapping[str, tuple[str, ...]] = {
    "store": ("stores",), "region": ("stores",), "channel": ("stores",),
    "category": ("products", "categories"), "product_type": ("products", "product_types"),
    "product": ("products",),
    **{name: () for name in TIME_DIMENSIONS},
}
"""The tables each dimension joins to its fact (orders, order lines or inventory)."""

Column = ColumnElement[Any] | QueryableAttribute[Any]
MAX_GROUPS = 20_000
"""The most groups one request may produce (each source is read with LIMIT one more)."""

Key = tuple[Any, ...]
"""A group's dimension values, in the order of the request's dimensions: names, dates
(the first day of the week, month, quarter or year), ISO weekday numbers (1 = Monday),
and for channel whether the store is the online shop."""


@dataclass(frozen=True)
class MeasureRequest:
    """Base measures for [start, end), grouped by ``dimensions``, rows restricted to the
    given dimension values (case-insensitive)."""

    measures: frozenset[str]
    dimensions: tuple[str, ...]
    start: dt.date
    end: dt.date
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def line_grain(self) -> bool:
        """Whether sales must be read from order lines (a product dimension is involved)."""
        return bool(PRODUCT_DIMENSIONS & (set(self.dimensions) | set(self.filters)))


def _dimension(name: str, day: Column | None) -> Column:
    if name == "store":
        return Store.name
    if name == "region":
        return Store.region
    if name == "channel":
        return Store.is_online
    if name == "category":
        return Category.name
    if name == "product_type":
        return ProductType.name
    if name == "product":
        return Product.name
    if day is None:
        raise ValueError(f"{name} needs a date")
    if name == "day":
        return day
    if name == "day_of_week":
        return cast(func.extract("isodow", day), Integer)
    return cast(func.date_trunc(name, day), Date)


def _joined(query: Select[Any], names: set[str], store_id: Column,
            product_id: Column | None, *, has_product: bool = False) -> Select[Any]:
    """``query`` with the tables the dimensions ``names`` need."""
    tables = {t for n in names for t in JOINS[n]}
    if "stores" in tables:
        query = query.join(Store, Store.store_id == store_id)
    if tables - {"stores"}:
        assert product_id is not None
        if not has_product:
            query = query.join(Product, Product.product_id == product_id)
        if "categories" in tables:
            query = query.join(Category, Category.category_id == Product.category_id)
        if "product_types" in tables:
            query = query.join(ProductType,
                               ProductType.product_type_id == Product.product_type_id)
    return query


def _filtered(query: Select[Any], filters: Mapping[str, tuple[str, ...]],
              day: Column | None) -> Select[Any]:
    for name, values in filters.items():
        if name == "channel":
            wanted = {v.strip().lower() for v in values}
            query = query.where(Store.is_online.in_(
                [online for online, label in ((True, "online"), (False, "physical"))
                 if label in wanted]))
            continue
        query = query.where(func.lower(_dimension(name, day)).in_(
            sorted({v.strip().lower() for v in values})))
    return query


def _counted(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    return (Order.order_date >= start) & (Order.order_date < end) & Order.status.in_(
        COUNTED_STATUSES)


class MetricsRepository:
    """Base measures by dimensions over the caller's rows (RLS applies to every read)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def aggregate(self, request: MeasureRequest) -> dict[Key, dict[str, Decimal]]:
        """Each group's base measures (groups with no rows in any source are absent; a
        measure a source had no row for is 0)."""
        unknown = (request.measures - MEASURES) | (set(request.dimensions) - DIMENSIONS) | (
            set(request.filters) - FILTERABLE)
        if unknown:
            raise ValueError(f"unknown measures or dimensions: {sorted(unknown)}")
        queries: list[tuple[tuple[str, ...], Select[Any]]] = []
        wanted = request.measures
        if request.line_grain:
            line = (ORDER_MEASURES | LINE_MEASURES) & wanted
            if line:
                queries.append(self._lines(request, tuple(sorted(line))))
        else:
            if ORDER_MEASURES & wanted:
                queries.append(self._orders(request, tuple(sorted(ORDER_MEASURES & wanted))))
            if LINE_MEASURES & wanted:
                queries.append(self._lines(request, tuple(sorted(LINE_MEASURES & wanted))))
        if CUSTOMER_MEASURES & wanted:
            queries.append(self._customers(request))
        if STOCK_MEASURES & wanted:
            queries.append(self._stock(request))
        groups: dict[Key, dict[str, Decimal]] = {}
        width = len(request.dimensions)
        for names, query in queries:
            with translate_errors():
                rows = (await self._session.execute(query.limit(MAX_GROUPS + 1))).all()
            for row in rows:
                values = groups.setdefault(tuple(row[:width]), {})
                for name, value in zip(names, row[width:], strict=True):
                    values[name] = Decimal(value or 0)
            if len(groups) > MAX_GROUPS:
                raise ValidationError(
                    f"more than {MAX_GROUPS:,} groups: group by fewer or coarser dimensions "
                    "(month rather than day), filter, or shorten the period")
        for values in groups.values():
            for name in wanted:
                values.setdefault(name, Decimal(0))
        return groups

    @staticmethod
    def _grouped(query: Select[Any], dims: list[Column]) -> Select[Any]:
        return query.group_by(*dims) if dims else query

    def _orders(self, request: MeasureRequest,
                names: tuple[str, ...]) -> tuple[tuple[str, ...], Select[Any]]:
        dims = [_dimension(d, Order.order_date) for d in request.dimensions]
        measures = {"revenue": func.sum(Order.total_amount), "orders": func.count()}
        query: Select[Any] = select(*dims, *(measures[n] for n in names)).select_from(Order)
        query = _joined(query, set(request.dimensions) | set(request.filters),
                        Order.store_id, None)
        query = _filtered(query.where(_counted(request.start, request.end)),
                          request.filters, Order.order_date)
        return names, self._grouped(query, dims)

    def _lines(self, request: MeasureRequest,
               names: tuple[str, ...]) -> tuple[tuple[str, ...], Select[Any]]:
        dims = [_dimension(d, Order.order_date) for d in request.dimensions]
        measures = {
            "revenue": func.sum(OrderItem.total_amount),
            "orders": func.count(func.distinct(OrderItem.order_id)),
            "units": func.sum(OrderItem.quantity),
            "gross_margin": func.sum(OrderItem.total_amount - OrderItem.quantity * Product.cost),
            "discount": func.sum(OrderItem.discount_amount),
            "gross_sales": func.sum(OrderItem.total_amount + OrderItem.discount_amount),
        }
        query: Select[Any] = (
            select(*dims, *(measures[n] for n in names))
            .select_from(OrderItem)
            .join(Order, (Order.store_id == OrderItem.store_id)
                  & (Order.order_id == OrderItem.order_id))
        )
        costed = "gross_margin" in names  # the only measure that needs the product's cost
        if costed:
            query = query.join(Product, Product.product_id == OrderItem.product_id)
        query = _joined(query, set(request.dimensions) | set(request.filters),
                        OrderItem.store_id, OrderItem.product_id, has_product=costed)
        query = _filtered(query.where(_counted(request.start, request.end)),
                          request.filters, Order.order_date)
        return names, self._grouped(query, dims)

    def _customers(self, request: MeasureRequest) -> tuple[tuple[str, ...], Select[Any]]:
        """Customers per store who placed a counted order in the period, and those of them
        whose first counted order at that store is in the period (store dimensions only)."""
        if set(request.dimensions) - STORE_DIMENSIONS or set(request.filters) - STORE_DIMENSIONS:
            raise ValueError("customer measures group and filter by store dimensions only")
        first = (
            select(Order.store_id, Order.customer_id,
                   func.min(Order.order_date).label("first_date"))
            .where(Order.order_date < request.end, Order.status.in_(COUNTED_STATUSES))
            .group_by(Order.store_id, Order.customer_id)
            .subquery()
        )
        ordered = exists().where(Order.store_id == first.c.store_id,
                                 Order.customer_id == first.c.customer_id,
                                 _counted(request.start, request.end))
        query: Select[Any] = (
            select(*[_dimension(d, None) for d in request.dimensions], func.count(),
                   func.count().filter(first.c.first_date >= request.start))
            .select_from(first)
            .where(ordered)
        )
        query = _joined(query, set(request.dimensions) | set(request.filters),
                        first.c.store_id, None)
        query = _filtered(query, request.filters, None)
        dims = [_dimension(d, None) for d in request.dimensions]
        return ("customers", "new_customers"), self._grouped(query, dims)

    def _stock(self, request: MeasureRequest) -> tuple[tuple[str, ...], Select[Any]]:
        """Units on hand now (inventory has no history: no time dimensions)."""
        if TIME_DIMENSIONS & set(request.dimensions):
            raise ValueError("stock on hand has no time dimensions")
        dims = [_dimension(d, None) for d in request.dimensions]
        query: Select[Any] = select(*dims, func.sum(Inventory.stock_level)).select_from(
            Inventory)
        query = _joined(query, set(request.dimensions) | set(request.filters),
                        Inventory.store_id, Inventory.product_id)
        query = _filtered(query, request.filters, None)
        return ("stock_on_hand",), self._grouped(query, dims)

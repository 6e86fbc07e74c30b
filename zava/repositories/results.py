"""The typed rows repositories return (frozen dataclasses: cheap, hashable, no I/O)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class StoreInfo:
    """A store the caller may see."""

    store_id: uuid.UUID
    name: str
    location: str
    region: str
    is_online: bool


@dataclass(frozen=True)
class ProductInfo:
    """A catalog item with its category and type names."""

    product_id: uuid.UUID
    sku: str
    name: str
    category: str
    product_type: str
    cost: Decimal
    base_price: Decimal
    gross_margin_percent: Decimal
    description: str


@dataclass(frozen=True)
class ProductMatch:
    """A product found by search: cosine similarity of its description to the question
    in [0, 1], the rank-fusion score it was ordered by (hybrid and lexical searches;
    equal to the similarity in vector search), and whether its words matched."""

    product: ProductInfo
    similarity: float
    score: float = 0.0
    lexical_match: bool = False


@dataclass(frozen=True)
class SalesFigures:
    """Revenue, orders, units and gross margin of one store (or category) in a period."""

    key: str
    revenue: Decimal
    orders: int
    units: int
    gross_profit: Decimal

    @property
    def average_order_value(self) -> Decimal:
        """Revenue per order (0 when there were none)."""
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else Decimal(0)

    @property
    def gross_margin_percent(self) -> Decimal:
        """Gross profit as a share of revenue, in percent (0 without revenue)."""
        if not self.revenue:
            return Decimal(0)
        return (self.gross_profit * 100 / self.revenue).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class MonthlySales:
    """One month's totals."""

    month: dt.date
    revenue: Decimal
    orders: int
    units: int


@dataclass(frozen=True)
class ProductSales:
    """A product's sales in a period."""

    sku: str
    name: str
    category: str
    units: int
    revenue: Decimal


@dataclass(frozen=True)
class StockLevel:
    """A product's stock in one store."""

    store: str
    sku: str
    name: str
    category: str
    stock_level: int


@dataclass(frozen=True)
class CustomerCounts:
    """Customers who ordered in a period at one store: new (first order) vs returning."""

    store: str
    customers: int
    new_customers: int
    returning_customers: int


@dataclass(frozen=True)
class ColumnInfo:
    """A column of a table, as the schema tool shows it."""

    name: str
    data_type: str
    nullable: bool
    primary_key: bool
    references: str | None


@dataclass(frozen=True)
class TableInfo:
    """A table's description for a model writing SQL."""

    name: str
    description: str
    columns: tuple[ColumnInfo, ...]

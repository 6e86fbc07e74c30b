"""The typed rows repositories return (frozen dataclasses: cheap, hashable, no I/O)."""

from __future__ import annotations

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

"""The typed results of the analytics services (what MCP tools return as structured output)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from zava.services.provenance import ProvenanceField


class CategoryResult(BaseModel):
    """A category's revenue in the period and the one before."""

    category: str
    revenue: float
    previous_revenue: float
    change_percent: float | None = Field(description="None when there was no revenue before")


class StorePerformance(BaseModel):
    """One store's figures for the period, with growth and plain-language insights."""

    store: str
    revenue: float
    orders: int
    units: int
    average_order_value: float
    gross_margin_percent: float
    previous_revenue: float
    revenue_growth_percent: float | None
    customers: int
    new_customers: int
    best_category: str | None
    worst_category: str | None
    categories: list[CategoryResult]
    insights: list[str]


class PerformanceReport(BaseModel):
    """Store performance for every store the caller may see (or the one asked for)."""

    period: str
    start: dt.date
    end: dt.date = Field(description="Last day included")
    previous_start: dt.date
    previous_end: dt.date
    stores: list[StorePerformance]
    provenance: ProvenanceField = None


class MonthPoint(BaseModel):
    """One month of a sales trend, with the same month a year before."""

    month: str = Field(description="YYYY-MM")
    revenue: float
    orders: int
    units: int
    revenue_year_before: float | None
    year_over_year_percent: float | None


class SalesTrend(BaseModel):
    """Monthly revenue, orders and units, oldest month first."""

    stores: list[str]
    months: list[MonthPoint]
    provenance: ProvenanceField = None


class TopProduct(BaseModel):
    """A best seller."""

    rank: int
    sku: str
    name: str
    category: str
    units: int
    revenue: float


class TopProducts(BaseModel):
    """Best-selling products by revenue in the period."""

    period: str
    start: dt.date
    end: dt.date
    stores: list[str]
    products: list[TopProduct]
    provenance: ProvenanceField = None


class LowStockItem(BaseModel):
    """A product running low in a store."""

    store: str
    sku: str
    name: str
    category: str
    stock_level: int


class LowStock(BaseModel):
    """Products under the threshold in the caller's stores, lowest stock first."""

    threshold: int
    items: list[LowStockItem]
    truncated: bool
    provenance: ProvenanceField = None


class ColumnDescription(BaseModel):
    """A column, as a model writing SQL needs it."""

    name: str
    type: str
    nullable: bool
    primary_key: bool = False
    references: str | None = None


class TableDescription(BaseModel):
    """A table: what it holds and its columns."""

    table: str
    description: str
    columns: list[ColumnDescription]


class TableSchemas(BaseModel):
    """Table descriptions plus the values worth filtering on, as the caller sees them."""

    tables: list[TableDescription]
    store_names: list[str] = Field(description="The stores the caller may see")
    category_names: list[str]
    order_years: list[int]

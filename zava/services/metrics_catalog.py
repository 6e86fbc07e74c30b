"""The governed metrics catalog: every metric and dimension ``query_metrics`` answers with,
reviewed like code.

A metric is a formula over base measures of ``zava.repositories.metrics`` (the compiler,
which owns the tables and joins); its definition, unit and description are what a
manager reads. Counted orders are placed, shipped or delivered (returned and cancelled
orders are not sales), as in every typed tool: ``get_store_performance`` and
``get_sales_trend`` read their revenue, orders, units, average order value and gross
margin through this catalog (``zava.services.sales_figures``). The performance report's
customers and new customers differ, and keep their definition so its answers do not
change: they come from ``CustomerRepository.activity``, which counts orders of every
status, while the customer metrics here count counted orders only (so they can be lower).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from zava.repositories import metrics as compiler

Unit = Literal["USD", "orders", "units", "percent", "customers", "days"]
Format = Literal["currency", "integer", "percent", "decimal"]
Family = Literal["sales", "customers", "stock"]

Measures = Mapping[str, Decimal]
Formula = Callable[[Measures, int], Decimal | None]
"""A metric's value from its group's base measures and the period's length in days."""


def _ratio(numerator: Decimal, denominator: Decimal, scale: int = 1) -> Decimal | None:
    return None if not denominator else numerator * scale / denominator


@dataclass(frozen=True)
class Dimension:
    """Something to group or filter by."""

    name: str
    label: str
    description: str
    joins: tuple[str, ...]
    time: bool = False


@dataclass(frozen=True)
class Metric:
    """A governed figure: how it is made, in what unit, and what it can be cut by."""

    name: str
    label: str
    unit: Unit
    format: Format
    definition: str
    description: str
    family: Family
    measures: tuple[str, ...]
    formula: Formula

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The dimensions this metric can be grouped by."""
        return tuple(d for d in DIMENSIONS if incompatibility(self, DIMENSIONS[d]) is None)

    @property
    def comparable(self) -> bool:
        """Whether ``compare_to`` applies (stock has no history)."""
        return self.family != "stock"


def _measure(name: str) -> Formula:
    return lambda m, _days: m[name]


_STORE_JOINS = ("stores",)
DIMENSIONS: dict[str, Dimension] = {d.name: d for d in (
    Dimension("store", "Store", "The store the order was placed at (or the stock is held in).",
              _STORE_JOINS),
    Dimension("region", "Region", "The store's region.", _STORE_JOINS),
    Dimension("channel", "Online vs physical",
              "online for the online shop, physical for the stores.", _STORE_JOINS),
    Dimension("category", "Category", "The product's category (Power Tools, ...).",
              ("products", "categories")),
    Dimension("product_type", "Product type", "The product's type within its category.",
              ("products", "product_types")),
    Dimension("product", "Product", "The product, by name.", ("products",)),
    Dimension("day", "Day", "The order date (YYYY-MM-DD).", (), time=True),
    Dimension("week", "Week", "The ISO week of the order date (YYYY-Www, Monday first).", (),
              time=True),
    Dimension("month", "Month", "The order month (YYYY-MM).", (), time=True),
    Dimension("quarter", "Quarter", "The order quarter (YYYY-Qn).", (), time=True),
    Dimension("year", "Year", "The order year.", (), time=True),
    Dimension("day_of_week", "Day of week", "The weekday of the order date (Monday ...).", (),
              time=True),
)}

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("revenue", "Revenue", "USD", "currency",
           "sum of counted orders' totals (by a product dimension: of their lines' totals)",
           "What customers paid, after discounts, for orders that were not returned or "
           "cancelled.", "sales", ("revenue",), _measure("revenue")),
    Metric("orders", "Orders", "orders", "integer",
           "number of counted orders (by a product dimension: those with a line in it)",
           "How many orders customers placed, returned and cancelled ones excluded.",
           "sales", ("orders",), _measure("orders")),
    Metric("units", "Units", "units", "integer", "sum of counted orders' line quantities",
           "How many items were sold.", "sales", ("units",), _measure("units")),
    Metric("average_order_value", "Average order value", "USD", "currency",
           "revenue / orders", "What a typical order was worth: revenue per order.",
           "sales", ("revenue", "orders"),
           lambda m, _d: _ratio(m["revenue"], m["orders"])),
    Metric("gross_margin", "Gross margin", "USD", "currency",
           "sum over counted lines of (line total - quantity x product cost)",
           "What was left of revenue after paying for the goods sold.", "sales",
           ("gross_margin",), _measure("gross_margin")),
    Metric("gross_margin_percent", "Gross margin %", "percent", "percent",
           "gross margin / revenue x 100",
           "The share of revenue kept after the cost of the goods.", "sales",
           ("gross_margin", "revenue"),
           lambda m, _d: _ratio(m["gross_margin"], m["revenue"], 100)),
    Metric("discount_rate", "Discount rate", "percent", "percent",
           "line discounts / (line totals + line discounts) x 100",
           "How much of the list value was given away in discounts.", "sales",
           ("discount", "gross_sales"),
           lambda m, _d: _ratio(m["discount"], m["gross_sales"], 100)),
    Metric("customers", "Customers", "customers", "integer",
           "customers with a counted order in the period, counted once per store",
           "How many customers bought from the store in the period.", "customers",
           ("customers",), _measure("customers")),
    Metric("new_customers", "New customers", "customers", "integer",
           "customers whose first counted order at the store is in the period",
           "Customers who bought from the store for the first time.", "customers",
           ("new_customers",), _measure("new_customers")),
    Metric("returning_customer_share", "Returning-customer share", "percent", "percent",
           "(customers - new customers) / customers x 100",
           "The share of the period's customers who had bought from the store before.",
           "customers", ("customers", "new_customers"),
           lambda m, _d: _ratio(m["customers"] - m["new_customers"], m["customers"], 100)),
    Metric("stock_on_hand", "Stock on hand", "units", "integer",
           "sum of inventory stock levels now",
           "Units on the shelves and in the back room today.", "stock",
           ("stock_on_hand",), _measure("stock_on_hand")),
    Metric("sell_through_rate", "Sell-through rate", "percent", "percent",
           "units sold in the period / (units sold + stock on hand now) x 100",
           "How much of the available stock sold in the period.", "stock",
           ("units", "stock_on_hand"),
           lambda m, _d: _ratio(m["units"], m["units"] + m["stock_on_hand"], 100)),
    Metric("days_of_stock_cover", "Days of stock cover", "days", "decimal",
           "stock on hand now / (units sold in the period / days in the period)",
           "How many days today's stock lasts at the period's sales pace (empty when "
           "nothing sold).", "stock", ("stock_on_hand", "units"),
           lambda m, days: _ratio(m["stock_on_hand"] * days, m["units"])),
)}


def incompatibility(metric: Metric, dimension: Dimension) -> str | None:
    """Why ``metric`` cannot be grouped or filtered by ``dimension``, or None if it can."""
    if metric.family == "stock" and dimension.time:
        return (f"{metric.name} uses today's stock, which has no history: it cannot be "
                f"split by {dimension.name}")
    if metric.family == "customers" and dimension.name not in compiler.STORE_DIMENSIONS:
        return (f"{metric.name} counts customers per store over the whole period: group it "
                "by store, region or channel only")
    return None


def catalog() -> dict[str, object]:
    """The catalog as JSON-ready data (the ``zava://metrics`` resource)."""
    return {
        "counted_orders": "placed, shipped or delivered (returned and cancelled are not)",
        "metrics": [{"name": m.name, "label": m.label, "unit": m.unit, "format": m.format,
                     "definition": m.definition, "description": m.description,
                     "dimensions": list(m.dimensions), "compare_to": m.comparable}
                    for m in METRICS.values()],
        "dimensions": [{"name": d.name, "label": d.label, "description": d.description,
                        "joins": list(d.joins), "filterable": not d.time}
                       for d in DIMENSIONS.values()],
    }


def summary() -> str:
    """One short paragraph for the tool's description."""
    return ("Metrics: " + ", ".join(METRICS) + ". Dimensions: " + ", ".join(DIMENSIONS)
            + " (stock: no time dimension or compare_to; customers: by store, region, "
            "channel). Definitions: resource zava://metrics.")

"""Tool results to chart, built in memory (what the services return)."""

from __future__ import annotations

import datetime as dt

from zava.services.metrics import MetricsResult, Value
from zava.services.reports import (
    CategoryResult,
    MonthPoint,
    PerformanceReport,
    SalesTrend,
    StorePerformance,
)

START, END = dt.date(2025, 1, 1), dt.date(2025, 12, 31)


def trend(stores: list[str], months: int = 12, year_before: bool = True) -> SalesTrend:
    """A trend of ``months`` months from January 2025, revenue rising."""
    return SalesTrend(stores=stores, months=[MonthPoint(
        month=f"{2025 + i // 12}-{i % 12 + 1:02d}", revenue=1000.0 + 100 * i, orders=10,
        units=20, revenue_year_before=900.0 + 90 * i if year_before else None,
        year_over_year_percent=None) for i in range(months)])


def store(name: str, revenue: float, categories: dict[str, float] | None = None
          ) -> StorePerformance:
    """One store's figures (only revenue and categories matter to a chart)."""
    return StorePerformance(
        store=name, revenue=revenue, orders=1, units=1, average_order_value=revenue,
        gross_margin_percent=30.0, previous_revenue=revenue / 2, revenue_growth_percent=100.0,
        customers=1, new_customers=0, best_category=None, worst_category=None,
        categories=[CategoryResult(category=c, revenue=r, previous_revenue=r / 2,
                                   change_percent=100.0)
                    for c, r in (categories or {}).items()],
        insights=[])


def performance(*stores: StorePerformance) -> PerformanceReport:
    """A report for ``stores``."""
    return PerformanceReport(period="last_12_months", start=START, end=END,
                             previous_start=dt.date(2024, 1, 1),
                             previous_end=dt.date(2024, 12, 31), stores=list(stores))


def metrics(names: list[str], group_by: list[str], rows: list[dict[str, Value]],
            compare_to: str | None = None, filters: dict[str, list[str]] | None = None,
            units: dict[str, str] | None = None) -> MetricsResult:
    """A query_metrics result with these rows."""
    compared = compare_to is not None
    return MetricsResult(
        metrics=names, group_by=group_by, filters=filters or {}, start=START, end=END,
        compare_to=compare_to, previous_start=dt.date(2024, 1, 1) if compared else None,
        previous_end=dt.date(2024, 12, 31) if compared else None,
        units=units or {"revenue": "USD"}, rows=rows, truncated=False)

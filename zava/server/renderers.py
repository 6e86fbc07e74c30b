"""The text each tool returns beside its structured result: one renderer per report.

Everything that came from the database is inside an untrusted-data fence.
"""

from __future__ import annotations

from zava.observability.tracing import traced
from zava.server.rendering import fence, table
from zava.services.metrics import MetricsResult
from zava.services.provenance import Provenance
from zava.services.reports import (
    LowStock,
    PerformanceReport,
    SalesTrend,
    TableSchemas,
    TopProducts,
)
from zava.services.search import SearchResults


def _growth(percent: float | None) -> str:
    return "n/a" if percent is None else f"{percent:+.1f}%"


@traced("zava.render")
def performance(report: PerformanceReport) -> str:
    """One line per store: revenue, orders, units, margin, growth, insights."""
    rows = [[s.store, f"{s.revenue:.2f}", s.orders, s.units, f"{s.average_order_value:.2f}",
             f"{s.gross_margin_percent:.1f}%", _growth(s.revenue_growth_percent),
             " ".join(s.insights)] for s in report.stores]
    return fence(f"{report.period}: {report.start} to {report.end}\n" + table(
        ["store", "revenue", "orders", "units", "avg order", "margin", "growth", "insights"],
        rows))


@traced("zava.render")
def trend(trend: SalesTrend) -> str:
    """One line per month with the change on the year before."""
    rows = [[m.month, f"{m.revenue:.2f}", m.orders, m.units, _growth(m.year_over_year_percent)]
            for m in trend.months]
    return fence(table(["month", "revenue", "orders", "units", "yoy"], rows))


@traced("zava.render")
def top_products(top: TopProducts) -> str:
    """The ranking, best first."""
    rows = [[p.rank, p.sku, p.name, p.category, p.units, f"{p.revenue:.2f}"]
            for p in top.products]
    return fence(f"{top.period}: {top.start} to {top.end}\n" + table(
        ["rank", "sku", "name", "category", "units", "revenue"], rows))


@traced("zava.render")
def low_stock(low: LowStock) -> str:
    """Items below the threshold, lowest first."""
    rows = [[i.store, i.sku, i.name, i.category, i.stock_level] for i in low.items]
    return fence(table(["store", "sku", "name", "category", "stock"], rows))


@traced("zava.render")
def search(results: SearchResults) -> str:
    """The matches with price, similarity, word match and stock."""
    rows = [[p.sku, p.name, p.category, f"{p.price:.2f}", f"{p.similarity_percent:.1f}%",
             "yes" if p.matched_words else "", p.units_in_your_stores, p.description]
            for p in results.products]
    return fence(table(["sku", "name", "category", "price", "similarity", "words", "stock",
                        "description"], rows))


@traced("zava.render")
def table_schemas(schemas: TableSchemas) -> str:
    """Each table's columns, then the caller's valid values (fenced: they are data)."""
    lines = []
    for t in schemas.tables:
        cols = ", ".join(f"{c.name} {c.type}{' PK' if c.primary_key else ''}"
                         f"{' -> ' + c.references if c.references else ''}"
                         for c in t.columns)
        lines.append(f"{t.table}: {t.description}\n  {cols}")
    values = (f"stores: {', '.join(schemas.store_names)}\n"
              f"categories: {', '.join(schemas.category_names)}\n"
              f"order years: {', '.join(map(str, schemas.order_years))}")
    return "\n".join(lines) + "\n" + fence(values)


@traced("zava.render")
def query_rows(columns: list[str], rows: list[list[object]], *, truncated: bool,
               elapsed_ms: float) -> str:
    """A one-line summary, then the rows."""
    summary = f"{len(rows)} rows{' (truncated)' if truncated else ''}, {elapsed_ms} ms"
    return summary + "\n" + fence(table(columns, rows))



@traced("zava.render")
def metrics(result: MetricsResult) -> str:
    """The period (and the compared one), then one line per group."""
    head = f"{', '.join(result.metrics)}: {result.start} to {result.end}"
    if result.compare_to:
        head += f" vs {result.previous_start} to {result.previous_end} ({result.compare_to})"
    units = result.units

    def cell(name: str, value: object) -> object:
        if value is None:
            return "n/a"
        if isinstance(value, float) and units.get(name) == "percentage points":
            return f"{value:+.2f} pp"
        if isinstance(value, float) and units.get(name) == "percent":
            return f"{value:+.1f}%" if name.endswith("_change_percent") else f"{value:.2f}%"
        if isinstance(value, float):
            return f"{value:.2f}"
        return value

    names = [*result.group_by, *units]
    rows = [[cell(n, r.get(n)) for n in names] for r in result.rows]
    headers = [f"{n} ({units[n]})" if units.get(n, "percent") not in (
        "percent", "percentage points") else n for n in names]
    more = "\n(more rows: raise limit or filter)" if result.truncated else ""
    return head + "\n" + fence(table(headers, rows)) + more


def provenance_line(p: Provenance) -> str:
    """One short line: what was measured, over which dates, how fresh, the trace id.
    Filter values are left out (only their names): they are not fenced here."""
    parts = ["source: " + (",".join(p.metrics) or f"sql {p.sql_hash}")]
    if p.start is not None and p.end is not None:
        parts.append(f"{p.start}..{p.end}")
    if p.filters:
        parts.append("filtered by " + ",".join(p.filters))
    parts.append(f"data as of {p.as_of}" if p.as_of else "no orders visible")
    if p.replica_lag_s is not None:
        parts.append(f"replica lag {p.replica_lag_s:g} s")
    if p.cached:
        parts.append(f"cached {p.cache_age_s or 0:.0f} s ago")
    if p.row_cap is not None:
        parts.append(f"cut at {p.row_cap} rows")
    return " · ".join([*parts, f"trace {p.trace_id}"])

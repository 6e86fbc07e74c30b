"""Plain-language insights: what a store manager should notice in their numbers."""

from __future__ import annotations

from decimal import Decimal

from zava.services.reports import CategoryResult
from zava.services.sales_figures import SalesFigures

UNUSUAL_CHANGE_PERCENT = 25.0
"""A category moving more than this against the previous period is worth a mention."""
MATERIAL_SHARE = Decimal("0.05")
"""...if it makes at least this share of the store's revenue in either period."""


def category_results(
    now: list[SalesFigures], before: list[SalesFigures]
) -> list[CategoryResult]:
    """Each category's revenue now and before, largest revenue first."""
    previous = {f.key: f.revenue for f in before}
    current = {f.key: f.revenue for f in now}
    names = sorted(set(current) | set(previous),
                   key=lambda n: (-current.get(n, Decimal(0)), n))
    results = []
    for name in names:
        revenue, earlier = current.get(name, Decimal(0)), previous.get(name, Decimal(0))
        change = round(float((revenue - earlier) * 100 / earlier), 1) if earlier else None
        results.append(CategoryResult(category=name, revenue=float(revenue),
                                      previous_revenue=float(earlier), change_percent=change))
    return results


def store_insights(
    store: str, figures: SalesFigures, growth: float | None, categories: list[CategoryResult]
) -> list[str]:
    """A few sentences on growth, best and worst categories, and unusual changes."""
    if not figures.orders:
        return [f"{store} has no sales in this period."]
    notes = []
    if growth is None:
        notes.append(f"{store} had no sales in the previous period to compare with.")
    else:
        direction = "up" if growth >= 0 else "down"
        notes.append(f"Revenue is {direction} {abs(growth):.1f}% on the previous period.")
    if categories:
        best = categories[0]
        share = best.revenue * 100 / float(figures.revenue) if figures.revenue else 0.0
        notes.append(f"{best.category} is the largest category ({share:.0f}% of revenue).")
    if len(categories) > 1:
        notes.append(f"{categories[-1].category} sells least.")
    total_now = sum(c.revenue for c in categories)
    total_before = sum(c.previous_revenue for c in categories)
    for c in categories:
        material = (total_now and c.revenue / total_now >= float(MATERIAL_SHARE)) or (
            total_before and c.previous_revenue / total_before >= float(MATERIAL_SHARE))
        if material and c.change_percent is not None and \
                abs(c.change_percent) >= UNUSUAL_CHANGE_PERCENT:
            verb = "jumped" if c.change_percent > 0 else "fell"
            notes.append(f"{c.category} {verb} {abs(c.change_percent):.0f}% "
                         "against the previous period.")
    return notes

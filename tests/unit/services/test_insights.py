"""Plain-language insights: category changes and the sentences a store manager reads."""

from __future__ import annotations

import pytest

from tests.unit.fakes import figures
from zava.services.insights import (
    MATERIAL_SHARE,
    UNUSUAL_CHANGE_PERCENT,
    category_results,
    store_insights,
)
from zava.services.reports import CategoryResult


def category(name: str, revenue: float, previous: float,
             change: float | None) -> CategoryResult:
    return CategoryResult(category=name, revenue=revenue, previous_revenue=previous,
                          change_percent=change)


def test_categories_are_ordered_by_revenue_then_name() -> None:
    results = category_results(
        [figures("Tools", "50"), figures("Garden", "300"), figures("Paint", "50")],
        [figures("Garden", "150")])
    assert [c.category for c in results] == ["Garden", "Paint", "Tools"]
    assert results[0] == category("Garden", 300.0, 150.0, 100.0)


def test_a_category_without_revenue_before_has_no_change() -> None:
    (new,) = category_results([figures("Lighting", "80")], [])
    assert new == category("Lighting", 80.0, 0.0, None)


def test_a_category_that_stopped_selling_is_listed_last_at_minus_100() -> None:
    results = category_results([figures("Garden", "10")],
                               [figures("Garden", "10"), figures("Snow", "40")])
    assert [(c.category, c.revenue, c.change_percent) for c in results] == [
        ("Garden", 10.0, 0.0), ("Snow", 0.0, -100.0)]


@pytest.mark.parametrize(("now", "before", "change"), [
    ("110", "100", 10.0), ("100", "300", -66.7), ("1", "3", -66.7), ("200.06", "100", 100.1),
    ("0", "5", -100.0), ("5", "5", 0.0),
])
def test_changes_are_rounded_to_one_decimal(now: str, before: str, change: float) -> None:
    (result,) = category_results([figures("A", now)], [figures("A", before)])
    assert result.change_percent == change


def test_no_orders_is_one_sentence() -> None:
    assert store_insights("Kirkland", figures("Kirkland", "0", orders=0), 12.0,
                          [category("Garden", 0, 10, -100.0)]) == [
        "Kirkland has no sales in this period."]


def test_no_previous_period_is_said_plainly() -> None:
    notes = store_insights("Redmond", figures("Redmond", "100"), None, [])
    assert notes == ["Redmond had no sales in the previous period to compare with."]


@pytest.mark.parametrize(("growth", "sentence"), [
    (20.0, "Revenue is up 20.0% on the previous period."),
    (0.0, "Revenue is up 0.0% on the previous period."),
    (-5.25, "Revenue is down 5.2% on the previous period."),
    (-100.0, "Revenue is down 100.0% on the previous period."),
])
def test_growth_reads_up_or_down(growth: float, sentence: str) -> None:
    assert store_insights("S", figures("S", "10"), growth, [])[0] == sentence


def test_the_largest_category_gets_its_share_and_the_smallest_is_named() -> None:
    notes = store_insights("S", figures("S", "400"), 0.0, [
        category("Tools", 300, 300, 0.0), category("Paint", 100, 100, 0.0)])
    assert notes == ["Revenue is up 0.0% on the previous period.",
                     "Tools is the largest category (75% of revenue).", "Paint sells least."]


def test_one_category_is_not_also_the_smallest() -> None:
    notes = store_insights("S", figures("S", "100"), 0.0, [category("Tools", 100, 100, 0.0)])
    assert not any("sells least" in note for note in notes)


def test_unusual_material_changes_are_mentioned_and_others_are_not() -> None:
    notes = store_insights("S", figures("S", "1000"), 0.0, [
        category("Tools", 600, 300, 100.0),       # jumped
        category("Garden", 300, 600, -50.0),      # fell
        category("Paint", 60, 50, 20.0),          # under the threshold
        category("Bulbs", 30, 10, 200.0),         # 3% now and 1% before: not material
        category("Lighting", 10, 0, None),        # nothing to compare with
    ])
    changes = [note for note in notes if "against the previous period" in note]
    assert changes == ["Tools jumped 100% against the previous period.",
                       "Garden fell 50% against the previous period."]


def test_the_threshold_and_material_share_are_inclusive() -> None:
    share = float(MATERIAL_SHARE) * 100  # 5% of 100 now
    notes = store_insights("S", figures("S", "100"), 0.0, [
        category("Big", 100 - share, 100 - share, 0.0),
        category("Edge", share, share / (1 + UNUSUAL_CHANGE_PERCENT / 100),
                 UNUSUAL_CHANGE_PERCENT),
    ])
    assert "Edge jumped 25% against the previous period." in notes


def test_a_category_material_only_before_still_counts() -> None:
    notes = store_insights("S", figures("S", "100"), -50.0, [
        category("Tools", 99, 100, -1.0), category("Snow", 1, 100, -99.0)])
    assert "Snow fell 99% against the previous period." in notes

"""query_metrics on the fake unit of work: names and close matches, incompatible pairs,
period resolution, comparison arithmetic, ordering and limits; and the catalog agrees
with the compiler's vocabulary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.unit.fakes import FakeUnitOfWork, store
from zava.errors import ValidationError
from zava.repositories import metrics as compiler
from zava.services import metrics_catalog
from zava.services.metrics import query_metrics, resolve_dates
from zava.services.metrics_catalog import DIMENSIONS, METRICS

TODAY = dt.date(2025, 6, 15)


def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork([store("Seattle")])


def measures(**values: str) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in values.items()}


def test_the_catalog_speaks_the_compilers_vocabulary() -> None:
    assert set(DIMENSIONS) == compiler.DIMENSIONS
    assert all(DIMENSIONS[d].joins == compiler.JOINS[d] for d in DIMENSIONS)
    assert {n for m in METRICS.values() for n in m.measures} <= compiler.MEASURES
    required = {"revenue", "orders", "units", "average_order_value", "gross_margin",
                "gross_margin_percent", "discount_rate", "returning_customer_share",
                "new_customers", "sell_through_rate", "stock_on_hand", "days_of_stock_cover"}
    assert required <= set(METRICS)
    assert all(m.description and m.definition and m.unit for m in METRICS.values())
    catalog = metrics_catalog.catalog()
    listed = catalog["metrics"]
    assert isinstance(listed, list | dict) and len(listed) == len(METRICS)
    assert len(metrics_catalog.summary()) < 600


@pytest.mark.parametrize(("given", "suggested"), [
    ("revenu", "revenue"), ("gross_margin_pct", "gross_margin_percent"),
    ("stock", "stock_on_hand"), ("new_customer", "new_customers"),
])
async def test_unknown_metrics_list_close_matches(given: str, suggested: str) -> None:
    with pytest.raises(ValidationError, match=f"did you mean .*{suggested}") as raised:
        await query_metrics(uow(), metrics=[given], today=TODAY)
    assert repr(given) not in raised.value.message, "the argument is not echoed"


async def test_unknown_dimensions_filters_and_order_list_close_matches() -> None:
    with pytest.raises(ValidationError, match="unknown dimension; did you mean month"):
        await query_metrics(uow(), metrics=["revenue"], group_by=["mnth"], today=TODAY)
    with pytest.raises(ValidationError, match="did you mean store"):
        await query_metrics(uow(), metrics=["revenue"], filters={"stor": ["Seattle"]},
                            today=TODAY)
    with pytest.raises(ValidationError, match="did you mean revenue"):
        await query_metrics(uow(), metrics=["revenue"], order_by="revenu desc", today=TODAY)
    with pytest.raises(ValidationError, match="cannot be filtered"):
        await query_metrics(uow(), metrics=["revenue"], filters={"month": ["2025-01"]},
                            today=TODAY)
    with pytest.raises(ValidationError, match="at least one metric"):
        await query_metrics(uow(), metrics=[], today=TODAY)


@pytest.mark.parametrize(("metric", "dimension", "why"), [
    ("stock_on_hand", "day_of_week", "no history"),
    ("days_of_stock_cover", "month", "no history"),
    ("sell_through_rate", "week", "no history"),
    ("new_customers", "category", "store, region or channel only"),
    ("returning_customer_share", "month", "store, region or channel only"),
])
async def test_incompatible_pairs_say_why(metric: str, dimension: str, why: str) -> None:
    unit = uow()
    with pytest.raises(ValidationError, match=why):
        await query_metrics(unit, metrics=["revenue", metric], group_by=[dimension],
                            today=TODAY)
    assert unit.entered == 0, "nothing runs for a refused request"
    assert dimension not in METRICS[metric].dimensions


async def test_incompatible_filters_and_comparisons_say_why() -> None:
    with pytest.raises(ValidationError, match="store, region or channel only"):
        await query_metrics(uow(), metrics=["customers"], filters={"category": ["Paint"]},
                            today=TODAY)
    with pytest.raises(ValidationError, match="cannot be compared"):
        await query_metrics(uow(), metrics=["stock_on_hand"], compare_to="previous_period",
                            today=TODAY)
    with pytest.raises(ValidationError, match="same_period_last_year"):
        await query_metrics(uow(), metrics=["revenue"], group_by=["month"],
                            compare_to="previous_period", today=TODAY)


def test_every_metric_allows_some_dimensions() -> None:
    pairs = {(m.name, d) for m in METRICS.values() for d in m.dimensions}
    assert ("revenue", "day_of_week") in pairs and ("stock_on_hand", "day_of_week") not in pairs
    assert len(pairs) == 111


def test_period_resolution() -> None:
    current, previous = resolve_dates(period="last_month", start=None, end=None,
                                      compare_to="previous_period", today=TODAY)
    assert (current.start, current.end) == (dt.date(2025, 5, 1), dt.date(2025, 6, 1))
    assert previous and (previous.start, previous.end) == (dt.date(2025, 4, 1),
                                                           dt.date(2025, 5, 1))
    current, previous = resolve_dates(period=None, start=dt.date(2025, 3, 1),
                                      end=dt.date(2025, 3, 10), compare_to="previous_period",
                                      today=TODAY)
    assert (current.start, current.end) == (dt.date(2025, 3, 1), dt.date(2025, 3, 11))
    assert previous and (previous.start, previous.end) == (dt.date(2025, 2, 19),
                                                           dt.date(2025, 3, 1))
    current, previous = resolve_dates(period=None, start=dt.date(2024, 2, 29),
                                      end=dt.date(2024, 3, 31),
                                      compare_to="same_period_last_year", today=TODAY)
    assert previous and (previous.start, previous.end) == (dt.date(2023, 2, 28),
                                                           dt.date(2023, 4, 1))
    current, previous = resolve_dates(period=None, start=None, end=None, compare_to=None,
                                      today=TODAY)
    assert current.name == "last_30_days" and previous is None
    for bad in ({"period": "last_month", "start": TODAY, "end": None},
                {"period": None, "start": TODAY, "end": None},
                {"period": None, "start": TODAY, "end": TODAY - dt.timedelta(days=1)},
                {"period": "fortnight", "start": None, "end": None}):
        with pytest.raises(ValidationError):
            resolve_dates(compare_to=None, today=TODAY, **bad)


async def test_ratios_are_computed_per_group_from_its_measures() -> None:
    unit = uow()
    unit.metrics.groups[dt.date(2025, 5, 17)] = {
        ("Seattle",): measures(revenue="1000", orders="8", units="20", gross_margin="250",
                               discount="50", gross_sales="1050", stock_on_hand="80"),
        ("Tacoma",): measures(revenue="0", orders="0", units="0", stock_on_hand="10"),
    }
    result = await query_metrics(
        unit, metrics=["average_order_value", "gross_margin_percent", "discount_rate",
                       "sell_through_rate", "days_of_stock_cover"],
        group_by=["store"], period="last_30_days", today=TODAY)
    seattle, tacoma = result.rows
    assert seattle == {"store": "Seattle", "average_order_value": 125.0,
                       "gross_margin_percent": 25.0, "discount_rate": 4.76,
                       "sell_through_rate": 20.0, "days_of_stock_cover": 120.0}
    assert tacoma["average_order_value"] is None and tacoma["sell_through_rate"] == 0.0
    assert tacoma["days_of_stock_cover"] is None
    request = unit.metrics.requests[0]
    assert request.measures == {"revenue", "orders", "gross_margin", "discount",
                                "gross_sales", "units", "stock_on_hand"}
    assert (request.start, request.end) == (dt.date(2025, 5, 17), dt.date(2025, 6, 16))
    assert unit.entered == 1 and not unit.open


async def test_comparison_arithmetic() -> None:
    unit = uow()
    unit.metrics.groups[dt.date(2025, 5, 1)] = {
        ("Seattle",): measures(revenue="1200", orders="10"),
        ("Tacoma",): measures(revenue="300", orders="3"),
        ("Everett",): measures(revenue="50", orders="1"),
    }
    unit.metrics.groups[dt.date(2025, 4, 1)] = {
        ("Seattle",): measures(revenue="1000", orders="10"),
        ("Tacoma",): measures(revenue="0", orders="0"),
    }
    result = await query_metrics(unit, metrics=["revenue", "orders"], group_by=["store"],
                                 period="last_month", compare_to="previous_period",
                                 order_by="revenue", today=TODAY)
    assert [r["store"] for r in result.rows] == ["Seattle", "Tacoma", "Everett"]
    seattle, tacoma, everett = result.rows
    assert (seattle["revenue_previous"], seattle["revenue_change"],
            seattle["revenue_change_percent"]) == (1000.0, 200.0, 20.0)
    assert (seattle["orders_change"], seattle["orders_change_percent"]) == (0.0, 0.0)
    assert (tacoma["revenue_change"], tacoma["revenue_change_percent"]) == (300.0, None)
    assert everett["revenue_previous"] is None and everett["revenue_change"] is None
    assert (result.previous_start, result.previous_end) == (dt.date(2025, 4, 1),
                                                            dt.date(2025, 4, 30))
    assert list(result.units)[:4] == [
        "revenue", "revenue_previous", "revenue_change", "revenue_change_percent"]
    assert result.units["revenue_change_percent"] == "percent"
    margin = await query_metrics(uow(), metrics=["gross_margin_percent"],
                                 compare_to="previous_period", today=TODAY)
    assert margin.units["gross_margin_percent_change"] == "percentage points"


async def test_same_period_last_year_matches_time_buckets() -> None:
    unit = uow()
    unit.metrics.groups[dt.date(2025, 1, 1)] = {
        (dt.date(2025, 1, 1),): measures(revenue="110"),
        (dt.date(2025, 2, 1),): measures(revenue="90"),
    }
    unit.metrics.groups[dt.date(2024, 1, 1)] = {
        (dt.date(2024, 1, 1),): measures(revenue="100"),
        (dt.date(2024, 2, 1),): measures(revenue="100"),
    }
    result = await query_metrics(unit, metrics=["revenue"], group_by=["month"],
                                 start=dt.date(2025, 1, 1), end=dt.date(2025, 2, 28),
                                 compare_to="same_period_last_year", today=TODAY)
    assert [(r["month"], r["revenue_change_percent"]) for r in result.rows] == [
        ("2025-01", 10.0), ("2025-02", -10.0)]


async def test_labels_order_and_limit() -> None:
    unit = uow()
    unit.metrics.groups[dt.date(2025, 5, 17)] = {
        (3, True): measures(orders="5"), (1, False): measures(orders="7"),
        (1, True): measures(orders="2"),
    }
    result = await query_metrics(unit, metrics=["orders"], group_by=["day_of_week", "channel"],
                                 order_by="orders asc", limit=2, today=TODAY)
    assert result.rows == [{"day_of_week": "Monday", "channel": "online", "orders": 2},
                           {"day_of_week": "Wednesday", "channel": "online", "orders": 5}]
    assert result.truncated
    result = await query_metrics(unit, metrics=["orders"], group_by=["day_of_week", "channel"],
                                 today=TODAY)
    assert [(r["day_of_week"], r["channel"]) for r in result.rows] == [
        ("Monday", "physical"), ("Monday", "online"), ("Wednesday", "online")]
    with pytest.raises(ValidationError, match="limit"):
        await query_metrics(unit, metrics=["orders"], limit=0, today=TODAY)

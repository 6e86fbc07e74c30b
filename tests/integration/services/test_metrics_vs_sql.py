"""query_metrics as Seattle, the Eastside regional manager and head office vs SQL written
by hand and run as the admin login with the caller's stores filtered explicitly: every
metric by every dimension it allows (and by none), the typed tools' figures, repeat
calls, and random valid requests (hypothesis) that never fail nor show another store."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.errors import ValidationError
from zava.repositories import metrics as metrics_repository
from zava.seeding import company
from zava.services import analytics
from zava.services.metrics import query_metrics
from zava.services.metrics_catalog import DIMENSIONS, METRICS
from zava.services.periods import PERIOD_NAMES
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

SCOPES = {m.manager_id: m for m in company.managers()
          if m.manager_id in (company.SEATTLE_MANAGER_ID, company.EASTSIDE_REGIONAL_ID,
                              company.HEAD_OFFICE_ID)}
COUNTED = "o.status IN ('placed', 'shipped', 'delivered')"
DIMENSION_SQL = {
    None: "'all'",
    "store": "s.name", "region": "s.region",
    "channel": "CASE WHEN s.is_online THEN 'online' ELSE 'physical' END",
    "category": "c.name", "product_type": "pt.name", "product": "p.name",
    "day": "to_char(o.order_date, 'YYYY-MM-DD')", "week": "to_char(o.order_date, 'IYYY-\"W\"IW')",
    "month": "to_char(o.order_date, 'YYYY-MM')", "quarter": "to_char(o.order_date, 'YYYY-\"Q\"Q')",
    "year": "to_char(o.order_date, 'YYYY')", "day_of_week": "to_char(o.order_date, 'FMDay')",
}
PRODUCT = {"category", "product_type", "product"}
PAIRS_TESTED: set[tuple[str, str | None]] = set()


def visible(manager: company.ManagerDef) -> list[uuid.UUID]:
    return sorted(company.visible_stores(manager))


async def rows(engine: AsyncEngine, sql: str, **params: object) -> dict[str, list[Decimal]]:
    async with engine.connect() as connection:
        result = await connection.execute(text(sql), params)
        return {str(r[0]): [Decimal(v or 0) for v in r[1:]] for r in result}


def ratio(a: Decimal, b: Decimal, scale: int = 1) -> float | None:
    return None if not b else float(round(a * scale / b, 2))


async def expected(engine: AsyncEngine, dim: str | None, ids: list[uuid.UUID],
                   start: dt.date, end: dt.date, extra: str = "TRUE",
                   by_product: bool = False) -> dict[str, dict[str, Any]]:
    """Every metric allowed by ``dim``, per group label, from hand-written SQL; ``extra``
    is a condition on s (stores), c, pt and p (not p for customers), ``by_product`` says
    that it names a product table."""
    dims = dim.split("+") if dim else []
    d = " || '|' || ".join(DIMENSION_SQL[x] for x in dims) or "'all'"
    where = f"o.store_id = ANY(:ids) AND o.order_date >= :start AND o.order_date < :end AND {COUNTED}"
    params = {"ids": ids, "start": start, "end": end}
    joins = ("JOIN retail.stores s ON s.store_id = i.store_id "
             "JOIN retail.products p ON p.product_id = i.product_id "
             "JOIN retail.categories c ON c.category_id = p.category_id "
             "JOIN retail.product_types pt ON pt.product_type_id = p.product_type_id")
    lines = await rows(engine, f"""
        SELECT {d}, sum(i.quantity), sum(i.total_amount - i.quantity * p.cost),
               sum(i.discount_amount), sum(i.total_amount) + sum(i.discount_amount),
               sum(i.total_amount), count(DISTINCT i.order_id)
        FROM retail.order_items i JOIN retail.orders o
          ON o.store_id = i.store_id AND o.order_id = i.order_id {joins}
        WHERE {where} AND {extra} GROUP BY 1""", **params)
    if PRODUCT & set(dims) or by_product:
        orders = {k: v[4:6] for k, v in lines.items()}
    else:
        orders = await rows(engine, f"""
            SELECT {d}, sum(o.total_amount), count(*) FROM retail.orders o
            JOIN retail.stores s ON s.store_id = o.store_id WHERE {where} AND {extra}
            GROUP BY 1""", **params)
    out: dict[str, dict[str, Any]] = defaultdict(dict)

    def sales(key: str) -> None:
        revenue, count = orders.get(key, [Decimal(0)] * 2)
        units, margin, discount, gross = lines.get(key, [Decimal(0)] * 6)[:4]
        out[key].update(revenue=float(revenue), orders=int(count), units=int(units),
                        average_order_value=ratio(revenue, count), gross_margin=float(margin),
                        gross_margin_percent=ratio(margin, revenue, 100),
                        discount_rate=ratio(discount, gross, 100))

    for key in orders.keys() | lines.keys():
        sales(key)
    if set(dims) <= {"store", "region", "channel"} and not by_product:
        customers = await rows(engine, f"""
            WITH firsts AS (
                SELECT o.store_id, o.customer_id, min(o.order_date) AS first_date
                FROM retail.orders o WHERE o.order_date < :end AND {COUNTED}
                  AND o.store_id = ANY(:ids) GROUP BY 1, 2),
            active AS (SELECT DISTINCT o.store_id, o.customer_id FROM retail.orders o
                       WHERE {where})
            SELECT {d}, count(*), count(*) FILTER (WHERE f.first_date >= :start)
            FROM active a JOIN firsts f USING (store_id, customer_id)
            JOIN retail.stores s USING (store_id) WHERE {extra} GROUP BY 1""", **params)
        for key, (active, new) in customers.items():
            sales(key)
            out[key].update(customers=int(active), new_customers=int(new),
                            returning_customer_share=ratio(active - new, active, 100))
    if not any(DIMENSIONS[x].time for x in dims):
        stock = await rows(engine, f"""
            SELECT {d}, sum(v.stock_level) FROM retail.inventory v
            JOIN retail.stores s ON s.store_id = v.store_id
            JOIN retail.products p ON p.product_id = v.product_id
            JOIN retail.categories c ON c.category_id = p.category_id
            JOIN retail.product_types pt ON pt.product_type_id = p.product_type_id
            WHERE v.store_id = ANY(:ids) AND {extra} GROUP BY 1""", ids=ids)
        days = (end - start).days
        for key in stock.keys() | lines.keys():
            on_hand = stock.get(key, [Decimal(0)])[0]
            sold = lines.get(key, [Decimal(0)])[0]
            sales(key)
            out[key].update(stock_on_hand=int(on_hand),
                            sell_through_rate=ratio(sold, sold + on_hand, 100),
                            days_of_stock_cover=ratio(on_hand * days, sold))
    return out


@pytest.fixture(scope="module")
async def year(seeded_admin_engine: AsyncEngine) -> tuple[dt.date, dt.date]:
    """The 365 days up to the newest order (start, last day included)."""
    async with seeded_admin_engine.connect() as connection:
        newest = (await connection.execute(text("SELECT max(order_date) FROM retail.orders"))
                  ).scalar_one()
    return newest - dt.timedelta(days=364), newest


def unit(engine: AsyncEngine, settings: Settings, manager: uuid.UUID) -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(engine, settings, manager)


@pytest.mark.parametrize("dim", [None, *DIMENSIONS])
@pytest.mark.parametrize("manager", list(SCOPES), ids=lambda m: SCOPES[m].name)
async def test_every_metric_by_every_dimension_equals_sql(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
    year: tuple[dt.date, dt.date], manager: uuid.UUID, dim: str | None,
) -> None:
    names = [m.name for m in METRICS.values() if dim is None or dim in m.dimensions]
    start, last = year
    result = await query_metrics(
        unit(seeded_app_engine, settings, manager), metrics=names,
        group_by=[dim] if dim else [], start=start, end=last, limit=1000,
        today=last)
    want = await expected(seeded_admin_engine, dim, visible(SCOPES[manager]), start,
                          last + dt.timedelta(days=1))
    got = {str(r[dim]) if dim else "all": r for r in result.rows}
    assert not result.truncated and want
    assert set(got) == set(want)
    for key, values in want.items():
        for name in names:
            assert got[key][name] == pytest.approx(values[name], abs=0.006), (key, name)
    PAIRS_TESTED.update((name, dim) for name in names)


FILTERS = [
    ({"category": ["power tools"]}, "c.name = 'Power Tools'", True),
    ({"channel": ["Physical"]}, "NOT s.is_online", False),
    ({"store": ["seattle", "Bellevue", "Online"]}, "s.name IN ('Seattle', 'Bellevue', 'Online')",
     False),
    ({"product_type": ["Drills & Drivers", "Saws"], "region": ["Eastside"]},
     "pt.name IN ('Drills & Drivers', 'Saws') AND s.region = 'Eastside'", True),
]


@pytest.mark.parametrize(("filters", "condition", "by_product"), FILTERS,
                         ids=["category", "channel", "stores", "type-and-region"])
@pytest.mark.parametrize("dim", [None, "store", "month", "category"])
@pytest.mark.parametrize("manager", list(SCOPES), ids=lambda m: SCOPES[m].name)
async def test_filters_equal_sql(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
    year: tuple[dt.date, dt.date], manager: uuid.UUID, dim: str | None,
    filters: dict[str, list[str]], condition: str, by_product: bool,
) -> None:
    names = [m.name for m in METRICS.values()
             if (dim is None or dim in m.dimensions) and all(f in m.dimensions for f in filters)]
    start, last = year
    result = await query_metrics(
        unit(seeded_app_engine, settings, manager), metrics=names, filters=filters,
        group_by=[dim] if dim else [], start=start, end=last, limit=1000, today=last)
    want = await expected(seeded_admin_engine, dim, visible(SCOPES[manager]), start,
                          last + dt.timedelta(days=1), condition, by_product)
    got = {str(r[dim]) if dim else "all": r for r in result.rows}
    if dim is None and not want:
        want = {"all": {}}  # an ungrouped answer is one row, of zeros
    assert set(got) == set(want)
    for key, values in want.items():
        for name in names:
            if name not in values:  # no row of this family: zero or empty
                assert not got[key][name], (key, name)
            else:
                assert got[key][name] == pytest.approx(values[name], abs=0.006), (key, name)


def label(row: dict[str, Any], dims: list[str]) -> str:
    return "|".join(str(row[d]) for d in dims) or "all"


@pytest.mark.parametrize("dims", ["store+month", "category+day_of_week", "region+product_type",
                                  "channel+quarter", "product+channel", "store+region",
                                  "week+channel"])
@pytest.mark.parametrize("manager", list(SCOPES), ids=lambda m: SCOPES[m].name)
async def test_two_dimensions_equal_sql(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
    year: tuple[dt.date, dt.date], manager: uuid.UUID, dims: str,
) -> None:
    group_by = dims.split("+")
    names = [m.name for m in METRICS.values() if all(d in m.dimensions for d in group_by)]
    start, last = year
    result = await query_metrics(
        unit(seeded_app_engine, settings, manager), metrics=names, group_by=group_by,
        start=start, end=last, limit=1000, today=last)
    want = await expected(seeded_admin_engine, dims, visible(SCOPES[manager]), start,
                          last + dt.timedelta(days=1))
    got = {label(r, group_by): r for r in result.rows}
    assert not result.truncated and set(got) == set(want)
    for key, values in want.items():
        for name in names:
            assert got[key][name] == pytest.approx(values[name], abs=0.006), (key, name)


@pytest.mark.parametrize(("dims", "compare_to"), [
    ("store", "previous_period"), ("month", "same_period_last_year"),
    ("category+quarter", "same_period_last_year"), ("day_of_week", "previous_period"),
    ("", "same_period_last_year")])
@pytest.mark.parametrize("manager", list(SCOPES), ids=lambda m: SCOPES[m].name)
async def test_comparisons_equal_sql(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
    year: tuple[dt.date, dt.date], manager: uuid.UUID, dims: str, compare_to: str,
) -> None:
    group_by = dims.split("+") if dims else []
    names = ["revenue", "orders", "units", "gross_margin_percent", "discount_rate"]
    if set(group_by) <= {"store"}:
        names.append("new_customers")
    start, last = dt.date(year[1].year, 1, 1), year[1]
    result = await query_metrics(
        unit(seeded_app_engine, settings, manager), metrics=names, group_by=group_by,
        start=start, end=last, compare_to=compare_to, limit=1000, today=last)
    if compare_to == "previous_period":
        span = last + dt.timedelta(days=1) - start
        before, after = start - span, start
    else:
        before, after = start.replace(year=start.year - 1), (
            last + dt.timedelta(days=1)).replace(year=start.year - 1)
    assert (result.previous_start, result.previous_end) == (before, after - dt.timedelta(1))
    old = await expected(seeded_admin_engine, dims or None, visible(SCOPES[manager]),
                         before, after)
    if compare_to == "same_period_last_year":  # the buckets of a year before, moved on
        old = {"|".join(k.replace(str(start.year - 1), str(start.year), 1)
                        for k in key.split("|")): v for key, v in old.items()}
    assert result.rows
    for row in result.rows:
        was = old.get(label(row, group_by))
        for name in names:
            previous = None if was is None else was[name]
            assert row[f"{name}_previous"] == pytest.approx(previous, abs=0.006), name
            if previous is None or row[name] is None:
                assert row[f"{name}_change"] is None
                continue
            assert row[f"{name}_change"] == pytest.approx(row[name] - previous, abs=0.011)
            if previous:
                assert row[f"{name}_change_percent"] == pytest.approx(
                    (row[name] - previous) * 100 / previous, abs=0.06)


async def test_too_many_groups_are_refused_before_they_are_read(
    seeded_app_engine: AsyncEngine, settings: Settings, year: tuple[dt.date, dt.date],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics_repository, "MAX_GROUPS", 50)
    with pytest.raises(ValidationError, match="more than 50 groups"):
        await query_metrics(unit(seeded_app_engine, settings, company.HEAD_OFFICE_ID),
                            metrics=["revenue", "units"], group_by=["product", "day"],
                            period="last_12_months", today=year[1])
    result = await query_metrics(unit(seeded_app_engine, settings, company.HEAD_OFFICE_ID),
                                 metrics=["revenue", "units"], group_by=["region"],
                                 period="last_12_months", today=year[1])
    assert result.rows


def test_pair_count() -> None:
    """Runs after the parametrised test in this module: 111 pairs plus 13 ungrouped."""
    allowed = {(m.name, d) for m in METRICS.values() for d in (None, *m.dimensions)}
    if PAIRS_TESTED:
        assert allowed == PAIRS_TESTED
    assert len([p for p in allowed if p[1]]) == 111


@pytest.mark.parametrize("manager", list(SCOPES), ids=lambda m: SCOPES[m].name)
async def test_typed_tool_figures_equal_the_metrics(
    seeded_app_engine: AsyncEngine, settings: Settings, year: tuple[dt.date, dt.date],
    manager: uuid.UUID,
) -> None:
    today = year[1]
    report = await analytics.store_performance(
        unit(seeded_app_engine, settings, manager), period="last_12_months", today=today)
    result = await query_metrics(
        unit(seeded_app_engine, settings, manager), group_by=["store"],
        metrics=["revenue", "orders", "units", "average_order_value",
                 "gross_margin_percent"], period="last_12_months", today=today)
    by_store = {r["store"]: r for r in result.rows}
    assert (result.start, result.end) == (report.start, report.end)
    for s in report.stores:
        row = by_store[s.store]
        assert (row["revenue"], row["orders"], row["units"], row["average_order_value"],
                row["gross_margin_percent"]) == (
            s.revenue, s.orders, s.units, s.average_order_value, s.gross_margin_percent)


async def test_the_same_call_twice_gives_the_same_answer(
    seeded_app_engine: AsyncEngine, settings: Settings, year: tuple[dt.date, dt.date],
) -> None:
    async def ask() -> object:
        return await query_metrics(
            unit(seeded_app_engine, settings, company.HEAD_OFFICE_ID),
            metrics=["revenue", "gross_margin_percent", "orders"], group_by=["category", "month"],
            period="last_12_months", compare_to="same_period_last_year",
            order_by="revenue", limit=50, today=year[1])
    first, second = await ask(), await ask()
    assert first == second


STORE_NAMES = [s.name for s in company.stores()]


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    metrics = draw(st.lists(st.sampled_from(list(METRICS)), min_size=1, max_size=3,
                            unique=True))
    allowed = [d for d in DIMENSIONS if all(d in METRICS[m].dimensions for m in metrics)]
    group_by = draw(st.lists(st.sampled_from(allowed), max_size=2, unique=True))
    comparable = all(METRICS[m].comparable for m in metrics)
    calendar = any(DIMENSIONS[d].time and d != "day_of_week" for d in group_by)
    compare = draw(st.sampled_from(
        [None] + (["same_period_last_year"] + ([] if calendar else ["previous_period"])
                  if comparable else [])))
    filters = {}
    if "store" in allowed and draw(st.booleans()):
        filters["store"] = draw(st.lists(st.sampled_from(STORE_NAMES), min_size=1, max_size=3))
    if "channel" in allowed and draw(st.booleans()):
        filters["channel"] = [draw(st.sampled_from(["online", "Physical"]))]
    if "category" in allowed and draw(st.booleans()):
        filters["category"] = [draw(st.sampled_from(["Power Tools", "garden & outdoor",
                                                     "No Such Category"]))]
    return {"metrics": metrics, "group_by": group_by, "compare_to": compare,
            "filters": filters, "period": draw(st.sampled_from(PERIOD_NAMES)),
            "order_by": draw(st.sampled_from([None, *metrics, *group_by])),
            "limit": draw(st.integers(1, 200))}


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests(), manager=st.sampled_from(
    [company.SEATTLE_MANAGER_ID, company.EASTSIDE_REGIONAL_ID]))
async def test_random_valid_requests_never_fail_nor_show_another_store(
    seeded_app_engine: AsyncEngine, settings: Settings, year: tuple[dt.date, dt.date],
    request: dict[str, Any], manager: uuid.UUID,
) -> None:
    result = await query_metrics(unit(seeded_app_engine, settings, manager), today=year[1],
                                 **request)
    mine = {s.name for s in company.stores()
            if s.store_id in company.visible_stores(SCOPES[manager])}
    if "store" in result.group_by:
        assert {r["store"] for r in result.rows} <= mine
    if "store" in request["filters"] and not set(request["filters"]["store"]) & mine:
        # Only another manager's stores asked for: nothing of theirs comes back.
        assert all(not r.get(m) for r in result.rows for m in result.metrics)
    assert len(result.rows) <= request["limit"]

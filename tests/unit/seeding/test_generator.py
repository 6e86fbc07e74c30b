"""The dataset generator, without a database: determinism and the business rules."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from zava.seeding import catalog, company
from zava.seeding.generator import START_DATE, DatasetGenerator
from zava.seeding.sizes import SIZES

END = dt.date(2026, 11, 23)
Tables = dict[str, list[tuple[Any, ...]]]


def generate(seed: int, end: dt.date = END) -> Tables:
    """Every table's rows in the order the loader copies them."""
    tables: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for part in DatasetGenerator(SIZES["tiny"], seed, end).tables():
        tables[part.table] += part.rows
    return dict(tables)


def checksum(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256("\n".join(map(repr, rows)).encode()).hexdigest()


@pytest.fixture(scope="module")
def tiny() -> Tables:
    return generate(7)


def test_same_seed_gives_identical_rows(tiny: Tables) -> None:
    again = generate(7)
    assert {t: checksum(r) for t, r in tiny.items()} == {t: checksum(r) for t, r in again.items()}


def test_another_seed_gives_other_rows(tiny: Tables) -> None:
    other = generate(8)
    for table in ("customers", "orders", "order_items", "inventory"):
        assert checksum(other[table]) != checksum(tiny[table])
    assert checksum(other["products"]) == checksum(tiny["products"])  # the catalog is fixed


def test_totals_add_up_to_the_cent(tiny: Tables) -> None:
    by_order: dict[object, Decimal] = defaultdict(Decimal)
    for _, order, _, quantity, price, percent, discount, total in tiny["order_items"]:
        gross = Decimal(quantity) * price
        assert discount == (gross * percent / 100).quantize(Decimal("0.01"),
                                                            rounding="ROUND_HALF_UP")
        assert total == gross - discount
        by_order[order] += total
    for _, order, _, _, total, _ in tiny["orders"]:
        assert total == by_order[order]


def test_dates_run_from_2020_to_the_end_date(tiny: Tables) -> None:
    dates = [row[3] for row in tiny["orders"]]
    assert min(dates) >= START_DATE and max(dates) <= END
    per_year: dict[int, int] = defaultdict(int)
    for day in dates:
        per_year[day.year] += 1
    assert per_year[2025] > per_year[2021]  # growing year over year


def test_every_store_orders_every_category_sells_every_store_runs_low(
    tiny: Tables
) -> None:
    assert {row[0] for row in tiny["orders"]} == {s.store_id for s in company.stores()}
    category_of = {p.product_id: p.category for p in catalog.products()}
    assert {category_of[row[2]] for row in tiny["order_items"]} == \
        {c.name for c in catalog.categories()}
    low = {row[0] for row in tiny["inventory"] if row[2] < 10}
    assert low == {s.store_id for s in company.stores()}
    assert len(tiny["inventory"]) == len(company.stores()) * len(catalog.products())


def test_products_are_distinct_within_an_order(tiny: Tables) -> None:
    keys = [(row[1], row[2]) for row in tiny["order_items"]]
    assert len(keys) == len(set(keys))


def test_customers_join_before_they_order(tiny: Tables) -> None:
    joined = {row[0]: row[5].date() for row in tiny["customers"]}
    assert all(joined[row[2]] <= row[3] for row in tiny["orders"])
    emails = [row[4] for row in tiny["customers"]]
    assert len(emails) == len(set(emails))


def test_catalog_margins_match_prices() -> None:
    for product in catalog.products():
        assert product.cost < product.base_price
        assert product.gross_margin_percent == (
            (product.base_price - product.cost) * 100 / product.base_price
        ).quantize(Decimal("0.01"))

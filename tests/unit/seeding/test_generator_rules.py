"""The dataset generator on a size small enough to run many times: determinism per seed
and end date, chunking, identifiers, statuses near the end date, and its refusals."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from zava.seeding import catalog, company
from zava.seeding.generator import START_DATE, DatasetGenerator, TableRows
from zava.seeding.sizes import DEFAULT_SEED, SIZES, STORE_WEIGHTS, Size

MICRO = Size("micro", customers=60, orders=250, chunk_orders=100)
END = dt.date(2026, 11, 23)


def rows(seed: int = 11, end: dt.date = END, size: Size = MICRO) -> list[TableRows]:
    return list(DatasetGenerator(size, seed, end).tables())


def by_table(parts: list[TableRows]) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for part in parts:
        tables.setdefault(part.table, []).extend(part.rows)
    return tables


@pytest.fixture(scope="module")
def micro() -> dict[str, list[tuple[Any, ...]]]:
    return by_table(rows())


@pytest.mark.parametrize("seed", [0, 1, 11, DEFAULT_SEED])
def test_a_seed_and_end_date_give_the_same_rows_every_time(seed: int) -> None:
    assert rows(seed) == rows(seed)


@pytest.mark.parametrize(("one", "other"), [((11, END), (12, END)),
                                            ((11, END), (11, END - dt.timedelta(days=1)))])
def test_another_seed_or_end_date_gives_other_orders(one: tuple[int, dt.date],
                                                     other: tuple[int, dt.date]) -> None:
    first, second = by_table(rows(*one)), by_table(rows(*other))
    assert first["orders"] != second["orders"]
    assert first["products"] == second["products"] and first["stores"] == second["stores"]


def test_tables_come_in_dependency_order_with_orders_in_chunks() -> None:
    parts = rows()
    names = [p.table for p in parts]
    assert names[:8] == ["stores", "managers", "manager_stores", "categories",
                         "product_types", "products", "customers", "inventory"]
    assert names[8:] == ["orders", "order_items"] * 3  # 100 + 100 + 50
    assert [len(p.rows) for p in parts if p.table == "orders"] == [100, 100, 50]


def test_every_row_has_one_value_per_column() -> None:
    for part in rows():
        assert part.rows, part.table
        assert {len(row) for row in part.rows} == {len(part.columns)}, part.table


def test_reference_tables_are_the_company_and_the_catalog(micro: dict[str, Any]) -> None:
    assert [r[1] for r in micro["stores"]] == [s.name for s in company.stores()]
    assert len(micro["managers"]) == len(company.managers())
    assert {r[1] for r in micro["products"]} == {p.sku for p in catalog.products()}
    store_managers = [m for m in company.managers() if m.store]
    assert len(micro["manager_stores"]) == len(store_managers)
    assert set(STORE_WEIGHTS) == {s.name for s in company.stores()}


def test_identifiers_are_random_uuids_and_unique(micro: dict[str, Any]) -> None:
    customers = [r[0] for r in micro["customers"]]
    orders = [r[1] for r in micro["orders"]]
    for value in customers + orders:
        assert isinstance(value, uuid.UUID) and value.version == 4
        assert value.variant == uuid.RFC_4122
    assert len(set(customers + orders)) == len(customers) + len(orders)


def test_orders_belong_to_known_customers_and_stores(micro: dict[str, Any]) -> None:
    customers = {r[0] for r in micro["customers"]}
    stores = {s.store_id for s in company.stores()}
    assert all(r[2] in customers and r[0] in stores for r in micro["orders"])
    orders = {(r[0], r[1]) for r in micro["orders"]}
    assert all((r[0], r[1]) in orders for r in micro["order_items"])


def test_emails_are_unique_and_at_example_com(micro: dict[str, Any]) -> None:
    emails = [r[4] for r in micro["customers"]]
    assert len(set(emails)) == len(emails)
    assert all(e.endswith("@example.com") and e == e.lower() for e in emails)


def test_statuses_follow_the_order_date(micro: dict[str, Any]) -> None:
    last = END
    for _, _, _, day, _, status in micro["orders"]:
        age = (last - day).days
        if age <= 2:
            assert status == "placed"
        elif age <= 7:
            assert status == "shipped"
        else:
            assert status in ("delivered", "returned", "cancelled")
    assert Counter(r[5] for r in micro["orders"])["delivered"] > len(micro["orders"]) / 2


def test_money_is_exact_to_the_cent(micro: dict[str, Any]) -> None:
    cent = Decimal("0.01")
    for row in micro["order_items"]:
        assert row[4] == row[4].quantize(cent)  # unit price from the catalog
        assert row[6].as_tuple().exponent == row[7].as_tuple().exponent == -2
        assert row[6] >= 0 and row[7] > 0
    assert all(r[4].as_tuple().exponent == -2 and r[4] > 0 for r in micro["orders"])


@pytest.mark.parametrize("end", [START_DATE, START_DATE - dt.timedelta(days=1)])
def test_an_end_date_not_after_the_start_is_refused(end: dt.date) -> None:
    with pytest.raises(ValueError, match="the end date must be after 2020-01-01"):
        DatasetGenerator(MICRO, 1, end)


def test_orders_need_customers_first() -> None:
    generator = DatasetGenerator(MICRO, 1, END)
    with pytest.raises(RuntimeError, match="generate customers before orders"):
        next(generator.order_chunks())


def test_a_one_day_history_still_generates() -> None:
    tables = by_table(rows(end=START_DATE + dt.timedelta(days=1)))
    assert {r[3] for r in tables["orders"]} <= {START_DATE, START_DATE + dt.timedelta(days=1)}
    assert {r[5] for r in tables["orders"]} == {"placed"}


def test_the_sizes_grow_and_tiny_is_one_chunk() -> None:
    tiny, workshop, large = SIZES["tiny"], SIZES["workshop"], SIZES["large"]
    assert tiny.orders <= tiny.chunk_orders
    assert tiny.orders < workshop.orders < large.orders
    assert tiny.customers < workshop.customers < large.customers
    assert abs(sum(STORE_WEIGHTS.values()) - 1) < 1e-9

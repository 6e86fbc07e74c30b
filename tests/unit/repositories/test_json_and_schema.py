"""What the repositories compute without a query: how deep a JSON value nests, and the
table descriptions a model reads before writing SQL (from the models, not the catalog)."""

from __future__ import annotations

import pytest

from tests.unit.fakes import FakeSchema
from zava.db.models import Base
from zava.errors import ValidationError
from zava.repositories.json_values import JsonValue, nesting_depth
from zava.repositories.schema import TABLE_DESCRIPTIONS


@pytest.mark.parametrize(("value", "depth"), [
    (None, 0), (True, 0), (1, 0), (1.5, 0), ("[[[]]]", 0),
    ([], 1), ({}, 1), ([1, "a", None], 1), ({"a": 1}, 1),
    ([[1], [2, [3]]], 3), ({"a": {"b": {"c": []}}}, 4), ([{"a": [{}]}], 4),
    ({"wide": [1] * 1000, "deep": [[[]]]}, 4),
])
def test_nesting_depth(value: JsonValue, depth: int) -> None:
    assert nesting_depth(value) == depth


def test_nesting_depth_needs_no_recursion() -> None:
    value: JsonValue = []
    for _ in range(100_000):  # far beyond Python's recursion limit
        value = [value]
    assert nesting_depth(value) == 100_001


def test_the_queryable_tables_are_described_and_the_identity_tables_are_not() -> None:
    names = FakeSchema().table_names()
    assert names == [f"retail.{t}" for t in TABLE_DESCRIPTIONS]
    assert set(TABLE_DESCRIPTIONS) <= {t.name for t in Base.metadata.tables.values()}
    assert not {"managers", "manager_stores", "manager_logins", "embedding_space"} \
        & set(TABLE_DESCRIPTIONS)


@pytest.mark.parametrize("name", ["orders", "retail.orders", " ORDERS ", '"orders"',
                                  "Retail.Orders"])
def test_a_table_is_found_however_it_is_written(name: str) -> None:
    (orders,) = FakeSchema().describe([name])
    assert orders.name == "retail.orders"
    assert orders.description == TABLE_DESCRIPTIONS["orders"]


def test_columns_carry_postgresql_types_keys_and_references() -> None:
    items, = FakeSchema().describe(["order_items"])
    columns = {c.name: c for c in items.columns}
    assert columns["product_id"].references == "retail.products.product_id"
    assert columns["product_id"].data_type == "uuid"
    assert columns["quantity"].primary_key is False
    assert {c.name for c in items.columns if c.primary_key} >= {"order_id", "product_id"}
    assert not any(c.nullable for c in items.columns if c.primary_key)


def test_every_description_names_its_columns() -> None:
    for table in FakeSchema().describe(list(TABLE_DESCRIPTIONS)):
        assert table.columns and len({c.name for c in table.columns}) == len(table.columns)
        assert all(c.data_type and c.data_type == c.data_type.lower() for c in table.columns)


@pytest.mark.parametrize("name", ["managers", "retail.manager_stores", "pg_authid",
                                  "public.orders", "orders; DROP TABLE x", ""])
def test_an_unknown_table_lists_the_valid_ones(name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        FakeSchema().describe(["orders", name])
    assert refused.value.message.startswith(f"unknown table {name!r}; valid tables: ")
    assert refused.value.message.endswith(", ".join(FakeSchema().table_names()))

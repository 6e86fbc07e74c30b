"""Table descriptions for a model that writes SQL: columns, types and keys.

The structure comes from the declarative models (a test keeps them identical to the
migrated schema), so describing a table costs no query.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from zava.db.models import SCHEMA, Base
from zava.errors import ValidationError
from zava.repositories.results import ColumnInfo, TableInfo

TABLE_DESCRIPTIONS = {
    "stores": "Stores the caller may see; is_online marks the online shop.",
    "customers": "Customers; store_id is the home store.",
    "categories": "Product categories.",
    "product_types": "Product types within a category.",
    "products": "The catalog; prices in USD; "
                "gross_margin_percent = (base_price - cost) / base_price.",
    "inventory": "Units in stock per store and product.",
    "orders": "Orders per store; total_amount = sum of its items' total_amount. "
              "Count status IN ('placed','shipped','delivered') as sales. Compare "
              "order_date (a date) with dates, e.g. CURRENT_DATE - 30 or DATE '2025-01-01': "
              "a timestamp comparison cannot use the index.",
    "order_items": "Order lines; total_amount = quantity * unit_price - discount_amount. "
                   "Join to orders on (store_id, order_id).",
    "product_description_embeddings": "Vector embeddings of product descriptions (pgvector); "
                                      "use semantic_search_products instead of querying it.",
}
"""The tables a caller can query, with what a model needs to know about each."""


_NEW_DIALECT: Callable[[], Dialect] = PGDialect
_POSTGRESQL = _NEW_DIALECT()
"""Types are described as PostgreSQL names them (the generic compiler says char(32) for
a uuid)."""


def _describe(table: Table) -> TableInfo:
    columns = []
    for column in table.columns:
        targets = [f"{fk.column.table.fullname}.{fk.column.name}" for fk in column.foreign_keys]
        columns.append(ColumnInfo(
            name=column.name,
            data_type=column.type.compile(dialect=_POSTGRESQL).lower(),
            nullable=bool(column.nullable),
            primary_key=column.primary_key,
            references=targets[0] if targets else None,
        ))
    return TableInfo(name=f"{SCHEMA}.{table.name}",
                     description=TABLE_DESCRIPTIONS[table.name], columns=tuple(columns))


class SchemaRepository:
    """Describes the queryable tables."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @staticmethod
    def table_names() -> list[str]:
        """The queryable tables, qualified, in a stable order."""
        return [f"{SCHEMA}.{name}" for name in TABLE_DESCRIPTIONS]

    def describe(self, names: list[str]) -> list[TableInfo]:
        """Descriptions of the named tables (``orders`` or ``retail.orders``).

        Raises ``ValidationError`` listing the valid names when one is unknown.
        """
        described = []
        for raw in names:
            name = raw.strip().strip('"').lower().removeprefix(f"{SCHEMA}.")
            if name not in TABLE_DESCRIPTIONS:
                raise ValidationError(
                    f"unknown table {raw[:60]!r}; valid tables: " + ", ".join(self.table_names())
                )
            described.append(_describe(Base.metadata.tables[f"{SCHEMA}.{name}"]))
        return described

"""The catalog of the demo retailer, read from ``seed/catalog`` (data, not code)."""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from zava.bundled import SEED_DIR
from zava.embeddings.base import product_text

NAMESPACE = uuid.UUID("5a7a0000-0000-4000-8000-000000000000")
"""Ids of catalog rows are uuid5 of their natural key in this namespace: stable forever."""

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True)
class CategoryDef:
    """A category and its relative sales weight in each calendar month."""

    category_id: uuid.UUID
    name: str
    monthly_weights: tuple[float, ...]


@dataclass(frozen=True)
class ProductDef:
    """A catalog item as the data file defines it."""

    product_id: uuid.UUID
    sku: str
    name: str
    category: str
    product_type: str
    cost: Decimal
    base_price: Decimal
    description: str

    @property
    def gross_margin_percent(self) -> Decimal:
        """(price - cost) / price, in percent, to the cent."""
        return ((self.base_price - self.cost) * 100 / self.base_price).quantize(Decimal("0.01"))

    @property
    def embedding_text(self) -> str:
        """What semantic search embeds for this product."""
        return product_text(self.name, self.description)


def category_id(name: str) -> uuid.UUID:
    """The stable id of a category."""
    return uuid.uuid5(NAMESPACE, "category:" + name)


def product_type_id(category: str, name: str) -> uuid.UUID:
    """The stable id of a product type within its category."""
    return uuid.uuid5(NAMESPACE, f"product_type:{category}:{name}")


@cache
def categories() -> tuple[CategoryDef, ...]:
    """Every category, in file order."""
    with (SEED_DIR / "catalog" / "categories.csv").open(newline="") as handle:
        return tuple(
            CategoryDef(category_id(row["category"]), row["category"],
                        tuple(float(row[m]) for m in MONTHS))
            for row in csv.DictReader(handle)
        )


@cache
def products() -> tuple[ProductDef, ...]:
    """Every product, in file order."""
    with (SEED_DIR / "catalog" / "products.csv").open(newline="") as handle:
        return tuple(
            ProductDef(
                product_id=uuid.uuid5(NAMESPACE, "product:" + row["sku"]),
                sku=row["sku"], name=row["name"], category=row["category"],
                product_type=row["product_type"], cost=Decimal(row["cost"]),
                base_price=Decimal(row["base_price"]), description=row["description"],
            )
            for row in csv.DictReader(handle)
        )


def product_types() -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(product_type_id, category_id, name) for every type the products use."""
    seen: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID, str]] = {}
    for p in products():
        key = product_type_id(p.category, p.product_type)
        seen.setdefault(key, (key, category_id(p.category), p.product_type))
    return list(seen.values())

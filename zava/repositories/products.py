"""The catalog: products by id, SKU, category, and by description similarity."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from zava.db.errors import translate_errors
from zava.db.models import (
    Category,
    EmbeddingSpace,
    Product,
    ProductDescriptionEmbedding,
    ProductType,
)
from zava.repositories.results import ProductInfo, ProductMatch


def _products() -> Select[*tuple[Any, ...]]:
    return (
        select(
            Product.product_id, Product.sku, Product.name,
            Category.name.label("category"), ProductType.name.label("product_type"),
            Product.cost, Product.base_price, Product.gross_margin_percent,
            Product.description,
        )
        .join(Category, Category.category_id == Product.category_id)
        .join(ProductType, ProductType.product_type_id == Product.product_type_id)
    )


class ProductRepository:
    """Reads the product catalog (reference data: the same for every caller)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _fetch(self, query: Select[*tuple[Any, ...]]) -> list[ProductInfo]:
        with translate_errors():
            rows = (await self._session.execute(query)).all()
        return [ProductInfo(*row) for row in rows]

    async def get(self, product_id: uuid.UUID) -> ProductInfo | None:
        """The product with this id, if any."""
        found = await self._fetch(_products().where(Product.product_id == product_id))
        return found[0] if found else None

    async def by_sku(self, sku: str) -> ProductInfo | None:
        """The product with this SKU (case-insensitive), if any."""
        found = await self._fetch(_products().where(Product.sku == sku.upper()))
        return found[0] if found else None

    async def by_category(self, category: str, limit: int = 50) -> list[ProductInfo]:
        """Products of a category (case-insensitive name), by SKU."""
        query = (
            _products().where(Category.name.ilike(category)).order_by(Product.sku).limit(limit)
        )
        return await self._fetch(query)

    async def categories(self) -> list[str]:
        """Every category name, sorted."""
        with translate_errors():
            names = (await self._session.scalars(select(Category.name).order_by(Category.name)))
            return list(names)

    async def similar(
        self, embedding: Sequence[float], *, min_similarity: float, limit: int
    ) -> list[ProductMatch]:
        """Products whose description embedding is closest (cosine) to ``embedding``.

        Ordering by distance lets PostgreSQL use the ivfflat index; the similarity
        threshold is then applied to those nearest candidates.
        """
        distance = ProductDescriptionEmbedding.embedding.cosine_distance(list(embedding))
        nearest = (
            _products()
            .add_columns((1 - distance).label("similarity"))
            .join(ProductDescriptionEmbedding,
                  ProductDescriptionEmbedding.product_id == Product.product_id)
            .order_by(distance)
            .limit(limit)
        )
        with translate_errors():
            rows = (await self._session.execute(nearest)).all()
        return [
            ProductMatch(ProductInfo(*row[:-1]), float(row[-1]))
            for row in rows
            if float(row[-1]) >= min_similarity
        ]

    async def embedding_space(self) -> tuple[str, int] | None:
        """The (model, dimension) the stored description vectors were made with."""
        query = select(EmbeddingSpace.model_name, EmbeddingSpace.dimension)
        with translate_errors():
            row = (await self._session.execute(query)).one_or_none()
        return (row[0], int(row[1])) if row else None

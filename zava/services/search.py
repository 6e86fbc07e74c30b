"""Semantic product search: embed the question, find the nearest descriptions."""

from __future__ import annotations

from pydantic import BaseModel, Field

from zava.db.unit_of_work import UnitOfWork
from zava.embeddings.base import Embedder
from zava.errors import ConfigurationError, ValidationError


class ProductHit(BaseModel):
    """A product that matches the description, with how well (0-100)."""

    sku: str
    name: str
    category: str
    product_type: str
    price: float
    description: str
    similarity_percent: float
    units_in_your_stores: int = Field(description="Stock across the stores you may see")


class SearchResults(BaseModel):
    """Products most similar to the description, best first."""

    query: str
    products: list[ProductHit]


async def check_embedding_space(uow: UnitOfWork, embedder: Embedder) -> None:
    """Refuse to search vectors made by another model or with another dimension."""
    recorded = await uow.products.embedding_space()
    configured = (embedder.model_name, embedder.dimension)
    if recorded is not None and recorded != configured:
        raise ConfigurationError(
            f"the product vectors were made with {recorded[0]} ({recorded[1]} dims) but the "
            f"server is configured for {configured[0]} ({configured[1]} dims); re-embed the "
            "catalog with `zava seed embed-catalog` then `zava seed --replace`, or configure the "
            "recorded model"
        )


async def search_products(
    uow: UnitOfWork, embedder: Embedder, *, query: str, max_rows: int,
    similarity_threshold_percent: float,
) -> SearchResults:
    """Products whose descriptions are closest in meaning to ``query``."""
    text = " ".join(query.split())
    if not text:
        raise ValidationError("query_description is empty; describe the product you need")
    await check_embedding_space(uow, embedder)
    (vector,) = await embedder.embed([text])
    matches = await uow.products.similar(
        vector, min_similarity=similarity_threshold_percent / 100, limit=max_rows)
    stock = await uow.inventory.units_on_hand([m.product.product_id for m in matches])
    return SearchResults(query=text, products=[
        ProductHit(sku=m.product.sku, name=m.product.name, category=m.product.category,
                   product_type=m.product.product_type, price=float(m.product.base_price),
                   description=m.product.description,
                   similarity_percent=round(m.similarity * 100, 1),
                   units_in_your_stores=stock.get(m.product.product_id, 0))
        for m in matches
    ])

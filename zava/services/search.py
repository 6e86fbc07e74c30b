"""Semantic product search: embed the question, rank the catalog, add the caller's stock.

Three modes (``ZAVA_SEARCH_MODE``): ``vector`` (cosine similarity on the ivfflat index),
``lexical`` (full text and trigrams, no model needed) and ``hybrid`` (reciprocal rank
fusion of both; the default, because it scores best on the labelled questions in
``benchmarks/search_quality.py``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from zava.embeddings.base import Embedder
from zava.errors import ConfigurationError, ValidationError
from zava.services.unit_of_work import UnitOfWork

SearchMode = Literal["hybrid", "vector", "lexical"]


class ProductHit(BaseModel):
    """A product that matches the description, with how well (0-100)."""

    sku: str
    name: str
    category: str
    product_type: str
    price: float
    description: str
    similarity_percent: float = Field(description="Cosine similarity of meaning, 0-100")
    matched_words: bool
    units_in_your_stores: int


class SearchResults(BaseModel):
    """Products most similar to the description, best first."""

    query: str
    mode: SearchMode
    products: list[ProductHit]


async def check_embedding_space(uow: UnitOfWork, embedder: Embedder) -> None:
    """Refuse to search vectors made by another model or with another dimension."""
    recorded = await uow.products.embedding_space()
    configured = (embedder.model_name, embedder.dimension)
    if recorded is not None and recorded != configured:
        raise ConfigurationError(
            f"the product vectors were made with {recorded[0]} ({recorded[1]} dims) but the "
            f"server is configured for {configured[0]} ({configured[1]} dims); re-embed the "
            "catalog with your model (`zava db reembed`, which rewrites the vectors and the "
            "index in one transaction), or configure the recorded model "
            "(ZAVA_EMBEDDING_PROVIDER, ZAVA_EMBEDDING_MODEL, ZAVA_EMBEDDING_DIM)"
        )


async def search_products(
    uow: UnitOfWork, embedder: Embedder, *, query: str, max_rows: int,
    similarity_threshold_percent: float, mode: SearchMode = "hybrid",
) -> SearchResults:
    """Products whose descriptions best answer ``query``, with stock in the caller's stores.

    The threshold filters on cosine similarity; in hybrid and lexical mode a product
    whose words match the question is kept whatever its similarity.
    """
    text = " ".join(query.split())
    if not text:
        raise ValidationError("query_description is empty; describe the product you need")
    minimum = similarity_threshold_percent / 100
    vector = None
    if mode != "lexical":
        # The recorded space is checked first (a mismatch costs no model call, nor an API
        # request), then the question is embedded with no connection held: a remote
        # provider may take seconds, and retries.
        async with uow:
            await check_embedding_space(uow, embedder)
        (vector,) = await embedder.embed([text])
    async with uow:
        if mode == "vector":
            assert vector is not None
            matches = await uow.products.similar(vector, min_similarity=minimum,
                                                 limit=max_rows)
        else:
            matches = await uow.products.fused(text, vector, min_similarity=minimum,
                                               limit=max_rows)
        stock = await uow.inventory.units_on_hand([m.product.product_id for m in matches])
    return SearchResults(query=text, mode=mode, products=[
        ProductHit(sku=m.product.sku, name=m.product.name, category=m.product.category,
                   product_type=m.product.product_type, price=float(m.product.base_price),
                   description=m.product.description,
                   similarity_percent=round(m.similarity * 100, 1),
                   matched_words=m.lexical_match,
                   units_in_your_stores=stock.get(m.product.product_id, 0))
        for m in matches
    ])

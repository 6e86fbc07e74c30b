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
from zava.errors import ValidationError
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
        # Embedded with no connection held: a remote provider may take seconds, and
        # retries. The recorded space is checked in the search's own first statement
        # (with the ivfflat probes), so a mismatch costs one model call and no search.
        (vector,) = await embedder.embed([text])
    space = (embedder.model_name, embedder.dimension)
    async with uow:
        if mode == "vector":
            assert vector is not None
            matches = await uow.products.similar(vector, min_similarity=minimum,
                                                 limit=max_rows, space=space)
        else:
            matches = await uow.products.fused(text, vector, min_similarity=minimum,
                                               limit=max_rows, space=space)
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

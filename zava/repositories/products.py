"""The catalog: products by id, SKU, category, and by description similarity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import Select, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from zava.db.errors import translate_errors
from zava.db.models import (
    Category,
    EmbeddingSpace,
    Product,
    ProductDescriptionEmbedding,
    ProductType,
)
from zava.db.search_document import TEXT_SEARCH_CONFIG
from zava.errors import ConfigurationError
from zava.repositories.results import ProductInfo, ProductMatch

# Each list keeps its best ``candidates``; a product scores sum(weight / (rrf_k + rank))
# over the lists it appears in. The vector list weighs double: on the labelled questions
# (benchmarks/search_quality.py) that scored best, since meaning matters more than shared
# words when managers describe a need. The full-text query ORs the question's words (a plain
# tsquery would AND them, and a question rarely shares every word with a product).
# The vector list is skipped by a one-time filter when there is no embedding.
# Trigram matching of the name is for short, mistyped product names ("wheelbarow");
# against a whole sentence it matches nothing and costs a scan of every name.
TRIGRAM_MAX_WORDS = 4
_FUSED_SEARCH = text(f"""
WITH vector_hits AS (
    SELECT id AS product_id, row_number() OVER (ORDER BY distance, id) AS rank
    FROM (SELECT e.product_id AS id, e.embedding <=> :embedding AS distance
          FROM retail.product_description_embeddings AS e
          WHERE CAST(:embedding AS vector) IS NOT NULL
          ORDER BY e.embedding <=> :embedding
          LIMIT :candidates) AS nearest
),
words AS (
    SELECT to_tsquery('{TEXT_SEARCH_CONFIG}', replace(
        plainto_tsquery('{TEXT_SEARCH_CONFIG}', :query)::text, ' & ', ' | ')) AS tsquery
),
text_hits AS (
    SELECT product_id, row_number() OVER (ORDER BY score DESC, product_id) AS rank
    FROM (SELECT p.product_id, ts_rank_cd(p.search_document, words.tsquery) AS score
          FROM retail.products AS p, words
          WHERE p.search_document @@ words.tsquery
          ORDER BY score DESC
          LIMIT :candidates) AS matched
),
name_hits AS (
    SELECT product_id, row_number() OVER (ORDER BY score DESC, product_id) AS rank
    FROM (SELECT p.product_id, word_similarity(:query, p.name) AS score
          FROM retail.products AS p
          WHERE CAST(:typo_tolerant AS boolean) AND :query <% p.name
          ORDER BY score DESC
          LIMIT :candidates) AS matched
),
fused AS (
    SELECT product_id, sum(weight / (:rrf_k + rank)) AS score, bool_or(lexical) AS lexical
    FROM (SELECT product_id, rank, false AS lexical,
                 CAST(:vector_weight AS float8) AS weight FROM vector_hits
          UNION ALL SELECT product_id, rank, true, 1.0::float8 FROM text_hits
          UNION ALL SELECT product_id, rank, true, 1.0::float8 FROM name_hits) AS ranks
    GROUP BY product_id
)
SELECT p.product_id, p.sku, p.name, c.name, t.name, p.cost, p.base_price,
       p.gross_margin_percent, p.description,
       coalesce(1 - (e.embedding <=> :embedding), 0) AS similarity,
       fused.score, fused.lexical
FROM fused
JOIN retail.products AS p ON p.product_id = fused.product_id
JOIN retail.categories AS c ON c.category_id = p.category_id
JOIN retail.product_types AS t ON t.product_type_id = p.product_type_id
LEFT JOIN retail.product_description_embeddings AS e ON e.product_id = p.product_id
WHERE fused.lexical OR coalesce(1 - (e.embedding <=> :embedding), 0) >= :min_similarity
ORDER BY fused.score DESC, p.product_id
LIMIT :limit
""")


_VECTOR_SEARCH_SETUP = text(
    "SELECT set_config('ivfflat.probes', retail.ivfflat_probes()::text, true), "
    "space.model_name, space.dimension "
    "FROM (SELECT) AS one LEFT JOIN retail.embedding_space AS space ON true")

EmbeddingSpaceKey = tuple[str, int]
"""An embedding model's name and its vectors' dimension."""


def check_embedding_space(recorded: EmbeddingSpaceKey | None,
                          configured: EmbeddingSpaceKey) -> None:
    """Refuse to search vectors ``recorded`` with another model or dimension than the
    ``configured`` one (nothing recorded: nothing to refuse)."""
    if recorded is not None and recorded != configured:
        raise ConfigurationError(
            f"the product vectors were made with {recorded[0]} ({recorded[1]} dims) but the "
            f"server is configured for {configured[0]} ({configured[1]} dims); re-embed the "
            "catalog with your model (`zava db reembed`, which rewrites the vectors and the "
            "index in one transaction), or configure the recorded model "
            "(ZAVA_EMBEDDING_PROVIDER, ZAVA_EMBEDDING_MODEL, ZAVA_EMBEDDING_DIM)"
        )


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

    async def categories(self) -> list[str]:
        """Every category name, sorted."""
        with translate_errors():
            names = (await self._session.scalars(select(Category.name).order_by(Category.name)))
            return list(names)

    async def _prepare_vector_search(self, space: EmbeddingSpaceKey | None) -> None:
        """Scan as many ivfflat lists as the index size calls for (this transaction) and,
        given the ``space`` the query vector was made in, refuse vectors recorded in
        another: one statement, one round trip."""
        _, model, dimension = (await self._session.execute(_VECTOR_SEARCH_SETUP)).one()
        if space is not None:
            check_embedding_space(None if model is None else (model, int(dimension)), space)

    async def similar(
        self, embedding: Sequence[float], *, min_similarity: float, limit: int,
        space: EmbeddingSpaceKey | None = None,
    ) -> list[ProductMatch]:
        """Products whose description embedding is closest (cosine) to ``embedding``.

        Ordering by distance lets PostgreSQL use the ivfflat index; the similarity
        threshold is then applied to those nearest candidates. With ``space``, the
        (model, dimension) ``embedding`` was made in, vectors recorded in another space
        raise ``ConfigurationError`` before anything is searched.
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
            await self._prepare_vector_search(space)
            rows = (await self._session.execute(nearest)).all()
        return [
            ProductMatch(ProductInfo(*row[:-1]), float(row[-1]), score=float(row[-1]))
            for row in rows
            if float(row[-1]) >= min_similarity
        ]

    async def fused(
        self, query: str, embedding: Sequence[float] | None, *, min_similarity: float,
        limit: int, candidates: int = 50, rrf_k: int = 60, vector_weight: float = 2.0,
        space: EmbeddingSpaceKey | None = None,
    ) -> list[ProductMatch]:
        """Products ranked by reciprocal rank fusion of up to three lists: the nearest
        descriptions to ``embedding`` (skipped when it is None), full-text matches of
        ``query`` on name and description, and trigram matches on the name (for
        questions of at most ``TRIGRAM_MAX_WORDS`` words).

        A product is kept if its words matched or its cosine similarity reaches
        ``min_similarity``, so a lexical hit is never lost to the threshold. ``space`` as
        for ``similar``.
        """
        params = {"query": query, "candidates": candidates, "rrf_k": rrf_k,
                  "vector_weight": vector_weight,
                  "typo_tolerant": len(query.split()) <= TRIGRAM_MAX_WORDS,
                  "min_similarity": min_similarity, "limit": limit,
                  "embedding": list(embedding) if embedding is not None else None}
        statement = _FUSED_SEARCH.bindparams(bindparam("embedding", type_=Vector()))
        with translate_errors():
            if embedding is not None:
                await self._prepare_vector_search(space)
            rows = (await self._session.execute(statement, params)).all()
        return [
            ProductMatch(ProductInfo(*row[:-3]), float(row[-3]), score=float(row[-2]),
                         lexical_match=bool(row[-1]))
            for row in rows
        ]

    async def embedding_space(self) -> EmbeddingSpaceKey | None:
        """The (model, dimension) the stored description vectors were made with."""
        query = select(EmbeddingSpace.model_name, EmbeddingSpace.dimension)
        with translate_errors():
            row = (await self._session.execute(query)).one_or_none()
        return (row[0], int(row[1])) if row else None

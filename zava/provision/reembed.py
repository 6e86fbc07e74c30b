"""Re-embed the catalog in the database with the configured provider (`zava db reembed`).

The model is called first, outside any transaction (a remote provider may take a
while). Then one transaction swaps everything at once: the ivfflat index is dropped,
the vector column takes the new dimension if it changed, every product's vector is
rewritten, ``retail.embedding_space`` records the model, the index is rebuilt for the
row count, and the table is analysed. A failure anywhere leaves the old vectors, index
and recorded space as they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import numpy as np

from zava.embeddings.base import Embedder
from zava.errors import ConfigurationError
from zava.provision.seed_loader import asyncpg_dsn, ivfflat_lists, rebuild_vector_index

TABLE = "retail.product_description_embeddings"


@dataclass(frozen=True)
class ReembedSummary:
    """What a re-embedding changed."""

    products: int
    model: str
    dimension: int
    previous_model: str | None
    previous_dimension: int | None
    lists: int
    seconds: float


async def _embed_all(embedder: Embedder, texts: list[str], batch_size: int,
                     advance: Callable[[int], None]) -> np.ndarray:
    vectors: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        vectors.extend(await embedder.embed(batch))
        advance(len(batch))
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.shape != (len(texts), embedder.dimension):
        raise ConfigurationError(
            f"{embedder.model_name} returned vectors of shape {matrix.shape}, expected "
            f"({len(texts)}, {embedder.dimension}); check ZAVA_EMBEDDING_DIM")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


async def reembed_catalog(url: str, embedder: Embedder, *, batch_size: int = 64,
                          advance: Callable[[int], None] = lambda _: None) -> ReembedSummary:
    """Rewrite every product's description vector with ``embedder`` (admin ``url``)."""
    started = time.perf_counter()
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        products = await connection.fetch(
            "SELECT product_id, name, description FROM retail.products ORDER BY sku")
        if not products:
            raise ConfigurationError("the catalog is empty: load it first with `zava seed`")
        vectors = await _embed_all(
            embedder, [f"{p['name']}. {p['description']}" for p in products], batch_size,
            advance)
        async with connection.transaction():
            # Searches keep reading the old vectors until this commits; a concurrent
            # seed or re-embed waits here.
            await connection.execute(
                f"LOCK TABLE {TABLE}, retail.embedding_space IN SHARE ROW EXCLUSIVE MODE")
            previous = await connection.fetchrow(
                "SELECT model_name, dimension FROM retail.embedding_space")
            await connection.execute(
                "DROP INDEX IF EXISTS retail.ix_product_description_embeddings_embedding")
            await connection.execute(f"TRUNCATE {TABLE}")
            await connection.execute(
                f"ALTER TABLE {TABLE} ALTER COLUMN embedding TYPE vector({embedder.dimension})")
            await connection.execute(
                "CREATE TEMP TABLE new_embeddings (product_id uuid, embedding text, "
                "model text) ON COMMIT DROP")
            await connection.copy_records_to_table("new_embeddings", records=[
                (p["product_id"], "[" + ",".join(map(str, v.tolist())) + "]",
                 embedder.model_name) for p, v in zip(products, vectors, strict=True)])
            await connection.execute(
                f"INSERT INTO {TABLE} (product_id, embedding, model) "
                "SELECT product_id, embedding::vector, model FROM new_embeddings")
            await connection.execute(
                "UPDATE retail.embedding_space SET model_name = $1, dimension = $2",
                embedder.model_name, embedder.dimension)
            await rebuild_vector_index(connection, len(products))
            await connection.execute(f"ANALYZE {TABLE}")
    finally:
        await connection.close()
    return ReembedSummary(
        products=len(products), model=embedder.model_name, dimension=embedder.dimension,
        previous_model=previous["model_name"] if previous else None,
        previous_dimension=previous["dimension"] if previous else None,
        lists=ivfflat_lists(len(products)), seconds=time.perf_counter() - started)

"""Re-embed the catalog in the database with the configured provider (`zava db reembed`).

The model is called first, outside any transaction (a remote provider may take a
while). Then one transaction swaps everything at once: the ivfflat index is dropped,
the vector column takes the new dimension if it changed, every product's vector is
rewritten, ``retail.embedding_space`` records the model, the index is rebuilt for the
row count, and the table is analysed. A failure anywhere leaves the old vectors, index
and recorded space as they were. The table lock is taken with a short ``lock_timeout``
and retried, so a tenant's long read delays the swap, never every other search.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from zava.db.models import SCHEMA, VECTOR_INDEX
from zava.embeddings.base import Embedder, embed_all, product_text
from zava.errors import ConfigurationError
from zava.provision.seed_loader import asyncpg_dsn
from zava.provision.vector_index import (
    EMBEDDING_SPACE_TABLE,
    EMBEDDINGS_TABLE,
    ivfflat_lists,
    rebuild_vector_index,
    recorded_space,
)

LOCK_TIMEOUT_MS = 500
LOCK_ATTEMPTS = 20


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


async def reembed_catalog(url: str, embedder: Embedder, *, batch_size: int = 64,
                          advance: Callable[[int], None] = lambda _: None,
                          lock_timeout_ms: int = LOCK_TIMEOUT_MS,
                          lock_attempts: int = LOCK_ATTEMPTS) -> ReembedSummary:
    """Rewrite every product's description vector with ``embedder`` (admin ``url``)."""
    started = time.perf_counter()
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        products = await connection.fetch(
            "SELECT product_id, name, description FROM retail.products ORDER BY sku")
        if not products:
            raise ConfigurationError("the catalog is empty: load it first with `zava seed`")
        vectors = await embed_all(
            embedder, [product_text(p["name"], p["description"]) for p in products],
            batch_size=batch_size, advance=advance)
        records = [(p["product_id"], "[" + ",".join(map(str, v.tolist())) + "]",
                    embedder.model_name) for p, v in zip(products, vectors, strict=True)]
        for attempt in range(1, lock_attempts + 1):
            try:
                previous = await _swap(connection, embedder, records, lock_timeout_ms)
                break
            except asyncpg.LockNotAvailableError:
                if attempt == lock_attempts:
                    raise ConfigurationError(
                        f"could not lock {EMBEDDINGS_TABLE} in {lock_attempts} attempts of "
                        f"{lock_timeout_ms} ms: long-running reads hold it; retry when they "
                        "have finished (pg_stat_activity shows them)") from None
                await asyncio.sleep(min(2.0, 0.05 * 2 ** attempt))
    finally:
        await connection.close()
    return ReembedSummary(
        products=len(products), model=embedder.model_name, dimension=embedder.dimension,
        previous_model=previous[0] if previous else None,
        previous_dimension=previous[1] if previous else None,
        lists=ivfflat_lists(len(products)), seconds=time.perf_counter() - started)


async def _swap(connection: asyncpg.Connection, embedder: Embedder,
                records: list[tuple[object, str, str]],
                lock_timeout_ms: int) -> tuple[str, int] | None:
    """The one transaction that replaces vectors, column type, recorded space and index.

    The exclusive lock is asked for with a short ``lock_timeout``: while it waits behind a
    tenant's long read, every new read of the table queues behind it, so it gives up
    quickly (the caller retries) instead of stalling every search.
    """
    async with connection.transaction():
        await connection.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        await connection.execute(
            f"LOCK TABLE {EMBEDDINGS_TABLE}, {EMBEDDING_SPACE_TABLE} IN ACCESS EXCLUSIVE MODE")
        await connection.execute("SET LOCAL lock_timeout = 0")
        previous = await recorded_space(connection)
        await connection.execute(f"DROP INDEX IF EXISTS {SCHEMA}.{VECTOR_INDEX}")
        await connection.execute(f"TRUNCATE {EMBEDDINGS_TABLE}")
        await connection.execute(
            f"ALTER TABLE {EMBEDDINGS_TABLE} "
            f"ALTER COLUMN embedding TYPE vector({int(embedder.dimension)})")
        await connection.execute(
            "CREATE TEMP TABLE new_embeddings (product_id uuid, embedding text, "
            "model text) ON COMMIT DROP")
        await connection.copy_records_to_table("new_embeddings", records=records)
        await connection.execute(
            f"INSERT INTO {EMBEDDINGS_TABLE} (product_id, embedding, model) "
            "SELECT product_id, embedding::vector, model FROM new_embeddings")
        await connection.execute(
            f"UPDATE {EMBEDDING_SPACE_TABLE} SET model_name = $1, dimension = $2",
            embedder.model_name, embedder.dimension)
        await rebuild_vector_index(connection, len(records))
        await connection.execute(f"ANALYZE {EMBEDDINGS_TABLE}")
    return previous

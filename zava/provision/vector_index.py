"""The ivfflat index over the product description vectors: its size, its rebuild, and the
recorded embedding space, for the seed loader and ``zava db reembed``."""

from __future__ import annotations

import math

import asyncpg

from zava.db.models import SCHEMA, VECTOR_INDEX, EmbeddingSpace, ProductDescriptionEmbedding

EMBEDDINGS_TABLE = f"{SCHEMA}.{ProductDescriptionEmbedding.__tablename__}"
EMBEDDING_SPACE_TABLE = f"{SCHEMA}.{EmbeddingSpace.__tablename__}"


def ivfflat_lists(rows: int) -> int:
    """The ivfflat ``lists`` for ``rows`` vectors, following pgvector's guidance.

    rows / 1000 up to a million rows, sqrt(rows) beyond, at least 1. The demo catalog
    (about 400 products) gets 1 list: an exact scan, which is also the right answer
    for so few rows (more lists would only lose recall).
    """
    return max(1, rows // 1000) if rows <= 1_000_000 else int(math.sqrt(rows))


async def rebuild_vector_index(connection: asyncpg.Connection, rows: int) -> None:
    """Recreate the ivfflat index with ``lists`` sized for ``rows`` vectors."""
    await connection.execute(f"DROP INDEX IF EXISTS {SCHEMA}.{VECTOR_INDEX}")
    await connection.execute(
        f"CREATE INDEX {VECTOR_INDEX} ON {EMBEDDINGS_TABLE} "
        f"USING ivfflat (embedding vector_cosine_ops) WITH (lists = {ivfflat_lists(rows)})")


async def recorded_space(connection: asyncpg.Connection) -> tuple[str, int] | None:
    """The (model, dimension) the database records for its vectors, if any."""
    row = await connection.fetchrow(
        f"SELECT model_name, dimension FROM {EMBEDDING_SPACE_TABLE}")
    return None if row is None else (str(row["model_name"]), int(row["dimension"]))

"""`zava db reembed`: one transaction that swaps the vectors, their dimension, the
recorded model and the index; the server refuses search until the spaces agree.

The tests of this module run in order on one database: fail, switch model, be refused,
switch back.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.embeddings.base import CachedEmbedder
from zava.errors import ConfigurationError
from zava.provision import reembed as reembed_module
from zava.provision.embedded import EmbeddedCluster
from zava.provision.reembed import reembed_catalog
from zava.seeding import company
from zava.services.search import search_products
from zava.services.unit_of_work import SqlAlchemyUnitOfWork


class HashedWords:
    """A deterministic 64-dimensional bag-of-words embedder (another 'model')."""

    model_name = "hashed-words-64"
    dimension = 64

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text_ in texts:
            vector = [0.0] * self.dimension
            for word in text_.lower().split():
                vector[hashlib.sha256(word.encode()).digest()[0] % self.dimension] += 1.0
            vectors.append(vector)
        return vectors


async def state(engine: AsyncEngine) -> dict[str, object]:
    """Everything a re-embedding may change."""
    async with engine.connect() as connection:
        return {
            "space": tuple((await connection.execute(text(
                "SELECT model_name, dimension FROM retail.embedding_space"))).one()),
            "column": (await connection.execute(text(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                "'retail.product_description_embeddings'::regclass AND attname = 'embedding'"
            ))).scalar_one(),
            "index": (await connection.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = "
                "'ix_product_description_embeddings_embedding'"))).scalar_one_or_none(),
            "vectors": (await connection.execute(text(
                "SELECT count(*), md5(string_agg(embedding::text || model, ',' "
                "ORDER BY product_id)) FROM retail.product_description_embeddings"))).one(),
        }


async def test_a_failure_changes_nothing(seeded_database: EmbeddedCluster,
                                         seeded_admin_engine: AsyncEngine,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before = await state(seeded_admin_engine)

    async def broken_index(*_: object) -> None:
        raise RuntimeError("injected: the index build failed")

    monkeypatch.setattr(reembed_module, "rebuild_vector_index", broken_index)
    with pytest.raises(RuntimeError, match="injected"):
        await reembed_catalog(seeded_database.admin_url, HashedWords())
    assert await state(seeded_admin_engine) == before
    assert before["space"] == ("all-MiniLM-L6-v2", 384) and before["column"] == "vector(384)"


async def test_another_model_replaces_everything_at_once(
        seeded_database: EmbeddedCluster, seeded_admin_engine: AsyncEngine) -> None:
    summary = await reembed_catalog(seeded_database.admin_url, HashedWords(), batch_size=50)
    after = await state(seeded_admin_engine)
    assert (summary.products, summary.previous_model, summary.previous_dimension) == (
        428, "all-MiniLM-L6-v2", 384)
    assert after["space"] == ("hashed-words-64", 64) and after["column"] == "vector(64)"
    assert after["index"] is not None and "lists='1'" in str(after["index"])
    async with seeded_admin_engine.connect() as connection:
        dims, models = (await connection.execute(text(
            "SELECT array_agg(DISTINCT vector_dims(embedding)), array_agg(DISTINCT model) "
            "FROM retail.product_description_embeddings"))).one()
    assert (dims, models) == ([64], ["hashed-words-64"])


async def test_the_server_refuses_the_other_space(
        seeded_app_engine: AsyncEngine, seeded_database: EmbeddedCluster, settings: Settings,
        embedder: CachedEmbedder) -> None:
    uow = SqlAlchemyUnitOfWork(seeded_app_engine, settings, company.HEAD_OFFICE_ID)
    with pytest.raises(ConfigurationError) as refused:
        await search_products(uow, embedder, query="cordless drill", max_rows=5,
                              similarity_threshold_percent=0)
    assert "hashed-words-64 (64 dims)" in refused.value.message
    assert "all-MiniLM-L6-v2 (384 dims)" in refused.value.message

    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAVA_")}
    env.update(ZAVA_DATA_DIR=str(settings.data_dir), ZAVA_DATABASE_NAME=seeded_database.database,
               ZAVA_LOG_LEVEL="WARNING", HF_HUB_OFFLINE="1")
    server = StdioServerParameters(command=sys.executable, env=env, args=[
        "-m", "zava", "serve", "--rls-user", str(company.SEATTLE_MANAGER_ID)])
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("semantic_search_products",
                                         {"query_description": "cordless drill"})
    message = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error
    assert ("configuration_error: the product vectors were made with "
                              "hashed-words-64 (64 dims) but the server is configured for "
                              "all-MiniLM-L6-v2 (384 dims)") in message
    assert "`zava db reembed`" in message


async def test_the_command_restores_the_configured_model(
        seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine,
        seeded_database: EmbeddedCluster, settings: Settings, embedder: CachedEmbedder) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAVA_")}
    env.update(ZAVA_DATA_DIR=str(settings.data_dir), ZAVA_DATABASE_NAME=seeded_database.database,
               HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "zava", "db", "reembed"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "re-embedded 428 products with all-MiniLM-L6-v2 (384 dims; was hashed-words-64 " \
           "(64 dims))" in done.stderr
    assert (await state(seeded_admin_engine))["column"] == "vector(384)"
    uow = SqlAlchemyUnitOfWork(seeded_app_engine, settings, company.HEAD_OFFICE_ID)
    found = await search_products(uow, embedder, query="cordless drill", max_rows=5,
                                  similarity_threshold_percent=0, mode="vector")
    assert found.products[0].sku.startswith("PT-DRL")

"""`zava db reembed` behind a tenant's long read: it takes its exclusive lock with a short
lock_timeout and retries, so other reads of the table go on meanwhile (a lock request
that waits forever queues every later reader behind it), and it gives up clearly."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from tests.conftest import clone_database
from zava.errors import ConfigurationError
from zava.provision.embedded import EmbeddedCluster
from zava.provision.reembed import reembed_catalog
from zava.provision.seed_loader import asyncpg_dsn

TABLE = "retail.product_description_embeddings"


class Constant:
    """Another 'model': the same unit vector for every text."""

    model_name = "constant-8"
    dimension = 8

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 7 for _ in texts]

    async def aclose(self) -> None:
        """Nothing to release."""


@pytest.fixture
async def database(seeded_template: EmbeddedCluster) -> EmbeddedCluster:
    return await clone_database(seeded_template, "zava_reembed_locks")


async def long_read(url: str) -> asyncpg.Connection:
    """A tenant's read of the vectors, still open (its lock is held until it ends)."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    await connection.execute("BEGIN")
    await connection.fetchval(f"SELECT count(*) FROM {TABLE}")
    return connection


async def test_other_reads_go_on_while_reembed_waits(database: EmbeddedCluster) -> None:
    holder = await long_read(database.admin_url)
    reader = await asyncpg.connect(asyncpg_dsn(database.admin_url))
    await reader.execute("SET lock_timeout = '2s'")
    try:
        swap = asyncio.create_task(reembed_catalog(
            database.admin_url, Constant(), lock_timeout_ms=100, lock_attempts=200))
        counts = []
        for _ in range(10):  # each would wait behind a queued exclusive lock and time out
            await asyncio.sleep(0.1)
            counts.append(await reader.fetchval(f"SELECT count(*) FROM {TABLE}"))
        assert not swap.done()
        await holder.execute("COMMIT")
        summary = await asyncio.wait_for(swap, 60)
    finally:
        await holder.close()
        await reader.close()
    assert counts == [428] * 10
    assert (summary.model, summary.dimension, summary.products) == ("constant-8", 8, 428)


async def test_it_gives_up_clearly_and_changes_nothing(database: EmbeddedCluster) -> None:
    holder = await long_read(database.admin_url)
    try:
        with pytest.raises(ConfigurationError, match=r"could not lock .*pg_stat_activity"):
            await reembed_catalog(database.admin_url, Constant(), lock_timeout_ms=50,
                                  lock_attempts=3)
        space = await holder.fetchrow("SELECT model_name, dimension FROM retail.embedding_space")
    finally:
        await holder.close()
    assert (space["model_name"], space["dimension"]) == ("all-MiniLM-L6-v2", 384)

"""Loading the seed: all-or-nothing, refusal and --replace, the vector index, the CLI,
and the shipped embeddings against the real model (the shipped file without a model or a
database: tests/unit/seeding/test_catalog_embeddings.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest

from tests.conftest import clone_database
from zava.errors import ValidationError
from zava.provision import seed_loader as loader
from zava.provision.embedded import EmbeddedCluster
from zava.provision.seed_loader import DATA_TABLES, asyncpg_dsn, load_dataset
from zava.provision.vector_index import ivfflat_lists
from zava.seeding import catalog
from zava.seeding.catalog_embeddings import embeddings_path, load_catalog_vectors
from zava.seeding.generator import DatasetGenerator, TableRows
from zava.seeding.sizes import SIZES

END = dt.date(2026, 11, 23)
_names = itertools.count(1)


def tiny(seed: int = 3) -> DatasetGenerator:
    return DatasetGenerator(SIZES["tiny"], seed, END)


@pytest.fixture
async def empty(template: EmbeddedCluster) -> EmbeddedCluster:
    return await clone_database(template, f"zava_seed_{next(_names)}")


async def counts(db: EmbeddedCluster) -> dict[str, int]:
    connection = await asyncpg.connect(asyncpg_dsn(db.admin_url))
    try:
        return {t: await connection.fetchval(f"SELECT count(*) FROM retail.{t}")
                for t in DATA_TABLES}
    finally:
        await connection.close()


async def scalar(db: EmbeddedCluster, sql: str) -> Any:
    connection = await asyncpg.connect(asyncpg_dsn(db.admin_url))
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


async def test_load_fills_every_table_consistently(empty: EmbeddedCluster) -> None:
    summary = await load_dataset(empty.admin_url, tiny(), quiet=True)
    assert await counts(empty) == summary.rows
    assert summary.rows["product_description_embeddings"] == len(catalog.products())
    assert await scalar(empty, """
        SELECT count(*) FROM retail.orders o
        WHERE o.total_amount <> (SELECT sum(total_amount) FROM retail.order_items i
                                 WHERE i.store_id = o.store_id AND i.order_id = o.order_id)""") == 0
    assert await scalar(empty, """
        SELECT count(*) FROM retail.order_items
        WHERE total_amount <> quantity * unit_price - discount_amount""") == 0
    assert await scalar(empty, "SELECT max(order_date) FROM retail.orders") <= END
    assert await scalar(empty, """
        SELECT reloptions::text FROM pg_class
        WHERE relname = 'ix_product_description_embeddings_embedding'""") == \
        f"{{lists={ivfflat_lists(len(catalog.products()))}}}"


async def test_existing_data_is_refused_unless_replaced(empty: EmbeddedCluster) -> None:
    await load_dataset(empty.admin_url, tiny(3), quiet=True)
    before = await counts(empty)
    with pytest.raises(ValidationError, match="already has retail data; rerun with --replace"):
        await load_dataset(empty.admin_url, tiny(4), quiet=True)
    assert await counts(empty) == before
    await load_dataset(empty.admin_url, tiny(4), replace=True, quiet=True)
    after = await counts(empty)
    assert after["stores"] == 8 and after["orders"] == SIZES["tiny"].orders
    assert after["order_items"] != before["order_items"]  # the other seed's rows


async def test_replacing_keeps_logins_bound_to_managers(empty: EmbeddedCluster) -> None:
    # A bound login references its manager: --replace used to fail on the foreign key.
    from zava.seeding import company

    await load_dataset(empty.admin_url, tiny(3), quiet=True)
    connection = await asyncpg.connect(asyncpg_dsn(empty.admin_url))
    try:
        await connection.execute(
            "INSERT INTO retail.manager_logins VALUES ('mgr_seattle', $1)",
            company.SEATTLE_MANAGER_ID)
        await connection.execute(
            "INSERT INTO retail.manager_identities VALUES ('https://idp.test', 'alice', $1)",
            company.SEATTLE_MANAGER_ID)
        await load_dataset(empty.admin_url, tiny(4), replace=True, quiet=True)
        bound = await connection.fetch("SELECT login, manager_id FROM retail.manager_logins")
        identities = await connection.fetch(
            "SELECT issuer, subject, manager_id FROM retail.manager_identities")
    finally:
        await connection.close()
    assert [(r["login"], r["manager_id"]) for r in bound] == [
        ("mgr_seattle", company.SEATTLE_MANAGER_ID)]
    # so do OAuth identities mapped to managers (zava identity add)
    assert [tuple(r) for r in identities] == [
        ("https://idp.test", "alice", company.SEATTLE_MANAGER_ID)]


class FailingGenerator(DatasetGenerator):
    """Fails after the first chunk of orders is loaded."""

    def order_chunks(self) -> Iterator[tuple[TableRows, TableRows]]:
        for chunk in super().order_chunks():
            yield chunk
            raise RuntimeError("injected failure mid-load")


async def test_a_failure_mid_load_leaves_nothing(empty: EmbeddedCluster) -> None:
    with pytest.raises(RuntimeError, match="injected"):
        await load_dataset(empty.admin_url, FailingGenerator(SIZES["tiny"], 3, END), quiet=True)
    assert set((await counts(empty)).values()) == {0}


def test_shipped_embeddings_match_the_model() -> None:
    from zava.embeddings.local import LocalEmbedder

    vectors = load_catalog_vectors()
    sample = list(catalog.products())[::97][:5]
    fresh = np.asarray(LocalEmbedder().encode([p.embedding_text for p in sample]))
    shipped = np.asarray([vectors[p.sku] for p in sample])
    cosine = (fresh * shipped).sum(axis=1) / (
        np.linalg.norm(fresh, axis=1) * np.linalg.norm(shipped, axis=1))
    assert cosine.min() >= 0.99


async def test_cli_seed_loads_then_refuses(empty: EmbeddedCluster) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZAVA_")}
    env.update(ZAVA_DATA_DIR=str(empty.data_dir.parent), ZAVA_DATABASE_NAME=empty.database)
    command = [sys.executable, "-m", "zava", "seed", "--size", "tiny", "--quiet"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "loaded the tiny dataset" in first.stderr
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1].startswith(
        "error: the database already has retail data; rerun with --replace")
    skipped = subprocess.run([*command, "--if-empty"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert skipped.returncode == 0 and "nothing loaded" in skipped.stderr


async def test_a_failing_copy_of_order_items_leaves_nothing(
    empty: EmbeddedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_copy = loader._copy

    async def failing_copy(connection: asyncpg.Connection, rows: TableRows) -> int:
        if rows.table == "order_items":
            raise asyncpg.PostgresError("injected COPY failure on order_items")
        return await real_copy(connection, rows)

    monkeypatch.setattr(loader, "_copy", failing_copy)
    with pytest.raises(asyncpg.PostgresError, match="injected"):
        await load_dataset(empty.admin_url, tiny(), quiet=True)
    assert set((await counts(empty)).values()) == {0}


async def test_a_cancellation_mid_load_leaves_nothing(
    empty: EmbeddedCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What Ctrl-C does: asyncio cancels the load while it is copying orders."""
    real_copy = loader._copy
    orders_copied = asyncio.Event()

    async def slow_copy(connection: asyncpg.Connection, rows: TableRows) -> int:
        copied = await real_copy(connection, rows)
        if rows.table == "orders":
            orders_copied.set()
            await asyncio.sleep(30)
        return copied

    monkeypatch.setattr(loader, "_copy", slow_copy)
    task = asyncio.create_task(load_dataset(empty.admin_url, tiny(), quiet=True))
    await asyncio.wait_for(orders_copied.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert set((await counts(empty)).values()) == {0}


async def test_another_embedding_space_loads_without_vectors_and_says_what_to_run(
    empty: EmbeddedCluster,
) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(empty.admin_url))
    try:
        await connection.execute("UPDATE retail.embedding_space "
                                 "SET model_name = 'text-embedding-3-small', dimension = 1536")
    finally:
        await connection.close()
    summary = await load_dataset(empty.admin_url, tiny(), quiet=True)
    assert summary.rows["product_description_embeddings"] == 0
    assert summary.rows["order_items"] > 0
    assert any("ZAVA_EMBEDDING_MODEL=text-embedding-3-small ZAVA_EMBEDDING_DIM=1536 "
               "zava seed embed-catalog" in note for note in summary.notes)


TABLE_ORDER = {
    "stores": "store_id", "managers": "manager_id", "manager_stores": "manager_id, store_id",
    "categories": "category_id", "product_types": "product_type_id", "products": "product_id",
    "customers": "customer_id", "inventory": "store_id, product_id",
    "orders": "store_id, order_id", "order_items": "store_id, order_id, product_id",
    "product_description_embeddings": "product_id",
}


async def checksums(db: EmbeddedCluster) -> dict[str, str]:
    """md5 of each table's content in key order (the load time stamp left out)."""
    connection = await asyncpg.connect(asyncpg_dsn(db.admin_url))
    try:
        sums = {}
        for table, key in TABLE_ORDER.items():
            columns = "product_id, embedding, model" if table.startswith("product_desc") else "t"
            sums[table] = await connection.fetchval(
                f"SELECT md5(string_agg(({columns})::text, E'\\n' ORDER BY {key})) "
                f"FROM retail.{table} t")
        return sums
    finally:
        await connection.close()


async def test_the_same_seed_loads_identical_tables(
    empty: EmbeddedCluster, seeded_template: EmbeddedCluster
) -> None:
    from tests.conftest import SEED_END_DATE
    from zava.seeding.sizes import DEFAULT_SEED

    await load_dataset(empty.admin_url, DatasetGenerator(SIZES["tiny"], DEFAULT_SEED,
                                                         SEED_END_DATE), quiet=True)
    assert await checksums(empty) == await checksums(seeded_template)


def test_embed_catalog_command_reproduces_the_shipped_vectors(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from zava.cli import main

    output = tmp_path / "vectors.npz"
    result = CliRunner().invoke(main, ["seed", "embed-catalog", "--output", str(output)])
    assert result.exit_code == 0, result.output
    with np.load(output) as fresh, np.load(embeddings_path()) as shipped:
        assert list(fresh["skus"]) == list(shipped["skus"])
        cosine = (fresh["vectors"].astype(np.float32)
                  * shipped["vectors"].astype(np.float32)).sum(axis=1)
    assert cosine.min() >= 0.99

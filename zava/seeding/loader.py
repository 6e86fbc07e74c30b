"""Loading the dataset: COPY, table by table in dependency order, in ONE transaction.

A failure or Ctrl-C leaves the database as it was. Existing retail data is refused
unless ``replace`` (then emptied and reloaded in the same transaction). Afterwards the
tables are analysed and the ivfflat index rebuilt with ``lists`` sized to its rows.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import asyncpg
from rich.progress import Progress, TaskID

from zava.errors import ConfigurationError, ValidationError
from zava.seeding.catalog_embeddings import DEFAULT_DIMENSION, DEFAULT_MODEL, load_catalog_vectors
from zava.seeding.generator import DatasetGenerator, TableRows

DATA_TABLES = ("stores", "managers", "manager_stores", "categories", "product_types",
               "products", "customers", "inventory", "orders", "order_items",
               "product_description_embeddings")
INDEX = "ix_product_description_embeddings_embedding"


@dataclass
class LoadSummary:
    """Rows per table and how long generation plus loading took."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def ivfflat_lists(rows: int) -> int:
    """pgvector's guidance: rows / 1000 up to a million rows, sqrt(rows) beyond."""
    return max(1, rows // 1000) if rows <= 1_000_000 else int(math.sqrt(rows))


class _Progress:
    """A progress bar per table on a terminal; silent otherwise."""

    def __init__(self, quiet: bool) -> None:
        self._bar = None if quiet or not sys.stderr.isatty() else Progress(transient=False)
        self._tasks: dict[str, TaskID] = {}

    @contextmanager
    def running(self) -> Iterator[None]:
        if self._bar is None:
            yield
            return
        with self._bar:
            yield

    def advance(self, table: str, rows: int, total: int | None = None) -> None:
        if self._bar is None:
            return
        if table not in self._tasks:
            self._tasks[table] = self._bar.add_task(table, total=total)
        self._bar.advance(self._tasks[table], rows)


async def _copy(connection: asyncpg.Connection, rows: TableRows) -> int:
    await connection.copy_records_to_table(rows.table, records=rows.rows,
                                           columns=list(rows.columns), schema_name="retail")
    return len(rows.rows)


async def _require_loader_privileges(connection: asyncpg.Connection) -> None:
    allowed = await connection.fetchval(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    if not allowed:
        raise ConfigurationError(
            "seeding needs a superuser or BYPASSRLS login (PostgreSQL refuses COPY into "
            "tables with forced row-level security otherwise): set ZAVA_ADMIN_DATABASE_URL")


async def _existing_rows(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval(
        "SELECT (SELECT count(*) FROM retail.stores) + (SELECT count(*) FROM retail.orders)"))


async def load_dataset(url: str, generator: DatasetGenerator, *, replace: bool = False,
                       quiet: bool = False) -> LoadSummary:
    """Generate and load the dataset into the database at ``url`` (an admin login)."""
    started = time.perf_counter()
    summary = LoadSummary()
    progress = _Progress(quiet)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await _require_loader_privileges(connection)
        async with connection.transaction():
            if await _existing_rows(connection):
                if not replace:
                    raise ValidationError(
                        "the database already has retail data; rerun with --replace to empty "
                        "and reload it (in one transaction)")
                await connection.execute(
                    "TRUNCATE " + ", ".join(f"retail.{t}" for t in DATA_TABLES) + " CASCADE")
            with progress.running():
                for rows in generator.reference_tables():
                    summary.rows[rows.table] = await _copy(connection, rows)
                    progress.advance(rows.table, len(rows.rows), len(rows.rows))
                for rows in (generator.customers(), generator.inventory()):
                    summary.rows[rows.table] = await _copy(connection, rows)
                    progress.advance(rows.table, len(rows.rows), len(rows.rows))
                for orders, items in generator.order_chunks():
                    for rows in (orders, items):
                        summary.rows[rows.table] = (summary.rows.get(rows.table, 0)
                                                    + await _copy(connection, rows))
                    progress.advance("orders", len(orders.rows), generator.size.orders)
                summary.rows["product_description_embeddings"] = await _load_embeddings(
                    connection, generator, summary)
            await _rebuild_vector_index(connection, summary.rows["product_description_embeddings"])
            for table in DATA_TABLES:
                await connection.execute(f"ANALYZE retail.{table}")
    finally:
        await connection.close()
    summary.seconds = time.perf_counter() - started
    return summary


async def _load_embeddings(connection: asyncpg.Connection, generator: DatasetGenerator,
                           summary: LoadSummary) -> int:
    recorded = await connection.fetchrow(
        "SELECT model_name, dimension FROM retail.embedding_space")
    if recorded is None or (recorded["model_name"], recorded["dimension"]) != (
            DEFAULT_MODEL, DEFAULT_DIMENSION):
        space = f"{recorded['model_name']} ({recorded['dimension']} dims)" if recorded else "none"
        summary.notes.append(
            f"product embeddings not loaded: the database records {space}, the shipped vectors "
            f"are {DEFAULT_MODEL} ({DEFAULT_DIMENSION} dims); run `zava db reembed` with that "
            "provider configured to compute them")
        return 0
    vectors = load_catalog_vectors(DEFAULT_MODEL)
    now = dt.datetime.now(dt.UTC)
    rows = [(p.product_id, "[" + ",".join(f"{x:.6g}" for x in vectors[p.sku]) + "]",
             DEFAULT_MODEL, now) for p in generator.products]
    await connection.execute(
        "CREATE TEMP TABLE seed_embeddings (product_id uuid, embedding text, model text, "
        "last_updated timestamptz) ON COMMIT DROP")
    await connection.copy_records_to_table("seed_embeddings", records=rows)
    await connection.execute(
        "INSERT INTO retail.product_description_embeddings "
        "SELECT product_id, embedding::vector, model, last_updated FROM seed_embeddings")
    return len(rows)


async def _rebuild_vector_index(connection: asyncpg.Connection, rows: int) -> None:
    await connection.execute(f"DROP INDEX IF EXISTS retail.{INDEX}")
    await connection.execute(
        f"CREATE INDEX {INDEX} ON retail.product_description_embeddings "
        f"USING ivfflat (embedding vector_cosine_ops) WITH (lists = {ivfflat_lists(rows)})")


def asyncpg_dsn(url: str) -> str:
    """The URL in the form asyncpg itself accepts."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)

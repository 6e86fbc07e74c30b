"""Loading the dataset: COPY, table by table in dependency order, in ONE transaction.

A failure or Ctrl-C leaves the database as it was (nothing is committed until the end).
Existing retail data is refused unless ``replace``, which empties the tables with
TRUNCATE and reloads them in the same transaction. The generator runs a chunk ahead in
a worker thread (``Prefetch``), so its Python work overlaps PostgreSQL's COPY work.
Afterwards the tables are analysed and the ivfflat index is rebuilt, still in the same
transaction, with ``lists`` sized to the number of embedding rows.

The login must be a superuser or have BYPASSRLS: the tenant tables have FORCE ROW LEVEL
SECURITY, and PostgreSQL refuses COPY FROM into a table with row-level security for
any other role. The embedded cluster's ``postgres`` superuser qualifies.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import asyncpg

from zava.errors import ConfigurationError, ValidationError
from zava.provision.vector_index import rebuild_vector_index, recorded_space
from zava.seeding.catalog_embeddings import embeddings_path, load_catalog_vectors, recompute_hint
from zava.seeding.generator import ITEMS_P, ITEMS_PER_ORDER, DatasetGenerator, TableRows
from zava.seeding.prefetch import Prefetch
from zava.seeding.progress import TableProgress

DATA_TABLES = ("stores", "managers", "manager_stores", "categories", "product_types",
               "products", "customers", "inventory", "orders", "order_items",
               "product_description_embeddings")
"""Every table the seed fills, in dependency order (``embedding_space`` is configuration)."""

LOGINS = "manager_logins"
LOGINS_TABLE = f"retail.{LOGINS}"
"""Logins bound to a manager: kept across ``--replace`` (they reference managers)."""

IDENTITIES = "manager_identities"
IDENTITIES_TABLE = f"retail.{IDENTITIES}"
"""OAuth identities mapped to managers (``zava identity add``): kept the same way."""

REFERENCED = ("customers", "orders")
"""Large tables that later tables' foreign keys check, analysed after their first chunk."""

@dataclass
class LoadSummary:
    """Rows and seconds per table, the whole load's seconds, and notes for the user."""

    rows: dict[str, int] = field(default_factory=dict)
    table_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def add(self, table: str, rows: int, seconds: float) -> None:
        """Count one COPY into ``table``."""
        self.rows[table] = self.rows.get(table, 0) + rows
        self.table_seconds[table] = self.table_seconds.get(table, 0.0) + seconds


async def _copy(connection: asyncpg.Connection, rows: TableRows) -> int:
    await connection.copy_records_to_table(rows.table, records=rows.rows,
                                           columns=list(rows.columns), schema_name="retail")
    return len(rows.rows)


async def _require_loader_privileges(connection: asyncpg.Connection) -> None:
    allowed = await connection.fetchval(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    if not allowed:
        raise ConfigurationError(
            "seeding needs a superuser or BYPASSRLS login: PostgreSQL refuses COPY into the "
            "tenant tables (FORCE ROW LEVEL SECURITY) for other roles. Set "
            "ZAVA_ADMIN_DATABASE_URL to such a login (the embedded database uses one)")


async def _has_data(connection: asyncpg.Connection) -> bool:
    exists = " OR ".join(f"EXISTS (SELECT FROM retail.{t})" for t in DATA_TABLES)
    return bool(await connection.fetchval(f"SELECT {exists}"))


def _expected_rows(generator: DatasetGenerator, table: str, first_chunk: int) -> int | None:
    """The progress bar's total: exact for orders, an estimate for order items."""
    if table == "orders":
        return generator.size.orders
    if table == "order_items":
        mean = sum(n * p for n, p in zip(ITEMS_PER_ORDER, ITEMS_P, strict=True))
        return round(generator.size.orders * mean)
    return first_chunk


async def load_dataset(url: str, generator: DatasetGenerator, *, replace: bool = False,
                       quiet: bool = False) -> LoadSummary:
    """Generate and load the dataset into the database at ``url`` (an admin login).

    Raises ``ValidationError`` when retail data exists and ``replace`` is false, and
    ``ConfigurationError`` when the login may not load or the shipped embeddings are
    stale. Either way, and on any other failure, nothing is changed.
    """
    started = time.perf_counter()
    summary = LoadSummary()
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await _require_loader_privileges(connection)
        async with connection.transaction():
            # Writers wait (a second `zava seed` then finds the data and refuses) and
            # autovacuum stays away: vacuuming a table mid-load records it as empty
            # (our rows are uncommitted), and the foreign-key checks' plans then pick the
            # wrong index and turn quadratic.
            await connection.execute(
                "LOCK TABLE " + ", ".join(f"retail.{t}" for t in DATA_TABLES)
                + " IN SHARE ROW EXCLUSIVE MODE")
            kept_logins = False
            if await _has_data(connection):
                if not replace:
                    raise ValidationError(
                        "the database already has retail data; rerun with --replace to empty "
                        "and reload it (in one transaction)")
                # Logins bound to managers (zava db grant-login --manager) are not seed
                # data: they are kept, and restored for the managers the new data has.
                await connection.execute(
                    f"CREATE TEMP TABLE kept_logins ON COMMIT DROP AS "
                    f"SELECT login, manager_id FROM {LOGINS_TABLE}")
                await connection.execute(
                    f"CREATE TEMP TABLE kept_identities ON COMMIT DROP AS "
                    f"SELECT issuer, subject, manager_id FROM {IDENTITIES_TABLE}")
                kept_logins = True
                await connection.execute(
                    "TRUNCATE " + ", ".join(
                        f"retail.{t}" for t in (*DATA_TABLES, LOGINS, IDENTITIES)))
            with TableProgress(quiet) as progress:
                async with Prefetch(generator.tables(), depth=1) as ahead:
                    async for rows in ahead:
                        copy_started = time.perf_counter()
                        await _copy(connection, rows)
                        if rows.table in REFERENCED and rows.table not in summary.rows:
                            # Real estimates for the foreign-key checks of what follows.
                            await connection.execute(f"ANALYZE retail.{rows.table}")
                        summary.add(rows.table, len(rows.rows),
                                    time.perf_counter() - copy_started)
                        progress.advance(rows.table, len(rows.rows),
                                         _expected_rows(generator, rows.table, len(rows.rows)))
                copy_started = time.perf_counter()
                embedded = await _load_embeddings(connection, generator, summary)
                summary.add("product_description_embeddings", embedded,
                            time.perf_counter() - copy_started)
                progress.advance("product_description_embeddings", embedded, embedded)
                progress.finish()
            if kept_logins:
                await connection.execute(
                    f"INSERT INTO {LOGINS_TABLE} (login, manager_id) SELECT k.login, "
                    "k.manager_id FROM pg_temp.kept_logins AS k "
                    "JOIN retail.managers AS m USING (manager_id)")
                await connection.execute(
                    f"INSERT INTO {IDENTITIES_TABLE} (issuer, subject, manager_id) SELECT "
                    "k.issuer, k.subject, k.manager_id FROM pg_temp.kept_identities AS k "
                    "JOIN retail.managers AS m USING (manager_id)")
            await rebuild_vector_index(connection, embedded)
            for table in DATA_TABLES:
                await connection.execute(f"ANALYZE retail.{table}")
    finally:
        await connection.close()
    summary.seconds = time.perf_counter() - started
    return summary


async def _load_embeddings(connection: asyncpg.Connection, generator: DatasetGenerator,
                           summary: LoadSummary) -> int:
    """Copy the shipped vectors of the model the database records; 0 (and a note) if none."""
    recorded = await recorded_space(connection)
    if recorded is None:
        summary.notes.append("product embeddings not loaded: retail.embedding_space is empty "
                             "(run `zava db upgrade`)")
        return 0
    model, dimension = recorded
    if not embeddings_path(model).exists():
        summary.notes.append(
            f"product embeddings not loaded: the database records {model} ({dimension} "
            f"dims) and the seed ships no vectors for it; {recompute_hint(model, dimension)}")
        return 0
    vectors = load_catalog_vectors(model, dimension)
    now = dt.datetime.now(dt.UTC)
    rows = [(p.product_id, "[" + ",".join(map(repr, vectors[p.sku])) + "]", model, now)
            for p in generator.products]
    await connection.execute(
        "CREATE TEMP TABLE seed_embeddings (product_id uuid, embedding text, model text, "
        "last_updated timestamptz) ON COMMIT DROP")
    await connection.copy_records_to_table("seed_embeddings", records=rows)
    await connection.execute(
        "INSERT INTO retail.product_description_embeddings "
        "SELECT product_id, embedding::vector, model, last_updated FROM seed_embeddings")
    return len(rows)


def asyncpg_dsn(url: str) -> str:
    """The URL in the form asyncpg itself accepts."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)

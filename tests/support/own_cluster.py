"""Resilience fixtures: an embedded cluster of the test module's own (tiny seed), which the
tests may stop, crash and restart without touching the session cluster other tests use.
The ``conftest.py`` of ``tests/integration/resilience`` and ``tests/e2e/resilience``
import the fixtures from here; the helpers below are imported by the tests."""

from __future__ import annotations

import asyncio
import datetime
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.support.embedded_replica import stop_postgres
from zava.config import Settings
from zava.provision import bootstrap, migrations
from zava.provision.embedded import APP_ROLE, EmbeddedCluster, start_cluster, stop_cluster
from zava.provision.seed_loader import load_dataset
from zava.seeding.generator import DatasetGenerator
from zava.seeding.sizes import DEFAULT_SEED, SIZES

HEAVY_QUERY = "SELECT count(*) FROM retail.orders a, retail.orders b, retail.orders c"
"""Passes the guard and runs for far longer than any test waits (8e9 rows on tiny)."""


@pytest.fixture(scope="module")
def own_data_dir() -> Iterator[Path]:
    """A short folder for this module's cluster (unix socket paths are limited)."""
    path = Path(tempfile.mkdtemp(prefix="zr-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
async def own_cluster(own_data_dir: Path) -> AsyncIterator[EmbeddedCluster]:
    """A migrated, tiny-seeded embedded cluster for this module alone."""
    cluster = await asyncio.to_thread(start_cluster, own_data_dir, "zava")
    try:
        await bootstrap.ensure_database(cluster)
        await migrations.upgrade(cluster.admin_url)
        await bootstrap.ensure_app_role(cluster)
        today = datetime.datetime.now(datetime.UTC).date()
        await load_dataset(cluster.admin_url,
                           DatasetGenerator(SIZES["tiny"], DEFAULT_SEED, today), quiet=True)
        await _quiesce(cluster)
        yield cluster
    finally:
        stop_cluster(own_data_dir)
        # A test may have restarted it with pg_ctl, behind the embedded handle's back.
        await asyncio.to_thread(stop_postgres, cluster.data_dir, "fast")


async def _quiesce(cluster: EmbeddedCluster) -> None:
    """Vacuum now and turn autovacuum off, so the primary writes no WAL of its own while
    tests measure replica lag (a vacuum after the seed load would make replicas lag for
    real, at a moment no test chooses)."""
    admin = await admin_connection(cluster)
    try:
        await admin.execute("VACUUM (FREEZE, ANALYZE)")
        await admin.execute("ALTER SYSTEM SET autovacuum = off")
        await admin.execute("SELECT pg_reload_conf()")
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def own_settings(own_data_dir: Path) -> Settings:
    """Settings for servers and engines on the module's cluster: short retry windows."""
    return Settings(data_dir=own_data_dir, database_name="zava", connect_retry_seconds=1.0,
                    pool_size=2, pool_max_overflow=0, pool_timeout_s=5.0)


async def admin_connection(cluster: EmbeddedCluster) -> asyncpg.Connection:
    """A superuser connection straight to ``cluster`` (outside any pool)."""
    connection: asyncpg.Connection = await asyncpg.connect(
        host=str(cluster.socket_dir), port=cluster.port, user="postgres",
        database=cluster.database)
    return connection


async def app_backends(cluster: EmbeddedCluster, *, state: str | None = None) -> list[int]:
    """The pids of the server login's backends on ``cluster`` (in ``state``, if given)."""
    admin = await admin_connection(cluster)
    try:
        rows = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND datname = $2 "
            "AND ($3::text IS NULL OR state = $3)", APP_ROLE, cluster.database, state)
    finally:
        await admin.close()
    return [row["pid"] for row in rows]


async def wait_for_heavy_query(cluster: EmbeddedCluster, timeout_s: float = 30) -> int:
    """The pid of the backend running ``HEAVY_QUERY``, once it runs."""
    admin = await admin_connection(cluster)
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                pid = await admin.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                    "AND query LIKE '%retail.orders a, retail.orders b%' "
                    "AND pid <> pg_backend_pid()")
                if pid is not None:
                    return int(pid)
                await asyncio.sleep(0.02)
    finally:
        await admin.close()


async def heavy_query_running(cluster: EmbeddedCluster) -> bool:
    """True while any backend still runs ``HEAVY_QUERY``."""
    admin = await admin_connection(cluster)
    try:
        return bool(await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE '%retail.orders a, retail.orders b%' "
            "AND pid <> pg_backend_pid()"))
    finally:
        await admin.close()

"""Test-session fixtures: one embedded PostgreSQL cluster per run, a migrated template
database, and a fresh database cloned from it for each test module that asks."""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.db.engine import create_engine
from zava.embeddings.base import CachedEmbedder
from zava.embeddings.factory import create_embedder
from zava.provision import bootstrap, migrations
from zava.provision.embedded import EmbeddedCluster, start_cluster, stop_cluster

TEMPLATE = "zava_template"
_database_numbers = itertools.count(1)

# The suite chooses its own databases: a developer's DATABASE_URL must not leak in.
for _name in ("DATABASE_URL", "ZAVA_DATABASE_URL", "ZAVA_ADMIN_DATABASE_URL", "ZAVA_RLS_USER"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    """A short-lived folder for the test cluster (short path: unix sockets have a limit)."""
    path = Path(tempfile.mkdtemp(prefix="zt-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    """Settings pointing at the test cluster."""
    return Settings(data_dir=data_dir, database_name=TEMPLATE)


@pytest.fixture(scope="session")
def cluster(settings: Settings) -> Iterator[EmbeddedCluster]:
    """The one embedded PostgreSQL of this test run."""
    running = start_cluster(settings.data_dir, TEMPLATE)
    yield running
    stop_cluster(settings.data_dir)


@pytest.fixture(scope="session")
async def template(cluster: EmbeddedCluster) -> EmbeddedCluster:
    """A database migrated to head with the login role in place, cloned by other fixtures."""
    await bootstrap.ensure_database(cluster)
    await migrations.upgrade(cluster.admin_url)
    await bootstrap.ensure_app_role(cluster)
    return cluster


async def clone_database(template: EmbeddedCluster, name: str) -> EmbeddedCluster:
    """A new database ``name`` copied from the template (dropped first if it exists)."""
    conn = await asyncpg.connect(
        host=str(template.socket_dir), port=template.port, user="postgres", database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"')
    finally:
        await conn.close()
    return dataclasses.replace(template, database=name)


@pytest.fixture(scope="module")
async def database(template: EmbeddedCluster) -> EmbeddedCluster:
    """A fresh migrated database for one test module."""
    return await clone_database(template, f"zava_test_{next(_database_numbers)}")


@pytest.fixture(scope="module")
async def admin_engine(database: EmbeddedCluster, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A superuser engine on the module's database."""
    engine = create_engine(database.admin_url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def app_engine(database: EmbeddedCluster, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine logged in as the server's least-privilege role on the module's database."""
    engine = create_engine(database.app_url, settings)
    yield engine
    await engine.dispose()


SEED_END_DATE = datetime.datetime.now(datetime.UTC).date()


@pytest.fixture(scope="session")
async def seeded_template(template: EmbeddedCluster) -> EmbeddedCluster:
    """A database with the tiny seed loaded, cloned by the seeded fixtures."""
    from zava.provision.seed_loader import load_dataset
    from zava.seeding.generator import DatasetGenerator
    from zava.seeding.sizes import DEFAULT_SEED, SIZES

    seeded = await clone_database(template, "zava_seeded_template")
    await load_dataset(seeded.admin_url, DatasetGenerator(SIZES["tiny"], DEFAULT_SEED,
                                                          SEED_END_DATE), quiet=True)
    return seeded


@pytest.fixture(scope="module")
async def seeded_database(seeded_template: EmbeddedCluster) -> EmbeddedCluster:
    """A fresh copy of the tiny-seeded database for one test module."""
    return await clone_database(seeded_template, f"zava_seeded_{next(_database_numbers)}")


@pytest.fixture(scope="module")
async def seeded_admin_engine(seeded_database: EmbeddedCluster,
                              settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A superuser engine on the module's seeded database."""
    engine = create_engine(seeded_database.admin_url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def seeded_app_engine(seeded_database: EmbeddedCluster,
                            settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The server's least-privilege engine on the module's seeded database."""
    engine = create_engine(seeded_database.app_url, settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> CachedEmbedder:
    """The local all-MiniLM-L6-v2 embedder behind the query cache, loaded once per run."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return create_embedder(settings)

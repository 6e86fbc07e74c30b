"""Which PostgreSQL Zava talks to: the external one from DATABASE_URL or the embedded one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from zava.config import Settings
from zava.provision import bootstrap, migrations
from zava.provision.embedded import EmbeddedCluster, start_cluster


@dataclass(frozen=True)
class DatabaseTarget:
    """The URLs to use: ``app_url`` for the server, ``admin_url`` for migrations and seeding."""

    app_url: str
    admin_url: str
    embedded: EmbeddedCluster | None = None


async def open_target(settings: Settings, *, migrate_embedded: bool = True) -> DatabaseTarget:
    """Resolve the database; an embedded one is started, created and migrated to head
    (Alembic runs only when it is not at head already: importing and running it would
    cost every start about 0.3 s, benchmarks/startup.py).

    An external database is never migrated implicitly: that is the DBA's decision
    (``zava db upgrade``).
    """
    if settings.database_url is not None:
        return DatabaseTarget(
            app_url=settings.database_url,
            admin_url=settings.admin_database_url or settings.database_url,
        )
    cluster = await asyncio.to_thread(start_cluster, settings.data_dir, settings.database_name)
    await bootstrap.ensure_database(cluster)
    if migrate_embedded and await _revision(cluster) != migrations.head_revision():
        await migrations.upgrade(
            cluster.admin_url,
            embedding_dim=settings.embedding_dim,
            embedding_model=settings.embedding_model,
        )
        await bootstrap.ensure_app_role(cluster)
    return DatabaseTarget(app_url=cluster.app_url, admin_url=cluster.admin_url, embedded=cluster)


async def _revision(cluster: EmbeddedCluster) -> str | None:
    """The embedded database's migration revision (None before the first migration)."""
    engine = create_async_engine(cluster.admin_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await migrations.current_revision(connection)
    finally:
        await engine.dispose()

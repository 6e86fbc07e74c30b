"""Bootstrap: everything a running server needs, wired in one place.

``open_runtime`` resolves the database (starting and migrating the embedded one),
creates the pool, refuses a privileged login unless told otherwise, checks the
migration head, and loads the SQL guard's function catalog once.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from loguru import logger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.cache.results import ResultCache, create_backend
from zava.config import Settings
from zava.db import migrations
from zava.db.embedded import stop_cluster
from zava.db.engine import create_engine
from zava.db.login_role import inspect_login_role
from zava.db.replicas import ReplicaRouter
from zava.db.target import DatabaseTarget, open_target
from zava.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from zava.embeddings.base import CachedEmbedder
from zava.embeddings.factory import create_embedder
from zava.errors import ConfigurationError
from zava.observability.metrics import Metrics
from zava.repositories.schema import TABLE_DESCRIPTIONS
from zava.security.sql_guard import SqlGuard, load_function_catalog


@dataclass
class Runtime:
    """The server's dependencies: settings, database, units of work, the SQL guard."""

    settings: Settings
    target: DatabaseTarget
    engine: AsyncEngine
    units: UnitOfWorkFactory
    guard: SqlGuard
    embedder: CachedEmbedder
    metrics: Metrics
    cache: ResultCache
    started: float = field(default_factory=time.monotonic)
    replicas: ReplicaRouter | None = None

    def unit(self, caller: object) -> UnitOfWork:
        """A read unit of work for ``caller`` (a manager id)."""
        return self.units(caller)  # type: ignore[arg-type]

    @property
    def uptime_s(self) -> float:
        """Seconds since the server started."""
        return time.monotonic() - self.started

    @staticmethod
    def today() -> dt.date:
        """Today's date in UTC: reporting periods end here."""
        return dt.datetime.now(dt.UTC).date()


async def _check_database(engine: AsyncEngine, allow_privileged_login: bool) -> SqlGuard:
    async with engine.connect() as connection:
        role = await inspect_login_role(connection)
        if not role.is_least_privilege:
            problems = "; ".join(role.problems)
            if not allow_privileged_login:
                raise ConfigurationError(
                    f"refusing to serve as {role.login}, which {problems}. Use a "
                    "least-privilege login (see README: An external PostgreSQL) or pass "
                    "--allow-privileged-login"
                )
            logger.warning("serving as privileged login {} ({}); every query still runs as "
                           "zava_reader", role.login, problems)
        await connection.execute(text("SET ROLE zava_reader"))
        current, head = await migrations.current_revision(connection), migrations.head_revision()
        if current != head:
            raise ConfigurationError(
                f"the database is at migration {current or 'none'}, this server needs {head}: "
                "run `zava db upgrade`"
            )
        catalog = await load_function_catalog(connection)
        await connection.execute(text("RESET ROLE"))
    return SqlGuard(catalog, frozenset(TABLE_DESCRIPTIONS))


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, allow_privileged_login: bool = False
) -> AsyncIterator[Runtime]:
    """Start everything the server needs; close the pool (and embedded handle) on exit.

    The database must be reachable at start; afterwards outages are survived (calls fail
    with database_unavailable and succeed again once it returns, without a restart).
    Read replicas (``read_replica_urls``) are checked in the background while it runs.
    """
    target = await open_target(settings)
    engine = create_engine(target.app_url, settings)
    cache = ResultCache(create_backend(settings), settings.cache_prefix)
    embedder = create_embedder(settings, cache.backend if settings.redis_url else None)
    try:
        guard = await _check_database(engine, allow_privileged_login)
        async with ReplicaRouter.from_settings(engine, settings).monitoring() as router:
            replicas = router if router.replicas else None
            units = UnitOfWorkFactory(engine, settings, replicas)
            yield Runtime(settings=settings, target=target, engine=engine, units=units,
                          guard=guard, embedder=embedder,
                          metrics=Metrics(units, embedder, cache), cache=cache,
                          replicas=replicas)
    finally:
        await embedder.aclose()
        await cache.aclose()
        await engine.dispose()
        if target.embedded is not None:
            stop_cluster(settings.data_dir)

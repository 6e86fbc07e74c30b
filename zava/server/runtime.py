"""Bootstrap: everything a running server needs, wired in one place.

``open_runtime`` resolves the database (starting and migrating the embedded one),
creates the pool, refuses a privileged login unless told otherwise
(``ZAVA_ALLOW_PRIVILEGED_LOGIN``), checks the migration head, and loads the SQL guard's
function catalog once.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from zava.cache.lru import Lru
from zava.cache.results import ResultCache, create_backend
from zava.config import Settings
from zava.db.engine import create_engine
from zava.db.replicas import ReplicaRouter
from zava.embeddings.base import CachedEmbedder
from zava.embeddings.factory import create_embedder
from zava.observability.metrics import Metrics
from zava.observability.tracing import configure_tracing
from zava.provision.embedded import stop_cluster
from zava.provision.health import require_servable
from zava.provision.target import DatabaseTarget, open_target
from zava.repositories.schema import TABLE_DESCRIPTIONS
from zava.security.sql_guard import SqlGuard, load_function_catalog
from zava.server.fair_share import FairShare
from zava.services import analytics
from zava.services.provenance import FreshnessMemory
from zava.services.queries import CheapQueries
from zava.services.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWorkFactory


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
    fair_share: FairShare | None
    """Per-caller limits (None over stdio: one caller per process, nobody to share with)."""
    started: float = field(default_factory=time.monotonic)
    scopes: Lru[uuid.UUID, str] = field(default_factory=lambda: Lru(10_000))
    """Each caller's scope (store, region, head_office), looked up once."""
    replicas: ReplicaRouter | None = None
    freshness: FreshnessMemory = field(default_factory=FreshnessMemory)
    """Each caller's newest visible order date (a result's ``as_of``), reused a minute."""
    cheap_queries: CheapQueries = field(default_factory=CheapQueries)
    """Free SQL that passed the cost gate lately, per caller (its EXPLAIN is skipped)."""
    process_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    """Signs export links when ZAVA_EXPORT_SECRET is unset (valid in this process only)."""

    @asynccontextmanager
    async def admitted(self, caller: uuid.UUID) -> AsyncIterator[None]:
        """Run the body as one call of ``caller`` within their fair share (their scope's
        limits; ``RateLimitedError`` when over)."""
        if self.fair_share is None:
            yield
            return
        scope = self.scopes.get(caller)
        if scope is None:
            scope = await analytics.caller_scope(self.unit(caller))
            self.scopes.put(caller, scope)
        async with self.fair_share.admitted(caller, scope):
            yield

    def unit(self, caller: uuid.UUID, *, label: str | None = None) -> SqlAlchemyUnitOfWork:
        """A read unit of work for ``caller`` (a manager id), not yet entered; ``label``:
        what PostgreSQL shows as its ``application_name`` (a tool call's)."""
        return self.units(caller, label=label)

    @property
    def uptime_s(self) -> float:
        """Seconds since the server started."""
        return time.monotonic() - self.started

    @staticmethod
    def today() -> dt.date:
        """Today's date in UTC: reporting periods end here."""
        return dt.datetime.now(dt.UTC).date()


async def _load_guard(engine: AsyncEngine, settings: Settings) -> SqlGuard:
    """Check that this login may serve this database, then load the guard's catalog."""
    async with engine.connect() as connection:
        await require_servable(connection,
                               allow_privileged_login=settings.allow_privileged_login)
        catalog = await load_function_catalog(connection)
    return SqlGuard(catalog, frozenset(TABLE_DESCRIPTIONS))


@asynccontextmanager
async def open_runtime(settings: Settings, *,
                       shared: bool = True) -> AsyncIterator[Runtime]:
    """Start everything the server needs; close the pool (and embedded handle) on exit.
    ``shared``: several callers share this server (HTTP), so each gets a fair share.

    The database must be reachable at start; afterwards outages are survived (calls fail
    with database_unavailable and succeed again once it returns, without a restart).
    Read replicas (``read_replica_urls``) are checked in the background while it runs.
    """
    target = await open_target(settings)
    engine = create_engine(target.app_url, settings)
    cache = ResultCache(create_backend(settings), settings.cache_prefix)
    fair_share = FairShare(settings.caller_limits, redis_url=settings.redis_url,
                           prefix=settings.cache_prefix,
                           stale_after_s=settings.statement_timeout_ms / 1000 * 2 + 10,
                           max_wait_s=settings.caller_max_wait_s) if shared else None
    embedder = create_embedder(settings, cache.backend if settings.redis_url else None)
    tracing = configure_tracing(settings)
    try:
        guard = await _load_guard(engine, settings)
        async with ReplicaRouter.from_settings(engine, settings).monitoring() as router:
            replicas = router if router.replicas else None
            units = UnitOfWorkFactory(engine, settings, replicas)
            yield Runtime(settings=settings, target=target, engine=engine, units=units,
                          guard=guard, embedder=embedder,
                          metrics=Metrics(engine, units.queue, embedder, cache), cache=cache,
                          fair_share=fair_share,
                          replicas=replicas)
    finally:
        await embedder.aclose()
        await cache.aclose()
        if fair_share is not None:
            await fair_share.aclose()
        await engine.dispose()
        if target.embedded is not None:
            stop_cluster(settings.data_dir)
        tracing.shutdown()  # the spans still queued go out

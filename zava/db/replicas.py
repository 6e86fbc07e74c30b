"""Read replicas: which streaming replica a read unit of work should use.

One engine per URL in ``ZAVA_READ_REPLICA_URLS``. A background task checks every replica
each ``replica_check_interval_s``: reachable, and how far behind the primary it is. Read
units take the usable replicas in round-robin order and fall back to the primary; a
replica whose connection fails is marked unhealthy at once and left out until a check
finds it reachable again.

Lag is ``now() - pg_last_xact_replay_timestamp()``, except that a replica that has
replayed the primary's flushed WAL position (read just before) counts as 0: on an idle
primary the last replayed transaction is old although the replica is fully caught up.
The flushed position, not the written one: WAL that is not flushed yet cannot have
reached any replica. Measured here: a read on the primary (with data checksums, the
PostgreSQL 18 default) writes a hint-bit page image; the idle WAL writer flushes its
first page and sits on the rest for 5-10 s, so the flushed position ends inside a record
the replica cannot replay yet. A replica that has received everything the primary
flushed, is not paused and is at most two WAL pages from replaying it all therefore
also counts as caught up. When the primary cannot be asked, "replayed everything
received" stands in. A server that is not in recovery (a promoted replica) serves reads
with lag 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from loguru import logger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings, mask_database_url
from zava.db.engine import create_engine

_PRIMARY_POSITION = text("SELECT pg_current_wal_flush_lsn()::text")
_LAG_QUERY = text(
    "SELECT pg_is_in_recovery() AS in_recovery, "
    "CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "     WHEN pg_last_wal_replay_lsn() >= CAST(CAST(:primary_lsn AS text) AS pg_lsn) THEN 0 "
    "     WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "     WHEN pg_last_wal_receive_lsn() >= CAST(CAST(:primary_lsn AS text) AS pg_lsn) "
    "      AND pg_last_wal_receive_lsn() - pg_last_wal_replay_lsn() <= 16384 "
    "      AND pg_get_wal_replay_pause_state() = 'not paused' THEN 0 "
    "     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag_s"
)


@dataclass
class Replica:
    """One streaming replica: its engine and what the last check (or use) found."""

    name: str
    engine: AsyncEngine
    healthy: bool = False
    lag_s: float = math.inf
    in_recovery: bool = True
    problem: str = "not checked yet"
    checked_at: float = -math.inf

    def usable(self, max_lag_s: float) -> bool:
        """Reachable at the last check, and no further behind than ``max_lag_s``."""
        return self.healthy and self.lag_s <= max_lag_s

    def describe(self, max_lag_s: float) -> dict[str, object]:
        """What /ready and health reports show for this replica (no credentials)."""
        state = "ok" if self.usable(max_lag_s) else (
            f"lagging ({self.lag_s:.1f} s behind)" if self.healthy else self.problem)
        lag = round(self.lag_s, 3) if math.isfinite(self.lag_s) else None
        return {"replica": self.name, "status": state, "lag_s": lag}


class ReplicaRouter:
    """Chooses the replica for each read unit of work and keeps the replicas checked."""

    def __init__(self, primary: AsyncEngine, replicas: list[Replica],
                 settings: Settings) -> None:
        self.replicas = replicas
        self._primary = primary
        self._settings = settings
        self._turn = itertools.count()

    @classmethod
    def from_settings(cls, primary: AsyncEngine, settings: Settings) -> ReplicaRouter:
        """One engine per ``read_replica_urls`` entry, with the primary's pool settings."""
        replicas = [Replica(name=mask_database_url(url), engine=create_engine(url, settings))
                    for url in settings.read_replica_urls]
        return cls(primary, replicas, settings)

    def candidates(self) -> list[Replica]:
        """The usable replicas, starting with the next one in round-robin order."""
        usable = [r for r in self.replicas if r.usable(self._settings.replica_max_lag_s)]
        if not usable:
            return []
        start = next(self._turn) % len(usable)
        return usable[start:] + usable[:start]

    def lag_of(self, engine: AsyncEngine) -> float | None:
        """The last measured lag (seconds) of the replica whose engine is ``engine``;
        None for any other engine (the primary) or a lag not measured yet."""
        for replica in self.replicas:
            if replica.engine is engine:
                return replica.lag_s if math.isfinite(replica.lag_s) else None
        return None

    def mark_unhealthy(self, replica: Replica, reason: str) -> None:
        """Leave ``replica`` out until a check finds it reachable again."""
        problem = f"unavailable ({reason})"
        if replica.healthy or replica.problem != problem:
            logger.warning("read replica {} is {}; reads go elsewhere", replica.name, problem)
        replica.healthy = False
        replica.problem = problem

    def _timeout(self) -> float:
        return max(1.0, min(self._settings.replica_check_interval_s,
                            self._settings.pool_timeout_s))

    async def _primary_position(self) -> str | None:
        """The primary's current WAL position, or None when it cannot be asked."""
        try:
            async with asyncio.timeout(self._timeout()), self._primary.connect() as connection:
                position: str | None = await connection.scalar(_PRIMARY_POSITION)
        except Exception as error:  # the primary's own outage is reported elsewhere
            logger.debug("replica check: the primary's WAL position is unknown ({})",
                         type(error).__name__)
            return None
        return position

    async def check(self, replica: Replica, primary_lsn: str | None = None) -> None:
        """Measure ``replica``'s reachability and its lag behind ``primary_lsn`` (the
        primary's WAL position, read just before) now."""
        was_usable = replica.usable(self._settings.replica_max_lag_s)
        try:
            async with asyncio.timeout(self._timeout()), replica.engine.connect() as connection:
                row = (await connection.execute(
                    _LAG_QUERY, {"primary_lsn": primary_lsn})).one()
        except Exception as error:  # any failure means "do not read from it"
            self.mark_unhealthy(replica, type(error).__name__)
            # Its idle pooled connections died with it: do not hand them out later.
            await replica.engine.dispose()
        else:
            replica.healthy = True
            replica.in_recovery = bool(row.in_recovery)
            replica.lag_s = float(row.lag_s) if row.lag_s is not None else math.inf
            replica.problem = ""
        replica.checked_at = time.monotonic()
        now_usable = replica.usable(self._settings.replica_max_lag_s)
        if now_usable != was_usable:
            logger.info("read replica {}: {}", replica.name,
                        replica.describe(self._settings.replica_max_lag_s)["status"])

    async def check_all(self) -> None:
        """Check every replica now, concurrently."""
        primary_lsn = await self._primary_position()
        await asyncio.gather(*(self.check(r, primary_lsn) for r in self.replicas))

    @contextlib.asynccontextmanager
    async def monitoring(self) -> AsyncIterator[ReplicaRouter]:
        """Check the replicas once, then every ``replica_check_interval_s`` until exit;
        dispose of their engines on exit."""
        task: asyncio.Task[None] | None = None
        try:
            if self.replicas:
                await self.check_all()
                task = asyncio.create_task(self._check_forever(), name="zava-replica-checks")
            yield self
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.gather(*(r.engine.dispose() for r in self.replicas))

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.replica_check_interval_s)
            await self.check_all()

    def status(self) -> list[dict[str, object]]:
        """Each replica's state, for /ready."""
        return [r.describe(self._settings.replica_max_lag_s) for r in self.replicas]

"""The pool and the unit of work under faults, in-process: a busy pool, a backend killed
under a statement (never retried), pooled connections that died, cancelled calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.driver import driver_of
from tests.support.own_cluster import (
    HEAVY_QUERY,
    admin_connection,
    app_backends,
    heavy_query_running,
    wait_for_heavy_query,
)
from zava.config import Settings
from zava.db.engine import create_engine
from zava.errors import DatabaseUnavailableError, ServerBusyError
from zava.provision.embedded import EmbeddedCluster
from zava.security.sql_guard import GuardedQuery
from zava.seeding import company
from zava.services.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWorkFactory

HEAD_OFFICE = company.HEAD_OFFICE_ID
HEAVY = GuardedQuery(sql=HEAVY_QUERY, is_explain=False, tables=frozenset({"orders"}))


@pytest.fixture
async def engine(own_cluster: EmbeddedCluster, own_settings: Settings
                 ) -> AsyncIterator[AsyncEngine]:
    """A fresh pool of the server login on the module's cluster."""
    engine = create_engine(own_cluster.app_url, own_settings)
    yield engine
    await engine.dispose()


async def _count_orders(engine: AsyncEngine, settings: Settings) -> int:
    async with SqlAlchemyUnitOfWork(engine, settings, HEAD_OFFICE) as uow:
        result = await uow.queries.run(GuardedQuery(
            sql="SELECT count(*) FROM retail.orders", is_explain=False,
            tables=frozenset({"orders"})),
            max_rows=10, max_bytes=10_000)
    count = result.rows[0][0]
    assert isinstance(count, int)
    return count


async def _run_heavy(engine: AsyncEngine, settings: Settings) -> None:
    async with SqlAlchemyUnitOfWork(engine, settings, HEAD_OFFICE) as uow:
        await uow.queries.run(HEAVY, max_rows=10, max_bytes=10_000)


async def test_an_exhausted_pool_is_server_busy_not_database_unavailable(
    own_cluster: EmbeddedCluster, own_settings: Settings
) -> None:
    settings = own_settings.model_copy(update={"pool_size": 1, "pool_max_overflow": 0,
                                               "pool_timeout_s": 0.2})
    engine = create_engine(own_cluster.app_url, settings)
    try:
        async with SqlAlchemyUnitOfWork(engine, settings, HEAD_OFFICE):
            with pytest.raises(ServerBusyError) as busy:
                await _count_orders(engine, settings)
        assert busy.value.code == "server_busy"
        assert not isinstance(busy.value, DatabaseUnavailableError)
        assert "all 1 database connections" in busy.value.message
        assert "ZAVA_POOL_SIZE" in busy.value.message
        assert await _count_orders(engine, settings) > 0  # the held unit was returned
        assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_backend_killed_under_a_query_fails_that_call_once_and_the_next_succeeds(
    own_cluster: EmbeddedCluster, own_settings: Settings, engine: AsyncEngine
) -> None:
    running = asyncio.create_task(_run_heavy(engine, own_settings))
    pid = await wait_for_heavy_query(own_cluster)
    admin = await admin_connection(own_cluster)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    with pytest.raises(DatabaseUnavailableError) as lost:
        await running
    assert "interrupted" in lost.value.message and "not retried" in lost.value.message
    assert not await heavy_query_running(own_cluster)  # it was not sent again
    assert engine.sync_engine.pool.checkedout() == 0
    assert await _count_orders(engine, own_settings) > 0


async def test_a_backend_killed_between_repository_calls_is_a_clear_error(
    own_cluster: EmbeddedCluster, own_settings: Settings, engine: AsyncEngine
) -> None:
    with pytest.raises(DatabaseUnavailableError, match="interrupted"):
        async with SqlAlchemyUnitOfWork(engine, own_settings, HEAD_OFFICE) as uow:
            driver = await driver_of(uow)
            pid = await driver.fetchval("SELECT pg_backend_pid()")
            admin = await admin_connection(own_cluster)
            try:
                await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
            finally:
                await admin.close()
            await uow.stores.visible()
    assert engine.sync_engine.pool.checkedout() == 0
    assert await _count_orders(engine, own_settings) > 0


async def test_pooled_connections_killed_while_idle_are_replaced_without_an_error(
    own_cluster: EmbeddedCluster, own_settings: Settings, engine: AsyncEngine
) -> None:
    async with SqlAlchemyUnitOfWork(engine, own_settings, HEAD_OFFICE), \
            SqlAlchemyUnitOfWork(engine, own_settings, HEAD_OFFICE):
        pass  # the pool now holds two idle connections
    idle = await app_backends(own_cluster)
    assert len(idle) == 2
    admin = await admin_connection(own_cluster)
    try:
        for pid in idle:
            await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
    finally:
        await admin.close()
    assert await _count_orders(engine, own_settings) > 0
    assert not set(idle) & set(await app_backends(own_cluster))


@pytest.mark.parametrize("how", ["asyncio", "anyio"])
async def test_a_cancelled_call_cancels_its_query_and_returns_the_connection(
    own_cluster: EmbeddedCluster, own_settings: Settings, engine: AsyncEngine, how: str
) -> None:
    if how == "asyncio":
        running = asyncio.create_task(_run_heavy(engine, own_settings))
        await wait_for_heavy_query(own_cluster)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    else:  # how the MCP SDK cancels a handler: a cancel scope, re-cancelling every await
        async with anyio.create_task_group() as group:
            group.start_soon(_run_heavy, engine, own_settings)
            await wait_for_heavy_query(own_cluster)
            group.cancel_scope.cancel()
    async with asyncio.timeout(10):
        while await heavy_query_running(own_cluster) or engine.sync_engine.pool.checkedout():
            await asyncio.sleep(0.02)
    backends = await app_backends(own_cluster)
    assert len(backends) <= 1  # returned to the pool (idle) or discarded, not leaked
    assert set(backends) == set(await app_backends(own_cluster, state="idle"))
    assert await _count_orders(engine, own_settings) > 0


async def test_the_waiting_gauge_counts_units_queued_for_a_connection(
    own_cluster: EmbeddedCluster, own_settings: Settings
) -> None:
    settings = own_settings.model_copy(update={"pool_size": 1, "pool_max_overflow": 0,
                                               "pool_timeout_s": 30})
    engine = create_engine(own_cluster.app_url, settings)
    units = UnitOfWorkFactory(engine, settings)
    try:
        async with units(HEAD_OFFICE):
            queued = asyncio.create_task(_enter_and_leave(units))
            for _ in range(500):
                if units.queue.waiting == 1:
                    break
                await asyncio.sleep(0.01)
            assert units.queue.waiting == 1
        await queued
        assert units.queue.waiting == 0
    finally:
        await engine.dispose()


async def _enter_and_leave(units: UnitOfWorkFactory) -> None:
    async with units(HEAD_OFFICE):
        pass

"""Read replicas: two streaming replicas of the module's cluster (pg_basebackup -R).
Read units go to them in turn, see what the primary wrote once they catch up, skip a
replica that lags, and fall back to the primary, without an error, when one dies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.driver import driver_of
from tests.support.embedded_replica import EmbeddedReplica, streaming_replica
from tests.support.own_cluster import admin_connection
from zava.config import Settings
from zava.db.engine import create_engine
from zava.db.replicas import ReplicaRouter
from zava.provision.embedded import EmbeddedCluster
from zava.security.sql_guard import GuardedQuery
from zava.seeding import company
from zava.server.runtime import open_runtime
from zava.services.provenance import witnessed
from zava.services.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWorkFactory

HEAD_OFFICE = company.HEAD_OFFICE_ID
STOCK = GuardedQuery(sql="SELECT sum(stock_level) AS units FROM retail.inventory",
                     is_explain=False, tables=frozenset({"inventory"}))


@pytest.fixture(scope="module")
def replicas(own_cluster: EmbeddedCluster, own_data_dir: Path) -> Iterator[list[EmbeddedReplica]]:
    """Two streaming replicas of the module's cluster."""
    with streaming_replica(own_cluster, own_data_dir / "r1") as first, \
            streaming_replica(own_cluster, own_data_dir / "r2") as second:
        yield [first, second]


def _settings(own_settings: Settings, replicas: list[EmbeddedReplica],
              **overrides: object) -> Settings:
    return own_settings.model_copy(update={
        "read_replica_urls": [r.app_url for r in replicas],
        "replica_check_interval_s": 0.1, **overrides})


@pytest.fixture
async def primary(own_cluster: EmbeddedCluster, own_settings: Settings
                  ) -> AsyncIterator[AsyncEngine]:
    """The primary's pool (server login)."""
    engine = create_engine(own_cluster.app_url, own_settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def router(own_settings: Settings, replicas: list[EmbeddedReplica], primary: AsyncEngine
                 ) -> AsyncIterator[ReplicaRouter]:
    """A router over both replicas, checking them every 0.1 s."""
    settings = _settings(own_settings, replicas)
    async with ReplicaRouter.from_settings(primary, settings).monitoring() as running:
        yield running


async def _where(units: UnitOfWorkFactory) -> tuple[AsyncEngine, bool]:
    """The engine a read unit used, and whether that server is in recovery (a replica)."""
    async with units(HEAD_OFFICE) as uow:
        in_recovery = await (await driver_of(uow)).fetchval("SELECT pg_is_in_recovery()")
        return uow.connection.engine, bool(in_recovery)


async def _stock(uow_factory: UnitOfWorkFactory) -> object:
    async with uow_factory(HEAD_OFFICE) as uow:
        return (await uow.queries.run(STOCK, max_rows=1, max_bytes=1000)).rows


async def test_reads_go_to_the_replicas_in_turn_and_writes_to_the_primary(
    own_settings: Settings, primary: AsyncEngine, router: ReplicaRouter
) -> None:
    units = UnitOfWorkFactory(primary, own_settings, router)
    used = [await _where(units) for _ in range(4)]
    assert all(in_recovery for _, in_recovery in used)
    engines = [engine for engine, _ in used]
    replica_engines = [r.engine for r in router.replicas]
    assert set(engines) == set(replica_engines)  # both used
    assert engines[0] is not engines[1] and engines[0] is engines[2]  # round robin
    async with SqlAlchemyUnitOfWork(primary, own_settings, None, write=True, replicas=router) as write:
        assert not await (await driver_of(write)).fetchval("SELECT pg_is_in_recovery()")


async def test_a_witnessed_unit_names_the_replica_that_served_it(
    own_settings: Settings, primary: AsyncEngine, router: ReplicaRouter
) -> None:
    """What a result's provenance reports as replica lag: the router's measurement for
    the replica the unit ran on."""
    unit = witnessed(UnitOfWorkFactory(primary, own_settings, router), HEAD_OFFICE)
    async with unit as uow:
        await uow.stores.visible()
    assert unit.freshness is not None
    assert any(unit.freshness.engine is r.engine for r in router.replicas)
    assert router.lag_of(unit.freshness.engine) is not None
    assert router.lag_of(primary) is None


async def test_a_write_on_the_primary_is_read_from_the_replica_after_catch_up(
    own_cluster: EmbeddedCluster, own_settings: Settings, primary: AsyncEngine,
    router: ReplicaRouter, replicas: list[EmbeddedReplica]
) -> None:
    admin = await admin_connection(own_cluster)
    try:
        await admin.execute("UPDATE retail.inventory SET stock_level = stock_level + 7 "
                            "WHERE ctid = (SELECT min(ctid) FROM retail.inventory)")
    finally:
        await admin.close()
    for replica in replicas:
        await replica.wait_for_catch_up()
    from_primary = await _stock(UnitOfWorkFactory(primary, own_settings))
    routed = UnitOfWorkFactory(primary, own_settings, router)
    assert [await _stock(routed) for _ in replicas] == [from_primary] * len(replicas)


async def test_a_replica_beyond_the_maximum_lag_is_skipped(
    own_cluster: EmbeddedCluster, own_settings: Settings, primary: AsyncEngine,
    replicas: list[EmbeddedReplica]
) -> None:
    lagging, caught_up = replicas
    settings = _settings(own_settings, replicas, replica_max_lag_s=0.5,
                         replica_check_interval_s=60)
    router = ReplicaRouter.from_settings(primary, settings)
    async with router.monitoring():
        for replica in replicas:
            await replica.wait_for_catch_up()
        await asyncio.sleep(0.6)  # the last replayed commit is now older than the max lag
        await router.check_all()
        assert len(router.candidates()) == 2, router.status()  # caught up: no lag
        paused = await admin_connection(lagging.cluster)
        try:
            await paused.execute("SELECT pg_wal_replay_pause()")
            admin = await admin_connection(own_cluster)
            try:
                await admin.execute("UPDATE retail.inventory SET stock_level = stock_level + 1 "
                                    "WHERE ctid = (SELECT min(ctid) FROM retail.inventory)")
            finally:
                await admin.close()
            async with asyncio.timeout(10):  # received but not replayed, for over 0.5 s
                while await paused.fetchval(
                        "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"):
                    await asyncio.sleep(0.02)
                await caught_up.wait_for_catch_up()
                while router.replicas[0].lag_s <= 0.5:
                    await asyncio.sleep(0.05)
                    await router.check_all()
            units = UnitOfWorkFactory(primary, settings, router)
            used = {(await _where(units))[0] for _ in range(4)}
            assert used == {router.replicas[1].engine}
            assert "lagging" in str(router.status()[0]["status"])
        finally:
            await paused.execute("SELECT pg_wal_replay_resume()")
            await paused.close()
        await lagging.wait_for_catch_up()
        await router.check_all()
        assert router.candidates() and len(router.candidates()) == 2


async def test_dead_replicas_fall_back_to_the_primary_without_errors_and_return(
    own_settings: Settings, primary: AsyncEngine, router: ReplicaRouter,
    replicas: list[EmbeddedReplica]
) -> None:
    units = UnitOfWorkFactory(primary, own_settings, router)
    for _ in range(4):  # every replica has pooled connections now
        await _where(units)
    first, second = replicas
    await asyncio.to_thread(first.kill)
    survivors = {await _where(units) for _ in range(4)}
    assert survivors == {(router.replicas[1].engine, True)}
    await asyncio.to_thread(second.kill)
    fallback = {await _where(units) for _ in range(4)}
    assert fallback == {(primary, False)}
    await asyncio.to_thread(first.start)
    await asyncio.to_thread(second.start)
    async with asyncio.timeout(30):
        while len(router.candidates()) < 2:
            await asyncio.sleep(0.05)
    back = [await _where(units) for _ in range(4)]
    assert {engine for engine, _ in back} == {r.engine for r in router.replicas}
    assert all(in_recovery for _, in_recovery in back)
    assert all(r.engine.sync_engine.pool.checkedout() == 0 for r in router.replicas)


async def test_the_runtime_routes_read_units_to_the_replicas(
    own_cluster: EmbeddedCluster, own_settings: Settings, replicas: list[EmbeddedReplica]
) -> None:
    settings = _settings(own_settings, replicas, database_url=own_cluster.app_url)
    async with open_runtime(settings) as runtime:
        assert runtime.replicas is not None
        assert [s["status"] for s in runtime.replicas.status()] == ["ok", "ok"]
        async with runtime.unit(HEAD_OFFICE) as uow:
            driver = await driver_of(uow)
            assert await driver.fetchval("SELECT pg_is_in_recovery()")

"""Units of work through a real PgBouncer in transaction mode, two server connections
shared by many client connections: every manager sees only their stores while server
connections pass from one manager to the next, and nothing a unit sets outlives its
transaction on the server connection it leaves behind."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.isolation import build_guard, foreign_store_ids, run_as
from tests.support.pgbouncer import PgBouncer, running_pgbouncer
from zava.config import Settings
from zava.db.engine import create_engine
from zava.errors import ConfigurationError, ZavaError
from zava.provision.embedded import APP_ROLE, EmbeddedCluster
from zava.seeding import company
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

SERVER_CONNECTIONS = 2
MANAGERS = [
    company.managers()[0],  # Seattle
    next(m for m in company.managers() if m.scope == "store" and m.store != "Seattle"),
    next(m for m in company.managers() if m.scope == "region"),
    next(m for m in company.managers() if m.scope == "head_office"),
]
ROUNDS = 8
_STATE = """SELECT pg_backend_pid() AS pid, current_user AS role,
    current_setting('app.current_rls_user_id', true) AS caller,
    current_setting('transaction_read_only') AS read_only,
    (SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM pg_settings
     WHERE context = 'user' AND setting IS DISTINCT FROM reset_val
       AND name <> 'application_name') AS changed"""
"""What a session-level SET (or set_config(..., false)) would leave on a server
connection: settings that differ from the session's defaults (PgBouncer itself sets
application_name to each client's)."""


@pytest.fixture(scope="module")
def bouncer(seeded_database: EmbeddedCluster) -> Iterator[PgBouncer]:
    """PgBouncer (transaction mode, two server connections) before the seeded database."""
    with running_pgbouncer(seeded_database, pool_size=SERVER_CONNECTIONS) as running:
        yield running


@pytest.fixture(scope="module")
def pooled_settings(settings: Settings, seeded_database: EmbeddedCluster) -> Settings:
    """The server's settings behind PgBouncer: more client connections than server ones."""
    return settings.model_copy(update={
        "database_name": seeded_database.database, "database_pooler": "pgbouncer",
        "pool_size": 8, "pool_max_overflow": 0})


@pytest.fixture(scope="module")
async def engine(bouncer: PgBouncer, seeded_database: EmbeddedCluster,
                 pooled_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The least-privilege engine, through PgBouncer."""
    pooled = create_engine(bouncer.url(APP_ROLE, seeded_database.database), pooled_settings)
    yield pooled
    await pooled.dispose()


async def _unit(engine: AsyncEngine, settings: Settings,
                manager: company.ManagerDef) -> tuple[int, set[uuid.UUID], str]:
    """One unit of work: the caller's stores (a typed repository query), the identity
    and the server connection that served it."""
    async with SqlAlchemyUnitOfWork(engine, settings, manager.manager_id) as uow:
        stores = {store.store_id for store in await uow.stores.visible()}
        row = (await uow.session.execute(text(
            "SELECT pg_backend_pid(), current_setting('app.current_rls_user_id')"))).one()
        await asyncio.sleep(0)  # let other units interleave while this one holds its server
        return int(row[0]), stores, str(row[1])


async def test_every_manager_sees_only_their_stores_on_shared_server_connections(
    engine: AsyncEngine, pooled_settings: Settings
) -> None:
    units = [(manager, _unit(engine, pooled_settings, manager))
             for _ in range(ROUNDS) for manager in MANAGERS]
    answers = await asyncio.gather(*(work for _, work in units))

    served: dict[int, set[str]] = defaultdict(set)
    for (manager, _), (pid, stores, caller) in zip(units, answers, strict=True):
        assert caller == str(manager.manager_id)
        assert stores == company.visible_stores(manager), manager.name
        served[pid].add(manager.name)
    assert len(served) <= SERVER_CONNECTIONS
    # Two server connections, four managers: at least one of them served several.
    assert max(len(names) for names in served.values()) >= 2


async def test_no_identity_outlives_its_transaction(
    engine: AsyncEngine, pooled_settings: Settings, bouncer: PgBouncer,
    seeded_database: EmbeddedCluster
) -> None:
    used: set[int] = set()
    for manager in MANAGERS * 2:
        results = await asyncio.gather(*(_unit(engine, pooled_settings, manager)
                                         for _ in range(SERVER_CONNECTIONS * 2)))
        used |= {pid for pid, _, _ in results}
        with pytest.raises(DBAPIError):  # a unit that fails half-way leaves nothing either
            async with SqlAlchemyUnitOfWork(engine, pooled_settings,
                                            manager.manager_id) as uow:
                await uow.session.execute(text("SELECT 1 / 0"))

    # Hold every server connection at once, each in a plain transaction of a client that
    # sets nothing: what each shows is what the last unit on it left behind.
    clients = [await asyncpg.connect(host="127.0.0.1", port=bouncer.port, user=APP_ROLE,
                                     database=seeded_database.database,
                                     statement_cache_size=0)
               for _ in range(SERVER_CONNECTIONS)]
    try:
        states = []
        for client in clients:
            await client.execute("BEGIN")
            states.append(await client.fetchrow(_STATE))
        assert {state["pid"] for state in states} == used
        for state in states:
            assert state["caller"] in (None, "")
            assert state["role"] == APP_ROLE
            assert state["read_only"] == "off"
            assert state["changed"] == []
    finally:
        for client in clients:
            await client.close()


async def test_free_sql_through_the_guard(engine: AsyncEngine,
                                          pooled_settings: Settings) -> None:
    guard = await build_guard(engine)
    # More rows than one cursor batch (16), so every unit reads several round trips
    # while the others wait for a server connection.
    sql = ("SELECT o.store_id, o.order_id, s.name FROM retail.orders o "
           "JOIN retail.stores s USING (store_id) ORDER BY o.order_id")
    work = [(manager, run_as(engine, pooled_settings, guard, manager.manager_id, sql))
            for _ in range(3) for manager in MANAGERS]
    results = await asyncio.gather(*(query for _, query in work))
    for (manager, _), result in zip(work, results, strict=True):
        assert result.row_count > 16
        assert foreign_store_ids(result, manager) == set(), manager.name
        visible = {str(store) for store in company.visible_stores(manager)}
        assert {row[0] for row in result.rows} <= visible


async def test_without_the_setting_pgbouncer_refuses_the_login_with_a_hint(
    bouncer: PgBouncer, seeded_database: EmbeddedCluster, pooled_settings: Settings
) -> None:
    direct = pooled_settings.model_copy(update={"database_pooler": "none"})
    unpooled = create_engine(bouncer.url(APP_ROLE, seeded_database.database), direct)
    try:
        with pytest.raises(ConfigurationError, match="ZAVA_DATABASE_POOLER=pgbouncer"):
            async with SqlAlchemyUnitOfWork(unpooled, direct, MANAGERS[0].manager_id):
                pass
    finally:
        await unpooled.dispose()
    assert "unsupported startup parameter: jit" in bouncer.log.read_text()


async def test_ignoring_the_refusal_instead_breaks_on_the_next_server_connection(
    seeded_database: EmbeddedCluster, pooled_settings: Settings
) -> None:
    """Why the setting is more than the startup parameter: with PgBouncer told to ignore
    ``jit`` and the statement caches on, a query prepared (named) in one transaction is
    reused in the next, which runs on another server connection."""
    direct = pooled_settings.model_copy(update={"database_pooler": "none", "pool_size": 1})
    with running_pgbouncer(seeded_database, pool_size=2,
                           ignore_startup_parameters="jit") as lenient:
        url = lenient.url(APP_ROLE, seeded_database.database)
        cached = create_engine(url, direct)
        holder = await asyncpg.connect(host="127.0.0.1", port=lenient.port, user=APP_ROLE,
                                       database=seeded_database.database,
                                       statement_cache_size=0)
        try:
            first = await _unit(cached, direct, MANAGERS[0])  # prepares, on server A
            await holder.execute("BEGIN")  # takes server A (the last released)
            assert await holder.fetchval("SELECT pg_backend_pid()") == first[0]
            # invalid_sql_statement_name: prepared statement "__asyncpg_stmt_..." does
            # not exist
            with pytest.raises(ZavaError, match="SQLSTATE 26000") as failure:
                await _unit(cached, direct, MANAGERS[0])  # its cached statement, on B
            assert "does not exist" in str(failure.value.__cause__)
        finally:
            await holder.close()
            await cached.dispose()

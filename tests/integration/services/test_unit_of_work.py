"""The unit of work on the tiny seed: identity, read-only role switch, pool hygiene."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.driver import driver_of
from zava.config import Settings
from zava.db.engine import create_engine
from zava.errors import AuthorizationError, QueryTimeoutError
from zava.provision.embedded import EmbeddedCluster
from zava.security.sql_guard import GuardedQuery
from zava.seeding import company
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

MANAGERS = company.managers()


async def expected_order_stores(admin: AsyncEngine, manager: company.ManagerDef) -> set[uuid.UUID]:
    visible = company.visible_stores(manager)
    async with admin.connect() as connection:
        stores = {r[0] for r in await connection.execute(
            text("SELECT DISTINCT store_id FROM retail.orders"))}
    return stores & visible


async def test_unknown_caller_is_refused_before_any_read(
    seeded_app_engine: AsyncEngine, settings: Settings
) -> None:
    for caller in (uuid.UUID(int=0), uuid.UUID("c0ffee00-0000-4000-8000-0000000000ff")):
        with pytest.raises(AuthorizationError, match="unknown caller"):
            async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, caller):
                pytest.fail("entered a unit of work for an unknown caller")
    with pytest.raises(AuthorizationError, match="no caller identity"):
        async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, None):
            pytest.fail("entered a unit of work without a caller")


async def test_unit_applies_role_identity_timeouts_and_read_only(
    seeded_app_engine: AsyncEngine, settings: Settings
) -> None:
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, company.SEATTLE_MANAGER_ID) as uow:
        row = (await uow.connection.execute(text(
            "SELECT current_user, current_setting('app.current_rls_user_id'), "
            "current_setting('transaction_read_only'), "
            "(SELECT setting FROM pg_settings WHERE name = 'statement_timeout'), "
            "(SELECT setting FROM pg_settings WHERE name = 'lock_timeout'), "
            "current_setting('search_path')"))).one()
    assert row[0] == "zava_store_reader"
    assert row[1] == str(company.SEATTLE_MANAGER_ID)
    assert row[2] == "on"
    assert row[3] == str(settings.statement_timeout_ms)
    assert row[4] == str(settings.lock_timeout_ms)
    assert row[5] == "retail, public"


@pytest.mark.parametrize(("caller", "role"), [
    (company.SEATTLE_MANAGER_ID, "zava_store_reader"),
    (company.EASTSIDE_REGIONAL_ID, "zava_reader"),
    (company.HEAD_OFFICE_ID, "zava_all_reader"),
])
async def test_reader_role_follows_the_number_of_stores(
    seeded_app_engine: AsyncEngine, settings: Settings, caller: uuid.UUID, role: str
) -> None:
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, caller) as uow:
        assert await uow.connection.scalar(text("SELECT current_user")) == role


async def test_nothing_survives_on_the_pooled_connection(
    seeded_database: EmbeddedCluster, settings: Settings
) -> None:
    engine = create_engine(seeded_database.app_url,
                           settings.model_copy(update={"pool_size": 1, "pool_max_overflow": 0}))
    try:
        async with SqlAlchemyUnitOfWork(engine, settings, company.HEAD_OFFICE_ID) as uow:
            pid = await uow.connection.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as connection:
            row = (await connection.execute(text(
                "SELECT pg_backend_pid(), current_user, "
                "current_setting('app.current_rls_user_id', true)"))).one()
    finally:
        await engine.dispose()
    assert row[0] == pid  # the same pooled connection
    assert row[1] == "zava_app"
    assert row[2] in (None, "")


async def test_writes_fail_inside_a_read_unit(
    seeded_app_engine: AsyncEngine, settings: Settings
) -> None:
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, company.HEAD_OFFICE_ID) as uow:
            await (await driver_of(uow)).execute("DELETE FROM retail.orders")


async def test_statement_timeout_is_a_query_timeout_error(
    seeded_app_engine: AsyncEngine, settings: Settings
) -> None:
    quick = settings.model_copy(update={"statement_timeout_ms": 200})
    # built by hand: the guard would refuse pg_sleep
    slow = GuardedQuery(sql="SELECT pg_sleep(5)", is_explain=False, tables=frozenset())
    with pytest.raises(QueryTimeoutError, match="time limit"):
        async with SqlAlchemyUnitOfWork(seeded_app_engine, quick, company.HEAD_OFFICE_ID) as uow:
            await uow.queries.run(slow, max_rows=10, max_bytes=10_000)


async def test_superuser_login_is_still_filtered_by_the_role_switch(
    seeded_admin_engine: AsyncEngine, settings: Settings
) -> None:
    seattle = company.store_named("Seattle").store_id
    async with SqlAlchemyUnitOfWork(seeded_admin_engine, settings, company.SEATTLE_MANAGER_ID) as uow:
        stores = {r[0] for r in await uow.connection.execute(
            text("SELECT DISTINCT store_id FROM retail.orders"))}
    assert stores == {seattle}


async def test_pool_of_two_never_carries_a_tenant_over(
    seeded_database: EmbeddedCluster, seeded_admin_engine: AsyncEngine, settings: Settings
) -> None:
    small = settings.model_copy(update={"pool_size": 2, "pool_max_overflow": 0,
                                        "pool_timeout_s": 30.0})
    engine = create_engine(seeded_database.app_url, small)
    expected = {m.manager_id: await expected_order_stores(seeded_admin_engine, m)
                for m in MANAGERS}
    callers = [MANAGERS[i % len(MANAGERS)].manager_id for i in range(200)]
    random.Random(7).shuffle(callers)

    async def one(caller: uuid.UUID) -> tuple[uuid.UUID, set[uuid.UUID]]:
        async with SqlAlchemyUnitOfWork(engine, small, caller) as uow:
            await asyncio.sleep(0)  # interleave with the other units
            rows = await uow.connection.execute(
                text("SELECT DISTINCT store_id FROM retail.orders"))
            return caller, {r[0] for r in rows}

    try:
        results = await asyncio.gather(*(one(c) for c in callers))
    finally:
        await engine.dispose()
    assert len(results) == 200
    for caller, seen in results:
        assert seen == expected[caller]


async def test_an_open_unit_cannot_be_entered_again(
    seeded_app_engine: AsyncEngine, settings: Settings
) -> None:
    checked_out = seeded_app_engine.pool.checkedout()  # type: ignore[attr-defined]
    uow = SqlAlchemyUnitOfWork(seeded_app_engine, settings, company.SEATTLE_MANAGER_ID)
    async with uow:
        with pytest.raises(RuntimeError, match="already open"):
            async with uow:
                pytest.fail("entered an open unit of work")
        assert (await uow.stores.visible())[0].name == "Seattle"  # still its own
    assert seeded_app_engine.pool.checkedout() == checked_out  # type: ignore[attr-defined]

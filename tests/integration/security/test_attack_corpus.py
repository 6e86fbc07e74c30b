"""The hostile-query corpus (tests/unit/security/attacks.txt) through the whole stack, and
each layer alone: the guard switched off, and a superuser login with the guard on."""

from __future__ import annotations

import re

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.attacks import ATTACKS
from tests.support.driver import driver_of
from tests.support.isolation import (
    SEATTLE,
    build_guard,
    database_fingerprint,
    foreign_store_ids,
    run_as,
)
from zava.config import Settings
from zava.errors import QueryRejectedError, QueryTimeoutError, ZavaError
from zava.provision.embedded import EmbeddedCluster
from zava.security.sql_guard import SqlGuard
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

WRITE_OR_DDL = re.compile(
    r"\b(INSERT|UPDATE|DELETE|TRUNCATE|CREATE|DROP|ALTER|INTO|LOCK|COPY|VACUUM|"
    r"FOR UPDATE|FOR SHARE|SET ROLE|SESSION AUTHORIZATION)\b", re.IGNORECASE)
# PREPARE only parses (nothing runs), so it is no write to stop.
WRITES = [line for line in ATTACKS
          if WRITE_OR_DDL.search(line) and not line.upper().startswith("PREPARE")]


@pytest.fixture(scope="module")
async def guard(seeded_admin_engine: AsyncEngine) -> SqlGuard:
    return await build_guard(seeded_admin_engine)


@pytest.fixture(scope="module")
async def pristine(seeded_admin_engine: AsyncEngine) -> dict[str, object]:
    return await database_fingerprint(seeded_admin_engine)


async def seattle_customers(admin: AsyncEngine) -> set[str]:
    async with admin.connect() as connection:
        rows = await connection.execute(text("""
            SELECT c.customer_id::text FROM retail.customers c
            JOIN retail.stores s ON s.store_id = c.store_id WHERE s.name = 'Seattle'
            UNION SELECT o.customer_id::text FROM retail.orders o
            JOIN retail.stores s USING (store_id) WHERE s.name = 'Seattle'"""))
        return {r[0] for r in rows}


def test_corpus_is_there() -> None:
    assert len(ATTACKS) >= 60 and len(WRITES) >= 20


@pytest.mark.parametrize("attack", ATTACKS)
async def test_attack_is_rejected_or_sees_only_the_callers_rows(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
    guard: SqlGuard, pristine: dict[str, object], attack: str,
) -> None:
    quick = settings.model_copy(update={"statement_timeout_ms": 2000})
    try:
        result = await run_as(seeded_app_engine, quick, guard, SEATTLE.manager_id, attack)
    except (QueryRejectedError, QueryTimeoutError):
        pass
    else:
        assert not foreign_store_ids(result, SEATTLE) or "customers" in attack
        if "customers" in attack and result.columns and "customer_id" in result.columns:
            index = result.columns.index("customer_id")
            allowed = await seattle_customers(seeded_admin_engine)
            assert {row[index] for row in result.rows} <= allowed
    assert await database_fingerprint(seeded_admin_engine) == pristine


@pytest.mark.parametrize("attack", WRITES)
async def test_without_the_guard_read_only_and_privileges_stop_every_write(
    seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
    pristine: dict[str, object], attack: str,
) -> None:
    with pytest.raises((ZavaError, asyncpg.PostgresError)):
        async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, SEATTLE.manager_id) as uow:
            # The simple query protocol: several statements in one string, guard bypassed.
            await (await driver_of(uow)).execute(attack)
    assert await database_fingerprint(seeded_admin_engine) == pristine


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a not in WRITES])
async def test_superuser_login_with_the_guard_still_sees_only_the_callers_rows(
    seeded_admin_engine: AsyncEngine, settings: Settings, guard: SqlGuard,
    pristine: dict[str, object], attack: str,
) -> None:
    quick = settings.model_copy(update={"statement_timeout_ms": 2000})
    try:
        result = await run_as(seeded_admin_engine, quick, guard, SEATTLE.manager_id, attack)
    except (QueryRejectedError, QueryTimeoutError):
        return
    assert not foreign_store_ids(result, SEATTLE) or "customers" in attack
    assert await database_fingerprint(seeded_admin_engine) == pristine


async def test_without_the_guard_a_notify_is_never_delivered(
    seeded_database: EmbeddedCluster, seeded_app_engine: AsyncEngine, settings: Settings
) -> None:
    """NOTIFY is queued until commit; a read unit always rolls back."""
    listener = await asyncpg.connect(host=str(seeded_database.socket_dir),
                                     port=seeded_database.port, user="postgres",
                                     database=seeded_database.database)
    received: list[str] = []
    await listener.add_listener("zava", lambda *args: received.append(args[-1]))
    try:
        async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, SEATTLE.manager_id) as uow:
            await (await driver_of(uow)).execute("NOTIFY zava, 'hello'")
        await listener.execute("SELECT 1")  # give a delivery the chance to arrive
    finally:
        await listener.close()
    assert received == []

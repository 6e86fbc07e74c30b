"""Identity the login cannot forge: a login bound to one manager (``zava db grant-login
--manager``) sees that manager's rows only, with plain SQL and with Zava; it cannot claim
another id through ``app.current_rls_user_id`` (ZV001). A login that can become
``zava_reader`` but not ``zava_store_reader`` is refused at start-up and failed by
``zava doctor``, both naming ``zava db grant-login``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.db.engine import create_engine
from zava.errors import AuthorizationError, ConfigurationError, ValidationError
from zava.provision.bootstrap import grant_reader
from zava.provision.doctor import Status, run_checks
from zava.provision.embedded import APP_ROLE, EmbeddedCluster
from zava.provision.health import require_servable
from zava.provision.target import DatabaseTarget
from zava.seeding import company
from zava.services import analytics
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

SEATTLE = company.SEATTLE_MANAGER_ID
HEAD_OFFICE = company.HEAD_OFFICE_ID
SEATTLE_STORE = company.store_named("Seattle").store_id
READERS = ("zava_reader", "zava_store_reader")
# Every table under row-level security, and what the caller sees of it.
TABLES = ("stores", "customers", "orders", "order_items", "inventory")
SUFFIX = uuid.uuid4().hex[:6]  # roles are cluster-wide: names of this run alone
BOUND = f"mgr_seattle_{SUFFIX}"
READER_ONLY = f"zr_only_{SUFFIX}"


@pytest.fixture(scope="module")
async def bound_login(seeded_database: EmbeddedCluster) -> str:
    """``grant_reader(..., manager=Seattle)``: a new login, bound to Seattle's manager."""
    password = await grant_reader(seeded_database.admin_url, BOUND, manager=SEATTLE)
    assert password and len(password) >= 24  # created now; shown once
    return BOUND


async def connect(database: EmbeddedCluster, role: str) -> asyncpg.Connection:
    """Plain asyncpg as ``role`` on the cluster's socket (no Zava in between)."""
    return await asyncpg.connect(host=str(database.socket_dir), port=database.port,
                                 user=role, database=database.database)


@asynccontextmanager
async def superuser(database: EmbeddedCluster) -> AsyncIterator[asyncpg.Connection]:
    """Plain asyncpg as the cluster's superuser."""
    connection = await connect(database, "postgres")
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def as_bound(seeded_database: EmbeddedCluster,
                   bound_login: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connect(seeded_database, bound_login)
    yield connection
    await connection.close()


async def counts(connection: asyncpg.Connection) -> dict[str, int]:
    return {table: await connection.fetchval(f"SELECT count(*) FROM retail.{table}")
            for table in TABLES}


@pytest.fixture(scope="module")
async def seattle_sees(seeded_database: EmbeddedCluster) -> dict[str, int]:
    """What Seattle's manager sees through the server's own login, the usual way."""
    connection = await connect(seeded_database, APP_ROLE)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE zava_reader")
            await connection.execute(
                "SELECT set_config('app.current_rls_user_id', $1, true)", str(SEATTLE))
            return await counts(connection)
    finally:
        await connection.close()


async def test_the_oracle_is_seattle_only(seattle_sees: dict[str, int],
                                          seeded_admin_engine: AsyncEngine) -> None:
    async with seeded_admin_engine.connect() as admin:
        orders = await admin.scalar(text(
            "SELECT count(*) FROM retail.orders WHERE store_id = :store"),
            {"store": SEATTLE_STORE})
        everything = await admin.scalar(text("SELECT count(*) FROM retail.orders"))
    assert seattle_sees["orders"] == orders and 0 < orders < everything
    assert seattle_sees["stores"] == 1


@pytest.mark.parametrize("reader", READERS)
async def test_without_a_claim_it_sees_exactly_seattle(
        as_bound: asyncpg.Connection, seattle_sees: dict[str, int], reader: str) -> None:
    await as_bound.execute(f"SET ROLE {reader}")
    assert await counts(as_bound) == seattle_sees
    stores = await as_bound.fetch("SELECT DISTINCT store_id FROM retail.orders")
    assert [r["store_id"] for r in stores] == [SEATTLE_STORE]
    assert await as_bound.fetchval("SELECT retail.current_manager_id()") == SEATTLE


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("claim", [str(HEAD_OFFICE), str(company.BELLEVUE_MANAGER_ID),
                                   str(uuid.uuid4()), "not-a-uuid", str(SEATTLE).upper() + "x"],
                         ids=["head-office", "bellevue", "unknown", "malformed", "garbled"])
@pytest.mark.parametrize("local", [False, True], ids=["session", "transaction"])
async def test_claiming_another_id_is_refused(
        as_bound: asyncpg.Connection, reader: str, claim: str, local: bool) -> None:
    await as_bound.execute(f"SET ROLE {reader}")
    async with as_bound.transaction():
        await as_bound.execute("SELECT set_config('app.current_rls_user_id', $1, $2)",
                               claim, local)
        with pytest.raises(asyncpg.PostgresError) as refused:
            await as_bound.fetch("SELECT * FROM retail.orders")
    assert refused.value.sqlstate == "ZV001"
    assert BOUND in str(refused.value) and "may act only as its own manager" in \
        str(refused.value)


@pytest.mark.parametrize("reader", READERS)
async def test_set_and_reset_cannot_escape_the_binding(
        as_bound: asyncpg.Connection, seattle_sees: dict[str, int], reader: str) -> None:
    await as_bound.execute(f"SET ROLE {reader}")
    await as_bound.execute(f"SET app.current_rls_user_id = '{HEAD_OFFICE}'")
    for table in TABLES:
        with pytest.raises(asyncpg.PostgresError) as refused:
            await as_bound.fetchval(f"SELECT count(*) FROM retail.{table}")
        assert refused.value.sqlstate == "ZV001", table
    # claiming its own id, or nothing, is fine
    await as_bound.execute(f"SET app.current_rls_user_id = '{SEATTLE}'")
    assert await counts(as_bound) == seattle_sees
    await as_bound.execute("RESET app.current_rls_user_id")
    assert await counts(as_bound) == seattle_sees


async def test_it_cannot_leave_the_reader_roles(as_bound: asyncpg.Connection) -> None:
    # as itself (NOINHERIT) it reads nothing; it may not become the owner or the admin
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_bound.fetchval("SELECT count(*) FROM retail.orders")
    for role in ("zava_owner", APP_ROLE, "postgres"):
        with pytest.raises(asyncpg.PostgresError):
            await as_bound.execute(f"SET ROLE {role}")
    with pytest.raises(asyncpg.PostgresError):
        await as_bound.execute("SET SESSION AUTHORIZATION postgres")
    await as_bound.execute("SET ROLE zava_reader")
    for statement in ("SELECT * FROM retail.manager_logins",
                      f"DELETE FROM retail.manager_logins WHERE login = '{BOUND}'",
                      f"UPDATE retail.manager_logins SET manager_id = '{HEAD_OFFICE}'"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_bound.execute(statement)


async def test_it_has_the_reader_limits(as_bound: asyncpg.Connection) -> None:
    assert await as_bound.fetchval("SHOW temp_file_limit") == "1GB"
    assert await as_bound.fetchval("SHOW work_mem") == "16MB"
    role = await as_bound.fetchrow(
        "SELECT rolinherit, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb "
        "FROM pg_roles WHERE rolname = current_user")
    assert tuple(role) == (False, False, False, False, False)


async def test_a_unit_of_work_acts_only_as_the_bound_manager(
        seeded_database: EmbeddedCluster, settings: Settings, bound_login: str) -> None:
    engine = create_engine(seeded_database.url(bound_login), settings)
    try:
        with pytest.raises(AuthorizationError) as refused:
            await analytics.visible_stores(SqlAlchemyUnitOfWork(engine, settings, HEAD_OFFICE))
        assert "--rls-user" in refused.value.message
        assert "zava db grant-login" in refused.value.message
        with pytest.raises(AuthorizationError):
            await analytics.visible_stores(
                SqlAlchemyUnitOfWork(engine, settings, company.BELLEVUE_MANAGER_ID))
        stores = await analytics.visible_stores(SqlAlchemyUnitOfWork(engine, settings, SEATTLE))
        assert [s.name for s in stores] == ["Seattle"]
        assert await analytics.caller_scope(
            SqlAlchemyUnitOfWork(engine, settings, SEATTLE)) == "store"
        # a refused unit leaves nothing behind on its pooled connection
        stores = await analytics.visible_stores(SqlAlchemyUnitOfWork(engine, settings, SEATTLE))
        assert [s.name for s in stores] == ["Seattle"]
    finally:
        await engine.dispose()


async def test_a_bound_login_may_serve(seeded_database: EmbeddedCluster, settings: Settings,
                                       bound_login: str) -> None:
    engine = create_engine(seeded_database.url(bound_login), settings)
    try:
        async with engine.connect() as connection:
            await require_servable(connection, allow_privileged_login=False)
    finally:
        await engine.dispose()
    target = DatabaseTarget(app_url=seeded_database.url(bound_login),
                            admin_url=seeded_database.admin_url)
    checks = await run_checks(settings, target)
    assert not [c for c in checks if c.status is Status.FAIL], checks


async def test_binding_again_rebinds_without_a_new_password(
        seeded_database: EmbeddedCluster, bound_login: str) -> None:
    assert await grant_reader(seeded_database.admin_url, bound_login, manager=SEATTLE) is None
    connection = await connect(seeded_database, bound_login)
    try:
        await connection.execute("SET ROLE zava_reader")
        assert await connection.fetchval("SELECT retail.current_manager_id()") == SEATTLE
    finally:
        await connection.close()


@pytest.mark.parametrize(("role", "manager", "message"), [
    (f"mgr_nobody_{SUFFIX}", uuid.UUID(int=7), "no manager has the id"),
    ("Robert'); DROP TABLE x; --", SEATTLE, "not a plain lower-case role name"),
    ("UPPER", SEATTLE, "not a plain lower-case role name"),
])
async def test_grant_login_refuses_bad_input(seeded_database: EmbeddedCluster, role: str,
                                             manager: uuid.UUID, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        await grant_reader(seeded_database.admin_url, role, manager=manager)
    async with superuser(seeded_database) as admin:
        assert not await admin.fetchval(
            "SELECT count(*) FROM pg_roles WHERE rolname = $1", role)


# A login that can become zava_reader only: the role the design first described.

@pytest.fixture(scope="module")
async def reader_only_login(seeded_database: EmbeddedCluster) -> str:
    async with superuser(seeded_database) as admin:
        await admin.execute(f"CREATE ROLE {READER_ONLY} LOGIN NOSUPERUSER NOINHERIT")
        await admin.execute(f"GRANT zava_reader TO {READER_ONLY} WITH INHERIT FALSE, SET TRUE")
        await admin.execute(
            f'GRANT CONNECT ON DATABASE "{seeded_database.database}" TO {READER_ONLY}')
    return READER_ONLY


async def test_start_up_refuses_a_reader_only_login(
        seeded_database: EmbeddedCluster, settings: Settings, reader_only_login: str) -> None:
    engine = create_engine(seeded_database.url(reader_only_login), settings)
    try:
        async with engine.connect() as connection:
            with pytest.raises(ConfigurationError) as refused:
                await require_servable(connection, allow_privileged_login=False)
    finally:
        await engine.dispose()
    message = refused.value.message
    assert f"zava db grant-login {reader_only_login}" in message
    assert "zava_store_reader" in message and "SET ROLE" in message


async def test_doctor_fails_a_reader_only_login(
        seeded_database: EmbeddedCluster, settings: Settings, reader_only_login: str) -> None:
    target = DatabaseTarget(app_url=seeded_database.url(reader_only_login),
                            admin_url=seeded_database.admin_url)
    checks = await run_checks(settings, target)
    failed = [c for c in checks if c.status is Status.FAIL]
    assert failed, checks
    assert any("zava db grant-login" in c.detail and "zava_store_reader" in c.detail
               for c in failed), failed


async def test_grant_login_repairs_a_reader_only_login(
        seeded_database: EmbeddedCluster, settings: Settings, reader_only_login: str) -> None:
    assert await grant_reader(seeded_database.admin_url, reader_only_login) is None
    engine = create_engine(seeded_database.url(reader_only_login), settings)
    try:
        async with engine.connect() as connection:
            await require_servable(connection, allow_privileged_login=False)
    finally:
        await engine.dispose()
    target = DatabaseTarget(app_url=seeded_database.url(reader_only_login),
                            admin_url=seeded_database.admin_url)
    assert not [c for c in await run_checks(settings, target) if c.status is Status.FAIL]

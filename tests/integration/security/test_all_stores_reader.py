"""``zava_all_reader``, the reader for callers who see every store (migration 0007): head
office reads through it what the admin reads; everyone else who reaches it (a manager who
sets the role by hand, a bound login, an unknown caller) sees nothing through it. RLS stays
forced on every tenant table, customers too."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.db.roles import ALL_STORES_READER_ROLE, READER_ROLES
from zava.provision.bootstrap import grant_reader
from zava.provision.embedded import APP_ROLE, EmbeddedCluster
from zava.provision.health import roles_out_of_reach
from zava.seeding import company
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

ROLE = ALL_STORES_READER_ROLE
TABLES = ("stores", "customers", "orders", "order_items", "inventory")
FORCED = ("customers", "orders", "order_items", "inventory")
NOT_ALL = [m for m in company.managers() if m.scope != "head_office"]
SEATTLE = company.SEATTLE_MANAGER_ID
HEAD_OFFICE = company.HEAD_OFFICE_ID
SUFFIX = uuid.uuid4().hex[:6]  # roles are cluster-wide: names of this run alone
BOUND = f"mgr_seattle_all_{SUFFIX}"
DENIED = {
    "unset": None,
    "empty": "",
    "malformed": "not-a-uuid",
    "nil": "00000000-0000-0000-0000-000000000000",
    "unknown": "c0ffee00-0000-4000-8000-0000000000ff",
}


async def connect(database: EmbeddedCluster, role: str) -> asyncpg.Connection:
    """Plain asyncpg as ``role`` on the cluster's socket (no Zava in between)."""
    return await asyncpg.connect(host=str(database.socket_dir), port=database.port,
                                 user=role, database=database.database)


async def counts(connection: asyncpg.Connection) -> dict[str, int]:
    return {table: await connection.fetchval(f"SELECT count(*) FROM retail.{table}")
            for table in TABLES}


@pytest.fixture(scope="module")
async def everything(seeded_database: EmbeddedCluster) -> dict[str, int]:
    """Every row, counted by the superuser (no RLS)."""
    connection = await connect(seeded_database, "postgres")
    try:
        return await counts(connection)
    finally:
        await connection.close()


@pytest.fixture
async def as_app(seeded_database: EmbeddedCluster) -> AsyncIterator[asyncpg.Connection]:
    """The server's own login, by hand."""
    connection = await connect(seeded_database, APP_ROLE)
    yield connection
    await connection.close()


async def test_head_office_reads_everything_through_the_unit_of_work(
        seeded_app_engine: AsyncEngine, settings: Settings, everything: dict[str, int]) -> None:
    assert all(everything.values()), everything
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, HEAD_OFFICE) as uow:
        role = await uow.connection.scalar(text("SELECT current_user"))
        seen = {table: await uow.connection.scalar(text(f"SELECT count(*) FROM retail.{table}"))
                for table in TABLES}
        by_store = (await uow.connection.execute(text(
            "SELECT s.name, count(*) FROM retail.orders o JOIN retail.stores s "
            "USING (store_id) GROUP BY s.name"))).all()
    assert role == ROLE
    assert seen == everything
    assert len(by_store) == len(company.stores())


@pytest.mark.parametrize(("caller", "role"), [
    (SEATTLE, "zava_store_reader"),
    (company.EASTSIDE_REGIONAL_ID, "zava_reader"),
    (HEAD_OFFICE, ROLE),
])
async def test_the_identity_script_picks_the_role(
        as_app: asyncpg.Connection, caller: uuid.UUID, role: str) -> None:
    async with as_app.transaction(readonly=True):
        await as_app.execute("SET LOCAL ROLE zava_reader")
        await as_app.execute("SELECT set_config('app.current_rls_user_id', $1, true)", str(caller))
        assert await as_app.fetchval("SELECT retail.caller_reader_role()") == role
        assert await as_app.fetchval("SELECT retail.caller_sees_all_stores()") is (role == ROLE)


@pytest.mark.parametrize("manager", NOT_ALL, ids=lambda m: m.name)
async def test_a_manager_who_sets_the_role_by_hand_sees_nothing(
        as_app: asyncpg.Connection, manager: company.ManagerDef) -> None:
    async with as_app.transaction(readonly=True):
        await as_app.execute(f"SET LOCAL ROLE {ROLE}")
        await as_app.execute("SELECT set_config('app.current_rls_user_id', $1, true)",
                             str(manager.manager_id))
        assert await counts(as_app) == dict.fromkeys(TABLES, 0)
        assert not await as_app.fetchval("SELECT retail.caller_sees_all_stores()")


@pytest.mark.parametrize("setting", DENIED.values(), ids=DENIED.keys())
async def test_no_valid_identity_sees_nothing(as_app: asyncpg.Connection,
                                              setting: str | None) -> None:
    async with as_app.transaction(readonly=True):
        await as_app.execute(f"SET LOCAL ROLE {ROLE}")
        if setting is not None:
            await as_app.execute("SELECT set_config('app.current_rls_user_id', $1, true)",
                                 setting)
        assert await counts(as_app) == dict.fromkeys(TABLES, 0)


@pytest.fixture(scope="module")
async def bound_login(seeded_database: EmbeddedCluster) -> str:
    """``grant_reader(..., manager=Seattle)``: a new login, bound to Seattle's manager."""
    await grant_reader(seeded_database.admin_url, BOUND, manager=SEATTLE)
    return BOUND


async def test_a_bound_login_cannot_widen_its_view(
        seeded_database: EmbeddedCluster, bound_login: str) -> None:
    connection = await connect(seeded_database, bound_login)
    try:
        await connection.execute(f"SET ROLE {ROLE}")  # grant-login grants every reader
        assert await counts(connection) == dict.fromkeys(TABLES, 0)
        await connection.execute(f"SET app.current_rls_user_id = '{SEATTLE}'")
        assert await counts(connection) == dict.fromkeys(TABLES, 0)
        await connection.execute(f"SET app.current_rls_user_id = '{HEAD_OFFICE}'")
        with pytest.raises(asyncpg.PostgresError) as refused:
            await connection.fetchval("SELECT count(*) FROM retail.orders")
        assert refused.value.sqlstate == "ZV001"
    finally:
        await connection.close()


@pytest.mark.parametrize("statement", [
    "INSERT INTO retail.orders SELECT * FROM retail.orders LIMIT 1",
    "UPDATE retail.orders SET store_id = store_id",
    "DELETE FROM retail.customers",
    "TRUNCATE retail.inventory",
    "SELECT * FROM retail.managers",
    "SELECT * FROM retail.manager_logins",
])
async def test_it_reads_and_writes_no_more_than_the_other_readers(
        as_app: asyncpg.Connection, statement: str) -> None:
    async with as_app.transaction():  # read-write on purpose: privileges alone must stop it
        await as_app.execute(f"SET LOCAL ROLE {ROLE}")
        await as_app.execute("SELECT set_config('app.current_rls_user_id', $1, true)",
                             str(HEAD_OFFICE))
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_app.execute(statement)


async def test_rls_is_still_forced_and_the_role_is_plain(
        seeded_admin_engine: AsyncEngine) -> None:
    async with seeded_admin_engine.connect() as admin:
        flags = {r[0]: (r[1], r[2]) for r in await admin.execute(text(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relnamespace = 'retail'::regnamespace AND relname = ANY(:tables)"),
            {"tables": list(TABLES)})}
        policies = {(r[0], r[1]) for r in await admin.execute(text(
            "SELECT tablename, cmd FROM pg_policies WHERE schemaname = 'retail' "
            "AND :role = ANY(roles)"), {"role": ROLE})}
        role = (await admin.execute(text(
            "SELECT rolcanlogin, rolsuper, rolbypassrls, rolinherit FROM pg_roles "
            "WHERE rolname = :role"), {"role": ROLE})).one()
        # the readers are independent: no reader is a member of another
        memberships = await admin.scalar(text(
            "SELECT count(*) FROM pg_auth_members a WHERE a.roleid::regrole::text = ANY(:r) "
            "AND a.member::regrole::text = ANY(:r)"), {"r": list(READER_ROLES)})
    assert flags == {t: (True, t in FORCED) for t in TABLES}
    assert policies == {(t, "SELECT") for t in TABLES}
    assert tuple(role)[:3] == (False, False, False)
    assert memberships == 0


async def test_the_servers_login_may_become_it(seeded_app_engine: AsyncEngine) -> None:
    async with seeded_app_engine.connect() as connection:
        assert await roles_out_of_reach(connection) == []


@pytest.mark.parametrize("manager", company.managers(), ids=lambda m: m.name)
async def test_the_scope_functions_answer_each_managers_stores(
        as_app: asyncpg.Connection, manager: company.ManagerDef) -> None:
    visible = sorted(company.visible_stores(manager))
    async with as_app.transaction(readonly=True):
        await as_app.execute("SET LOCAL ROLE zava_reader")
        await as_app.execute("SELECT set_config('app.current_rls_user_id', $1, true)",
                             str(manager.manager_id))
        row = await as_app.fetchrow(
            "SELECT retail.visible_store_ids() AS ids, retail.caller_single_store() AS one, "
            "retail.caller_sees_all_stores() AS every")
    assert row["ids"] == visible
    assert row["one"] == (visible[0] if len(visible) == 1 else None)
    assert row["every"] is (len(visible) == len(company.stores()))


@pytest.mark.parametrize("setting", DENIED.values(), ids=DENIED.keys())
async def test_the_scope_functions_answer_nothing_for_no_valid_identity(
        as_app: asyncpg.Connection, setting: str | None) -> None:
    async with as_app.transaction(readonly=True):
        await as_app.execute("SET LOCAL ROLE zava_reader")
        if setting is not None:
            await as_app.execute("SELECT set_config('app.current_rls_user_id', $1, true)",
                                 setting)
        row = await as_app.fetchrow(
            "SELECT retail.visible_store_ids() AS ids, retail.caller_single_store() AS one, "
            "retail.caller_sees_all_stores() AS every")
    assert tuple(row) == ([], None, False)

"""Row-level security at the database level, as the reader role with the identity set
transaction-locally, on rows built with factory-boy (no server code involved)."""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from tests.integration import factories as f
from zava.db import models
from zava.seeding import company

TENANT_TABLES = ("inventory", "orders", "order_items")
FILTERED_TABLES = (*TENANT_TABLES, "stores")
MANAGERS = company.managers()
DENIED_SETTINGS = {
    "unset": None,
    "empty": "",
    "malformed": "not-a-uuid",
    "sql-ish": "' OR true --",
    "nil": "00000000-0000-0000-0000-000000000000",
    "unknown": "c0ffee00-0000-4000-8000-0000000000ff",
}


@pytest.fixture(scope="module")
async def rows(admin_engine: AsyncEngine) -> dict[str, list[object]]:
    """The company's stores and managers, plus a few customers, products and orders each."""
    built: dict[str, list[object]] = defaultdict(list)
    for s in company.stores():
        built["stores"].append(f.StoreFactory(
            store_id=s.store_id, name=s.name, location=s.location, region=s.region,
            is_online=s.is_online,
        ))
    for m in MANAGERS:
        built["managers"].append(f.ManagerFactory(
            manager_id=m.manager_id, name=m.name, email=m.email, scope=m.scope, region=m.region
        ))
        if m.store:
            built["manager_stores"].append(models.ManagerStore(
                manager_id=m.manager_id, store_id=company.store_named(m.store).store_id
            ))
    category = f.CategoryFactory()
    product_type = f.ProductTypeFactory(category_id=category.category_id)
    products = [
        f.ProductFactory(category_id=category.category_id,
                         product_type_id=product_type.product_type_id)
        for _ in range(3)
    ]
    built["categories"].append(category)
    built["product_types"].append(product_type)
    built["products"] += products
    for n, s in enumerate(company.stores()):
        customers = [f.CustomerFactory(store_id=s.store_id) for _ in range(2)]
        built["customers"] += customers
        built["inventory"] += [
            f.InventoryFactory(store_id=s.store_id, product_id=p.product_id) for p in products
        ]
        for k in range(n % 3 + 1):
            order = f.OrderFactory(store_id=s.store_id, customer_id=customers[k % 2].customer_id)
            items = [
                f.OrderItemFactory(store_id=s.store_id, order_id=order.order_id,
                                   product_id=p.product_id)
                for p in products[: k + 1]
            ]
            order.total_amount = sum(i.total_amount for i in items)
            built["orders"].append(order)
            built["order_items"] += items
    # A Seattle customer who also bought in Bellevue: Bellevue's manager sees them too.
    traveller = f.CustomerFactory(store_id=company.store_named("Seattle").store_id)
    built["customers"].append(traveller)
    bellevue = company.store_named("Bellevue").store_id
    away_order = f.OrderFactory(store_id=bellevue, customer_id=traveller.customer_id)
    built["orders"].append(away_order)
    built["order_items"].append(f.OrderItemFactory(
        store_id=bellevue, order_id=away_order.order_id, product_id=products[0].product_id
    ))
    async with AsyncSession(admin_engine, expire_on_commit=False) as session:
        for group in ("stores", "managers", "manager_stores", "categories", "product_types",
                      "products", "customers",
                      "inventory", "orders", "order_items"):
            session.add_all(built[group])
            await session.flush()
        await session.commit()
    return dict(built)


async def as_reader(connection: AsyncConnection, setting: str | None,
                    role: str = "zava_reader") -> None:
    """Begin a read-only transaction as ``role`` with ``setting`` as the caller."""
    await connection.execute(text("SET TRANSACTION READ ONLY"))
    await connection.execute(text(f"SET LOCAL ROLE {role}"))
    if setting is not None:
        await connection.execute(
            text("SELECT set_config('app.current_rls_user_id', :id, true)"), {"id": setting}
        )


async def seen_store_ids(engine: AsyncEngine, setting: str | None, table: str,
                         role: str = "zava_reader") -> list[uuid.UUID]:
    async with engine.connect() as connection:
        await as_reader(connection, setting, role)
        result = await connection.execute(text(f"SELECT store_id FROM retail.{table}"))
        return [row[0] for row in result]


def expected_store_ids(rows: dict[str, list[object]], table: str,
                       visible: frozenset[uuid.UUID]) -> list[uuid.UUID]:
    return sorted(r.store_id for r in rows[table] if r.store_id in visible)  # type: ignore[attr-defined]


@pytest.mark.parametrize("manager", MANAGERS, ids=lambda m: m.name)
@pytest.mark.parametrize("table", FILTERED_TABLES)
async def test_each_manager_sees_exactly_their_stores_rows(
    app_engine: AsyncEngine, rows: dict[str, list[object]], manager: company.ManagerDef,
    table: str,
) -> None:
    visible = company.visible_stores(manager)
    seen = await seen_store_ids(app_engine, str(manager.manager_id), table)
    assert sorted(seen) == expected_store_ids(rows, table, visible)
    assert set(seen) == visible  # every visible store has rows in every table here


@pytest.mark.parametrize("manager", MANAGERS, ids=lambda m: m.name)
@pytest.mark.parametrize("table", (*FILTERED_TABLES, "customers"))
async def test_single_store_role_sees_one_store_or_nothing(
    app_engine: AsyncEngine, rows: dict[str, list[object]], manager: company.ManagerDef,
    table: str,
) -> None:
    visible = company.visible_stores(manager)
    seen = await seen_store_ids(app_engine, str(manager.manager_id), table, "zava_store_reader")
    if len(visible) == 1:
        if table != "customers":
            assert sorted(seen) == expected_store_ids(rows, table, visible)
        assert seen
    else:  # a caller with several stores must use zava_reader: deny, never widen
        assert seen == []


@pytest.mark.parametrize("manager", MANAGERS, ids=lambda m: m.name)
async def test_customers_visible_by_home_store_or_orders_there(
    app_engine: AsyncEngine, rows: dict[str, list[object]], manager: company.ManagerDef
) -> None:
    visible = company.visible_stores(manager)
    buyers = {o.customer_id for o in rows["orders"] if o.store_id in visible}  # type: ignore[attr-defined]
    expected = {
        c.customer_id for c in rows["customers"]  # type: ignore[attr-defined]
        if c.store_id in visible or c.customer_id in buyers  # type: ignore[attr-defined]
    }
    async with app_engine.connect() as connection:
        await as_reader(connection, str(manager.manager_id))
        seen = {r[0] for r in await connection.execute(
            text("SELECT customer_id FROM retail.customers"))}
    assert seen == expected


async def test_bellevue_sees_the_seattle_customer_who_bought_there(
    app_engine: AsyncEngine, rows: dict[str, list[object]]
) -> None:
    seattle = company.store_named("Seattle").store_id
    async with app_engine.connect() as connection:
        await as_reader(connection, str(company.BELLEVUE_MANAGER_ID))
        homes = {r[0] for r in await connection.execute(
            text("SELECT store_id FROM retail.customers"))}
    assert seattle in homes


@pytest.mark.parametrize("role", ["zava_reader", "zava_store_reader"])
@pytest.mark.parametrize("setting", DENIED_SETTINGS.values(), ids=DENIED_SETTINGS.keys())
@pytest.mark.parametrize("table", (*FILTERED_TABLES, "customers"))
async def test_no_valid_identity_sees_nothing(
    app_engine: AsyncEngine, rows: dict[str, list[object]], setting: str | None, table: str,
    role: str,
) -> None:
    async with app_engine.connect() as connection:
        await as_reader(connection, setting, role)
        count = await connection.scalar(text(f"SELECT count(*) FROM retail.{table}"))
    assert count == 0


async def test_identity_does_not_outlive_its_transaction(
    app_engine: AsyncEngine, rows: dict[str, list[object]]
) -> None:
    async with app_engine.connect() as connection:
        await as_reader(connection, str(company.HEAD_OFFICE_ID))
        assert await connection.scalar(text("SELECT count(*) FROM retail.orders")) > 0
        await connection.rollback()
        await as_reader(connection, None)
        assert await connection.scalar(text("SELECT count(*) FROM retail.orders")) == 0


WRITES = {
    "insert": "INSERT INTO retail.{table} SELECT * FROM retail.{table} LIMIT 1",
    "update": "UPDATE retail.{table} SET store_id = store_id",
    "delete": "DELETE FROM retail.{table}",
    "truncate": "TRUNCATE retail.{table}",
}


@pytest.mark.parametrize("role", ["zava_reader", "zava_store_reader"])
@pytest.mark.parametrize("statement", WRITES.values(), ids=WRITES.keys())
@pytest.mark.parametrize("table", (*FILTERED_TABLES, "customers"))
async def test_reader_can_write_nothing(
    app_engine: AsyncEngine, rows: dict[str, list[object]], statement: str, table: str,
    role: str,
) -> None:
    async with app_engine.connect() as connection:
        # Read-write on purpose: the reader's privileges alone must stop the write.
        await connection.execute(text(f"SET LOCAL ROLE {role}"))
        await connection.execute(text("SELECT set_config('app.current_rls_user_id', :id, true)"),
                                 {"id": str(company.HEAD_OFFICE_ID)})
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text(statement.format(table=table)))


@pytest.mark.parametrize("table", ("managers", "manager_stores"))
async def test_reader_cannot_read_the_identity_tables(
    app_engine: AsyncEngine, rows: dict[str, list[object]], table: str
) -> None:
    async with app_engine.connect() as connection:
        await as_reader(connection, str(company.HEAD_OFFICE_ID))
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text(f"SELECT * FROM retail.{table}"))


async def test_login_role_reads_nothing_without_the_role_switch(
    app_engine: AsyncEngine, rows: dict[str, list[object]]
) -> None:
    async with app_engine.connect() as connection:
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text("SELECT count(*) FROM retail.orders"))


@pytest.fixture(scope="module")
async def owner_member_engine(admin_engine: AsyncEngine, app_engine: AsyncEngine):  # type: ignore[no-untyped-def]
    """A login role with the owner's privileges but not BYPASSRLS."""
    async with admin_engine.begin() as connection:
        await connection.execute(text("""
            DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zava_test_owner') THEN
                    CREATE ROLE zava_test_owner LOGIN NOBYPASSRLS NOSUPERUSER;
                END IF;
            END $$"""))
        await connection.execute(text("GRANT zava_owner TO zava_test_owner"))
    url = app_engine.url.set(username="zava_test_owner")
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize("table", (*TENANT_TABLES, "customers"))
async def test_forced_rls_filters_the_owner_too(
    owner_member_engine: AsyncEngine, rows: dict[str, list[object]], table: str
) -> None:
    async with owner_member_engine.connect() as connection:
        await connection.execute(text("SELECT set_config('app.current_rls_user_id', :id, true)"),
                                 {"id": str(company.HEAD_OFFICE_ID)})
        assert await connection.scalar(text(f"SELECT count(*) FROM retail.{table}")) == 0
        bypass = await connection.scalar(
            text("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user"))
    assert bypass is False

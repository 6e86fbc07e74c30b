"""A third reader role for callers who see every store: ``zava_all_reader``.

Head office sees every store, so its reads should cost what an unfiltered query costs.
Through ``zava_reader`` its policy is ``store_id = ANY ((SELECT visible_store_ids())::uuid[])``:
an array the planner cannot see, and a comparison against every row. Through
``zava_all_reader`` the policy is ``(SELECT retail.caller_sees_all_stores())``: a boolean
initplan, evaluated once per query, that the planner turns into a one-time filter over the
plain (unfiltered) plan. It admits every row when the caller really sees every store and
no row otherwise: a store or regional manager who ``SET ROLE zava_all_reader`` by hand
sees nothing, and a login bound to a manager (``retail.manager_logins``) cannot widen its
view through it. RLS stays ENABLE + FORCE as before; this only adds policies for the new
role (independent of the other two: neither is a member of another, so one policy applies).

- ``retail.caller_sees_all_stores()``: SECURITY DEFINER, true for a known caller whose
  visible stores are every store (head office; a regional manager whose region is the whole
  company), false otherwise.
- ``retail.caller_reader_role()`` answers ``zava_all_reader`` for such a caller (still
  ``zava_store_reader`` when that is exactly one store).
- The new role gets the readers' privileges and limits, and every role that may already
  ``SET ROLE zava_store_reader`` (the server's login, ``zava db grant-login`` logins) may
  become it too, so an upgraded deployment keeps serving without re-granting.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READER_ROLES = ("zava_reader", "zava_store_reader", "zava_all_reader")
ROLE = "zava_all_reader"
SINGLE_STORE_ROLE = "zava_store_reader"
POLICY_SUFFIX = "all_stores"
# Every RLS table: the tenant tables, stores and customers.
POLICY_TABLES = ("inventory", "orders", "order_items", "stores", "customers")
READABLE_TABLES = (
    "stores", "customers", "categories", "product_types", "products",
    "inventory", "orders", "order_items", "embedding_space", "product_description_embeddings",
)
# The functions every reader may execute (0002, 0004, 0006) and the new one.
READER_FUNCTIONS = (
    "retail.current_manager_id()", "retail.current_manager_scope()",
    "retail.visible_store_ids()", "retail.caller_single_store()",
    "retail.caller_reader_role()", "retail.ivfflat_probes()",
    "retail.search_products_by_description(vector, double precision, integer)",
    "retail.manager_for_identity(text, text)",
)
NEW_FUNCTION = "retail.caller_sees_all_stores()"
LIMITS = {"temp_file_limit": "1GB", "work_mem": "16MB"}

# The caller check short-circuits for head office; a regional manager whose region holds
# every store sees every store too. An unknown caller sees nothing.
SEES_ALL = """
    CREATE FUNCTION retail.caller_sees_all_stores() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT coalesce((
            SELECT m.scope = 'head_office' OR NOT EXISTS (
                SELECT FROM retail.stores AS st
                WHERE st.store_id <> ALL (retail.visible_store_ids()))
            FROM retail.managers AS m
            WHERE m.manager_id = retail.current_manager_id()), false)
    $$"""

READER_ROLE_FUNCTION = """
    CREATE OR REPLACE FUNCTION retail.caller_reader_role() RETURNS text
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
        RETURN CASE WHEN stores = 1 THEN 'zava_store_reader'
%s
                    ELSE 'zava_reader' END;
    END
    $$"""
ALL_READER_BRANCH = (" " * 20
                     + "WHEN retail.caller_sees_all_stores() THEN 'zava_all_reader'")
READER_ROLE_COMMENTS = (
    "The reader role for the caller: zava_store_reader when they see exactly one store, "
    "zava_all_reader when they see every store, else zava_reader; raises "
    "invalid_authorization_specification for an unknown caller",
    "The reader role for the caller (zava_store_reader when they see exactly one store); "
    "raises invalid_authorization_specification for an unknown caller",
)


def _reader_role_function(*, all_reader: bool) -> str:
    # Built by replacement, not %-formatting: the offline script escapes percent signs.
    return READER_ROLE_FUNCTION.replace("%s\n", ALL_READER_BRANCH + "\n" if all_reader else "")


def upgrade() -> None:
    op.execute(f"""
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{ROLE}') THEN
            CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        END IF;
        IF NOT pg_catalog.pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
            EXECUTE 'GRANT {ROLE} TO ' || pg_catalog.quote_ident(current_user);
        END IF;
    END
    $$""")
    op.execute(f"GRANT USAGE ON SCHEMA retail TO {ROLE}")
    for table in READABLE_TABLES:
        op.execute(f"GRANT SELECT ON retail.{table} TO {ROLE}")
    op.execute(f"GRANT SELECT ON public.alembic_version TO {ROLE}")
    for function in READER_FUNCTIONS:
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {ROLE}")

    op.execute(SEES_ALL)
    op.execute(f"ALTER FUNCTION {NEW_FUNCTION} OWNER TO zava_owner")
    op.execute(f"REVOKE ALL ON FUNCTION {NEW_FUNCTION} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {NEW_FUNCTION} TO {', '.join(READER_ROLES)}")
    op.execute(f"""
    COMMENT ON FUNCTION {NEW_FUNCTION} IS
        'True when the caller is known and sees every store (head office); false otherwise'
    """)
    op.execute(_reader_role_function(all_reader=True))
    op.execute(f"COMMENT ON FUNCTION retail.caller_reader_role() IS "
               f"'{READER_ROLE_COMMENTS[0]}'")

    # All or nothing, decided once per query: a one-time filter over the unfiltered plan.
    for table in POLICY_TABLES:
        op.execute(f"CREATE POLICY {table}_{POLICY_SUFFIX} ON retail.{table} "
                   f"FOR SELECT TO {ROLE} USING ((SELECT {NEW_FUNCTION}))")

    settings = "; ".join(f"ALTER ROLE {ROLE} SET {name} = ''{value}''"
                         for name, value in LIMITS.items())
    op.execute(f"""
    DO $$
    BEGIN
        EXECUTE '{settings}';
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'reader limits not set (needs a superuser): {", ".join(LIMITS)}';
    END
    $$""")
    # Whoever may become the single-store reader (the server's login, grant-login logins)
    # may become this one too, with the same options: an upgraded server keeps serving.
    op.execute(f"""
    DO $$
    DECLARE
        grantee record;
    BEGIN
        FOR grantee IN
            SELECT r.rolname, a.inherit_option
            FROM pg_catalog.pg_auth_members AS a
            JOIN pg_catalog.pg_roles AS r ON r.oid = a.member
            WHERE a.roleid = '{SINGLE_STORE_ROLE}'::regrole AND a.set_option
              AND r.rolname <> current_user
              AND NOT pg_catalog.pg_has_role(r.oid, '{ROLE}', 'SET')
        LOOP
            EXECUTE 'GRANT {ROLE} TO ' || pg_catalog.quote_ident(grantee.rolname)
                || ' WITH INHERIT ' || CASE WHEN grantee.inherit_option THEN 'TRUE'
                                            ELSE 'FALSE' END || ', SET TRUE';
        END LOOP;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'could not grant {ROLE} to the logins of {SINGLE_STORE_ROLE}: '
            'run zava db grant-login for each';
    END
    $$""")


def downgrade() -> None:
    for table in POLICY_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {table}_{POLICY_SUFFIX} ON retail.{table}")
    op.execute(_reader_role_function(all_reader=False))
    op.execute(f"COMMENT ON FUNCTION retail.caller_reader_role() IS "
               f"'{READER_ROLE_COMMENTS[1]}'")
    op.execute(f"DROP FUNCTION {NEW_FUNCTION}")
    for function in READER_FUNCTIONS:
        op.execute(f"REVOKE EXECUTE ON FUNCTION {function} FROM {ROLE}")
    op.execute(f"REVOKE SELECT ON public.alembic_version FROM {ROLE}")
    for table in READABLE_TABLES:
        op.execute(f"REVOKE SELECT ON retail.{table} FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA retail FROM {ROLE}")
    # Roles are cluster-wide: another database may still use it, then it stays.
    op.execute(f"""
    DO $$
    BEGIN
        DROP ROLE IF EXISTS {ROLE};
    EXCEPTION WHEN dependent_objects_still_exist THEN
        RAISE NOTICE 'role {ROLE} is still used elsewhere in the cluster; kept';
    END
    $$""")

"""The caller-scope functions in PL/pgSQL: same answers, a quarter of the fixed cost.

Every RLS table reference runs one of ``retail.caller_single_store()``,
``retail.visible_store_ids()`` or ``retail.caller_sees_all_stores()`` once per query (an
initplan). As SQL functions they are SECURITY DEFINER, so never inlined, and their bodies
are prepared again in every query; ``caller_single_store()`` cost 0.11 ms over ``SELECT 1``
(``visible_store_ids()`` 0.056 ms, and the wrapper as much again), which is what a
sub-millisecond query paid for RLS. PL/pgSQL keeps each statement's plan for the session,
and branching on the caller's scope replaces the join with an OR of three conditions by
one simple query: measured 0.015 ms for ``caller_single_store()`` and 0.014 ms for
``visible_store_ids()`` over ``SELECT 1`` (workshop seed, Seattle's manager), and
``caller_sees_all_stores()`` 0.008 ms for head office and 0.023 ms for a store manager
(0.156 ms as SQL). The caller's id is read once into a variable: called in the
statement's WHERE it made ``caller_sees_all_stores()`` cost four times as much.

The answers are the same for every caller (own stores, the region's, all for head
office; empty for an unknown or malformed caller; a bound login that claims another id
still raises ZV001 from ``retail.current_manager_id()``); signatures, owners and grants
are unchanged (CREATE OR REPLACE), so the policies that call them stay as they are.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HEADER = """
    CREATE OR REPLACE FUNCTION retail.{name}() RETURNS {returns}
    LANGUAGE {language} STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$"""

UPGRADE = {
    "visible_store_ids": ("uuid[]", "plpgsql", """
    DECLARE
        caller uuid := retail.current_manager_id();
        kind text;
        area text;
        ids uuid[];
    BEGIN
        SELECT m.scope, m.region INTO kind, area
        FROM retail.managers AS m WHERE m.manager_id = caller;
        IF kind = 'head_office' THEN
            SELECT array_agg(st.store_id ORDER BY st.store_id) INTO ids
            FROM retail.stores AS st;
        ELSIF kind = 'region' THEN
            SELECT array_agg(st.store_id ORDER BY st.store_id) INTO ids
            FROM retail.stores AS st WHERE st.region = area;
        ELSIF kind = 'store' THEN
            SELECT array_agg(st.store_id ORDER BY st.store_id) INTO ids
            FROM retail.stores AS st
            WHERE EXISTS (SELECT FROM retail.manager_stores AS ms
                          WHERE ms.manager_id = caller AND ms.store_id = st.store_id);
        END IF;
        RETURN coalesce(ids, '{}'::uuid[]);
    END
    """),
    "caller_single_store": ("uuid", "plpgsql", """
    DECLARE
        ids uuid[] := retail.visible_store_ids();
    BEGIN
        RETURN CASE WHEN cardinality(ids) = 1 THEN ids[1] END;
    END
    """),
    "caller_sees_all_stores": ("boolean", "plpgsql", """
    DECLARE
        caller uuid := retail.current_manager_id();
        kind text;
        ids uuid[];
    BEGIN
        SELECT m.scope INTO kind FROM retail.managers AS m WHERE m.manager_id = caller;
        IF NOT FOUND THEN
            RETURN false;
        END IF;
        IF kind = 'head_office' THEN
            RETURN true;
        END IF;
        ids := retail.visible_store_ids();
        RETURN NOT EXISTS (SELECT FROM retail.stores AS st WHERE st.store_id <> ALL (ids));
    END
    """),
}

# The bodies of 0002 and 0007, restored on downgrade.
DOWNGRADE = {
    "visible_store_ids": ("uuid[]", "sql", """
        SELECT coalesce(array_agg(st.store_id ORDER BY st.store_id), '{}'::uuid[])
        FROM retail.managers AS m
        JOIN retail.stores AS st
          ON m.scope = 'head_office'
          OR (m.scope = 'region' AND st.region = m.region)
          OR (m.scope = 'store' AND EXISTS (
                SELECT FROM retail.manager_stores AS ms
                WHERE ms.manager_id = m.manager_id AND ms.store_id = st.store_id))
        WHERE m.manager_id = retail.current_manager_id()
    """),
    "caller_single_store": ("uuid", "sql", """
        SELECT CASE WHEN cardinality(ids) = 1 THEN ids[1] END
        FROM (SELECT retail.visible_store_ids() AS ids) AS visible
    """),
    "caller_sees_all_stores": ("boolean", "sql", """
        SELECT coalesce((
            SELECT m.scope = 'head_office' OR NOT EXISTS (
                SELECT FROM retail.stores AS st
                WHERE st.store_id <> ALL (retail.visible_store_ids()))
            FROM retail.managers AS m
            WHERE m.manager_id = retail.current_manager_id()), false)
    """),
}


def _replace(name: str, returns: str, language: str, body: str) -> str:
    return HEADER.format(name=name, returns=returns, language=language) + body + "$$"


def upgrade() -> None:
    for name, (returns, language, body) in UPGRADE.items():
        op.execute(_replace(name, returns, language, body))


def downgrade() -> None:
    for name, (returns, language, body) in DOWNGRADE.items():
        op.execute(_replace(name, returns, language, body))

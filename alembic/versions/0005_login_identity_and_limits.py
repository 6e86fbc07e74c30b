"""Logins bound to one manager, and the reader's resource limits.

- ``retail.manager_logins(login, manager_id)``: a database login listed here acts as its
  manager only. ``retail.current_manager_id()`` (which every policy's function reads)
  answers the bound manager for such a session, and raises ``ZV001`` if the session
  tries to act as anyone else through ``app.current_rls_user_id``. Whoever holds such a
  login (a manager running ``zava serve`` over stdio on a shared database) cannot read
  another store's rows, with or without Zava. Readers cannot read the table.
- ``temp_file_limit`` and ``work_mem`` for the reader roles: ``ALTER ROLE ... SET``
  applies when a role logs in, so the values are set here for logins that log in as a
  reader directly, and on every login ``zava db grant-login`` prepares; the server sets
  ``work_mem`` in each transaction too (``ZAVA_WORK_MEM``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READER_ROLES = ("zava_reader", "zava_store_reader")
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
LIMITS = {"temp_file_limit": "1GB", "work_mem": "16MB"}


def upgrade() -> None:
    op.execute("""
    CREATE TABLE retail.manager_logins (
        login text NOT NULL,
        manager_id uuid NOT NULL,
        CONSTRAINT pk_manager_logins PRIMARY KEY (login),
        CONSTRAINT fk_manager_logins_manager_id_managers FOREIGN KEY (manager_id)
            REFERENCES retail.managers (manager_id) ON DELETE CASCADE
    )""")
    op.execute("CREATE INDEX ix_manager_logins_manager_id ON retail.manager_logins "
               "(manager_id)")
    op.execute("ALTER TABLE retail.manager_logins OWNER TO zava_owner")
    op.execute("REVOKE ALL ON retail.manager_logins FROM PUBLIC")
    op.execute("""
    COMMENT ON TABLE retail.manager_logins IS
        'Database logins bound to one manager: such a session acts as that manager only'
    """)
    op.execute(f"""
    CREATE OR REPLACE FUNCTION retail.current_manager_id() RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        setting text := current_setting('app.current_rls_user_id', true);
        asked uuid := CASE WHEN setting ~ '{UUID_PATTERN}' THEN setting::uuid END;
        bound uuid;
    BEGIN
        SELECT l.manager_id INTO bound FROM retail.manager_logins AS l
        WHERE l.login = session_user;
        IF bound IS NULL THEN
            RETURN asked;
        END IF;
        IF coalesce(setting, '') <> '' AND asked IS DISTINCT FROM bound THEN
            RAISE EXCEPTION USING ERRCODE = 'ZV001',
                MESSAGE = 'login ' || session_user || ' may act only as its own manager';
        END IF;
        RETURN bound;
    END
    $$""")
    op.execute("ALTER FUNCTION retail.current_manager_id() OWNER TO zava_owner")
    op.execute("""
    COMMENT ON FUNCTION retail.current_manager_id() IS
        'The caller''s manager id: the bound manager for a login in manager_logins (which '
        'may not claim another), else app.current_rls_user_id; NULL when unset or malformed'
    """)
    # temp_file_limit may be set for a role by a superuser only: a DBA migrating as a
    # non-superuser gets a notice, and `zava doctor` reports the limit missing.
    settings = "; ".join(f"ALTER ROLE {role} SET {name} = ''{value}''"
                         for role in READER_ROLES for name, value in LIMITS.items())
    op.execute(f"""
    DO $$
    BEGIN
        EXECUTE '{settings}';
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'reader limits not set (needs a superuser): {", ".join(LIMITS)}';
    END
    $$""")


def downgrade() -> None:
    resets = "; ".join(f"ALTER ROLE {role} RESET {name}"
                       for role in READER_ROLES for name in LIMITS)
    op.execute(f"""
    DO $$
    BEGIN
        EXECUTE '{resets}';
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END
    $$""")
    op.execute(f"""
    CREATE OR REPLACE FUNCTION retail.current_manager_id() RETURNS uuid
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
    op.execute("DROP TABLE retail.manager_logins")

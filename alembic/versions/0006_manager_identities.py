"""Identities at an OAuth/OpenID issuer mapped to managers.

- ``retail.manager_identities(issuer, subject, manager_id)``: a person signed in at
  ``issuer`` whose token carries ``subject`` (the configured claim: ``sub``, ``email``,
  ``oid``, ...) acts as ``manager_id``. Owned by ``zava_owner``; the reader roles cannot
  read it (nobody can list who is mapped to whom through the server's login).
- ``retail.manager_for_identity(issuer, subject) RETURNS uuid``: SECURITY DEFINER, the one
  way the server learns a mapping. It answers for one exact (issuer, subject) pair and
  nothing else (NULL when unmapped); the reader roles may execute it, PUBLIC may not. The
  SQL guard never lets free-form queries call ``retail`` functions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READER_ROLES = ("zava_reader", "zava_store_reader")
FUNCTION = "retail.manager_for_identity(text, text)"


def upgrade() -> None:
    op.execute("""
    CREATE TABLE retail.manager_identities (
        issuer text NOT NULL,
        subject text NOT NULL,
        manager_id uuid NOT NULL,
        CONSTRAINT pk_manager_identities PRIMARY KEY (issuer, subject),
        CONSTRAINT fk_manager_identities_manager_id_managers FOREIGN KEY (manager_id)
            REFERENCES retail.managers (manager_id) ON DELETE CASCADE,
        CONSTRAINT ck_manager_identities_issuer_not_blank CHECK (length(trim(issuer)) > 0),
        CONSTRAINT ck_manager_identities_subject_not_blank CHECK (length(trim(subject)) > 0)
    )""")
    op.execute("CREATE INDEX ix_manager_identities_manager_id ON retail.manager_identities "
               "(manager_id)")
    op.execute("ALTER TABLE retail.manager_identities OWNER TO zava_owner")
    op.execute("REVOKE ALL ON retail.manager_identities FROM PUBLIC")
    op.execute("""
    COMMENT ON TABLE retail.manager_identities IS
        'People signed in at an OAuth/OpenID issuer, by the token claim the server maps '
        '(sub by default), and the manager each acts as'
    """)
    op.execute(f"""
    CREATE FUNCTION {FUNCTION} RETURNS uuid
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT i.manager_id FROM retail.manager_identities AS i
        WHERE i.issuer = $1 AND i.subject = $2
    $$""")
    op.execute(f"ALTER FUNCTION {FUNCTION} OWNER TO zava_owner")
    op.execute(f"REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC")
    for role in READER_ROLES:
        op.execute(f"GRANT EXECUTE ON FUNCTION {FUNCTION} TO {role}")
    op.execute(f"""
    COMMENT ON FUNCTION {FUNCTION} IS
        'The manager an (issuer, subject) pair of a verified access token acts as, or NULL'
    """)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {FUNCTION}")
    op.execute("DROP TABLE retail.manager_identities")

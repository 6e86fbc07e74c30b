"""What the server's login role can do beyond reading: the check behind `zava doctor` and
the refusal to serve as a privileged login."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_INSPECT = text("""
WITH reachable AS (
    SELECT r.oid, r.rolname, r.rolsuper, r.rolbypassrls
    FROM pg_roles AS r
    WHERE pg_has_role(current_user, r.oid, 'MEMBER')
)
SELECT
    current_user AS login,
    bool_or(rolsuper) AS superuser,
    bool_or(rolbypassrls) AS bypassrls,
    EXISTS (
        SELECT FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'retail' AND c.relowner IN (SELECT oid FROM reachable)
    ) OR EXISTS (
        SELECT FROM pg_namespace AS n
        WHERE n.nspname = 'retail' AND n.nspowner IN (SELECT oid FROM reachable)
    ) AS owns_retail,
    ARRAY(
        SELECT DISTINCT format('%s on retail.%s', p.privilege, c.relname)
        FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(privilege)
        CROSS JOIN reachable AS r
        WHERE n.nspname = 'retail' AND c.relkind IN ('r', 'p', 'v', 'm')
          AND has_table_privilege(r.oid, c.oid, p.privilege)
        ORDER BY 1
    ) AS write_grants
FROM reachable
""")


@dataclass(frozen=True)
class LoginRoleReport:
    """The login role and anything it (or a role it can become) may do beyond SELECT."""

    login: str
    superuser: bool
    bypassrls: bool
    owns_retail: bool
    write_grants: tuple[str, ...]

    @property
    def problems(self) -> list[str]:
        """Why this login is privileged; empty for a least-privilege login."""
        found = []
        if self.superuser:
            found.append("is a superuser (row-level security does not apply)")
        if self.bypassrls:
            found.append("has BYPASSRLS")
        if self.owns_retail:
            found.append("owns objects in the retail schema")
        if self.write_grants:
            found.append("may write: " + ", ".join(self.write_grants[:5])
                         + (" ..." if len(self.write_grants) > 5 else ""))
        return found

    @property
    def is_least_privilege(self) -> bool:
        """True when the login can do nothing but read through the reader role."""
        return not self.problems


async def inspect_login_role(connection: AsyncConnection) -> LoginRoleReport:
    """Inspect ``current_user`` and every role it is a member of."""
    row = (await connection.execute(_INSPECT)).one()
    return LoginRoleReport(
        login=row.login,
        superuser=bool(row.superuser),
        bypassrls=bool(row.bypassrls),
        owns_retail=bool(row.owns_retail),
        write_grants=tuple(row.write_grants),
    )

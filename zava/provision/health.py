"""The one health check: can this login reach the database, act as the reader roles, and
is the schema at the migration head this code needs? Used at start-up (which refuses to
serve otherwise), by the ``health_check`` tool, by HTTP ``/ready`` and by ``zava doctor``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from loguru import logger
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from zava.db.roles import READER_ROLE, READER_ROLES
from zava.errors import ConfigurationError
from zava.provision import migrations
from zava.provision.login_role import inspect_login_role


@dataclass(frozen=True)
class DatabaseHealth:
    """What a readiness check found."""

    head: str
    """The migration head this code needs."""
    current: str | None = None
    """The revision the database is at (None before the first migration, or unreachable)."""
    unreachable: str | None = None
    """Why the database could not be asked (an exception's type name), else None."""

    @property
    def reachable(self) -> bool:
        """True when the database answered."""
        return self.unreachable is None

    @property
    def at_head(self) -> bool:
        """True when the database answered and is at the head revision."""
        return self.reachable and self.current == self.head

    @property
    def ok(self) -> bool:
        """Ready to serve."""
        return self.at_head

    def migrations_text(self) -> str:
        """"at head", "at X, head is Y", or "unknown" when the database did not answer."""
        if not self.reachable:
            return "unknown"
        if self.at_head:
            return "at head"
        return f"at {self.current or 'nothing'}, head is {self.head}"

    def problem(self) -> str | None:
        """What stops serving, with its fix; None when ready."""
        if not self.reachable:
            return f"the database cannot be reached ({self.unreachable})"
        if not self.at_head:
            return (f"the database is at migration {self.current or 'none'}, this server "
                    f"needs {self.head}: run `zava db upgrade`")
        return None


async def roles_out_of_reach(connection: AsyncConnection) -> list[str]:
    """The reader roles this login cannot ``SET ROLE`` to (the server switches to each)."""
    missing = []
    for role in READER_ROLES:
        try:
            async with connection.begin_nested():
                await connection.execute(text(f"SET LOCAL ROLE {role}"))
        except sa_exc.DBAPIError:
            missing.append(role)
    return missing


def grant_login_hint(login: str, missing: list[str]) -> str:
    """What to run when ``login`` cannot become the ``missing`` reader roles."""
    return (f"{login} cannot SET ROLE {' or '.join(missing)}, which the server needs: run "
            f"`zava db upgrade`, then `zava db grant-login {login}` as the admin (grants "
            f"{' and '.join(READER_ROLES)})")


async def revision_as_reader(connection: AsyncConnection) -> str | None:
    """The revision the database reports, read as the reader role (what serving needs)."""
    await connection.execute(text(f"SET LOCAL ROLE {READER_ROLE}"))
    return await migrations.current_revision(connection)


async def check_database(engine: AsyncEngine, *, timeout_s: float = 2.0) -> DatabaseHealth:
    """Ask the database within ``timeout_s``. A pooled connection found dead (the database
    restarted since it was opened) is replaced once; any failure is reported, not raised."""
    head = migrations.head_revision()
    try:
        async with asyncio.timeout(timeout_s):
            for attempt in range(2):
                try:
                    async with engine.connect() as connection:
                        return DatabaseHealth(head, await revision_as_reader(connection))
                except sa_exc.DBAPIError as error:
                    if attempt or not error.connection_invalidated:
                        raise
    except Exception as exc:  # health reports, it does not fail
        return DatabaseHealth(head, unreachable=type(exc).__name__)
    raise AssertionError("unreachable")  # pragma: no cover


async def require_servable(connection: AsyncConnection, *, allow_privileged_login: bool) -> None:
    """Refuse to serve as a privileged login (unless allowed) or from a database that is
    not at the head revision. Leaves ``connection``'s transaction acting as the reader."""
    role = await inspect_login_role(connection)
    if not role.is_least_privilege:
        problems = "; ".join(role.problems)
        if not allow_privileged_login:
            raise ConfigurationError(
                f"refusing to serve as {role.login}, which {problems}. Use a "
                "least-privilege login (see README: An external PostgreSQL) or set "
                "ZAVA_ALLOW_PRIVILEGED_LOGIN=true (--allow-privileged-login)"
            )
        logger.warning("serving as privileged login {} ({}); every query still runs as {}",
                       role.login, problems, READER_ROLE)
    if missing := await roles_out_of_reach(connection):
        raise ConfigurationError(grant_login_hint(role.login, missing))
    health = DatabaseHealth(migrations.head_revision(), await revision_as_reader(connection))
    if not health.at_head:
        raise ConfigurationError(str(health.problem()))

"""Database-level set-up that migrations do not own: the database and the login role.

Alembic owns everything inside the database. What lives outside it (the database
itself, and the deployment's login role) is created here for the embedded cluster; on
an external PostgreSQL the DBA creates them (see the README).
"""

from __future__ import annotations

import re
import secrets
import uuid

import asyncpg
from loguru import logger
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from zava.db.models import Manager, ManagerLogin
from zava.db.roles import READER_ROLE, READER_ROLES
from zava.errors import ConfigurationError, ValidationError
from zava.provision.embedded import APP_ROLE, EmbeddedCluster


async def ensure_database(cluster: EmbeddedCluster) -> None:
    """Create the cluster's database if it does not exist yet."""
    conn = await asyncpg.connect(
        host=str(cluster.socket_dir), port=cluster.port, user="postgres", database="postgres"
    )
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", cluster.database
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{cluster.database}"')
    finally:
        await conn.close()


_READERS = ", ".join(READER_ROLES)
READER_LIMITS = {"temp_file_limit": "1GB", "work_mem": "16MB"}
"""Per-session limits of every login that reads (the migration sets the same on the
reader roles): temporary files and sort/hash memory per operation."""


async def ensure_app_role(cluster: EmbeddedCluster) -> None:
    """Create the server's least-privilege login role and let it become ``zava_reader``.

    Needs the migrations applied (they create ``zava_reader``).
    """
    conn = await asyncpg.connect(
        host=str(cluster.socket_dir), port=cluster.port, user="postgres",
        database=cluster.database,
    )
    try:
        await conn.execute(f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
                    NOBYPASSRLS NOINHERIT;
            END IF;
            IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER_ROLE}') THEN
                GRANT {_READERS} TO {APP_ROLE}
                    WITH INHERIT FALSE, SET TRUE;
            END IF;
        END
        $$""")
        await conn.execute(f'GRANT CONNECT ON DATABASE "{cluster.database}" TO {APP_ROLE}')
        for name, value in READER_LIMITS.items():
            await conn.execute(f"ALTER ROLE {APP_ROLE} SET {name} = '{value}'")
    finally:
        await conn.close()


async def grant_reader(admin_url: str, role: str, *,
                       manager: uuid.UUID | None = None) -> str | None:
    """``GRANT zava_reader, zava_store_reader, zava_all_reader TO role WITH INHERIT FALSE,
    SET TRUE`` (every reader role): the
    role can read only after the unit of work switches to one of the reader roles. Its
    sessions get the reader limits (``temp_file_limit``, ``work_mem``).

    With ``manager``, the login is bound to that manager (``retail.manager_logins``): it
    can act as nobody else, even with plain SQL. A login that does not exist yet is then
    created (least privilege, NOINHERIT) with a random password, which is returned.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValidationError(f"{role[:70]!r} is not a plain lower-case role name")
    password = None
    engine = create_async_engine(admin_url)
    try:
        async with engine.begin() as connection:
            if manager is not None:
                password = await _create_bound_login(connection, role, manager)
            exists = await connection.scalar(
                text("SELECT count(*) FROM pg_roles WHERE rolname IN (:role, :reader)"),
                {"role": role, "reader": READER_ROLE})
            if exists != 2:
                raise ConfigurationError(
                    f"role {role} or {READER_ROLE} does not exist: create the login role, and "
                    "run `zava db upgrade` first")
            await connection.execute(
                text(f"GRANT {_READERS} TO {role} WITH INHERIT FALSE, SET TRUE"))
            await connection.execute(text(
                f"DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', "
                "current_database()); END $$"))
            await _set_reader_limits(connection, role)
    finally:
        await engine.dispose()
    return password


async def _create_bound_login(connection: AsyncConnection, role: str,
                              manager: uuid.UUID) -> str | None:
    """Bind ``role`` to ``manager`` (creating the login if needed; its password back)."""
    known = await connection.scalar(
        select(func.count()).select_from(Manager).where(Manager.manager_id == manager))
    if not known:
        raise ValidationError(f"no manager has the id {manager}: use the id of a store "
                              "manager, regional manager or head office")
    password = None
    if not await connection.scalar(
            text("SELECT count(*) FROM pg_roles WHERE rolname = :role"), {"role": role}):
        password = secrets.token_urlsafe(24)
        await connection.execute(text(
            f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
            f"NOINHERIT PASSWORD '{password}'"))
    await connection.execute(
        pg_insert(ManagerLogin).values(login=role, manager_id=manager)
        .on_conflict_do_update(index_elements=[ManagerLogin.login],
                               set_={"manager_id": manager}))
    return password


async def _set_reader_limits(connection: AsyncConnection, role: str) -> None:
    """The reader limits for ``role``'s sessions; a warning when the admin may not set
    them (``temp_file_limit`` needs a superuser)."""
    try:
        async with connection.begin_nested():
            for name, value in READER_LIMITS.items():
                await connection.execute(text(f"ALTER ROLE {role} SET {name} = '{value}'"))
    except DBAPIError:
        logger.warning("could not set {} for {} (needs a superuser); set them as a "
                       "superuser: ALTER ROLE {} SET temp_file_limit = '{}'",
                       ", ".join(READER_LIMITS), role, role, READER_LIMITS["temp_file_limit"])

"""Database-level set-up that migrations do not own: the database and the login role.

Alembic owns everything inside the database. What lives outside it (the database
itself, and the deployment's login role) is created here for the embedded cluster; on
an external PostgreSQL the DBA creates them (see the README).
"""

from __future__ import annotations

import re

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

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
    finally:
        await conn.close()


async def grant_reader(admin_url: str, role: str) -> None:
    """``GRANT zava_reader, zava_store_reader TO role WITH INHERIT FALSE, SET TRUE``: the
    role can read only after the unit of work switches to one of the reader roles."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValidationError(f"{role[:70]!r} is not a plain lower-case role name")
    engine = create_async_engine(admin_url)
    try:
        async with engine.begin() as connection:
            exists = await connection.scalar(
                text("SELECT count(*) FROM pg_roles WHERE rolname IN (:role, :reader)"),
                {"role": role, "reader": READER_ROLE})
            if exists != 2:
                raise ConfigurationError(
                    f"role {role} or {READER_ROLE} does not exist: create the login role, and "
                    "run `zava db upgrade` first")
            await connection.execute(
                text(f"GRANT {_READERS} TO {role} "
                     "WITH INHERIT FALSE, SET TRUE"))
    finally:
        await engine.dispose()

"""Alembic environment: async online migrations and complete offline SQL.

The database URL comes from, in order: ``-x url=...``, the ``sqlalchemy.url`` that
``zava db`` sets, then ``ZAVA_ADMIN_DATABASE_URL`` / ``DATABASE_URL``. Migration
parameters: ``-x embedding_dim=N`` and ``-x embedding_model=NAME`` (defaults from the
settings: 384, all-MiniLM-L6-v2).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from zava.config import get_settings, normalise_database_url
from zava.provision.migration_context import compare_type, include_object
from zava.db.models import Base
from zava.errors import ConfigurationError

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    x_args = context.get_x_argument(as_dictionary=True)
    url = x_args.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return normalise_database_url(url)
    settings = get_settings()
    url = settings.admin_database_url or settings.database_url
    if url is None:
        raise ConfigurationError(
            "no database to migrate: set DATABASE_URL (or ZAVA_ADMIN_DATABASE_URL), "
            "pass -x url=..., or run `zava db upgrade` to use the embedded PostgreSQL"
        )
    return url


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_schemas=True,
        include_object=include_object,
        compare_type=compare_type,
        version_table_schema="public",
        transaction_per_migration=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit the SQL of the migrations to stdout, for a DBA to read or apply by hand."""
    _configure(dialect_name="postgresql", literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    """Apply the migrations through an async engine, one transaction per revision."""
    engine = create_async_engine(_database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
    else:
        asyncio.run(run_migrations_online())

"""The async engine and its asyncpg pool."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from zava.config import Settings


def _unnamed() -> str:
    """The name SQLAlchemy gives each statement it prepares behind a pooler: none. An
    unnamed statement lives until the next one on the same server connection, inside the
    transaction that prepared it, so it can neither collide with another client's
    statement nor be left behind on a shared server connection."""
    return ""


def connect_args(settings: Settings) -> dict[str, Any]:
    """What asyncpg (and SQLAlchemy's adapter of it) is told when it connects.

    Direct to PostgreSQL: ``application_name`` and ``jit=off`` as startup settings, and
    both statement caches on (a repeated query is one round trip). Behind a pooler in
    transaction mode (``database_pooler = "pgbouncer"``): only ``application_name``
    (PgBouncer refuses other startup parameters; ``jit`` is set transaction-locally by
    every unit of work), and no named prepared statements at all, since consecutive
    transactions of one client may run on different server connections.
    """
    behind_pooler = settings.database_pooler == "pgbouncer"
    server_settings = {"application_name": settings.application_name}
    if not behind_pooler:
        server_settings["jit"] = "off"
    args: dict[str, Any] = {"server_settings": server_settings,
                            "timeout": settings.pool_timeout_s}
    if behind_pooler:
        args.update(statement_cache_size=0, prepared_statement_cache_size=0,
                    prepared_statement_name_func=_unnamed)
    return args


def create_engine(url: str, settings: Settings, *, pool: bool = True) -> AsyncEngine:
    """An engine on ``url`` with the pool sizes, timeouts and session defaults of ``settings``.

    Every connection identifies itself (``application_name``) and runs with ``jit=off``
    (JIT compilation costs more than it saves on the short analytic queries served here).
    There is no pre-ping round trip: the unit of work reconnects when its first statement
    finds a pooled connection dead. See ``connect_args`` for what changes behind PgBouncer.
    """
    options: dict[str, Any] = {"connect_args": connect_args(settings)}
    if pool:
        options.update(
            pool_size=settings.pool_size,
            max_overflow=settings.pool_max_overflow,
            pool_timeout=settings.pool_timeout_s,
            pool_recycle=1800,
        )
    else:
        from sqlalchemy.pool import NullPool

        options["poolclass"] = NullPool
    return create_async_engine(url, **options)

"""The async engine and its asyncpg pool."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from zava.config import Settings


def create_engine(url: str, settings: Settings, *, pool: bool = True) -> AsyncEngine:
    """An engine on ``url`` with the pool sizes, timeouts and session defaults of ``settings``.

    Every connection identifies itself (``application_name``) and runs with ``jit=off``
    (JIT compilation costs more than it saves on the short analytic queries served here).
    There is no pre-ping round trip: the unit of work reconnects when its first statement
    finds a pooled connection dead.
    """
    connect_args: dict[str, Any] = {
        "server_settings": {"application_name": settings.application_name, "jit": "off"},
        "timeout": settings.pool_timeout_s,
    }
    options: dict[str, Any] = {"connect_args": connect_args}
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

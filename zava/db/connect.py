"""Checking a connection out of the pool, retrying only connection failures.

A statement that reached the server is never retried (it may have had effects, and a
slow query retried is a slow query twice); only failing to connect is, with
exponential backoff, for ``connect_retry_seconds``.
"""

from __future__ import annotations

import asyncio

import asyncpg
from loguru import logger
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from zava.config import Settings
from zava.errors import DatabaseUnavailableError

_CONNECTION_FAILURES = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
)


def is_connection_failure(error: BaseException) -> bool:
    """True when ``error`` means "could not reach the server", not "the statement failed"."""
    if isinstance(error, sa_exc.TimeoutError):  # pool exhausted: busy, not down
        return False
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig.__cause__ or error.orig if error.orig is not None else error
    return isinstance(error, _CONNECTION_FAILURES)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.warning("database connection failed ({}); retrying", type(error).__name__)


async def connect(engine: AsyncEngine, settings: Settings) -> AsyncConnection:
    """A pooled connection; raises ``DatabaseUnavailableError`` when none can be had."""
    try:
        return await engine.connect()  # the common case, without the retry machinery
    except Exception as error:
        if not is_connection_failure(error) and not isinstance(error, sa_exc.TimeoutError):
            raise
    return await _connect_retrying(engine, settings)


async def _connect_retrying(engine: AsyncEngine, settings: Settings) -> AsyncConnection:
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_connection_failure),
            stop=stop_after_delay(settings.connect_retry_seconds),
            wait=wait_exponential(multiplier=0.05, max=1.0),
            before_sleep=_log_retry,
            reraise=True,
        ):
            with attempt:
                return await engine.connect()
    except sa_exc.TimeoutError as error:
        raise DatabaseUnavailableError(
            f"the server is busy: all {settings.pool_size + settings.pool_max_overflow} "
            "database connections are in use; try again in a moment"
        ) from error
    except Exception as error:
        if is_connection_failure(error):
            raise DatabaseUnavailableError(
                "the database is unavailable right now; try again shortly"
            ) from error
        raise
    raise AssertionError("unreachable")  # pragma: no cover

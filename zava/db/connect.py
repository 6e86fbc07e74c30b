"""Checking a connection out of the pool, retrying only connection failures.

A statement that reached the server is never retried here (it may have had effects, and
a slow query retried is a slow query twice); only failing to connect is, with
exponential backoff, for ``connect_retry_seconds``. A pool that stays exhausted for
``pool_timeout_s`` is a busy server, not a down database, and is reported as such.
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
from zava.errors import ConfigurationError, DatabaseUnavailableError, ServerBusyError

_CONNECTION_FAILURES = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,  # pg_terminate_backend, or a fast shutdown
    asyncpg.CrashShutdownError,
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
)


def is_connection_failure(error: BaseException) -> bool:
    """True when ``error`` means "the server could not be reached, or the connection was
    lost", not "the statement failed"."""
    if isinstance(error, sa_exc.TimeoutError):  # pool exhausted: busy, not down
        return False
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig.__cause__ or error.orig if error.orig is not None else error
    return isinstance(error, _CONNECTION_FAILURES)


_POOLER_REFUSAL = "unsupported startup parameter"
"""What PgBouncer answers a login that sends a startup setting it does not forward."""


def pooler_refusal(error: BaseException) -> ConfigurationError | None:
    """The configuration error for a login refused by a pooler (PgBouncer refuses the
    ``jit`` startup setting sent when ``database_pooler`` is not set), else None."""
    text = str(error)
    if _POOLER_REFUSAL not in text:
        return None
    detail = text[text.index(_POOLER_REFUSAL):].splitlines()[0]
    return ConfigurationError(
        f"the database refused the connection ({detail}): DATABASE_URL points at PgBouncer "
        "or another pooler; set ZAVA_DATABASE_POOLER=pgbouncer (it must run in transaction "
        "or session mode)")


def server_busy(settings: Settings) -> ServerBusyError:
    """The error for a pool that stayed exhausted for the whole acquire timeout."""
    size = settings.pool_size + settings.pool_max_overflow
    return ServerBusyError(
        f"the server is busy: all {size} database connections stayed in use for "
        f"{settings.pool_timeout_s:g} s; retry in a moment, or raise ZAVA_POOL_SIZE "
        "(and ZAVA_POOL_MAX_OVERFLOW) if this happens under normal load"
    )


def _log_retry(state: RetryCallState) -> None:
    if state.attempt_number > 1:  # one line per call, not one per attempt
        return
    error = state.outcome.exception() if state.outcome else None
    logger.warning("database connection failed ({}); retrying with backoff",
                   type(error).__name__)


async def connect(
    engine: AsyncEngine, settings: Settings, *, retry: bool = True
) -> AsyncConnection:
    """A pooled connection.

    Raises ``ServerBusyError`` when the pool stays exhausted for ``pool_timeout_s`` and
    ``DatabaseUnavailableError`` when the server cannot be reached (after retrying for
    ``connect_retry_seconds`` unless ``retry`` is false: a replica is not waited for,
    the next one is tried instead).
    """
    try:
        return await engine.connect()  # the common case, without the retry machinery
    except sa_exc.TimeoutError as error:
        raise server_busy(settings) from error
    except Exception as error:
        refused = pooler_refusal(error)
        if refused is not None:  # retrying cannot help
            raise refused from error
        if not is_connection_failure(error):
            raise
        if not retry or settings.connect_retry_seconds <= 0:
            raise _unavailable() from error
    return await _connect_retrying(engine, settings)


def _unavailable() -> DatabaseUnavailableError:
    return DatabaseUnavailableError(
        "the database is unavailable right now (it cannot be reached); try again shortly"
    )


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
        raise server_busy(settings) from error
    except Exception as error:
        if is_connection_failure(error):
            raise _unavailable() from error
        raise
    raise AssertionError("unreachable")  # pragma: no cover

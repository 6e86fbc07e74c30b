"""The transaction under every unit of work: the only way code reaches the database.

A read transaction opens a READ ONLY transaction and, inside it and before anything else,
switches to a reader role (``zava_store_reader`` for a caller with one store,
``zava_all_reader`` for one who sees every store, else ``zava_reader``), sets the
caller's identity transaction-locally (so a pooled connection never carries a tenant
into its next checkout) and the statement,
lock and idle timeouts, then checks that the identity exists. On exit it rolls back.
A write transaction (admin commands only) runs as the admin login and commits on success.

Read transactions go to a read replica when the factory has usable ones (see ``replicas``),
else to the primary; write transactions always use the primary. Entering is the only part
that is ever retried (on another connection, replica or the primary): it has no effects.
A statement that reached the server is never retried, and leaving a unit (rollback,
return to the pool) completes even when the caller's task is cancelled. Repositories are
attached above, by ``zava.services.unit_of_work``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from zava.config import Settings
from zava.db.connect import connect, is_connection_failure
from zava.db.errors import to_zava_error, translate_errors
from zava.db.replicas import ReplicaRouter
from zava.db.roles import READER_ROLE
from zava.errors import AuthorizationError, DatabaseUnavailableError, ServerBusyError, ZavaError
from zava.observability import tracing

# One round trip (the simple query protocol runs the whole script): begin read-only,
# become the reader, set the caller and the timeouts transaction-locally, prove the caller
# exists, then switch to the single-store reader if the caller sees exactly one store
# (its policies are the ones the planner can estimate), or to the all-stores reader if
# they see every store (its policy is one boolean per query: the unfiltered plan). Every
# value is typed (a UUID, integers, a label of ``_LABEL``'s characters), never
# caller-supplied text. A tool call's label becomes the transaction's application_name
# (``zava.observability.tracing.application_name``: tool, manager, trace id), which a DBA
# sees in pg_stat_activity and in the logs (%a); it is transaction-local too, so an idle
# pooled connection shows the pool's own name again.
_ENTER = (
    f"BEGIN READ ONLY; SET LOCAL ROLE {READER_ROLE}; "
    "SELECT set_config('app.current_rls_user_id', '{caller}', true), "
    "set_config('statement_timeout', '{statement_timeout}', true), "
    "set_config('lock_timeout', '{lock_timeout}', true), "
    "set_config('idle_in_transaction_session_timeout', '{idle_timeout}', true), "
    "set_config('work_mem', '{work_mem}', true), set_config('jit', 'off', true), "
    "set_config('search_path', 'retail, public', true){label}; "
    "SELECT set_config('role', retail.caller_reader_role(), true)"
)
_SET_LABEL = ", set_config('application_name', '{label}', true)"
_LABEL = re.compile(r"[A-Za-z0-9_./:-]{1,63}")
"""What a label may hold: no quote, backslash or space can reach the script."""
_UNKNOWN_CALLER = "28000"
_BOUND_LOGIN = "ZV001"  # retail.current_manager_id(): a bound login claimed another id


async def _driver(connection: AsyncConnection) -> Any:
    """The asyncpg connection under an SQLAlchemy connection (read without a greenlet
    hop while the connection is checked out and valid)."""
    sync = connection.sync_connection
    if sync is not None and not sync.invalidated and not sync.closed:
        return sync.connection.driver_connection
    return (await connection.get_raw_connection()).driver_connection


_releasing: set[asyncio.Task[None]] = set()


async def _to_completion(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end even if the calling task is cancelled (a cancelled MCP call
    is cancelled again at every await): the rollback and the return of the connection to
    the pool must not be skipped, or the connection leaks."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        _releasing.add(task)
        task.add_done_callback(_releasing.discard)
        raise


async def _discard(connection: AsyncConnection) -> None:
    """Drop ``connection`` from the pool (its session state is unknown) and close it."""
    await connection.invalidate()
    await connection.close()


@dataclass
class CheckoutQueue:
    """How many units are waiting for a connection right now (the pool-waiting gauge)."""

    waiting: int = 0


class Transaction:
    """``async with Transaction(engine, settings, caller) as tx: await tx.session...``"""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        caller: uuid.UUID | None,
        *,
        write: bool = False,
        replicas: ReplicaRouter | None = None,
        queue: CheckoutQueue | None = None,
        label: str | None = None,
    ) -> None:
        if label is not None and not _LABEL.fullmatch(label):
            raise ValueError(f"a unit's label is 1-63 of [A-Za-z0-9_./:-], not {label!r}")
        self._engine = engine
        self._queue = queue or CheckoutQueue()
        self._settings = settings
        self._caller = caller
        self._write = write
        self._replicas = None if write else replicas
        self._label = label
        self._connection: AsyncConnection | None = None
        self._session: AsyncSession | None = None
        self._span: tracing.OpenSpan | None = None

    @property
    def caller(self) -> uuid.UUID | None:
        """The manager id this unit acts for (None for an admin write unit)."""
        return self._caller

    @property
    def connection(self) -> AsyncConnection:
        """The connection, inside the transaction."""
        if self._connection is None:
            raise RuntimeError("the transaction is not open: use `async with`")
        return self._connection

    @property
    def session(self) -> AsyncSession:
        """The ORM session bound to the transaction's connection."""
        if self._session is None:
            raise RuntimeError("the transaction is not open: use `async with`")
        return self._session

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            # Entering an open unit again would drop its connection without a rollback
            # (the pool reclaims it only when garbage collected).
            raise RuntimeError("this unit of work is already open: leave it before "
                               "entering it again, or make another unit")
        if not self._write and self._caller is None:
            raise AuthorizationError(
                "no caller identity: start the server with --rls-user <manager id> "
                "or authenticate the request"
            )
        self._span = tracing.open_span("zava.unit", {"zava.write": self._write})
        try:
            with tracing.span("zava.unit.enter"):
                connection = await self._open()
        except BaseException as exc:
            self._end_span(exc)
            raise
        self._connection = connection
        self._session = AsyncSession(bind=connection, expire_on_commit=False)
        return self

    def _end_span(self, error: BaseException | None) -> None:
        span, self._span = self._span, None
        if span is not None:
            span.close(error)

    async def _open(self) -> AsyncConnection:
        """A connection inside the unit's transaction: on a usable replica (read units),
        else on the primary. A replica that cannot be reached is marked unhealthy and the
        next one (finally the primary) is tried: nothing has run yet."""
        if self._replicas is not None:
            for replica in self._replicas.candidates():
                try:
                    return await self._open_on(replica.engine, retry=False)
                except ServerBusyError:  # healthy but saturated: use the next one
                    continue
                except DatabaseUnavailableError as error:
                    self._replicas.mark_unhealthy(replica, error.code)
        return await self._open_on(self._engine, retry=True)

    async def _open_on(self, engine: AsyncEngine, *, retry: bool) -> AsyncConnection:
        """A connection of ``engine`` inside the unit's transaction. Pooled connections
        found dead (the server restarted since they were opened) are dropped and replaced,
        as many as the pool can hold: the enter script has no effects, so re-running it on
        another connection is safe."""
        attempts = self._settings.pool_size + self._settings.pool_max_overflow + 1
        for attempt in range(attempts):
            self._queue.waiting += 1
            try:
                connection = await connect(engine, self._settings, retry=retry)
            finally:
                self._queue.waiting -= 1
            try:
                # The unit sends its own BEGIN (with the caller's settings, one round
                # trip), so SQLAlchemy must not open a transaction of its own. (An engine
                # view with this option would hide which engine, replica or primary,
                # served the unit.)
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await self._enter(connection)
                return connection
            except ZavaError as error:  # refused or failed cleanly, already rolled back
                broken = isinstance(error, DatabaseUnavailableError)
                await _to_completion(_discard(connection) if broken else connection.close())
                if not broken or attempt == attempts - 1:
                    raise
            except BaseException:  # interrupted half-way: the session state is unknown
                await _to_completion(_discard(connection))
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _enter(self, connection: AsyncConnection) -> None:
        driver = await _driver(connection)
        if self._write:
            with translate_errors(span=None):
                await driver.execute("BEGIN")
            return
        settings = self._settings
        script = _ENTER.format(
            label=_SET_LABEL.format(label=self._label) if self._label else "",
            caller=uuid.UUID(str(self._caller)),
            statement_timeout=int(settings.statement_timeout_ms),
            lock_timeout=int(settings.lock_timeout_ms),
            idle_timeout=int(settings.idle_in_transaction_timeout_ms),
            work_mem=settings.work_mem,  # validated: digits and a unit, nothing else
        )
        try:
            with translate_errors(span=None):
                await driver.execute(script)
        except BaseException as exc:
            if not driver.is_closed() and driver.is_in_transaction():
                await driver.execute("ROLLBACK")
            sqlstate = getattr(exc.__cause__, "sqlstate", None)
            if sqlstate == _UNKNOWN_CALLER:
                raise AuthorizationError(
                    f"unknown caller {self._caller}: no manager has this id; "
                    "use the id of a store manager, regional manager or head office"
                ) from exc
            if sqlstate == _BOUND_LOGIN:
                raise AuthorizationError(
                    "this database login is bound to one manager (zava db grant-login "
                    f"--manager) and may not act as {self._caller}: start the server with "
                    "that manager's id as --rls-user") from exc
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        session, self._session = self._session, None
        if connection is None:
            return
        try:
            with tracing.span("zava.unit.exit"):
                await _to_completion(self._close(connection, session,
                                                 commit=self._write and exc is None))
        finally:
            self._end_span(exc)
        if exc is not None and not isinstance(exc, ZavaError) and is_connection_failure(exc):
            # The connection died under a statement: say so (it is never retried here).
            raise to_zava_error(exc) from exc

    @staticmethod
    async def _close(connection: AsyncConnection, session: AsyncSession | None, *,
                     commit: bool) -> None:
        """End the transaction and return the connection to the pool."""
        try:
            if session is not None and (session.in_transaction() or session.identity_map):
                await session.close()  # an unused session has nothing to close
            driver = await _driver(connection)
            if driver.is_closed():
                await connection.invalidate()
            elif driver.is_in_transaction():
                await driver.execute("COMMIT" if commit else "ROLLBACK")
        except BaseException:
            # A connection we cannot roll back must never be reused: drop it from the pool.
            await connection.invalidate()
            raise
        finally:
            await connection.close()

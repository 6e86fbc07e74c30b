"""The unit of work: the only way code reaches the database.

A read unit opens a READ ONLY transaction and, inside it and before anything else,
switches to the reader role, sets the caller's identity transaction-locally (so a
pooled connection never carries a tenant into its next checkout) and the statement,
lock and idle timeouts, then checks that the identity exists. On exit it rolls back.
A write unit (seed and admin commands only) runs as the admin login and commits.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, Self

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from zava.config import Settings
from zava.db.connect import connect
from zava.db.errors import translate_errors
from zava.errors import AuthorizationError
from zava.repositories.customers import CustomerRepository
from zava.repositories.inventory import InventoryRepository
from zava.repositories.products import ProductRepository
from zava.repositories.sales import SalesRepository
from zava.repositories.schema import SchemaRepository
from zava.repositories.stores import StoreRepository

READER_ROLE = "zava_reader"

# One statement, one round trip: set_config(..., true) is SET LOCAL.
_APPLY_CALLER = text(
    "SELECT set_config('role', :role, true), "
    "set_config('app.current_rls_user_id', :caller, true), "
    "set_config('statement_timeout', :statement_timeout, true), "
    "set_config('lock_timeout', :lock_timeout, true), "
    "set_config('idle_in_transaction_session_timeout', :idle_timeout, true), "
    "set_config('search_path', 'retail, public', true)"
)
_CALLER_SCOPE = text("SELECT retail.current_manager_scope()")


class UnitOfWork:
    """``async with UnitOfWork(engine, settings, caller) as uow: await uow.sales....``"""

    stores: StoreRepository
    products: ProductRepository
    sales: SalesRepository
    inventory: InventoryRepository
    customers: CustomerRepository
    schema: SchemaRepository

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        caller: uuid.UUID | None,
        *,
        write: bool = False,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._caller = caller
        self._write = write
        self._connection: AsyncConnection | None = None
        self._session: AsyncSession | None = None
        self.scope: str | None = None

    @property
    def caller(self) -> uuid.UUID | None:
        """The manager id this unit acts for (None for an admin write unit)."""
        return self._caller

    @property
    def connection(self) -> AsyncConnection:
        """The connection, inside the unit's transaction."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        return self._connection

    async def driver_connection(self) -> Any:
        """The asyncpg connection under this unit, for the guarded query executor."""
        raw = await self.connection.get_raw_connection()
        return raw.driver_connection

    async def __aenter__(self) -> Self:
        if not self._write and self._caller is None:
            raise AuthorizationError(
                "no caller identity: start the server with --rls-user <manager id> "
                "or authenticate the request"
            )
        connection = await connect(self._engine, self._settings)
        try:
            if not self._write:
                connection = await connection.execution_options(postgresql_readonly=True)
            await connection.begin()
            if not self._write:
                await self._apply_caller(connection)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        self._session = AsyncSession(bind=connection, expire_on_commit=False)
        self._attach_repositories(self._session)
        return self

    async def _apply_caller(self, connection: AsyncConnection) -> None:
        settings = self._settings
        with translate_errors():
            await connection.execute(_APPLY_CALLER, {
                "role": READER_ROLE,
                "caller": str(self._caller),
                "statement_timeout": str(settings.statement_timeout_ms),
                "lock_timeout": str(settings.lock_timeout_ms),
                "idle_timeout": str(settings.idle_in_transaction_timeout_ms),
            })
            self.scope = await connection.scalar(_CALLER_SCOPE)
        if self.scope is None:
            raise AuthorizationError(
                f"unknown caller {self._caller}: no manager has this id; "
                "use the id of a store manager, regional manager or head office"
            )

    def _attach_repositories(self, session: AsyncSession) -> None:
        self.stores = StoreRepository(session)
        self.products = ProductRepository(session)
        self.sales = SalesRepository(session)
        self.inventory = InventoryRepository(session)
        self.customers = CustomerRepository(session)
        self.schema = SchemaRepository(session)

    async def commit(self) -> None:
        """Commit a write unit (read units never commit)."""
        if not self._write:
            raise RuntimeError("a read unit of work cannot commit")
        await self.connection.commit()

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
            if session is not None:
                await session.close()
            if self._write and exc is None:
                await connection.commit()
            else:
                await connection.rollback()
        finally:
            await connection.close()


class UnitOfWorkFactory:
    """Makes units of work on one engine: what services and tools are given."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    def __call__(self, caller: uuid.UUID | None) -> UnitOfWork:
        """A read unit acting for ``caller``."""
        return UnitOfWork(self.engine, self.settings, caller)

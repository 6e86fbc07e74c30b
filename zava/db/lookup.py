"""A read-only transaction as the reader role, before any caller is known: for the one
lookup that finds the caller (``retail.manager_for_identity``, a SECURITY DEFINER function
the reader roles may execute). Nothing of any tenant is visible in it: no caller id is
set, so every row-level policy answers no rows."""

from __future__ import annotations

from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from zava.config import Settings
from zava.db.errors import translate_errors
from zava.db.roles import READER_ROLE
from zava.db.transaction import Transaction, _driver


class LookupTransaction(Transaction):
    """``async with LookupTransaction(engine, settings) as tx: await tx.session...``"""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        super().__init__(engine, settings, None)

    async def __aenter__(self) -> Self:
        connection = await self._open()
        self._connection = connection
        self._session = AsyncSession(bind=connection, expire_on_commit=False)
        return self

    async def _enter(self, connection: AsyncConnection) -> None:
        driver = await _driver(connection)
        timeout = int(self._settings.statement_timeout_ms)
        try:
            with translate_errors():
                await driver.execute(
                    f"BEGIN READ ONLY; SET LOCAL ROLE {READER_ROLE}; "
                    f"SELECT set_config('statement_timeout', '{timeout}', true)")
        except BaseException:
            if not driver.is_closed() and driver.is_in_transaction():
                await driver.execute("ROLLBACK")
            raise

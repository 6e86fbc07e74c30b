"""Stores the caller may see."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zava.db.errors import translate_errors
from zava.db.models import Store
from zava.repositories.results import StoreInfo


class StoreRepository:
    """Reads ``retail.stores`` (filtered by RLS to the caller's stores)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def caller_scope(self) -> str:
        """store, region or head_office (``retail.current_manager_scope()``)."""
        with translate_errors():
            scope = await self._session.scalar(select(func.retail.current_manager_scope()))
        return str(scope or "store")

    async def visible(self) -> list[StoreInfo]:
        """The caller's stores, by name."""
        query = select(
            Store.store_id, Store.name, Store.location, Store.region, Store.is_online
        ).order_by(Store.name)
        with translate_errors():
            rows = (await self._session.execute(query)).all()
        return [StoreInfo(*row) for row in rows]

"""Finding the manager a verified OAuth identity acts as (the HTTP transport's resolver)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.db.lookup import LookupTransaction
from zava.repositories.identities import IdentityRepository


class IdentityDirectory:
    """``await directory.manager_for(issuer, subject)``: one read-only transaction as the
    reader role, with no caller set, around one SECURITY DEFINER call. The server's login
    needs no other privilege, and never the admin login."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    async def manager_for(self, issuer: str, subject: str) -> uuid.UUID | None:
        """The manager ``subject`` at ``issuer`` is mapped to, or None."""
        async with LookupTransaction(self._engine, self._settings) as unit:
            return await IdentityRepository(unit.session).manager_for(issuer, subject)

"""Which manager a signed-in person (an issuer and a subject) acts as."""

from __future__ import annotations

import uuid

from sqlalchemy import Uuid, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zava.db.errors import translate_errors


class IdentityRepository:
    """Calls ``retail.manager_for_identity(issuer, subject)``: one exact pair answered,
    nothing listed (the reader roles cannot read ``retail.manager_identities``)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def manager_for(self, issuer: str, subject: str) -> uuid.UUID | None:
        """The mapped manager id, or None."""
        query = select(func.retail.manager_for_identity(issuer, subject, type_=Uuid))
        with translate_errors():
            value = await self._session.scalar(query)
        return uuid.UUID(str(value)) if value is not None else None

"""The asyncpg connection under a unit of work, for tests that must look beneath the ORM
(the server itself reaches it only inside ``zava.repositories.queries``)."""

from __future__ import annotations

from typing import Any

from zava.services.unit_of_work import SqlAlchemyUnitOfWork


async def driver_of(uow: SqlAlchemyUnitOfWork) -> Any:
    """The driver connection inside ``uow``'s transaction."""
    return (await uow.connection.get_raw_connection()).driver_connection

"""How a result was made, carried on every tool result: what it measures (the governed
metrics' definitions, or the hash of the guarded SQL), the dates and filters it covers,
how fresh its data is, whether it came from the cache, and the row cap if it cut.

The freshness is read by a ``WitnessedUnitOfWork``: the unit a tool gives its service,
which, once the service's work has succeeded and before the transaction ends, asks its
own session for the newest order the caller can see (one index probe per visible store)
and remembers which engine (primary or replica) served it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Annotated

from pydantic import BaseModel, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.services.metrics_catalog import METRICS
from zava.services.unit_of_work import SqlAlchemyUnitOfWork, UnitOfWorkFactory


class Provenance(BaseModel):
    """How this result was made (trace_id matches the server's audit line). Fields at
    their defaults are left out of results."""

    trace_id: str = ""
    metrics: dict[str, str] = {}
    sql_hash: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    filters: dict[str, list[str]] = {}
    as_of: dt.date | None = None
    replica_lag_s: float | None = None
    cached: bool = False
    cache_age_s: float | None = None
    row_cap: int | None = None


PUBLISHED = {"type": "object", "description": "How it was made (source, dates, as_of)"}
ProvenanceField = Annotated[Provenance | None, WithJsonSchema(PUBLISHED)]
"""A result's ``provenance``: validated as ``Provenance``, published in output schemas
as one short object schema (tools/list is read by the model on every session)."""


def definitions(names: Iterable[str]) -> dict[str, str]:
    """The governed definitions of the catalog metrics ``names``, by name."""
    return {name: METRICS[name].definition for name in names}


def of_metrics(names: Iterable[str], *, start: dt.date | None = None,
               end: dt.date | None = None, row_cap: int | None = None,
               **filters: str | None) -> Provenance:
    """The provenance of a typed tool's figures: catalog metrics over [start, end] (end
    included), with the filters that were given (None ones left out) and the row cap
    when it cut the result."""
    return Provenance(metrics=definitions(names), start=start, end=end, row_cap=row_cap,
                      filters={name: [value] for name, value in filters.items() if value})


@dataclass(frozen=True)
class Freshness:
    """What a unit of work saw: the newest visible order's date (None when the caller
    sees no orders) and the engine that served it."""

    as_of: dt.date | None
    engine: AsyncEngine


class WitnessedUnitOfWork(SqlAlchemyUnitOfWork):
    """A read unit that records its ``Freshness`` when its work succeeded."""

    freshness: Freshness | None = None

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None:
            try:
                self.freshness = Freshness(await self.sales.newest_order_date(),
                                           self.connection.engine)
            except BaseException as error:
                await super().__aexit__(type(error), error, error.__traceback__)
                raise
        await super().__aexit__(exc_type, exc, tb)


def witnessed(units: UnitOfWorkFactory, caller: uuid.UUID, *,
              label: str | None = None) -> WitnessedUnitOfWork:
    """A ``WitnessedUnitOfWork`` for ``caller`` from the factory's engines (``label``:
    its application_name, as ``units`` would give it)."""
    return WitnessedUnitOfWork(units.engine, units.settings, caller,
                               replicas=units.replicas, queue=units.queue, label=label)

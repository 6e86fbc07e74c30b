"""How a result was made, carried on every tool result: what it measures (the governed
metrics' definitions, or the hash of the guarded SQL), the dates and filters it covers,
how fresh its data is, whether it came from the cache, and the row cap if it cut.

The freshness is read by a ``WitnessedUnitOfWork``: the unit a tool gives its service,
which, once the service's work has succeeded and before the transaction ends, asks its
own session for the newest order the caller can see (one index probe per visible store)
and remembers which engine (primary or replica) served it. ``as_of`` is a date, so each
caller's answer per engine is kept for ``FRESHNESS_TTL_S`` (``FreshnessMemory``): a
repeated cheap call does not pay a second statement and round trip every time
(docs/performance.md).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Annotated

from pydantic import BaseModel, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.cache.lru import Lru
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


FRESHNESS_TTL_S = 60.0
"""How long a caller's newest visible order date is reused (per engine)."""


class FreshnessMemory:
    """Each caller's newest visible order date per engine (primary or replica), read at
    most once per ``ttl_s``; at most ``size`` callers and engines are remembered."""

    def __init__(self, ttl_s: float = FRESHNESS_TTL_S, size: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._seen: Lru[tuple[uuid.UUID, int], tuple[float, dt.date | None]] = Lru(size)

    def recall(self, caller: uuid.UUID, engine: AsyncEngine) -> tuple[dt.date | None] | None:
        """``(as_of,)`` read for ``caller`` on ``engine`` within ``ttl_s``, else None."""
        seen = self._seen.get((caller, id(engine)))
        if seen is None or time.monotonic() - seen[0] > self.ttl_s:
            return None
        return (seen[1],)

    def remember(self, caller: uuid.UUID, engine: AsyncEngine, as_of: dt.date | None) -> None:
        """Note what ``caller`` saw on ``engine`` just now."""
        self._seen.put((caller, id(engine)), (time.monotonic(), as_of))


class WitnessedUnitOfWork(SqlAlchemyUnitOfWork):
    """A read unit that records its ``Freshness`` when its work succeeded (from its
    ``memory`` when it knows the answer, else with one more statement)."""

    freshness: Freshness | None = None
    memory: FreshnessMemory | None = None

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is None:
            try:
                self.freshness = await self._freshness()
            except BaseException as error:
                await super().__aexit__(type(error), error, error.__traceback__)
                raise
        await super().__aexit__(exc_type, exc, tb)

    async def _freshness(self) -> Freshness:
        engine, caller = self.connection.engine, self.caller
        assert caller is not None  # a read unit always acts for a caller
        recalled = self.memory.recall(caller, engine) if self.memory is not None else None
        if recalled is not None:
            return Freshness(recalled[0], engine)
        as_of = await self.sales.newest_order_date()
        if self.memory is not None:
            self.memory.remember(caller, engine, as_of)
        return Freshness(as_of, engine)


def witnessed(units: UnitOfWorkFactory, caller: uuid.UUID, *, label: str | None = None,
              memory: FreshnessMemory | None = None) -> WitnessedUnitOfWork:
    """A ``WitnessedUnitOfWork`` for ``caller`` from the factory's engines (``label``:
    its application_name, as ``units`` would give it; ``memory``: the freshness already
    read for this caller)."""
    unit = WitnessedUnitOfWork(units.engine, units.settings, caller,
                               replicas=units.replicas, queue=units.queue, label=label)
    unit.memory = memory
    return unit

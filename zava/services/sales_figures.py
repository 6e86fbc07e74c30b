"""The typed tools' sales figures, read through the governed metrics layer: the catalog's
metrics (``zava.services.metrics_catalog``) compiled to ``select()``s by ``uow.metrics``,
inside the use case's unit of work, as exact Decimals that the use case rounds and
compares itself (``query_metrics`` formats its own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from zava.repositories.metrics import Key, MeasureRequest
from zava.services.metrics import check_compatible, resolve_dimensions, resolve_metrics
from zava.services.metrics_catalog import METRICS, Measures
from zava.services.unit_of_work import UnitOfWork

SALES = ("revenue", "orders", "units", "gross_margin")
"""The metrics a ``SalesFigures`` is made of."""
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SalesFigures:
    """Revenue, orders, units and gross margin of one store (or category) in a period."""

    key: str
    revenue: Decimal
    orders: int
    units: int
    gross_profit: Decimal


async def read(uow: UnitOfWork, metrics: Sequence[str], *, by: Sequence[str],
               start: dt.date, end: dt.date,
               stores: Sequence[str] | None = None) -> dict[Key, dict[str, Decimal]]:
    """The base measures of the catalog ``metrics`` for orders in [start, end), grouped
    ``by`` these dimensions, in the named stores (None: every store the caller sees).
    ``uow`` is already entered."""
    chosen = resolve_metrics(metrics)
    dimensions = resolve_dimensions(by)
    check_compatible(chosen, dimensions, None)
    filters = {} if stores is None else {"store": tuple(stores)}
    measures = frozenset(name for metric in chosen for name in metric.measures)
    return await uow.metrics.aggregate(
        MeasureRequest(measures, tuple(dimensions), start, end, filters))


def figures(key: str, measures: Measures | None) -> SalesFigures:
    """``key``'s figures from the ``SALES`` metrics' measures (zero without sales)."""
    if measures is None:
        return SalesFigures(key, Decimal(0), 0, 0, Decimal(0))
    return SalesFigures(key, measures["revenue"], int(measures["orders"]),
                        int(measures["units"]), measures["gross_margin"])


def value(metric: str, measures: Measures | None, days: int) -> Decimal:
    """A catalog metric's value to the cent; 0 where it is undefined (no sales, no
    orders, no revenue), as the typed tools have always shown it."""
    result = None if measures is None else METRICS[metric].formula(measures, days)
    return Decimal(0) if result is None else result.quantize(CENT)

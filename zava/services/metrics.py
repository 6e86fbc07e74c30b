"""``query_metrics``: governed metrics by dimensions for a period, with a comparison.

Names are checked against the catalog (``metrics_catalog``) before anything runs; the
figures come from ``uow.metrics`` (SQLAlchemy ``select()`` on the unit's session, under
RLS); ratios are computed per group from the group's base measures.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from zava.errors import ValidationError
from zava.repositories.metrics import FILTERABLE, Key, MeasureRequest
from zava.services import periods
from zava.services.metrics_catalog import DIMENSIONS, METRICS, Metric, incompatibility
from zava.services.provenance import ProvenanceField
from zava.services.unit_of_work import UnitOfWork

CompareTo = Literal["previous_period", "same_period_last_year"]
MAX_LIMIT = 1000
MAX_SPAN_DAYS = 3700
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
Value = str | int | float | None


class MetricsResult(BaseModel):
    """Rows of dimension and metric values; with compare_to each metric also has
    <name>_previous, <name>_change and <name>_change_percent."""

    metrics: list[str]
    group_by: list[str]
    filters: dict[str, list[str]]
    start: dt.date
    end: dt.date = Field(description="Last day included")
    compare_to: str | None
    previous_start: dt.date | None
    previous_end: dt.date | None
    units: dict[str, str] = Field(description="Each metric column's unit")
    rows: list[dict[str, Value]] = Field(description=(
        "Dimension and metric values per group; compare_to adds <metric>_previous, "
        "_change, _change_percent"))
    truncated: bool
    provenance: ProvenanceField = None


def _unknown(kind: str, name: str, known: Iterable[str]) -> ValidationError:
    known = list(known)
    given = name.strip().lower()
    close = difflib.get_close_matches(given, known, n=3, cutoff=0.6)
    if len(given) >= 4:
        close += [k for k in known if given in k and k not in close]
    hint = f"did you mean {' or '.join(close[:3])}? " if close else ""
    # The argument is not echoed: errors reach the model outside the untrusted-data fence.
    return ValidationError(f"unknown {kind}; {hint}known: {', '.join(known)}")


def resolve_metrics(names: Sequence[str]) -> list[Metric]:
    """The catalog's metrics for ``names`` (ValidationError with close matches)."""
    if not names:
        raise ValidationError("name at least one metric; known: " + ", ".join(METRICS))
    found = []
    for name in names:
        metric = METRICS.get(name.strip().lower())
        if metric is None:
            raise _unknown("metric", name, METRICS)
        if metric not in found:
            found.append(metric)
    return found


def resolve_dimensions(names: Sequence[str], kind: str = "dimension") -> list[str]:
    """Dimension names, checked and deduplicated in order."""
    found: list[str] = []
    for name in names:
        key = name.strip().lower()
        if key not in DIMENSIONS:
            raise _unknown(kind, name, DIMENSIONS)
        if key not in found:
            found.append(key)
    return found


def check_compatible(metrics: Sequence[Metric], dimensions: Iterable[str],
                     compare_to: str | None) -> None:
    """ValidationError naming why a metric cannot be cut this way."""
    for metric in metrics:
        for name in dimensions:
            reason = incompatibility(metric, DIMENSIONS[name])
            if reason:
                raise ValidationError(reason)
        if compare_to and not metric.comparable:
            raise ValidationError(f"{metric.name} uses today's stock, which has no history: "
                                  "it cannot be compared with another period")


def _last_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def resolve_dates(*, period: str | None, start: dt.date | None, end: dt.date | None,
                  compare_to: str | None, today: dt.date
                  ) -> tuple[periods.Period, periods.Period | None]:
    """The period ([start, end)) and the one it is compared with, if any."""
    if period is not None and (start is not None or end is not None):
        raise ValidationError("give either period or start/end, not both")
    if period is None and start is None and end is None:
        period = "last_30_days"
    if period is not None:
        current, previous = periods.resolve(period, today)
    else:
        if start is None or end is None:
            raise ValidationError("give both start and end (end is the last day included)")
        if end < start:
            raise ValidationError("end is before start")
        if (end - start).days > MAX_SPAN_DAYS:
            raise ValidationError(f"a date range is at most {MAX_SPAN_DAYS} days")
        current = periods.Period("custom", start, end + dt.timedelta(days=1))
        span = current.end - current.start
        previous = periods.Period("custom", current.start - span, current.start)
    if compare_to is None:
        return current, None
    if compare_to == "previous_period":
        return current, previous
    if compare_to == "same_period_last_year":
        return current, periods.Period(current.name, _last_year(current.start),
                                       _last_year(current.end))
    raise ValidationError("compare_to is previous_period, same_period_last_year or omitted")


def _label(dimension: str, value: Any) -> str:
    if value is None:
        return ""
    if dimension == "day":
        return str(value.isoformat())
    if dimension == "week":
        year, week, _ = value.isocalendar()
        return f"{year}-W{week:02d}"
    if dimension == "month":
        return str(value.strftime("%Y-%m"))
    if dimension == "quarter":
        return f"{value.year}-Q{(value.month - 1) // 3 + 1}"
    if dimension == "year":
        return str(value.year)
    if dimension == "channel":
        return "online" if value else "physical"
    if dimension == "day_of_week":
        return WEEKDAYS[int(value) - 1]
    return str(value)


def _a_year_later(dimension: str, value: Any) -> Any:
    """A previous period's time bucket moved to the bucket it is compared with."""
    if dimension == "week":
        year, week, _ = value.isocalendar()
        try:
            return dt.date.fromisocalendar(year + 1, week, 1)
        except ValueError:  # week 53
            return None
    if dimension in ("day", "month", "quarter", "year"):
        try:
            return value.replace(year=value.year + 1)
        except ValueError:
            return None
    return value


def _number(metric: Metric, value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    if metric.format == "integer":
        return int(value)
    return float(value.quantize(Decimal("0.01")))


def _values(metrics: Sequence[Metric], measures: Mapping[str, Decimal],
            days: int) -> dict[str, int | float | None]:
    return {m.name: _number(m, m.formula(measures, days)) for m in metrics}


def _change(now: int | float | None, before: int | float | None
            ) -> tuple[float | None, float | None]:
    if now is None or before is None:
        return None, None
    absolute = round(float(now) - float(before), 2)
    percent = round(absolute * 100 / float(before), 1) if before else None
    return absolute, percent


def _order_key(order_by: str | None, metrics: Sequence[Metric],
               dimensions: Sequence[str]) -> tuple[str | None, bool]:
    if order_by is None:
        return None, False
    text = order_by.strip().lower()
    descending = None
    if text.startswith("-"):
        text, descending = text[1:].strip(), True
    for suffix, flag in ((" desc", True), (" asc", False)):
        if text.endswith(suffix):
            text, descending = text[: -len(suffix)].strip(), flag
    names = [m.name for m in metrics] + list(dimensions)
    if text not in names:
        raise _unknown("order_by column (a requested metric or group_by dimension)", text,
                       names)
    if descending is None:
        descending = text not in dimensions
    return text, descending


async def query_metrics(
    uow: UnitOfWork, *, metrics: Sequence[str], group_by: Sequence[str] = (),
    filters: Mapping[str, Sequence[str]] | None = None, period: str | None = None,
    start: dt.date | None = None, end: dt.date | None = None,
    compare_to: str | None = None, order_by: str | None = None, limit: int = 100,
    today: dt.date, max_limit: int = MAX_LIMIT,
) -> MetricsResult:
    """Governed metrics by dimensions for a period, optionally compared with another;
    ``max_limit``: the highest ``limit`` allowed (an export's row cap)."""
    chosen = resolve_metrics(metrics)
    dimensions = resolve_dimensions(group_by)
    wanted_filters: dict[str, tuple[str, ...]] = {}
    for name, given in (filters or {}).items():
        (dimension,) = resolve_dimensions([name], "filter dimension")
        if dimension not in FILTERABLE:
            raise ValidationError(f"{dimension} cannot be filtered on; use start/end or "
                                  "period for dates")
        cleaned = tuple(v for v in given if v.strip())
        if not cleaned:
            raise ValidationError(f"filter {dimension} has no values")
        wanted_filters[dimension] = cleaned
    check_compatible(chosen, [*dimensions, *wanted_filters], compare_to)
    if compare_to == "previous_period" and any(DIMENSIONS[d].time and d != "day_of_week"
                                               for d in dimensions):
        raise ValidationError("previous_period has no bucket matching each day, week, month, "
                              "quarter or year; use same_period_last_year, or group by "
                              "other dimensions")
    if not 1 <= limit <= max_limit:
        raise ValidationError(f"limit must be between 1 and {max_limit}")
    order, descending = _order_key(order_by, chosen, dimensions)
    current, previous = resolve_dates(period=period, start=start, end=end,
                                      compare_to=compare_to, today=today)
    measures = frozenset(name for m in chosen for name in m.measures)
    async with uow:
        now = await uow.metrics.aggregate(MeasureRequest(
            measures, tuple(dimensions), current.start, current.end, wanted_filters))
        before: dict[Key, dict[str, Decimal]] = {}
        if previous is not None:
            raw = await uow.metrics.aggregate(MeasureRequest(
                measures, tuple(dimensions), previous.start, previous.end, wanted_filters))
            for key, values in raw.items():
                if compare_to == "same_period_last_year":
                    key = tuple(_a_year_later(d, v) for d, v in zip(dimensions, key, strict=True))
                before[key] = values
    days = (current.end - current.start).days
    keyed: list[tuple[Key, dict[str, Value]]] = []
    for key in sorted(now, key=lambda k: tuple((v is None, v) for v in k)):
        row: dict[str, Value] = {d: _label(d, v) for d, v in zip(dimensions, key, strict=True)}
        shown = _values(chosen, now[key], days)
        row.update(shown)
        if previous is not None:
            old = before.get(key)
            old_values = (_values(chosen, old, (previous.end - previous.start).days)
                          if old is not None else {m.name: None for m in chosen})
            for m in chosen:
                absolute, percent = _change(shown[m.name], old_values[m.name])
                row[f"{m.name}_previous"] = old_values[m.name]
                row[f"{m.name}_change"] = absolute
                row[f"{m.name}_change_percent"] = percent
        keyed.append((key, row))
    if order is not None:
        column = order
        present = [r for r in keyed if r[1][column] is not None]
        missing = [r for r in keyed if r[1][column] is None]
        present.sort(key=lambda r: r[1][column], reverse=descending)  # type: ignore[arg-type,return-value]
        keyed = present + missing
    units: dict[str, str] = {}
    for m in chosen:
        units[m.name] = m.unit
        if previous is not None:
            # The change of a percentage is in percentage points.
            change = "percentage points" if m.unit == "percent" else m.unit
            units.update({f"{m.name}_previous": m.unit, f"{m.name}_change": change,
                          f"{m.name}_change_percent": "percent"})
    return MetricsResult(
        metrics=[m.name for m in chosen], group_by=dimensions,
        filters={k: list(v) for k, v in wanted_filters.items()},
        start=current.start, end=current.end - dt.timedelta(days=1), compare_to=compare_to,
        previous_start=previous.start if previous else None,
        previous_end=previous.end - dt.timedelta(days=1) if previous else None,
        units=units, rows=[r for _, r in keyed[:limit]], truncated=len(keyed) > limit,
    )

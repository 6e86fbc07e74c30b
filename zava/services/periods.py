"""Named reporting periods ("last_30_days", "year_to_date", ...) and the one before each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, get_args

from zava.errors import ValidationError

PeriodName = Literal[
    "last_7_days", "last_30_days", "last_90_days", "last_12_months",
    "month_to_date", "last_month", "quarter_to_date", "last_quarter",
    "year_to_date", "last_year",
]
PERIOD_NAMES: tuple[str, ...] = get_args(PeriodName)


@dataclass(frozen=True)
class Period:
    """Dates in [start, end): ``end`` is the first day not included."""

    name: str
    start: dt.date
    end: dt.date


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, 1)


def resolve(name: str, today: dt.date) -> tuple[Period, Period]:
    """The named period ending with ``today`` and the comparable period before it."""
    tomorrow = today + dt.timedelta(days=1)
    month = today.replace(day=1)
    quarter = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    year = dt.date(today.year, 1, 1)
    windows = {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90}
    if name in windows:
        span = dt.timedelta(days=windows[name])
        current = Period(name, tomorrow - span, tomorrow)
        return current, Period(name, current.start - span, current.start)
    to_date = {"month_to_date": (month, 1), "quarter_to_date": (quarter, 3),
               "year_to_date": (year, 12)}
    if name in to_date:
        start, months = to_date[name]
        before = add_months(start, -months)
        # The same number of days into the previous month/quarter/year.
        return Period(name, start, tomorrow), Period(
            name, before, min(before + (tomorrow - start), start))
    whole = {"last_month": (month, 1), "last_quarter": (quarter, 3), "last_year": (year, 12),
             "last_12_months": (month, 12)}
    if name in whole:
        end, months = whole[name]
        start = add_months(end, -months)
        return Period(name, start, end), Period(name, add_months(start, -months), start)
    raise ValidationError(f"unknown period {name[:40]!r}; use one of: " + ", ".join(PERIOD_NAMES))

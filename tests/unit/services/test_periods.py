"""Reporting periods."""

from __future__ import annotations

import datetime as dt

import pytest

from zava.services import periods

D = dt.date


@pytest.mark.parametrize(("name", "current", "previous"), [
    ("last_7_days", (D(2026, 11, 17), D(2026, 11, 24)), (D(2026, 11, 10), D(2026, 11, 17))),
    ("month_to_date", (D(2026, 11, 1), D(2026, 11, 24)), (D(2026, 10, 1), D(2026, 10, 24))),
    ("last_month", (D(2026, 10, 1), D(2026, 11, 1)), (D(2026, 9, 1), D(2026, 10, 1))),
    ("quarter_to_date", (D(2026, 10, 1), D(2026, 11, 24)), (D(2026, 7, 1), D(2026, 8, 24))),
    ("last_quarter", (D(2026, 7, 1), D(2026, 10, 1)), (D(2026, 4, 1), D(2026, 7, 1))),
    ("year_to_date", (D(2026, 1, 1), D(2026, 11, 24)), (D(2025, 1, 1), D(2025, 11, 24))),
    ("last_year", (D(2025, 1, 1), D(2026, 1, 1)), (D(2024, 1, 1), D(2025, 1, 1))),
    ("last_12_months", (D(2025, 11, 1), D(2026, 11, 1)), (D(2024, 11, 1), D(2025, 11, 1))),
])
def test_periods(name: str, current: tuple[dt.date, dt.date],
                 previous: tuple[dt.date, dt.date]) -> None:
    now, before = periods.resolve(name, D(2026, 11, 23))
    assert (now.start, now.end) == current
    assert (before.start, before.end) == previous


def test_to_date_previous_period_never_runs_into_the_current_one() -> None:
    # 31 March: "the same number of days into February" stops at 1 March.
    now, before = periods.resolve("month_to_date", D(2026, 3, 31))
    assert before.end == D(2026, 3, 1) == now.start

"""Reporting periods on awkward days (month ends, leap days, year and quarter starts) and
the rules every period keeps, whatever the day."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zava.errors import ValidationError
from zava.services import periods

D = dt.date
DAYS = st.dates(min_value=D(2001, 1, 1), max_value=D(2099, 12, 31))


@pytest.mark.parametrize(("day", "months", "expected"), [
    (D(2026, 1, 15), 0, D(2026, 1, 1)),
    (D(2026, 1, 31), 1, D(2026, 2, 1)),
    (D(2026, 11, 1), 2, D(2027, 1, 1)),
    (D(2026, 1, 1), -1, D(2025, 12, 1)),
    (D(2026, 3, 31), -13, D(2025, 2, 1)),
    (D(2024, 2, 29), 12, D(2025, 2, 1)),
    (D(2026, 12, 31), -120, D(2016, 12, 1)),
])
def test_add_months_lands_on_the_first_of_the_month(day: dt.date, months: int,
                                                    expected: dt.date) -> None:
    assert periods.add_months(day, months) == expected


@pytest.mark.parametrize(("name", "today", "current", "previous"), [
    # rolling windows end with today (end is exclusive) and the one before is as long
    ("last_30_days", D(2026, 3, 1), (D(2026, 1, 31), D(2026, 3, 2)),
     (D(2026, 1, 1), D(2026, 1, 31))),
    ("last_90_days", D(2026, 1, 1), (D(2025, 10, 4), D(2026, 1, 2)),
     (D(2025, 7, 6), D(2025, 10, 4))),
    ("last_7_days", D(2024, 3, 1), (D(2024, 2, 24), D(2024, 3, 2)),
     (D(2024, 2, 17), D(2024, 2, 24))),
    # to-date periods on their first day cover one day, as does the one before
    ("month_to_date", D(2026, 1, 1), (D(2026, 1, 1), D(2026, 1, 2)),
     (D(2025, 12, 1), D(2025, 12, 2))),
    ("quarter_to_date", D(2026, 4, 1), (D(2026, 4, 1), D(2026, 4, 2)),
     (D(2026, 1, 1), D(2026, 1, 2))),
    ("year_to_date", D(2026, 1, 1), (D(2026, 1, 1), D(2026, 1, 2)),
     (D(2025, 1, 1), D(2025, 1, 2))),
    # ... and on a leap day the year before covers as many days (60: to 1 March)
    ("year_to_date", D(2024, 2, 29), (D(2024, 1, 1), D(2024, 3, 1)),
     (D(2023, 1, 1), D(2023, 3, 2))),
    ("month_to_date", D(2024, 2, 29), (D(2024, 2, 1), D(2024, 3, 1)),
     (D(2024, 1, 1), D(2024, 1, 30))),
    ("quarter_to_date", D(2026, 12, 31), (D(2026, 10, 1), D(2027, 1, 1)),
     (D(2026, 7, 1), D(2026, 10, 1))),
    # whole periods before the current one
    ("last_month", D(2026, 1, 10), (D(2025, 12, 1), D(2026, 1, 1)),
     (D(2025, 11, 1), D(2025, 12, 1))),
    ("last_quarter", D(2026, 2, 14), (D(2025, 10, 1), D(2026, 1, 1)),
     (D(2025, 7, 1), D(2025, 10, 1))),
    ("last_quarter", D(2026, 12, 31), (D(2026, 7, 1), D(2026, 10, 1)),
     (D(2026, 4, 1), D(2026, 7, 1))),
    ("last_year", D(2026, 12, 31), (D(2025, 1, 1), D(2026, 1, 1)),
     (D(2024, 1, 1), D(2025, 1, 1))),
    ("last_12_months", D(2026, 1, 1), (D(2025, 1, 1), D(2026, 1, 1)),
     (D(2024, 1, 1), D(2025, 1, 1))),
])
def test_periods_on_awkward_days(name: str, today: dt.date, current: tuple[dt.date, dt.date],
                                 previous: tuple[dt.date, dt.date]) -> None:
    now, before = periods.resolve(name, today)
    assert (now.name, before.name) == (name, name)
    assert (now.start, now.end) == current
    assert (before.start, before.end) == previous


@pytest.mark.parametrize("name", ["", "fortnight", "LAST_MONTH", "last_month ", "x" * 500])
def test_an_unknown_period_lists_every_valid_name(name: str) -> None:
    with pytest.raises(ValidationError) as refused:
        periods.resolve(name, D(2026, 11, 23))
    assert refused.value.code == "validation_error"
    assert refused.value.message.endswith("use one of: " + ", ".join(periods.PERIOD_NAMES))
    assert len(refused.value.message) < 300  # a long name is cut


def test_every_period_name_resolves() -> None:
    assert len(periods.PERIOD_NAMES) == 10
    for name in periods.PERIOD_NAMES:
        periods.resolve(name, D(2026, 11, 23))


@given(name=st.sampled_from(periods.PERIOD_NAMES), today=DAYS)
def test_the_previous_period_comes_before_and_is_never_longer(name: str,
                                                              today: dt.date) -> None:
    now, before = periods.resolve(name, today)
    assert now.start < now.end <= today + dt.timedelta(days=1)
    assert before.start < before.end <= now.start
    assert (before.end - before.start) <= (now.end - now.start) + dt.timedelta(days=3)


@given(name=st.sampled_from(["last_7_days", "last_30_days", "last_90_days"]), today=DAYS)
def test_rolling_windows_end_today_and_touch_the_one_before(name: str, today: dt.date) -> None:
    now, before = periods.resolve(name, today)
    assert now.end == today + dt.timedelta(days=1)
    assert before.end == now.start
    assert now.end - now.start == before.end - before.start


@given(name=st.sampled_from(["last_month", "last_quarter", "last_year", "last_12_months"]),
       today=DAYS)
def test_whole_periods_start_on_a_first_and_exclude_the_current_month(name: str,
                                                                      today: dt.date) -> None:
    now, before = periods.resolve(name, today)
    assert now.start.day == now.end.day == before.start.day == 1
    assert now.end <= today.replace(day=1)
    assert before.end == now.start

"""The cost gate remembers a pass per caller and query text: a repeated query skips its
EXPLAIN, another caller's or a refused one does not, and a pass expires."""

from __future__ import annotations

import uuid

import pytest

from tests.unit.fakes import FakeUnitOfWork, store
from zava.errors import QueryTooCostlyError
from zava.security.sql_guard import SqlGuard
from zava.services.queries import CheapQueries, QueryLimits, run_query

SQL = "SELECT count(*) AS n FROM retail.orders WHERE total_amount > 0"
LIMITS = QueryLimits(max_rows=50, max_bytes=10_000, slow_query_ms=1000.0, max_cost=1e6)
ALICE, BOB = uuid.uuid4(), uuid.uuid4()


def steps(uow: FakeUnitOfWork) -> list[str]:
    return [call[0] for call in uow.queries.calls]


async def test_a_repeated_query_of_one_caller_skips_the_estimate(guard: SqlGuard) -> None:
    cheap = CheapQueries()
    first, again = FakeUnitOfWork([store("Seattle")]), FakeUnitOfWork([store("Seattle")])
    await run_query(first, guard, SQL, LIMITS, cheap=(cheap, ALICE))
    await run_query(again, guard, SQL, LIMITS, cheap=(cheap, ALICE))
    assert steps(first) == ["estimated_cost", "run"] and steps(again) == ["run"]


async def test_another_caller_or_budget_is_estimated_again(guard: SqlGuard) -> None:
    cheap = CheapQueries()
    await run_query(FakeUnitOfWork([store("Seattle")]), guard, SQL, LIMITS,
                    cheap=(cheap, ALICE))
    other_caller = FakeUnitOfWork([store("Seattle")])
    await run_query(other_caller, guard, SQL, LIMITS, cheap=(cheap, BOB))
    other_budget = FakeUnitOfWork([store("Seattle")])
    await run_query(other_budget, guard, SQL,
                    QueryLimits(max_rows=50, max_bytes=10_000, slow_query_ms=1000.0,
                                max_cost=10.0), cheap=(cheap, ALICE))
    assert steps(other_caller) == ["estimated_cost", "run"]
    assert steps(other_budget)[0] == "estimated_cost"


async def test_a_refused_query_is_never_remembered(guard: SqlGuard) -> None:
    cheap = CheapQueries()
    for _ in range(2):
        uow = FakeUnitOfWork([store("Seattle")])
        uow.queries.cost = 1e6 + 1
        with pytest.raises(QueryTooCostlyError):
            await run_query(uow, guard, SQL, LIMITS, cheap=(cheap, ALICE))
        assert steps(uow) == ["estimated_cost"]


async def test_a_pass_expires(guard: SqlGuard) -> None:
    now = [1000.0]
    cheap = CheapQueries(ttl_s=60.0, clock=lambda: now[0])
    await run_query(FakeUnitOfWork([store("Seattle")]), guard, SQL, LIMITS,
                    cheap=(cheap, ALICE))
    now[0] += 61.0
    later = FakeUnitOfWork([store("Seattle")])
    await run_query(later, guard, SQL, LIMITS, cheap=(cheap, ALICE))
    assert steps(later) == ["estimated_cost", "run"]


def test_the_memory_is_bounded() -> None:
    cheap = CheapQueries(size=2)
    for n in range(3):
        cheap.remember(ALICE, 1e6, f"SELECT {n}")
    assert not cheap.passed(ALICE, 1e6, "SELECT 0")
    assert cheap.passed(ALICE, 1e6, "SELECT 1") and cheap.passed(ALICE, 1e6, "SELECT 2")

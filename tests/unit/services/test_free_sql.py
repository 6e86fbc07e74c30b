"""Free SQL as a use case, with the guard on the catalog snapshot and a fake unit of work:
a rejected query never takes a connection, a costly one never starts, the caps reach the
repository, and a slow one is logged once with its plan's top line, not its text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

from tests.unit.fakes import FakeUnitOfWork, store
from zava.errors import QueryRejectedError, QueryTooCostlyError
from zava.repositories.queries import QueryResult
from zava.security.sql_guard import SqlGuard
from zava.services.queries import (
    QueryLimits,
    explain_query,
    query_hash,
    run_query,
)

SQL = "SELECT count(*) AS n FROM retail.orders WHERE total_amount > 0"
LIMITS = QueryLimits(max_rows=50, max_bytes=10_000, slow_query_ms=1000.0, max_cost=1e6,
                     max_depth=8)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork([store("Seattle")])


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="WARNING")
    yield lines
    logger.remove(sink)


async def test_an_accepted_query_runs_with_the_caps(uow: FakeUnitOfWork, guard: SqlGuard,
                                                    warnings: list[str]) -> None:
    result = await run_query(uow, guard, SQL + " ;", LIMITS)
    assert result is uow.queries.result and not result.slow
    assert uow.queries.calls == [
        ("estimated_cost", SQL, {}),
        ("run", SQL, {"max_rows": 50, "max_bytes": 10_000, "max_depth": 8})]
    assert uow.entered == 1 and not uow.open and warnings == []


@pytest.mark.parametrize("sql", ["SELECT set_config('role', 'postgres', true)",
                                 "DELETE FROM retail.orders", "SELECT 1; SELECT 2", ""])
async def test_a_rejected_query_never_enters_the_unit(uow: FakeUnitOfWork, guard: SqlGuard,
                                                      sql: str) -> None:
    with pytest.raises(QueryRejectedError):
        await run_query(uow, guard, sql, LIMITS)
    assert uow.entered == 0 and uow.queries.calls == []


async def test_a_query_over_the_cost_budget_never_starts(uow: FakeUnitOfWork,
                                                         guard: SqlGuard) -> None:
    uow.queries.cost = 1e6 + 1
    with pytest.raises(QueryTooCostlyError) as refused:
        await run_query(uow, guard, SQL, LIMITS)
    assert refused.value.code == "query_too_costly"
    assert "ZAVA_MAX_QUERY_COST=1e+06" in refused.value.message
    assert "1000001" not in refused.value.message  # the estimate reveals volumes
    assert [c[0] for c in uow.queries.calls] == ["estimated_cost"]
    assert uow.exits == [QueryTooCostlyError]


async def test_the_budget_itself_is_allowed_and_zero_means_no_gate(uow: FakeUnitOfWork,
                                                                    guard: SqlGuard) -> None:
    uow.queries.cost = 1e6
    await run_query(uow, guard, SQL, LIMITS)
    uow.queries.cost = 1e12
    await run_query(uow, guard, SQL, QueryLimits(max_rows=1, max_bytes=1_000,
                                                 slow_query_ms=1000.0, max_cost=0))
    assert [c[0] for c in uow.queries.calls] == ["estimated_cost", "run", "run"]


@pytest.mark.parametrize("log_text", [False, True])
async def test_a_slow_query_is_logged_once_with_its_plan(uow: FakeUnitOfWork, guard: SqlGuard,
                                                         warnings: list[str],
                                                         log_text: bool) -> None:
    uow.queries.result = QueryResult(columns=["n"], rows=[[1]], truncated=False,
                                     elapsed_ms=1000.0)
    limits = QueryLimits(max_rows=50, max_bytes=10_000, slow_query_ms=1000.0,
                         log_query_text=log_text)
    result = await run_query(uow, guard, SQL, limits)
    assert result.slow
    assert [c[0] for c in uow.queries.calls] == ["run", "plan_top_line"]
    (line,) = warnings
    assert f"query_hash={query_hash(SQL)}" in line and "ms=1000.0" in line
    assert "plan=Seq Scan on orders" in line
    assert ("total_amount > 0" in line) is log_text  # the text only with --log-queries


def test_the_query_hash_is_short_and_stable() -> None:
    assert query_hash(SQL) == query_hash(SQL) != query_hash(SQL + " ")
    assert len(query_hash(SQL)) == 16 and int(query_hash(SQL), 16) >= 0


async def test_explain_returns_the_plan_lines(uow: FakeUnitOfWork, guard: SqlGuard) -> None:
    assert await explain_query(uow, guard, SQL) == uow.queries.plan_lines
    assert uow.queries.calls == [("plan", SQL, {})]


async def test_explain_wants_the_select_itself(uow: FakeUnitOfWork, guard: SqlGuard) -> None:
    with pytest.raises(QueryRejectedError, match="pass the SELECT itself, without EXPLAIN"):
        await explain_query(uow, guard, "EXPLAIN (COSTS OFF) " + SQL)
    assert uow.entered == 0

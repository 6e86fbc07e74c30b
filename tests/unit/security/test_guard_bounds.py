"""The guard's own bounds, on the catalog snapshot: a 100 KB query of thousands of CTEs is
checked in bounded memory (the scopes were quadratic: 1.6 GB for 6,294 CTEs), WITH
nesting and parse-tree size are capped with a clear message, long checks leave the event
loop free and decide exactly as ``check``, CTE scoping stays exact (a name is a CTE only
where PostgreSQL would read it as one), and EXPLAIN must turn costs off.

Memory is asserted (tracemalloc's peak); time is not.
"""

from __future__ import annotations

import asyncio
import threading
import tracemalloc
from collections.abc import Callable

import pytest

from tests.support.catalog_snapshot import load_catalog, production_guard
from zava.errors import QueryRejectedError
from zava.security.sql_guard import (
    INLINE_CHECK_CHARS,
    MAX_NODES,
    MAX_QUERY_CHARS,
    MAX_WITH_DEPTH,
    GuardedQuery,
    SqlGuard,
)

MB = 1024 * 1024


@pytest.fixture(scope="module")
def bounds_guard() -> SqlGuard:
    """The production guard on the snapshot, with no decision cache (every check does
    the whole work)."""
    return production_guard(load_catalog(), cache_size=0)


def many_ctes(body: str = "SELECT", *, chained: bool = False,
              room: int = 0) -> tuple[str, int]:
    """``WITH c0 AS (SELECT), c1 AS (SELECT), ... SELECT 1`` just under the length cap
    (less ``room``); with ``chained``, each CTE reads the one before it. Returns (sql,
    CTE count)."""
    parts: list[str] = []
    length = len("WITH  SELECT 1") + room
    while True:
        index = len(parts)
        inner = f"SELECT * FROM c{index - 1}" if chained and index else body
        part = f"c{index} AS ({inner})"
        if length + len(part) + 1 >= MAX_QUERY_CHARS:
            break
        parts.append(part)
        length += len(part) + 1
    return "WITH " + ",".join(parts) + " SELECT 1", len(parts)


def peak_while(run: Callable[[], object]) -> int:
    """tracemalloc's peak (bytes) while ``run()`` runs."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def rejection(guard: SqlGuard, sql: str) -> str:
    with pytest.raises(QueryRejectedError) as caught:
        guard.check(sql)
    return caught.value.message


# --- the 100 KB query of empty CTEs ----------------------------------------------------

def test_a_100_kb_query_of_thousands_of_empty_ctes_is_checked_in_bounded_memory(
    bounds_guard: SqlGuard,
) -> None:
    sql, count = many_ctes()
    assert MAX_QUERY_CHARS - 30 < len(sql) < MAX_QUERY_CHARS and count > 5_500
    decisions: list[GuardedQuery] = []
    peak = peak_while(lambda: decisions.append(bounds_guard.check(sql)))
    assert decisions[0].sql == sql and decisions[0].tables == frozenset()
    assert not decisions[0].is_explain
    assert peak < 200 * MB, f"{peak / MB:.0f} MB"


def test_a_100_kb_chain_of_ctes_each_reading_the_last_is_bounded_too(
    bounds_guard: SqlGuard,
) -> None:
    sql, count = many_ctes(chained=True)
    assert count > 3_000
    decisions: list[GuardedQuery] = []
    peak = peak_while(lambda: decisions.append(bounds_guard.check(sql)))
    assert decisions[0].tables == frozenset()
    assert peak < 200 * MB, f"{peak / MB:.0f} MB"


def test_thousands_of_ctes_reading_retail_tables_still_record_the_tables(
    bounds_guard: SqlGuard,
) -> None:
    sql, _ = many_ctes("SELECT store_id FROM retail.stores")
    assert bounds_guard.check(sql).tables == {"stores"}


def test_thousands_of_ctes_do_not_make_a_real_table_a_cte(bounds_guard: SqlGuard) -> None:
    sql, count = many_ctes(room=100)
    # The last CTE reads a catalog table under a name defined only after it.
    sql = sql.replace(" SELECT 1", f", c{count} AS (SELECT * FROM pg_roles), "
                                   "pg_roles AS (SELECT) SELECT 1")
    assert len(sql) < MAX_QUERY_CHARS
    assert "table pg_roles is not available" in rejection(bounds_guard, sql)


# --- CTE scopes ------------------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    # A CTE cannot see a later sibling (PostgreSQL would read pg_roles as the catalog).
    "WITH a AS (SELECT * FROM pg_roles), pg_roles AS (SELECT 1) SELECT * FROM a",
    "WITH a AS (SELECT 1), b AS (SELECT * FROM pg_authid), pg_authid AS (SELECT 1) "
    "SELECT * FROM b",
    # Nor itself, without RECURSIVE.
    "WITH pg_roles AS (SELECT * FROM pg_roles) SELECT * FROM pg_roles",
    # A name defined in a nested WITH ends with it.
    "SELECT * FROM (WITH pg_roles AS (SELECT 1) SELECT * FROM pg_roles) s, pg_roles",
    "SELECT * FROM (WITH pg_roles AS (SELECT 1) SELECT * FROM pg_roles) s "
    "UNION ALL SELECT 1 FROM pg_roles",
    "(WITH pg_roles AS (SELECT 1) SELECT * FROM pg_roles) UNION ALL "
    "SELECT 1 FROM pg_roles",
    "WITH a AS (WITH pg_roles AS (SELECT 1) SELECT 1) SELECT * FROM a, pg_roles",
    "SELECT (SELECT 1 FROM (WITH pg_roles AS (SELECT 1) SELECT 1) s), "
    "(SELECT 1 FROM pg_roles)",
    # A CTE name a sibling's body defines in its own WITH is not the sibling's name.
    "WITH a AS (WITH pg_roles AS (SELECT 1) SELECT 1), b AS (SELECT * FROM pg_roles) "
    "SELECT * FROM b",
    # Schema-qualified names are never CTEs.
    "WITH pg_roles AS (SELECT 1) SELECT * FROM pg_catalog.pg_roles",
])
def test_a_name_is_a_cte_only_where_postgresql_reads_it_as_one(
    bounds_guard: SqlGuard, sql: str,
) -> None:
    message = rejection(bounds_guard, sql)
    assert "is not available" in message and ("pg_roles" in message or "pg_authid" in message)


@pytest.mark.parametrize("sql", [
    "WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT * FROM b",
    # RECURSIVE: every CTE sees every sibling, itself included.
    "WITH RECURSIVE a AS (SELECT * FROM pg_roles), pg_roles AS (SELECT 1) SELECT * FROM a",
    "WITH RECURSIVE pg_roles(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM pg_roles "
    "WHERE n < 3) SELECT * FROM pg_roles",
    # A name from an outer WITH is visible inside subqueries and nested WITHs.
    "WITH pg_roles AS (SELECT 1 AS x) SELECT * FROM (SELECT * FROM pg_roles) s",
    "WITH pg_roles AS (SELECT 1 AS x) SELECT * FROM (WITH b AS (SELECT * FROM pg_roles) "
    "SELECT * FROM b) s",
    "WITH pg_roles AS (SELECT 1 AS x) SELECT (SELECT x FROM pg_roles), "
    "EXISTS (SELECT 1 FROM pg_roles)",
    "WITH pg_roles AS (SELECT 1 AS x), a AS (SELECT * FROM (WITH b AS (SELECT 2) "
    "SELECT * FROM pg_roles, b) s) SELECT * FROM a",
    # An inner CTE shadows an outer one, and may read the outer one it shadows.
    "WITH pg_roles AS (SELECT 1 AS x) SELECT * FROM "
    "(WITH pg_roles AS (SELECT 2 AS x) SELECT * FROM pg_roles) s",
    "WITH pg_roles AS (SELECT 1 AS x) SELECT * FROM "
    "(WITH pg_roles AS (SELECT x + 1 AS x FROM pg_roles) SELECT * FROM pg_roles) s",
    # The WITH of a set operation covers every branch.
    "WITH pg_roles AS (SELECT 1) SELECT * FROM pg_roles UNION ALL SELECT * FROM pg_roles",
    # A CTE may shadow a retail table.
    "WITH stores AS (SELECT 1 AS store_id) SELECT * FROM stores",
])
def test_names_in_scope_are_ctes(bounds_guard: SqlGuard, sql: str) -> None:
    assert bounds_guard.check(sql).tables == frozenset()


def test_a_shadowing_cte_hides_the_retail_table_only_where_it_is_in_scope(
    bounds_guard: SqlGuard,
) -> None:
    decision = bounds_guard.check(
        "SELECT * FROM (WITH orders AS (SELECT 1) SELECT * FROM orders) s, orders")
    assert decision.tables == {"orders"}
    inner = bounds_guard.check(
        "WITH a AS (SELECT * FROM stores), stores AS (SELECT 1) SELECT * FROM a")
    assert inner.tables == {"stores"}  # a reads the table: the CTE comes after it


# --- WITH depth and node bounds --------------------------------------------------------

def nested_with(depth: int, name: str = "c", inner: str = "SELECT 1") -> str:
    """A WITH nested ``depth`` deep, each CTE body holding the next WITH."""
    sql = inner
    for _ in range(depth):
        sql = f"WITH {name} AS ({sql}) SELECT * FROM {name}"
    return sql


def nested_subquery_with(depth: int) -> str:
    """WITHs nested through FROM subqueries rather than CTE bodies."""
    sql = "SELECT 1 AS x"
    for level in range(depth):
        sql = f"WITH w{level} AS (SELECT 1) SELECT * FROM ({sql}) s{level}, w{level}"
    return sql


@pytest.mark.parametrize("build", [nested_with, nested_subquery_with])
def test_with_nested_to_the_bound_is_accepted_and_deeper_is_refused_naming_it(
    bounds_guard: SqlGuard, build: Callable[[int], str],
) -> None:
    bounds_guard.check(build(MAX_WITH_DEPTH))
    message = rejection(bounds_guard, build(MAX_WITH_DEPTH + 1))
    assert f"nested more than {MAX_WITH_DEPTH} deep" in message
    assert "flatten" in message


def test_many_sibling_withs_are_not_nesting(bounds_guard: SqlGuard) -> None:
    """WITHs side by side (a UNION of 200 subqueries with their own WITH) add no depth:
    each scope ends with its subquery."""
    branch = "SELECT * FROM (WITH w AS (SELECT 1 AS x) SELECT x FROM w) s"
    sql = " UNION ALL ".join([branch] * 200)
    assert bounds_guard.check(sql).tables == frozenset()


def test_more_parts_than_max_nodes_are_refused_naming_the_bound(
    bounds_guard: SqlGuard,
) -> None:
    items = (MAX_QUERY_CHARS - 20) // 2
    sql = "SELECT " + ",".join(["1"] * items)
    assert len(sql) < MAX_QUERY_CHARS
    message = rejection(bounds_guard, sql)
    assert f"more than {MAX_NODES:,} parts" in message
    # A tenth of it is an ordinary (if wide) query.
    bounds_guard.check("SELECT " + ",".join(["1"] * (items // 10)))


@pytest.mark.parametrize("item", ["1+1", "abs(x)", "x.y", "x::int"])
def test_the_node_bound_counts_every_kind_of_part(bounds_guard: SqlGuard, item: str) -> None:
    sql = "SELECT " + ",".join([item] * ((MAX_QUERY_CHARS - 20) // (len(item) + 1)))
    assert f"{MAX_NODES:,}" in rejection(bounds_guard, sql)


def test_the_node_bound_is_checked_in_bounded_memory(bounds_guard: SqlGuard) -> None:
    sql = "SELECT " + ",".join(["1"] * ((MAX_QUERY_CHARS - 20) // 2))

    def refuse() -> None:
        with pytest.raises(QueryRejectedError):
            bounds_guard.check(sql)
    assert peak_while(refuse) < 200 * MB


# --- off the event loop ----------------------------------------------------------------

class _ThreadRecordingGuard(SqlGuard):
    """Records the thread each ``check`` runs on."""

    threads: list[threading.Thread]

    def check(self, sql: str) -> GuardedQuery:
        self.threads.append(threading.current_thread())
        return super().check(sql)


def recording_guard() -> _ThreadRecordingGuard:
    reference = production_guard(load_catalog())
    guard = _ThreadRecordingGuard(reference.catalog, reference.tables, cache_size=0)
    guard.threads = []
    return guard


LONG_QUERIES = [
    many_ctes()[0],
    many_ctes("SELECT store_id FROM retail.stores")[0],
    nested_with(MAX_WITH_DEPTH + 1, inner="SELECT " + ",".join(["1"] * 3_000)),
    nested_with(MAX_WITH_DEPTH, inner="SELECT " + ",".join(["1"] * 3_000)),
    "SELECT " + ",".join(["1"] * 49_000),
    "SELECT " + " + ".join(["abs(1)"] * 1_000) + " FROM retail.orders",
    "SELECT " + " + ".join(["pg_read_file('x')"] * 400),
    "EXPLAIN " + "SELECT " + ",".join(["1"] * 3_000),
    "EXPLAIN (COSTS OFF) SELECT " + ",".join(["store_id"] * 1_000) + " FROM retail.stores",
    "SELECT 1; " + "SELECT " + ",".join(["2"] * 3_000),
]


@pytest.mark.parametrize("sql", LONG_QUERIES, ids=range(len(LONG_QUERIES)))
async def test_check_async_decides_a_long_query_exactly_as_check_off_the_loop(
    sql: str,
) -> None:
    assert len(sql) > INLINE_CHECK_CHARS
    guard = recording_guard()
    try:
        expected: GuardedQuery | str = guard.check(sql)
    except QueryRejectedError as error:
        expected = error.message
    try:
        decided: GuardedQuery | str = await guard.check_async(sql)
    except QueryRejectedError as error:
        decided = error.message
    assert decided == expected
    assert guard.threads[0] is threading.current_thread()
    assert guard.threads[1] is not threading.current_thread()


async def test_check_async_keeps_a_short_query_on_the_loop() -> None:
    guard = recording_guard()
    decision = await guard.check_async("SELECT count(*) FROM retail.orders")
    assert decision.tables == {"orders"}
    assert guard.threads == [threading.current_thread()]


async def test_the_event_loop_runs_while_a_long_query_is_checked() -> None:
    guard = recording_guard()
    sql, _ = many_ctes()
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    running = asyncio.create_task(ticker())
    try:
        await guard.check_async(sql)
    finally:
        done.set()
        await running
    assert ticks > 1  # the loop kept turning while the thread checked


# --- EXPLAIN ---------------------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "EXPLAIN SELECT 1",
    "EXPLAIN VERBOSE SELECT 1",
    "EXPLAIN (VERBOSE) SELECT count(*) FROM retail.orders",
    "EXPLAIN (COSTS) SELECT 1",
    "EXPLAIN (COSTS ON) SELECT 1",
    "EXPLAIN (COSTS true) SELECT 1",
    "EXPLAIN (COSTS 1) SELECT 1",
    "EXPLAIN (COSTS yes) SELECT 1",
    "EXPLAIN (COSTS 'on') SELECT 1",
    "EXPLAIN (COSTS 0.0) SELECT 1",
    "EXPLAIN (FORMAT JSON) SELECT 1",
    "EXPLAIN (COSTS OFF, COSTS ON) SELECT 1",  # the last one counts, as in PostgreSQL
    "EXPLAIN (SUMMARY, SETTINGS, GENERIC_PLAN) SELECT 1",
])
def test_explain_without_costs_off_is_refused(bounds_guard: SqlGuard, sql: str) -> None:
    message = rejection(bounds_guard, sql)
    assert "COSTS OFF" in message and "explain_sales_query" in message


@pytest.mark.parametrize("sql", [
    "EXPLAIN (COSTS OFF) SELECT count(*) FROM retail.orders",
    "EXPLAIN (costs false) SELECT count(*) FROM retail.orders",
    "EXPLAIN (costs 0) SELECT count(*) FROM retail.orders",
    "EXPLAIN (FORMAT JSON, COSTS no) SELECT count(*) FROM retail.orders",
    "explain (costs 'off') SELECT count(*) FROM retail.orders",
    "EXPLAIN (VERBOSE, COSTS OFF, FORMAT YAML) SELECT count(*) FROM retail.orders",
    "EXPLAIN (COSTS ON, COSTS OFF) SELECT count(*) FROM retail.orders",
    "EXPLAIN (COSTS OFF) WITH o AS (SELECT * FROM retail.orders) SELECT count(*) FROM o",
])
def test_explain_with_costs_off_is_accepted(bounds_guard: SqlGuard, sql: str) -> None:
    decision = bounds_guard.check(sql)
    assert decision.is_explain and decision.tables == {"orders"}


@pytest.mark.parametrize("sql", [
    "EXPLAIN (ANALYZE, COSTS OFF) SELECT 1",
    "EXPLAIN (COSTS OFF, ANALYSE) SELECT 1",
    "EXPLAIN (COSTS OFF, ANALYZE false) SELECT 1",
])
def test_costs_off_does_not_let_analyze_in(bounds_guard: SqlGuard, sql: str) -> None:
    assert "ANALYZE is not allowed" in rejection(bounds_guard, sql)


def test_costs_off_does_not_open_what_explain_reads(bounds_guard: SqlGuard) -> None:
    message = rejection(bounds_guard, "EXPLAIN (COSTS OFF) SELECT * FROM pg_authid")
    assert "pg_authid is not available" in message
    message = rejection(bounds_guard,
                        "EXPLAIN (COSTS OFF) WITH a AS (SELECT * FROM pg_roles), "
                        "pg_roles AS (SELECT 1) SELECT * FROM a")
    assert "pg_roles is not available" in message

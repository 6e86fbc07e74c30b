"""How free SQL is executed: a small result in one execution with no row limit (so that
PostgreSQL may run it in parallel), a longer one again through a cursor in batches, with
the same rows and caps either way. The driver is a fake that records what was sent."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from zava.errors import ResultTooLargeError
from zava.repositories.queries import QueryRepository
from zava.security.sql_guard import GuardedQuery

QUERY = GuardedQuery(sql="SELECT n FROM t", is_explain=False, tables=frozenset({"t"}))


@dataclass
class Driver:
    """An asyncpg connection as far as the repository uses it: ``rows`` JSON texts."""

    rows: list[str | None]
    executions: list[tuple[str, int]] = field(default_factory=list)
    """(how, row limit of the wrapped query) for each execution."""

    async def prepare(self, sql: str, name: str | None = None) -> Statement:
        assert name == ""  # free SQL never leaves a named statement behind
        limit = re.search(r"LIMIT (\d+)\s*$", sql)
        return Statement(self, int(limit.group(1)) if limit else 0)


@dataclass
class Statement:
    driver: Driver
    limit: int

    async def fetch(self) -> list[tuple[str | None]]:
        self.driver.executions.append(("whole", self.limit))
        return [(text,) for text in self.driver.rows[:self.limit]]

    async def cursor(self, prefetch: int) -> AsyncIterator[tuple[str | None]]:
        self.driver.executions.append(("batches", self.limit))
        for text in self.driver.rows[:self.limit]:
            yield (text,)


class Session:
    """What ``QueryRepository`` reaches the driver through."""

    def __init__(self, driver: Driver) -> None:
        self.bind = None
        self._driver = driver

    async def connection(self) -> Session:
        return self

    async def get_raw_connection(self) -> Any:
        return type("Raw", (), {"driver_connection": self._driver})()


def rows(count: int, width: int = 1) -> list[str | None]:
    return [json.dumps({"n": n, "pad": "x" * width}) for n in range(count)]


async def run(driver: Driver, *, max_rows: int = 500, max_bytes: int = 1_000_000) -> Any:
    repository = QueryRepository(cast(Any, Session(driver)))
    return await repository.run(QUERY, max_rows=max_rows, max_bytes=max_bytes)


async def test_a_small_result_is_one_execution_without_batches() -> None:
    driver = Driver(rows(8))
    result = await run(driver)
    assert driver.executions == [("whole", 17)]
    assert [r[0] for r in result.rows] == list(range(8)) and not result.truncated


@pytest.mark.parametrize("count", [16, 17, 40, 600])
async def test_a_longer_result_is_read_again_in_batches(count: int) -> None:
    driver = Driver(rows(count))
    result = await run(driver)
    expected = ([("whole", 17)] if count <= 16 else [("whole", 17), ("batches", 501)])
    assert driver.executions == expected
    assert [r[0] for r in result.rows] == list(range(min(count, 500)))
    assert result.truncated == (count > 500)


@pytest.mark.parametrize("max_rows", [1, 5, 16])
async def test_a_row_cap_within_the_first_execution_needs_no_second(max_rows: int) -> None:
    driver = Driver(rows(40))
    result = await run(driver, max_rows=max_rows)
    assert driver.executions == [("whole", max_rows + 1)]
    assert len(result.rows) == max_rows and result.truncated


async def test_the_byte_cap_cuts_in_either_execution() -> None:
    small = Driver(rows(10, width=300))
    cut = await run(small, max_bytes=1_500)
    assert small.executions == [("whole", 17)] and cut.truncated and 0 < len(cut.rows) < 10
    long = Driver(rows(100, width=10))
    cut = await run(long, max_bytes=1_500)
    assert long.executions == [("whole", 17), ("batches", 501)]
    assert cut.truncated and 17 < len(cut.rows) < 100


async def test_a_first_row_over_the_cap_is_refused_naming_it() -> None:
    with pytest.raises(ResultTooLargeError, match="first row alone"):
        await run(Driver([None, *rows(3)]))

"""Per-caller fair shares hold across workers: one store manager floods two workers
behind HAProxy with heavy queries; with Redis shared, PostgreSQL never runs more of
their queries at once than their share (not the share times the workers), the excess is
refused with rate_limited, and another manager's calls all succeed."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.fleet.fleet import (
    Balancer,
    fleet,
    modern_client,
    redis_server,
    tokens_env,
)
from tests.support.in_flight import peak_in_flight
from zava.seeding import company

FLOODER, LIGHT = company.SEATTLE_MANAGER_ID, company.BELLEVUE_MANAGER_ID
TOKENS = {FLOODER: "fleet_share_flooder", LIGHT: "fleet_share_light"}
CONCURRENCY = 2
MARKER = "fleet_flood_marker"
HEAVY = (f"SELECT count(*) AS {MARKER} FROM retail.order_items a "
         "CROSS JOIN retail.order_items b WHERE (a.quantity * 31 + b.quantity * 17) % 13 = 5")
LIGHT_QUERY = "SELECT count(*) FROM retail.orders"


@pytest.fixture(scope="module")
def balancer(server_env: dict[str, str],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Balancer]:
    folder = tmp_path_factory.mktemp("fleet-shares")
    with redis_server(folder) as redis_url:
        env = dict(tokens_env(server_env, TOKENS), ZAVA_REDIS_URL=redis_url,
                   ZAVA_CACHE_PREFIX=f"shares-{uuid.uuid4().hex[:8]}",
                   ZAVA_CALLER_MAX_WAIT_S="0.5",
                   ZAVA_CALLER_LIMITS=json.dumps({"store": {
                       "concurrency": CONCURRENCY, "rate_per_s": 50, "burst": 10}}))
        with fleet(env, folder, 2) as running:
            yield running


async def test_a_callers_share_holds_across_workers(
        balancer: Balancer, seeded_admin_engine: AsyncEngine) -> None:
    before = [w.calls() for w in balancer.workers]
    outcomes: dict[str, int] = {"ok": 0, "rate_limited": 0}
    other: list[str] = []
    light_errors: list[str] = []
    stop = asyncio.Event()

    async def flood() -> None:
        async with modern_client(balancer.url, TOKENS[FLOODER]) as client:
            while not stop.is_set():
                result = await client.call_tool("execute_sales_query",
                                                {"postgresql_query": HEAVY})
                message = str(result.content[0])
                if not result.is_error:
                    outcomes["ok"] += 1
                elif "rate_limited" in message:
                    outcomes["rate_limited"] += 1
                    await asyncio.sleep(0.02)
                else:
                    other.append(message)

    async def light() -> None:
        async with modern_client(balancer.url, TOKENS[LIGHT]) as client:
            while not stop.is_set():
                result = await client.call_tool("execute_sales_query",
                                                {"postgresql_query": LIGHT_QUERY})
                if result.is_error:
                    light_errors.append(str(result.content[0]))
                await asyncio.sleep(0.05)

    watching = asyncio.Event()
    watcher = asyncio.create_task(peak_in_flight(seeded_admin_engine, watching, MARKER))
    tasks = [asyncio.create_task(flood()) for _ in range(12)]
    tasks.append(asyncio.create_task(light()))
    deadline = time.monotonic() + 120
    try:
        while (outcomes["ok"] < 8 or outcomes["rate_limited"] < 4) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        watching.set()
    peak = await watcher
    print(f"\nflood over 2 workers: {outcomes}, at most {peak} queries at once")
    assert other == [] and light_errors == []
    assert outcomes["ok"] >= 8 and outcomes["rate_limited"] >= 4
    assert 1 <= peak <= CONCURRENCY  # not CONCURRENCY per worker
    after = [w.calls() for w in balancer.workers]
    assert all(a > b for a, b in zip(after, before, strict=True))  # both served the flood

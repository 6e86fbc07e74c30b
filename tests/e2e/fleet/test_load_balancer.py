"""Three stateless `zava serve` workers behind HAProxy (Debian's), health-checked on
/ready, sharing Redis: 2026-07-28 and 2025-11-25 clients are served by any worker; a
worker killed mid-load fails only the calls it had in flight, saying so, and rejoins once
restarted; a rolling restart loses no call; no caller ever sees another tenant's store.

Behavioural checks only (no timing thresholds): which calls failed, with what message,
and when the killed worker had calls in flight (its pool's connections in use)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from mcp import Client, ClientSession
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY

from tests.e2e.fleet.fleet import (
    WORKER_GONE,
    Balancer,
    fleet,
    legacy_client,
    modern_client,
    redis_server,
    store_names,
    tokens_env,
    wait_for,
)
from zava.seeding import company

TOKENS = {company.SEATTLE_MANAGER_ID: "fleet_seattle_token",
          company.BELLEVUE_MANAGER_ID: "fleet_bellevue_token",
          company.EASTSIDE_REGIONAL_ID: "fleet_eastside_token",
          company.HEAD_OFFICE_ID: "fleet_head_office_token"}
MANAGERS = {m.manager_id: m for m in company.managers()}
VISIBLE = {manager: {s.name for s in company.stores()
                     if s.store_id in company.visible_stores(MANAGERS[manager])}
           for manager in TOKENS}
STORES = "SELECT name FROM retail.stores ORDER BY name"
MARKER = "fleet_slow_marker"
# A few hundred milliseconds of CPU on the tiny seed, answering the caller's store names:
# long enough to be caught in flight on a worker that is killed.
SLOW = ("SELECT s.name, count(*) AS " + MARKER + " FROM retail.stores s "
        "JOIN retail.order_items a USING (store_id) JOIN retail.order_items b USING (store_id) "
        "WHERE (a.quantity * 31 + b.quantity * 17) % 13 = 5 GROUP BY s.name ORDER BY s.name")


@pytest.fixture(scope="module")
def balancer(server_env: dict[str, str],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Balancer]:
    folder = tmp_path_factory.mktemp("fleet")
    with redis_server(folder) as redis_url:
        env = dict(tokens_env(server_env, TOKENS), ZAVA_REDIS_URL=redis_url,
                   ZAVA_HTTP_DRAIN_S="2", ZAVA_CACHE_PREFIX=f"fleet-{uuid.uuid4().hex[:8]}")
        with fleet(env, folder, 3) as running:
            yield running


@dataclass
class Call:
    manager: uuid.UUID
    started: float
    ended: float = 0.0
    error: str | None = None


@dataclass
class Load:
    """Clients calling through the balancer until ``stop`` is set."""

    url: str
    calls: list[Call] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def client(self, number: int, slow: bool) -> None:
        manager = list(TOKENS)[number % len(TOKENS)]
        opened = modern_client if number % 2 == 0 else legacy_client
        try:
            async with opened(self.url, TOKENS[manager]) as client:
                while not self.stop.is_set():
                    await self.call(client, manager, slow)
        except Exception as exc:  # the client's transport itself failed
            self.calls.append(Call(manager, time.monotonic(), time.monotonic(),
                                   f"client failed: {exc!r}"))

    async def call(self, client: Client | ClientSession, manager: uuid.UUID,
                   slow: bool) -> None:
        call = Call(manager, time.monotonic())
        self.calls.append(call)
        try:
            result = await client.call_tool(
                "execute_sales_query", {"postgresql_query": SLOW if slow else STORES})
            if result.is_error:
                call.error = result.content[0].text  # type: ignore[union-attr]
            else:
                # zero cross-tenant rows: exactly the caller's stores
                assert store_names(result.structured_content) == VISIBLE[manager]
        except Exception as exc:  # the transport's failure, e.g. HAProxy's 502
            call.error = f"{type(exc).__name__}: {exc}"
        call.ended = time.monotonic()

    async def run(self, fast: int, slow: int) -> list[asyncio.Task[None]]:
        tasks = [asyncio.create_task(self.client(n, False)) for n in range(fast)]
        tasks += [asyncio.create_task(self.client(n, True)) for n in range(slow)]
        while len(self.calls) < 4 * (fast + slow):  # every client is under way
            await asyncio.sleep(0.05)
        return tasks

    async def finish(self, tasks: list[asyncio.Task[None]]) -> None:
        self.stop.set()
        await asyncio.gather(*tasks)

    def failed(self) -> list[Call]:
        return [c for c in self.calls if c.error is not None]


async def test_both_protocol_versions_are_served_by_every_worker(balancer: Balancer) -> None:
    before = [w.calls() for w in balancer.workers]
    for manager, token in TOKENS.items():
        for _ in range(3):
            async with modern_client(balancer.url, token) as client:
                assert client.protocol_version == "2026-07-28"
                result = await client.call_tool("execute_sales_query",
                                                {"postgresql_query": STORES})
                assert store_names(result.structured_content) == VISIBLE[manager]
            async with legacy_client(balancer.url, token) as session:
                result = await session.call_tool("execute_sales_query",
                                                 {"postgresql_query": STORES})
                assert store_names(result.structured_content) == VISIBLE[manager]
    after = [w.calls() for w in balancer.workers]
    assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)


def test_list_answers_are_plain_json_with_cache_hints(balancer: Balancer) -> None:
    headers = {"authorization": f"Bearer {TOKENS[company.HEAD_OFFICE_ID]}",
               "accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list"}
    meta = {PROTOCOL_VERSION_META_KEY: "2026-07-28", CLIENT_CAPABILITIES_META_KEY: {}}
    response = httpx2.post(balancer.url, headers=headers, timeout=30, json={
        "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in response.headers
    assert response.headers["cache-control"] == "public, max-age=300"
    result = response.json()["result"]
    assert result["ttlMs"] == 300_000 and result["cacheScope"] == "public"
    assert "execute_sales_query" in {tool["name"] for tool in result["tools"]}
    # a tool call's answer carries no cache hint
    call = httpx2.post(balancer.url, timeout=30, headers={**headers, "mcp-method": "tools/call",
                                                          "mcp-name": "get_current_utc_date"},
                       json={"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                           "_meta": meta, "name": "get_current_utc_date", "arguments": {}}})
    assert call.status_code == 200, call.text
    assert "cache-control" not in call.headers


async def test_a_killed_worker_fails_only_its_calls_in_flight_and_rejoins(
        balancer: Balancer) -> None:
    victim = balancer.workers[0]
    load = Load(balancer.url)
    tasks = await load.run(fast=6, slow=6)
    try:
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(victim.in_use):
            assert time.monotonic() < deadline, "no slow call ever reached the victim"
            await asyncio.sleep(0.01)
        killed_at = time.monotonic()
        victim.kill()
        await asyncio.to_thread(wait_for, lambda: balancer.status(victim) == "DOWN",
                                "HAProxy marking the killed worker DOWN")
        settled = len(load.calls)
        while len(load.calls) < settled + 60:  # the others carry on
            await asyncio.sleep(0.05)
    finally:
        await load.finish(tasks)

    failed = load.failed()
    print([(c.started - killed_at, c.ended - killed_at, c.error) for c in failed])
    assert failed, "the victim had a call in flight; it must fail"
    for call in failed:
        assert WORKER_GONE in (call.error or ""), call.error
        assert call.started < killed_at < call.ended  # in flight when the worker died
    after_kill = [c for c in load.calls if c.started > killed_at]
    assert after_kill and all(c.error is None for c in after_kill)

    await asyncio.to_thread(victim.start)
    await asyncio.to_thread(wait_for, lambda: balancer.status(victim) == "UP",
                            "HAProxy seeing the restarted worker UP")
    rejoined = Load(balancer.url)
    tasks = await rejoined.run(fast=6, slow=0)
    await rejoined.finish(tasks)
    assert not rejoined.failed()
    assert victim.calls() > 0  # calls land on it again


async def test_a_rolling_restart_loses_no_call(balancer: Balancer) -> None:
    load = Load(balancer.url)
    tasks = await load.run(fast=8, slow=4)
    try:
        for worker in balancer.workers:
            exit_code = await asyncio.to_thread(worker.terminate)
            assert exit_code == 0, Path(worker.log).read_text()[-2000:]
            await asyncio.to_thread(worker.start)
            await asyncio.to_thread(wait_for, lambda w=worker: balancer.status(w) == "UP",
                                    f"HAProxy seeing {worker.name} UP again")
            served = len(load.calls)
            while len(load.calls) < served + 30:
                await asyncio.sleep(0.05)
    finally:
        await load.finish(tasks)
    assert load.failed() == [], [c.error for c in load.failed()][:5]
    assert len(load.calls) > 100
    assert all(w.calls() > 0 for w in balancer.workers)  # every new process served calls

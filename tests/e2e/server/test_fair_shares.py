"""Fair shares over HTTP: one store manager floods the server from 20 client sessions with
heavy queries while another store manager makes light calls. The flooder is refused with
``rate_limited`` and a retry hint once its wait for a slot is over, and never has more
queries running than its share; the light manager never sees an error (no
``server_busy``, no ``rate_limited``).

The light manager's latencies, unloaded and under the flood, are printed (run with ``-s``)
for the closing note; they are measured, not asserted."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import http_server
from tests.e2e.server.test_observability import records
from tests.support.in_flight import peak_in_flight
from zava.security.identity import hash_token
from zava.seeding import company

FLOODER = company.SEATTLE_MANAGER_ID
LIGHT = company.BELLEVUE_MANAGER_ID
FLOODER_TOKEN = "zava_test_flooder_token"
LIGHT_TOKEN = "zava_test_light_token"
CONCURRENCY = 2
LIMITS = {"store": {"concurrency": CONCURRENCY, "rate_per_s": 50, "burst": 10}}
MAX_WAIT_S = 0.5
"""How long a call over the share waits for a slot before rate_limited: shorter than the
flood's queue (18 callers behind 2 heavy queries), so the flooder is refused."""
CLIENTS = 20
LIGHT_CALLS = 40
LIGHT_PAUSE_S = 0.04
"""The light manager's think time between calls: 25 calls per second at most, half the
rate limit (back to back, a fast call would exceed 50 per second and be refused)."""

# A cross join of the flooder's order lines with themselves: CPU-heavy (no pg_sleep),
# far below the default cost gate.
MARKER = "flood_marker"
HEAVY = (f"SELECT count(*) AS {MARKER} FROM retail.order_items a "
         "CROSS JOIN retail.order_items b WHERE (a.quantity * 31 + b.quantity * 17) % 13 = 5")
LIGHT_QUERY = "SELECT count(*) FROM retail.orders"
ROOT = Path(__file__).resolve().parents[3]
RETRY_HINT = re.compile(r"retry in (\d+(?:\.\d+)?) s")
REFUSED = re.compile(r"(Error executing tool execute_sales_query: )?rate_limited: ")
"""The tool error's text: the SDK puts its own prefix before Zava's code."""


@dataclass
class Flood:
    """What the flooding clients saw."""

    ok: int = 0
    retry_hints: list[float] = field(default_factory=list)
    other_errors: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture(scope="module")
def server(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[tuple[str, Path]]:
    """An HTTP server with two store managers' tokens and a tight store share; JSON logs."""
    log = tmp_path_factory.mktemp("fair") / "stderr.log"
    env = dict(server_env, ZAVA_LOG_JSON="true", ZAVA_CALLER_LIMITS=json.dumps(LIMITS),
               ZAVA_CALLER_MAX_WAIT_S=str(MAX_WAIT_S),
               ZAVA_TOKENS=",".join([f"{FLOODER} {hash_token(FLOODER_TOKEN)}",
                                     f"{LIGHT} {hash_token(LIGHT_TOKEN)}"]))
    with http_server(env, log) as base:
        yield base, log


@asynccontextmanager
async def session(base: str, token: str) -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                  timeout=120) as http, \
            streamable_http_client(base + "/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as client:
        await client.initialize()
        yield client


async def flood(base: str, seen: Flood) -> None:
    """One hostile client: heavy queries back to back, barely pausing when refused."""
    async with session(base, FLOODER_TOKEN) as client:
        while not seen.stop.is_set():
            result = await client.call_tool("execute_sales_query", {"postgresql_query": HEAVY})
            text = result.content[0].text
            if not result.is_error:
                seen.ok += 1
            elif REFUSED.match(text) and (hint := RETRY_HINT.search(text)):
                seen.retry_hints.append(float(hint.group(1)))
                await asyncio.sleep(0.02)
            else:
                seen.other_errors.append(text)


async def light_calls(client: ClientSession, errors: list[str]) -> list[float]:
    """Latencies (ms) of the light manager's calls, one after another."""
    latencies = []
    for _ in range(LIGHT_CALLS):
        await asyncio.sleep(LIGHT_PAUSE_S)
        started = time.perf_counter()
        result = await client.call_tool("execute_sales_query", {"postgresql_query": LIGHT_QUERY})
        latencies.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            errors.append(result.content[0].text)
    return latencies


def percentiles(latencies: list[float]) -> str:
    p95 = statistics.quantiles(latencies, n=20)[18]
    return f"p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms"


async def flood_until_told(base: str) -> None:
    """The flooding side, run in its own process (``python -m`` this module) so that its
    20 sessions do not share an event loop with the light manager's measured client:
    prints ``flooding`` once it is refused and admitted, floods until a line arrives on
    stdin, then prints what it saw as JSON."""
    seen = Flood()
    flooders = [asyncio.create_task(flood(base, seen)) for _ in range(CLIENTS)]
    deadline = time.monotonic() + 60
    while (seen.ok < CONCURRENCY or not seen.retry_hints) \
            and time.monotonic() < deadline and not any(t.done() for t in flooders):
        await asyncio.sleep(0.05)
    print("flooding", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    seen.stop.set()
    await asyncio.gather(*flooders)
    print(json.dumps({"ok": seen.ok, "retry_hints": seen.retry_hints,
                      "other_errors": seen.other_errors}), flush=True)


async def test_a_flooding_manager_is_refused_and_the_other_is_not(
        server: tuple[str, Path], seeded_admin_engine: AsyncEngine) -> None:
    base, log = server
    light_errors: list[str] = []
    async with session(base, LIGHT_TOKEN) as light:
        # warm up both callers (scope looked up once, connections opened)
        async with session(base, FLOODER_TOKEN) as warm:
            started = time.perf_counter()
            assert not (await warm.call_tool("execute_sales_query",
                                             {"postgresql_query": HEAVY})).is_error
            heavy_ms = (time.perf_counter() - started) * 1000
        await light_calls(light, light_errors)
        unloaded = await light_calls(light, light_errors)

        stop = asyncio.Event()
        watcher = asyncio.create_task(peak_in_flight(seeded_admin_engine, stop, MARKER))
        flooding = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, base, cwd=ROOT, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        assert flooding.stdin is not None and flooding.stdout is not None
        try:
            announced = await asyncio.wait_for(flooding.stdout.readline(), 120)
            assert announced.strip() == b"flooding"
            loaded = await light_calls(light, light_errors)
            flooding.stdin.write(b"stop\n")
            await flooding.stdin.drain()
            seen = json.loads(await asyncio.wait_for(flooding.stdout.readline(), 120))
        finally:
            if flooding.returncode is None:
                flooding.kill()
            await flooding.wait()
            stop.set()
        peak = await watcher

    hints: list[float] = seen["retry_hints"]
    print(f"\nheavy query alone: {heavy_ms:.0f} ms; flood: {seen['ok']} admitted, "
          f"{len(hints)} rate_limited, {len(seen['other_errors'])} other errors")
    print(f"light manager unloaded: {percentiles(unloaded)}")
    print(f"light manager under a {CLIENTS}-client flood: {percentiles(loaded)}")

    assert light_errors == []  # no server_busy, no rate_limited, nothing
    assert seen["other_errors"] == []
    assert seen["ok"] >= CONCURRENCY
    assert hints and all(hint > 0 for hint in hints)

    audits = []
    for record in records(log, "audit"):
        extra = record["extra"]
        if extra["tool"] == "execute_sales_query":
            audits.append({**extra, "time": record["time"]["timestamp"]})
    light_outcomes = {a["outcome"] for a in audits if a["caller"] == str(LIGHT)}
    assert light_outcomes == {"ok"}
    flooder = [a["outcome"] for a in audits if a["caller"] == str(FLOODER)]
    assert flooder.count("ok") == seen["ok"] + 1  # the warm-up call too
    assert flooder.count("rate_limited") == len(hints)
    print(f"flooder's queries running at once (pg_stat_activity): at most {peak}")
    assert 1 <= peak <= CONCURRENCY


if __name__ == "__main__":
    asyncio.run(flood_until_told(sys.argv[1]))

"""HTTP load: calls/s and p50/p95/p99 for 1, 8, 32 and 64 concurrent clients, on the
primary alone and with one and two streaming replicas.

Each client is one MCP session (bearer token of a different manager in turn) making
mixed read calls; the baseline is the same clients calling `get_current_utc_date`, which
never touches the database, so the ratio separates MCP/HTTP cost from database cost.
CPU of the server process and of all PostgreSQL processes is sampled from /proc during
each run, to show what saturates.

    python -m benchmarks.http_load [--size workshop] [--calls 400] [--pool-size 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from benchmarks.common import seeded_target
from tests.support.embedded_replica import streaming_replica
from zava.security.identity import hash_token
from zava.seeding import company

LEVELS = (1, 8, 32, 64)
MIX: list[tuple[str, dict[str, Any]]] = [
    ("execute_sales_query", {"postgresql_query":
        "SELECT s.name, sum(o.total_amount) FROM retail.orders o JOIN retail.stores s "
        "USING (store_id) WHERE o.order_date >= DATE '2025-01-01' GROUP BY 1"}),
    ("get_top_products", {"period": "last_30_days", "limit": 5}),
    ("get_low_stock", {"threshold": 10, "limit": 20}),
    ("semantic_search_products", {"query_description": "keep rain off the patio"}),
    ("get_store_performance", {"period": "last_30_days"}),
    ("get_multiple_table_schemas", {"table_names": ["retail.orders"]}),
]
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids``."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            continue
    return total / TICKS


def postgres_pids() -> list[int]:
    """Every running postgres process on this machine."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@contextmanager
def http_server(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """`zava serve --transport http` on a free port: (base URL, pid)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "zava", "serve", "--transport", "http", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx2.get(base + "/ready", timeout=1).status_code == 200:
                break
        except httpx2.HTTPError:
            time.sleep(0.2)
    try:
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def run_level(base: str, tokens: list[str], clients: int, calls: int,
                    baseline: bool) -> list[float]:
    """Latencies (ms) of ``calls`` calls spread over ``clients`` concurrent sessions."""
    samples: list[float] = []

    async def client(number: int, count: int) -> None:
        headers = {"authorization": f"Bearer {tokens[number % len(tokens)]}"}
        async with httpx2.AsyncClient(headers=headers, timeout=300) as http, \
                streamable_http_client(base + "/mcp", http_client=http) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            for call in range(count):
                tool, arguments = (("get_current_utc_date", {}) if baseline
                                   else MIX[(number + call) % len(MIX)])
                started = time.perf_counter()
                result = await session.call_tool(tool, arguments)
                samples.append((time.perf_counter() - started) * 1000)
                if result.is_error:
                    raise RuntimeError(f"{tool}: {result.content[0].text}")  # type: ignore[union-attr]

    await asyncio.gather(*(client(n, max(1, calls // clients)) for n in range(clients)))
    return samples


def percentile(samples: list[float], share: float) -> float:
    """The ``share`` quantile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed_run(base: str, pid: int, tokens: list[str], clients: int, calls: int,
                    baseline: bool) -> tuple[list[float], float, float, float]:
    """(latencies, seconds, server CPU share, PostgreSQL CPU share) of one run."""
    server_before, pg_before = cpu_seconds([pid]), cpu_seconds(postgres_pids())
    started = time.perf_counter()
    samples = await run_level(base, tokens, clients, calls, baseline)
    elapsed = time.perf_counter() - started
    return (samples, elapsed, (cpu_seconds([pid]) - server_before) / elapsed,
            (cpu_seconds(postgres_pids()) - pg_before) / elapsed)


async def measure(label: str, base: str, pid: int, tokens: list[str], calls: int) -> None:
    """Print one table: every level, mixed tools next to the baseline."""
    await run_level(base, tokens, 4, 40, baseline=False)  # warm caches and the model
    print(f"\n{label}")
    print(f"{'clients':>7} {'calls/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'baseline/s':>10} {'ratio':>6} {'server CPU':>10} {'postgres CPU':>12}")
    for clients in LEVELS:
        mixed, elapsed, server_cpu, pg_cpu = await timed_run(base, pid, tokens, clients,
                                                             calls, False)
        floor, floor_elapsed, _, _ = await timed_run(base, pid, tokens, clients, calls, True)
        rate, floor_rate = len(mixed) / elapsed, len(floor) / floor_elapsed
        print(f"{clients:>7} {rate:>8.0f} {statistics.median(mixed):>8.1f} "
              f"{percentile(mixed, 0.95):>8.1f} {percentile(mixed, 0.99):>8.1f} "
              f"{floor_rate:>10.0f} {rate / floor_rate:>5.2f}x {server_cpu * 100:>9.0f}% "
              f"{pg_cpu * 100:>11.0f}%")


async def main(size: str, calls: int, pool_size: int, data_dir: Path | None) -> None:
    settings, target = await seeded_target(size, data_dir)
    assert target.embedded is not None, "the benchmark runs on the embedded PostgreSQL"
    managers = list(company.managers())
    tokens = [f"bench_{m.manager_id}" for m in managers]
    env = dict(os.environ, ZAVA_DATA_DIR=str(settings.data_dir),
               ZAVA_DATABASE_NAME=settings.database_name, ZAVA_LOG_LEVEL="WARNING",
               HF_HUB_OFFLINE="1", ZAVA_POOL_SIZE=str(pool_size),
               ZAVA_POOL_MAX_OVERFLOW="0", ZAVA_POOL_TIMEOUT_S="120",
               ZAVA_TOKENS=",".join(f"{m.manager_id} {hash_token(t)}"
                                    for m, t in zip(managers, tokens, strict=True)))
    print(f"{size} seed, {calls} calls per level, pool {pool_size} connections (no overflow), "
          f"{os.cpu_count()} CPUs; CPU columns: share of one core")
    with http_server(env) as (base, pid):
        await measure("primary only", base, pid, tokens, calls)
    scratch = Path(tempfile.mkdtemp(prefix="zr", dir="/tmp"))
    with ExitStack() as stack:
        replicas = []
        for count in (1, 2):
            replica = stack.enter_context(
                streaming_replica(target.embedded, scratch / f"r{count}"))
            await replica.wait_for_catch_up()
            replicas.append(replica)
            urls = ",".join(r.app_url for r in replicas)
            with http_server(dict(env, ZAVA_READ_REPLICA_URLS=urls)) as (base, pid):
                await measure(f"{count} streaming replica(s), reads routed to them", base, pid,
                              tokens, calls)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="workshop", choices=["tiny", "workshop", "large"])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.size, args.calls, args.pool_size, args.data_dir))

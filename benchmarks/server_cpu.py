"""Server CPU per call over stdio: `execute_sales_query` called for a while through the
SDK's client, one call at a time (or ``--in-flight``), with the server process's user and
system time read from /proc before and after (Linux only).

    python -m benchmarks.server_cpu [--seconds 8] [--query cheap|"store revenue"]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

from benchmarks.common import seeded_target, server_env
from benchmarks.tool_latency import QUERIES
from zava.seeding import company


def cpu_seconds(pid: int) -> float:
    """User + system time of ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid() -> int:
    """The one child of this process: the server the stdio client started."""
    children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    return int(children[0])


async def main(query: str, seconds: float, in_flight: int, data_dir: Path | None) -> None:
    settings, _ = await seeded_target("workshop", data_dir)
    env = server_env(settings)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "zava", "serve", "--rls-user", str(company.SEATTLE_MANAGER_ID)], env=env)
    sql = QUERIES[query]
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for _ in range(50):  # warm: pool, guard cache, cost-gate passes
            await session.call_tool("execute_sales_query", {"postgresql_query": sql})
        pid = server_pid()
        calls = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal calls
            while time.perf_counter() < deadline:
                result = await session.call_tool("execute_sales_query",
                                                  {"postgresql_query": sql})
                assert not result.is_error, result.content
                calls += 1

        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
        print(f"{query}: {calls} calls in {elapsed:.1f} s, {elapsed / calls * 1000:.3f} ms "
              f"per call, server CPU {cpu / calls * 1000:.3f} ms per call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", choices=sorted(QUERIES), default="cheap")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.query, args.seconds, args.in_flight, args.data_dir))

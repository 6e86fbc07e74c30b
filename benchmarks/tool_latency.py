"""Tool latency over stdio: `execute_sales_query` through the real SDK client against
`zava serve`, next to the same SQL run directly with asyncpg on one connection (the
floor), in one run; sequential and with 4 calls in flight. Also the size of tools/list.

    python -m benchmarks.tool_latency [--calls 300] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from mcp import ClientSession, StdioServerParameters, stdio_client

from benchmarks.common import seeded_target, server_env
from zava.provision.seed_loader import asyncpg_dsn
from zava.seeding import company

QUERIES = {
    "cheap": "SELECT count(*) FROM retail.stores",
    "store revenue": ("SELECT s.name, sum(o.total_amount) FROM retail.orders o "
                      "JOIN retail.stores s USING (store_id) "
                      "WHERE o.order_date >= DATE '2025-01-01' GROUP BY s.name"),
}


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(call: Callable[[], Awaitable[object]], calls: int,
                  in_flight: int) -> tuple[float, float, float]:
    """(p50 ms, p95 ms, calls per second) for ``calls`` calls, ``in_flight`` at a time."""
    for _ in range(20):
        await call()
    samples: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await call()
            samples.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker(calls // in_flight) for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    return statistics.median(samples), percentile(samples, 0.95), len(samples) / elapsed


def tools_list_size(tools: list[dict[str, object]]) -> str:
    text = json.dumps(tools, separators=(",", ":"))
    try:
        from tokenizers import Tokenizer

        from zava.embeddings.local import model_location

        tokenizer = Tokenizer.from_file(str(Path(model_location("all-MiniLM-L6-v2", None))
                                            / "tokenizer.json"))
        tokenizer.no_truncation()
        tokens = f", {len(tokenizer.encode(text).ids):,} BERT WordPiece tokens"
    except Exception:  # the tokenizer is optional here
        tokens = ""
    return f"tools/list: {len(tools)} tools, {len(text):,} characters of JSON{tokens}"


async def main(calls: int, data_dir: Path | None) -> None:
    settings, target = await seeded_target("workshop", data_dir)
    # The floor reads the same rows the tool does: the same login, role and caller, set
    # once for the session instead of per call, and no guard, pool or MCP in between.
    floor = await asyncpg.connect(asyncpg_dsn(target.app_url), server_settings={"jit": "off"})
    await floor.execute(
        "SET ROLE zava_store_reader; SELECT set_config('app.current_rls_user_id', "
        f"'{company.SEATTLE_MANAGER_ID}', false)")
    env = server_env(settings)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "zava", "serve", "--rls-user", str(company.SEATTLE_MANAGER_ID)], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = (await session.list_tools()).tools
        print(tools_list_size([t.model_dump(mode="json", by_alias=True, exclude_none=True)
                               for t in tools]))
        print(f"{'query':<14} {'in flight':>9} {'tool p50':>9} {'p95':>7} {'calls/s':>8} "
              f"{'floor p50':>10} {'overhead p50':>13} {'ratio':>6}")
        for name, sql in QUERIES.items():
            for in_flight in (1, 4):
                async def tool(sql: str = sql) -> None:
                    result = await session.call_tool("execute_sales_query",
                                                     {"postgresql_query": sql})
                    assert not result.is_error, result.content
                tool_p50, tool_p95, rate = await measure(tool, calls, in_flight)
                floor_p50, _, _ = await measure(lambda sql=sql: floor.fetch(sql), calls, 1)
                print(f"{name:<14} {in_flight:>9} {tool_p50:>8.2f}ms {tool_p95:>6.2f} "
                      f"{rate:>8.0f} {floor_p50:>9.2f}ms {tool_p50 - floor_p50:>12.2f}ms "
                      f"{tool_p50 / floor_p50:>5.1f}x")
    await floor.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.data_dir))

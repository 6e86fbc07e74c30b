"""The typed tools' latency in two source trees (A before a change, B after), over stdio
with the SDK's client, on one seeded database; calls alternate A/B (and which goes first)
so the shared machine's noise falls on both alike. Prints each side's p50 and B/A.

    python -m benchmarks.typed_tools_ab TREE_A TREE_B [--rounds 15] [--scope store]
        [--tools get_sales_trend,get_low_stock] [--data-dir DIR]

A tree is a checkout (``git worktree add /tmp/a <commit>``); each server runs with
``PYTHONPATH`` set to it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client

from benchmarks.common import seeded_target
from zava.seeding import company

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_store_performance", {"period": "last_30_days"}),
    ("get_store_performance", {"period": "last_12_months"}),
    ("get_sales_trend", {"months": 12}),
    ("get_top_products", {"period": "last_30_days"}),
    ("get_low_stock", {}),
]
CALLERS = {"store": company.SEATTLE_MANAGER_ID, "head_office": company.HEAD_OFFICE_ID}
WARM_UP = 3


async def main(trees: tuple[Path, Path], rounds: int, scope: str, tools: set[str] | None,
               data_dir: Path | None) -> None:
    settings, _ = await seeded_target("workshop", data_dir)
    env = dict(os.environ, ZAVA_DATA_DIR=str(settings.data_dir),
               ZAVA_DATABASE_NAME=settings.database_name, ZAVA_LOG_LEVEL="WARNING",
               HF_HUB_OFFLINE="1")
    async with AsyncExitStack() as stack:
        sessions = []
        for tree in trees:
            params = StdioServerParameters(
                command=sys.executable, cwd=str(tree),
                args=["-m", "zava", "serve", "--rls-user", str(CALLERS[scope])],
                env={**env, "PYTHONPATH": str(tree)})
            read, write = await stack.enter_async_context(stdio_client(params))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            sessions.append(session)
        for name, arguments in CALLS:
            if tools and name not in tools:
                continue
            samples: tuple[list[float], list[float]] = ([], [])
            for i in range(rounds + WARM_UP):
                for side in (0, 1) if i % 2 else (1, 0):
                    started = time.perf_counter()
                    result = await sessions[side].call_tool(name, arguments)
                    assert not result.is_error, result.content
                    if i >= WARM_UP:
                        samples[side].append((time.perf_counter() - started) * 1000)
            a, b = (statistics.median(s) for s in samples)
            print(f"{scope:<11} {name:<22} {arguments!s:<28} A {a:8.2f} ms  B {b:8.2f} ms  "
                  f"B/A {b / a:5.2f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree_a", type=Path)
    parser.add_argument("tree_b", type=Path)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--scope", choices=sorted(CALLERS), default="store")
    parser.add_argument("--tools", help="comma-separated tool names (default: all five)")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main((args.tree_a, args.tree_b), args.rounds, args.scope,
                     set(args.tools.split(",")) if args.tools else None, args.data_dir))

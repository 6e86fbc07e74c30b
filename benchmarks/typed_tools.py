"""Typed tools against their own SQL: `get_store_performance`, `get_sales_trend`,
`get_top_products` and `get_low_stock` called with their defaults over stdio through the
SDK's client, next to the statements their services send (captured once, in-process)
replayed on one asyncpg connection inside a unit of work for the same caller (the floor:
the same reader role and policies, no pool, guard, MCP or rendering), in one run.

    python -m benchmarks.typed_tools [--calls 60] [--data-dir DIR]

Issue 13's target: every typed tool's p50 within 1.5x of its floor.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.common import seeded_target, server_env
from benchmarks.tool_latency import measure
from tests.support.driver import driver_of
from zava.config import Settings
from zava.db.engine import create_engine
from zava.seeding import company
from zava.services import analytics
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

CALLERS = {"Seattle": company.SEATTLE_MANAGER_ID, "head office": company.HEAD_OFFICE_ID}
TODAY = dt.datetime.now(dt.UTC).date()
SERVICES: dict[str, Callable[[SqlAlchemyUnitOfWork], Awaitable[object]]] = {
    "get_store_performance": lambda uow: analytics.store_performance(
        uow, period="last_30_days", today=TODAY),
    "get_sales_trend": lambda uow: analytics.sales_trend(uow, months=12, today=TODAY),
    "get_top_products": lambda uow: analytics.top_products(
        uow, period="last_30_days", today=TODAY),
    "get_low_stock": lambda uow: analytics.low_stock(uow),
}


async def statements_of(engine: AsyncEngine, settings: Settings, caller: uuid.UUID,
                        tool: str) -> list[tuple[str, Any]]:
    """The statements (and parameters) the tool's service sends for ``caller``."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: object, _cursor: object, statement: str, parameters: Any,
                _context: object, _many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await SERVICES[tool](SqlAlchemyUnitOfWork(engine, settings, caller))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    return sent


async def main(calls: int, data_dir: Path | None) -> None:
    settings, target = await seeded_target("workshop", data_dir)
    engine = create_engine(target.app_url, settings)
    env = server_env(settings)
    print(f"typed tools over stdio vs their services' statements on one connection, "
          f"p50 of {calls} calls, workshop seed")
    print(f"{'tool':<22} {'caller':<12} {'statements':>10} {'tool p50':>9} {'floor p50':>10} "
          f"{'ratio':>6}")
    for who, caller in CALLERS.items():
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "zava", "serve", "--rls-user", str(caller)],
            env=env)
        async with stdio_client(params) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            for tool in SERVICES:
                sent = await statements_of(engine, settings, caller, tool)

                async def call(tool: str = tool) -> None:
                    result = await session.call_tool(tool, {})
                    assert not result.is_error, result.content

                tool_p50, _, _ = await measure(call, calls, 1)
                async with SqlAlchemyUnitOfWork(engine, settings, caller) as uow:
                    driver = await driver_of(uow)

                    async def replay(sent: list[tuple[str, Any]] = sent,
                                     driver: Any = driver) -> None:
                        for statement, parameters in sent:
                            await driver.fetch(statement, *(parameters or ()))

                    floor_p50, _, _ = await measure(replay, calls, 1)
                print(f"{tool:<22} {who:<12} {len(sent):>10} {tool_p50:>8.2f}ms "
                      f"{floor_p50:>9.2f}ms {tool_p50 / floor_p50:>5.2f}x")
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.data_dir))

"""How many of a test's marked queries PostgreSQL runs at once, sampled from
pg_stat_activity while the test floods a server (each admitted call holds one backend; a
waiting or refused call holds none)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def peak_in_flight(admin: AsyncEngine, stop: asyncio.Event, marker: str) -> int:
    """The most queries containing ``marker`` that ran at once until ``stop`` is set."""
    peak = 0
    async with admin.connect() as connection:
        # a new snapshot of pg_stat_activity for each sample: no transaction around them
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        while not stop.is_set():
            running = await connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND pid <> pg_backend_pid() AND query LIKE '%' || :marker || '%'"),
                {"marker": marker})
            peak = max(peak, int(running or 0))
            await asyncio.sleep(0.01)
    return peak

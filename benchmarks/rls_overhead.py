"""RLS overhead: the same analytic queries through row-level security (as the reader
role with the caller set) and without it (superuser, explicit WHERE store_id = ANY(...)),
per caller scope, on the workshop seed; plus the unit of work's per-call overhead.

    python -m benchmarks.rls_overhead [--size workshop] [--repeats 9] [--data-dir DIR]

Prints ratios measured in one run (RLS / explicit); the machine is shared and noisy, so
absolute times are only context.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from benchmarks.common import median_ms, seeded_target
from tests.support.driver import driver_of
from zava.db.engine import create_engine
from zava.provision.seed_loader import asyncpg_dsn
from zava.seeding import company
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

QUERIES = {
    "monthly revenue": (
        "SELECT date_trunc('month', order_date), sum(total_amount) FROM retail.orders o "
        "WHERE {o} GROUP BY 1 ORDER BY 1"),
    # Dates compared with dates: date = date is leakproof, so under RLS the planner may
    # still use it in the index scan (a timestamptz comparison is not, see the docs).
    "one month": (
        "SELECT count(*), sum(total_amount) FROM retail.orders o "
        "WHERE o.order_date >= (date_trunc('month', now()) - interval '2 months')::date "
        "AND o.order_date < (date_trunc('month', now()) - interval '1 month')::date AND {o}"),
    "top products": (
        "SELECT i.product_id, sum(i.total_amount) FROM retail.order_items i "
        "JOIN retail.orders o USING (store_id, order_id) "
        "WHERE o.order_date >= (now() - interval '1 year')::date AND {o} AND {i} "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 10"),
    "category mix": (
        "SELECT c.name, sum(i.total_amount) FROM retail.order_items i "
        "JOIN retail.products p USING (product_id) JOIN retail.categories c USING (category_id) "
        "WHERE {i} GROUP BY 1 ORDER BY 2 DESC"),
}
SCOPES = {
    "Seattle (1 large store)": company.SEATTLE_MANAGER_ID,
    "Kirkland (1 small store)": uuid.UUID("9c8b7a65-4321-fed0-9876-543210fedcba"),
    "Eastside regional (3)": company.EASTSIDE_REGIONAL_ID,
    "head office (8)": company.HEAD_OFFICE_ID,
}


def _manager(manager_id: uuid.UUID) -> company.ManagerDef:
    return next(m for m in company.managers() if m.manager_id == manager_id)


async def paired_medians_ms(first: Callable[[], Awaitable[object]],
                            second: Callable[[], Awaitable[object]],
                            repeats: int) -> tuple[float, float]:
    """Median wall times of ``first`` and ``second`` in milliseconds, run alternately
    (after one warm-up each), so that a burst of load on the shared machine hits both."""
    await first()
    await second()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for run, times in ((first, samples[0]), (second, samples[1])):
            started = time.perf_counter()
            await run()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])




async def main(size: str, repeats: int, data_dir: Path | None) -> None:
    settings, target = await seeded_target(size, data_dir)
    engine = create_engine(target.app_url, settings)
    admin = await asyncpg.connect(asyncpg_dsn(target.admin_url),
                                  server_settings={"jit": "off"})
    reader = await asyncpg.connect(asyncpg_dsn(target.app_url), server_settings={"jit": "off"})
    print(f"RLS (unit of work) / explicit filter (superuser), medians of {repeats} runs "
          "(the two alternating), "
          f"{size} seed")
    print(f"{'query':<16} {'scope':<26} {'RLS ms':>8} {'explicit ms':>12} {'ratio':>7}")
    worst = 0.0
    for scope, caller in SCOPES.items():
        ids = ",".join(f"'{s}'" for s in sorted(company.visible_stores(_manager(caller))))
        async with SqlAlchemyUnitOfWork(engine, settings, caller) as uow:
            rls = await driver_of(uow)
            async with admin.transaction(readonly=True):
                for name, template in QUERIES.items():
                    through_rls = template.format(o="true", i="true")
                    explicit = template.format(o=f"o.store_id = ANY(ARRAY[{ids}]::uuid[])",
                                               i=f"i.store_id = ANY(ARRAY[{ids}]::uuid[])")
                    rls_ms, explicit_ms = await paired_medians_ms(
                        lambda q=through_rls, c=rls: c.fetch(q),
                        lambda q=explicit: admin.fetch(q), repeats)
                    ratio = rls_ms / explicit_ms
                    worst = max(worst, ratio)
                    print(f"{name:<16} {scope:<26} {rls_ms:>8.2f} {explicit_ms:>12.2f} "
                          f"{ratio:>6.2f}x")
    print(f"worst ratio: {worst:.2f}x")

    async def through_unit() -> None:
        async with SqlAlchemyUnitOfWork(engine, settings, company.SEATTLE_MANAGER_ID) as uow:
            await (await driver_of(uow)).fetchval("SELECT 1")
    async def bare() -> None:
        await reader.fetchval("SELECT 1")
    unit_ms = await median_ms(through_unit, repeats * 50)
    bare_ms = await median_ms(bare, repeats * 50)
    print(f"unit of work per call: {unit_ms:.3f} ms vs bare query {bare_ms:.3f} ms "
          f"(+{unit_ms - bare_ms:.3f} ms, {unit_ms / bare_ms:.1f}x)")
    await engine.dispose()
    await admin.close()
    await reader.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="workshop")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.size, args.repeats, args.data_dir))

"""Seed loading speed: generation, the whole seed, and a raw COPY of the same rows from
files already on disk (the physical floor), measured in one run on the same database.

    python -m benchmarks.seed_load --size workshop
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path
from typing import TextIO

import asyncpg

from zava.config import Settings
from zava.db.target import open_target
from zava.seeding.generator import DatasetGenerator, TableRows
from zava.seeding.loader import DATA_TABLES, asyncpg_dsn, load_dataset
from zava.seeding.sizes import DEFAULT_SEED, SIZES


def _generator(size: str) -> DatasetGenerator:
    return DatasetGenerator(SIZES[size], DEFAULT_SEED, dt.datetime.now(dt.UTC).date())


def generate_to_files(size: str, folder: Path) -> tuple[float, dict[str, int]]:
    """Generate every row (timed), writing CSV files for the floor (not timed)."""
    generator = _generator(size)
    handles: dict[str, TextIO] = {}
    counts: dict[str, int] = {}
    generating = 0.0

    def write(rows: TableRows) -> None:
        if rows.table not in handles:
            handles[rows.table] = (folder / f"{rows.table}.csv").open("w", newline="")
        csv.writer(handles[rows.table]).writerows(rows.rows)
        counts[rows.table] = counts.get(rows.table, 0) + len(rows.rows)

    started = time.perf_counter()
    parts = [*generator.reference_tables(), generator.customers(), generator.inventory()]
    generating += time.perf_counter() - started
    for part in parts:
        write(part)
    chunks = generator.order_chunks()
    while True:
        started = time.perf_counter()
        chunk = next(chunks, None)
        generating += time.perf_counter() - started
        if chunk is None:
            break
        for part in chunk:
            write(part)
    for handle in handles.values():
        handle.close()
    return generating, counts


async def copy_floor(url: str, folder: Path) -> float:
    """COPY the files into the emptied tables in one transaction; seconds taken."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with connection.transaction():
            await connection.execute(
                "TRUNCATE " + ", ".join(f"retail.{t}" for t in DATA_TABLES) + " CASCADE")
        started = time.perf_counter()
        async with connection.transaction():
            for table in DATA_TABLES:
                path = folder / f"{table}.csv"
                if path.exists():
                    await connection.copy_to_table(table, source=path, schema_name="retail",
                                                   format="csv")
        return time.perf_counter() - started
    finally:
        await connection.close()


async def main(size: str, floor: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="zs-", dir="/tmp"))
    settings = Settings(data_dir=work, database_name="bench_seed")
    target = await open_target(settings)
    files = work / "csv"
    files.mkdir()
    if floor:
        generation_s, counts = generate_to_files(size, files)
        print(f"generation only:            {generation_s:6.1f} s", flush=True)
    started = time.perf_counter()
    summary = await load_dataset(target.admin_url, _generator(size), replace=True, quiet=True)
    whole_s = time.perf_counter() - started
    total_rows = sum(summary.rows.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"size {size}: {total_rows:,} rows ({summary.rows['orders']:,} orders, "
          f"{summary.rows['order_items']:,} items)")
    print(f"whole seed (generate+load): {whole_s:6.1f} s  ({total_rows / whole_s:,.0f} rows/s, "
          f"peak RSS {peak_mb:,.0f} MB)", flush=True)
    if floor:
        floor_s = await copy_floor(target.admin_url, files)
        print(f"raw COPY from CSV files:    {floor_s:6.1f} s  ({total_rows / floor_s:,.0f} rows/s)")
        print(f"ratio whole seed / raw COPY: {whole_s / floor_s:.2f}x")
        print("(the seed also rebuilds the ivfflat index and runs ANALYZE; the floor does not)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="workshop", choices=list(SIZES))
    parser.add_argument("--no-floor", action="store_true",
                        help="Skip the raw COPY comparison (it needs the rows on disk twice).")
    args = parser.parse_args()
    asyncio.run(main(args.size, not args.no_floor))

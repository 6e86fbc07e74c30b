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
import shutil
import tempfile
import time
from pathlib import Path
from typing import TextIO

import asyncpg

from zava.config import Settings
from zava.provision.embedded import stop_cluster
from zava.provision.seed_loader import DATA_TABLES, LoadSummary, asyncpg_dsn, load_dataset
from zava.provision.target import open_target
from zava.seeding.generator import DatasetGenerator, TableRows
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


async def _empty(url: str) -> None:
    """Empty every seeded table (untimed) and checkpoint, so each run starts alike."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(
            "TRUNCATE " + ", ".join(f"retail.{t}" for t in DATA_TABLES))
        await connection.execute("CHECKPOINT")
    finally:
        await connection.close()


async def copy_floor(url: str, folder: Path) -> float:
    """COPY the files into the emptied tables in one transaction; seconds taken."""
    await _empty(url)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        async with connection.transaction():
            # As the loader does: keeps autovacuum from recording half-loaded tables as empty.
            await connection.execute(
                "LOCK TABLE " + ", ".join(f"retail.{t}" for t in DATA_TABLES)
                + " IN SHARE ROW EXCLUSIVE MODE")
            for table in DATA_TABLES:
                path = folder / f"{table}.csv"
                if path.exists():
                    await connection.copy_to_table(table, source=path, schema_name="retail",
                                                   format="csv")
        return time.perf_counter() - started
    finally:
        await connection.close()


async def whole_seed(url: str, size: str) -> tuple[float, LoadSummary]:
    """The seed as `zava seed` runs it (generate + COPY + index + ANALYZE), emptied first."""
    await _empty(url)
    started = time.perf_counter()
    summary = await load_dataset(url, _generator(size), quiet=True)
    return time.perf_counter() - started, summary


async def main(size: str, floor: bool, repeat: int) -> None:
    """Generation alone, then ``repeat`` rounds of raw COPY and the whole seed (best kept)."""
    work = Path(tempfile.mkdtemp(prefix="zs-", dir="/tmp"))
    try:
        target = await open_target(Settings(data_dir=work, database_name="bench_seed"))
        files = work / "csv"
        files.mkdir()
        floors: list[float] = []
        wholes: list[float] = []
        if floor:
            generation_s, counts = generate_to_files(size, files)
            rows = sum(counts.values())
            print(f"generation only (no database):  {generation_s:6.1f} s  "
                  f"({rows / generation_s:,.0f} rows/s)", flush=True)
        for _ in range(repeat):
            if floor:
                floors.append(await copy_floor(target.admin_url, files))
                print(f"raw COPY from CSV files:        {floors[-1]:6.1f} s  "
                      f"({rows / floors[-1]:,.0f} rows/s)", flush=True)
            whole_s, summary = await whole_seed(target.admin_url, size)
            wholes.append(whole_s)
            total_rows = sum(summary.rows.values())
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"whole seed (generate + load):   {whole_s:6.1f} s  "
                  f"({total_rows / whole_s:,.0f} rows/s; COPY calls "
                  f"{sum(summary.table_seconds.values()):.1f} s with the generation overlapped "
                  f"in a thread; peak RSS {peak_mb:,.0f} MB)", flush=True)
        print(f"size {size}: {total_rows:,} rows ({summary.rows['orders']:,} orders, "
              f"{summary.rows['order_items']:,} items)")
        if floor:
            print(f"ratio whole seed / raw COPY:    {min(wholes) / min(floors):6.2f}x  "
                  f"(best of {repeat} each)")
            print("(the seed also loads embeddings, rebuilds the ivfflat index and runs "
                  "ANALYZE; the floor does not)")
    finally:
        await asyncio.to_thread(stop_cluster, work)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="workshop", choices=list(SIZES))
    parser.add_argument("--no-floor", action="store_true",
                        help="Skip the raw COPY comparison (it needs the rows on disk twice).")
    parser.add_argument("--repeat", type=int, default=1,
                        help="Rounds of (raw COPY, whole seed); the best of each is compared.")
    args = parser.parse_args()
    asyncio.run(main(args.size, not args.no_floor, max(1, args.repeat)))

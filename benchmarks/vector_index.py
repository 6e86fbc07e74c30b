"""ivfflat vs HNSW on a synthetic table: recall@10 against exact search, latency, build time.

Builds ``--rows`` (default 1,000,000) normalised 384-dimensional vectors around 10,000
gaussian centres plus noise (a clustered space, like real embeddings), loads them with
binary COPY into a scratch database, and computes the exact top 10 of ``--queries`` held-out query
vectors with numpy. Then for each index (ivfflat with ``lists`` = rows/1000, the seed's
rule, and HNSW m=16, ef_construction=64) it reports the build time and, per search
setting (``ivfflat.probes`` / ``hnsw.ef_search``), recall@10 and p50/p95 latency of
``ORDER BY embedding <=> $1 LIMIT 10``, next to an exact sequential scan. The row marked
``server`` is the probes ``retail.ivfflat_probes()`` picks (1.25 sqrt(lists)).

    python -m benchmarks.vector_index [--rows 1000000] [--queries 200] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import numpy as np
from pgvector.asyncpg import register_vector

from zava.provision.bootstrap import ensure_database
from zava.provision.embedded import start_cluster, stop_cluster
from zava.provision.seed_loader import asyncpg_dsn

DIMENSION = 384
CENTRES = 10_000
TOP = 10
# Noise 0.8 as long as a (unit) centre: members of a cluster are about 0.6 cosine
# apart, clusters overlap in the index's lists, as real description embeddings do.
NOISE = 0.8
CHUNK = 20_000


def clustered_vectors(rows: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """``rows`` unit vectors, each a random centre plus gaussian noise."""
    picks = rng.integers(0, len(centres), rows)
    vectors = centres[picks] + rng.normal(0, NOISE / math.sqrt(DIMENSION),
                                          (rows, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_top(data: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    """The ids (1-based row numbers) of each query's 10 nearest rows by cosine."""
    best_scores = np.full((len(queries), TOP), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), TOP), dtype=np.int64)
    for start in range(0, len(data), 200_000):
        scores = queries @ data[start:start + 200_000].T
        top = np.argpartition(-scores, TOP, axis=1)[:, :TOP]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], 1)
        merged_ids = np.concatenate([best_ids, top + start + 1], 1)
        keep = np.argsort(-merged_scores, axis=1)[:, :TOP]
        best_scores = np.take_along_axis(merged_scores, keep, 1)
        best_ids = np.take_along_axis(merged_ids, keep, 1)
    return [set(row.tolist()) for row in best_ids]


def chunks(data: np.ndarray) -> Iterator[list[tuple[int, np.ndarray]]]:
    """(id, vector) records in COPY-sized chunks."""
    for start in range(0, len(data), CHUNK):
        yield [(start + i + 1, v) for i, v in enumerate(data[start:start + CHUNK])]


async def search_stats(connection: asyncpg.Connection, queries: np.ndarray,
                       truth: list[set[int]]) -> tuple[float, float, float]:
    """(recall@10, p50 ms, p95 ms) of the index search under the current settings."""
    recalls, samples = [], []
    for query, expected in zip(queries, truth, strict=True):
        started = time.perf_counter()
        found = await connection.fetch(
            "SELECT id FROM items ORDER BY embedding <=> $1 LIMIT 10", query)
        samples.append((time.perf_counter() - started) * 1000)
        recalls.append(len({r["id"] for r in found} & expected) / TOP)
    samples.sort()
    return (statistics.fmean(recalls), statistics.median(samples),
            samples[int(0.95 * (len(samples) - 1))])


async def main(rows: int, query_count: int, data_dir: Path | None) -> None:
    folder = data_dir or Path(tempfile.mkdtemp(prefix="zv-", dir="/tmp"))
    cluster = start_cluster(folder, "vector_study")
    try:
        await ensure_database(cluster)
        await run(asyncpg_dsn(cluster.admin_url), rows, query_count)
    finally:
        stop_cluster(folder)


async def run(admin_url: str, rows: int, query_count: int) -> None:
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 1, (CENTRES, DIMENSION)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    started = time.perf_counter()
    data = clustered_vectors(rows, rng, centres)
    queries = clustered_vectors(query_count, rng, centres)
    truth = exact_top(data, queries)
    print(f"{rows:,} vectors x {DIMENSION} dims, {query_count} queries; generated and exact "
          f"top-{TOP} computed in {time.perf_counter() - started:.0f} s", flush=True)

    connection = await asyncpg.connect(admin_url)
    await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
    await register_vector(connection)
    await connection.execute("DROP TABLE IF EXISTS items")
    await connection.execute(
        f"CREATE TABLE items (id integer PRIMARY KEY, embedding vector({DIMENSION}))")
    started = time.perf_counter()
    for records in chunks(data):
        await connection.copy_records_to_table("items", records=records)
    await connection.execute("VACUUM ANALYZE items")
    print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)
    await connection.execute("SET maintenance_work_mem = '6GB'")
    await connection.execute("SET max_parallel_maintenance_workers = 1")
    await connection.execute("SET jit = off")

    await connection.execute("SET enable_indexscan = off")
    exact = await search_stats(connection, queries[:10], truth[:10])
    await connection.execute("RESET enable_indexscan")
    print(f"\n{'index':<34} {'setting':<16} {'recall@10':>9} {'p50 ms':>8} {'p95 ms':>8}")
    print(f"{'none (exact scan, 10 queries)':<34} {'':<16} {exact[0]:>9.3f} {exact[1]:>8.1f} "
          f"{exact[2]:>8.1f}", flush=True)

    lists = max(1, rows // 1000) if rows <= 1_000_000 else int(math.sqrt(rows))
    server_probes = min(lists, math.ceil(1.25 * math.sqrt(lists)))
    builds = [
        (f"ivfflat lists={lists}",
         f"CREATE INDEX items_ivfflat ON items USING ivfflat (embedding vector_cosine_ops) "
         f"WITH (lists = {lists})", "DROP INDEX items_ivfflat", "ivfflat.probes",
         sorted({1, 10, 20, server_probes, 40, 80} - {0})),
        ("hnsw m=16 ef_construction=64",
         "CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_cosine_ops) "
         "WITH (m = 16, ef_construction = 64)", "DROP INDEX items_hnsw", "hnsw.ef_search",
         [40, 100, 200]),
    ]
    for name, create, drop, setting, values in builds:
        started = time.perf_counter()
        await connection.execute(create)
        size = await connection.fetchval(
            "SELECT pg_size_pretty(sum(pg_relation_size(indexrelid))) FROM pg_index "
            "WHERE indrelid = 'items'::regclass AND NOT indisprimary")
        print(f"{name:<34} built in {time.perf_counter() - started:.0f} s, {size}", flush=True)
        for value in values:
            await connection.execute(f"SET {setting} = {value}")
            recall, p50, p95 = await search_stats(connection, queries, truth)
            mark = " (server)" if setting == "ivfflat.probes" and value == server_probes else ""
            print(f"{'':<34} {f'{setting.split(chr(46))[1]}={value}{mark}':<16} {recall:>9.3f} "
                  f"{p50:>8.2f} {p95:>8.2f}", flush=True)
        await connection.execute(drop)
    await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.queries, args.data_dir))

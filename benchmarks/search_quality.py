"""Search quality on the labelled questions, index recall, and tool latency over stdio.

For every question in ``seed/catalog/search_queries.jsonl`` (a manager's words, with the
SKUs a person would accept): recall@10 and MRR@10 of vector-only, lexical-only and
hybrid ranking, overall and per kind (paraphrase / keyword); recall@10 of the ivfflat
index against an exact scan at the probes the server uses; then p50/p95 of
``semantic_search_products`` through the real MCP client over stdio, with the query
embedding cache cold (first time a question is asked) and warm (asked again).

    python -m benchmarks.search_quality [--size tiny|workshop] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from sqlalchemy import text

from benchmarks.common import seeded_target, server_env
from zava.config import Settings
from zava.db.engine import create_engine
from zava.embeddings.base import Embedder
from zava.embeddings.factory import create_embedder
from zava.seeding import company
from zava.services.search import SearchMode, search_products
from zava.services.unit_of_work import UnitOfWorkFactory

QUERIES_FILE = Path(__file__).resolve().parents[1] / "seed" / "catalog" / "search_queries.jsonl"
MODES: tuple[SearchMode, ...] = ("vector", "lexical", "hybrid")
TOP = 10


@dataclass(frozen=True)
class LabelledQuery:
    """A question and the SKUs a person would accept as answers."""

    query: str
    relevant: frozenset[str]
    kind: str


def load_queries(path: Path = QUERIES_FILE) -> list[LabelledQuery]:
    """The labelled set, one JSON object per line."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [LabelledQuery(r["query"], frozenset(r["relevant"]), r.get("kind", "keyword"))
            for r in rows]


def recall_at(found: Sequence[str], relevant: frozenset[str], k: int = TOP) -> float:
    """Share of the relevant SKUs among the first ``k`` found (capped at k relevant)."""
    return len(set(found[:k]) & relevant) / min(len(relevant), k)


def reciprocal_rank(found: Sequence[str], relevant: frozenset[str], k: int = TOP) -> float:
    """1 / rank of the first relevant SKU in the first ``k``, or 0."""
    return next((1 / rank for rank, sku in enumerate(found[:k], 1) if sku in relevant), 0.0)


async def rank_all(units: UnitOfWorkFactory, embedder: Embedder, caller: uuid.UUID,
                   queries: Sequence[LabelledQuery], mode: SearchMode) -> list[list[str]]:
    """The top SKUs for every question in ``mode`` (no similarity threshold)."""
    ranked = []
    for labelled in queries:
        results = await search_products(units(caller), embedder, query=labelled.query,
                                        max_rows=TOP, similarity_threshold_percent=0,
                                        mode=mode)
        ranked.append([p.sku for p in results.products])
    return ranked


async def ranking_quality(units: UnitOfWorkFactory, embedder: Embedder, caller: uuid.UUID,
                          queries: Sequence[LabelledQuery]) -> dict[str, dict[str, float]]:
    """``{mode: {"recall@10", "mrr", "recall@10 <kind>"...}}`` over ``queries``."""
    kinds = sorted({q.kind for q in queries})
    quality: dict[str, dict[str, float]] = {}
    for mode in MODES:
        ranked = await rank_all(units, embedder, caller, queries, mode)
        recalls = [recall_at(found, q.relevant) for found, q in zip(ranked, queries, strict=True)]
        ranks = [reciprocal_rank(found, q.relevant) for found, q in zip(ranked, queries,
                                                                        strict=True)]
        scores = {"recall@10": statistics.fmean(recalls), "mrr": statistics.fmean(ranks)}
        for kind in kinds:
            picked = [r for r, q in zip(recalls, queries, strict=True) if q.kind == kind]
            scores[f"recall@10 {kind}"] = statistics.fmean(picked)
        quality[mode] = scores
    return quality


async def index_recall(units: UnitOfWorkFactory, embedder: Embedder, caller: uuid.UUID,
                       queries: Sequence[LabelledQuery]) -> float:
    """Mean overlap of the index's top 10 with an exact scan's, at the server's probes."""
    overlaps = []
    for labelled in queries:
        (vector,) = await embedder.embed([labelled.query])
        async with units(caller) as uow:
            indexed = [m.product.sku for m in
                       await uow.products.similar(vector, min_similarity=-1, limit=TOP)]
            await uow.connection.execute(text("SET LOCAL enable_indexscan = off"))
            exact = [m.product.sku for m in
                     await uow.products.similar(vector, min_similarity=-1, limit=TOP)]
        overlaps.append(len(set(indexed) & set(exact)) / max(1, len(exact)))
    return statistics.fmean(overlaps)


async def evaluate(settings: Settings, app_url: str, embedder: Embedder,
                   caller: uuid.UUID = company.HEAD_OFFICE_ID) -> dict[str, Any]:
    """Ranking quality per mode and index recall on the database at ``app_url``."""
    engine = create_engine(app_url, settings)
    units = UnitOfWorkFactory(engine, settings)
    queries = load_queries()
    try:
        return {"queries": len(queries),
                "kinds": {k: sum(q.kind == k for q in queries) for k in {q.kind for q in queries}},
                "quality": await ranking_quality(units, embedder, caller, queries),
                "index_recall@10": await index_recall(units, embedder, caller, queries)}
    finally:
        await engine.dispose()


def percentile(samples: Sequence[float], share: float) -> float:
    """The ``share`` quantile of ``samples`` (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def stdio_latency(settings: Settings, queries: Sequence[LabelledQuery],
                        ) -> dict[str, tuple[float, float]]:
    """p50/p95 ms of the search tool over stdio: each question first (cold embedding
    cache), then again (warm). The model is loaded by one call before timing."""
    env = server_env(settings)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "zava", "serve", "--rls-user", str(company.SEATTLE_MANAGER_ID)], env=env)
    timings: dict[str, tuple[float, float]] = {}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.call_tool("semantic_search_products",
                                {"query_description": "warm-up: load the model"})
        for label in ("cold cache", "warm cache"):
            samples = []
            for labelled in queries:
                started = time.perf_counter()
                result = await session.call_tool("semantic_search_products",
                                                 {"query_description": labelled.query})
                samples.append((time.perf_counter() - started) * 1000)
                assert not result.is_error, result.content
            timings[label] = (statistics.median(samples), percentile(samples, 0.95))
    return timings


async def main(size: str, data_dir: Path | None) -> None:
    settings, target = await seeded_target(size, data_dir)
    embedder = create_embedder(settings)
    report = await evaluate(settings, target.app_url, embedder)
    print(f"{report['queries']} labelled questions {report['kinds']}, {size} seed")
    kinds = sorted(report["kinds"])
    print(f"{'mode':<8} {'recall@10':>9} {'MRR':>6} "
          + " ".join(f"{'recall ' + k:>18}" for k in kinds))
    for mode, scores in report["quality"].items():
        print(f"{mode:<8} {scores['recall@10']:>9.3f} {scores['mrr']:>6.3f} "
              + " ".join(f"{scores['recall@10 ' + k]:>18.3f}" for k in kinds))
    print(f"ivfflat recall@10 vs exact scan: {report['index_recall@10']:.3f}")
    for label, (p50, p95) in (await stdio_latency(settings, load_queries())).items():
        print(f"semantic_search_products over stdio, {label}: p50 {p50:.1f} ms, "
              f"p95 {p95:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="workshop", choices=["tiny", "workshop", "large"])
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.size, args.data_dir))

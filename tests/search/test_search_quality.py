"""The labelled-question evaluation, on the tiny seed (the catalog is the full one).

Floors are the measured values minus a small margin, so a ranking change that loses
recall fails here; the numbers themselves are printed by benchmarks/search_quality.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.search_quality import evaluate, load_queries, recall_at, reciprocal_rank
from zava.config import Settings
from zava.embeddings.base import CachedEmbedder
from zava.provision.embedded import EmbeddedCluster


@pytest.fixture(scope="module")
async def report(seeded_database: EmbeddedCluster, settings: Settings,
                 embedder: CachedEmbedder) -> dict[str, Any]:
    return await evaluate(settings, seeded_database.app_url, embedder)


def test_the_labelled_set_is_mostly_paraphrases() -> None:
    queries = load_queries()
    kinds = [q.kind for q in queries]
    assert len(queries) >= 60
    assert kinds.count("paraphrase") >= 60
    assert all(q.relevant for q in queries)


def test_metrics() -> None:
    relevant = frozenset({"A", "B"})
    assert recall_at(["x", "A", "y"], relevant) == 0.5
    assert reciprocal_rank(["x", "A", "B"], relevant) == 0.5
    assert reciprocal_rank(["x"] * 10 + ["A"], relevant) == 0


def test_hybrid_ranks_better_than_either_half(report: dict[str, Any]) -> None:
    quality = report["quality"]
    hybrid, vector, lexical = quality["hybrid"], quality["vector"], quality["lexical"]
    assert hybrid["recall@10"] > vector["recall@10"] > lexical["recall@10"]
    assert hybrid["mrr"] > vector["mrr"] > lexical["mrr"]
    assert hybrid["recall@10 paraphrase"] > vector["recall@10 paraphrase"]


def test_recall_floors(report: dict[str, Any]) -> None:
    quality = report["quality"]
    assert quality["hybrid"]["recall@10"] >= 0.80
    assert quality["hybrid"]["recall@10 paraphrase"] >= 0.73
    assert quality["vector"]["recall@10 keyword"] >= 0.93


def test_the_index_finds_what_an_exact_scan_finds(report: dict[str, Any]) -> None:
    assert report["index_recall@10"] >= 0.95

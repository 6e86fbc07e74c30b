"""The labelled-question evaluation, on the tiny seed (the catalog is the full one).

Floors are the measured values minus a small margin, so a ranking change that loses
recall fails here; the numbers themselves are printed by benchmarks/search_quality.py.
The labelled set and the metrics alone are tested in tests/unit/search.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.search_quality import evaluate
from zava.config import Settings
from zava.embeddings.base import CachedEmbedder
from zava.provision.embedded import EmbeddedCluster


@pytest.fixture(scope="module")
async def report(seeded_database: EmbeddedCluster, settings: Settings,
                 embedder: CachedEmbedder) -> dict[str, Any]:
    return await evaluate(settings, seeded_database.app_url, embedder)


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

"""The labelled questions of the search evaluation and its metrics, without a database
(the evaluation itself runs in tests/integration/search/test_search_quality.py)."""

from __future__ import annotations

from benchmarks.search_quality import load_queries, recall_at, reciprocal_rank


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

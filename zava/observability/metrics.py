"""Prometheus metrics of one server: tool calls, errors, durations, rows, bytes, caches,
the connection pool and the embedding provider.

Each runtime has its own registry (several servers may live in one test process).
Counters that other objects already keep (the pool, the query-embedding cache, the
provider's calls) are read when ``/metrics`` is scraped, not copied on every call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.cache.results import ResultCache
from zava.db.transaction import CheckoutQueue
from zava.embeddings.base import CachedEmbedder

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                    30)


class _LiveState(Collector):
    """Pool, embedding cache and provider counters, read at scrape time."""

    def __init__(self, engine: AsyncEngine, queue: CheckoutQueue, embedder: CachedEmbedder,
                 cache: ResultCache) -> None:
        self._queue = queue
        self._engine = engine
        self._embedder = embedder
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        pool: Any = self._engine.pool
        for name, doc, read in (
            ("zava_pool_size", "Connections the pool keeps open", "size"),
            ("zava_pool_checked_out", "Connections in use by units of work", "checkedout"),
            ("zava_pool_overflow", "Connections open beyond the pool size", "overflow"),
        ):
            gauge = GaugeMetricFamily(name, doc)
            reader = getattr(pool, read, None)
            gauge.add_metric([], float(reader()) if callable(reader) else 0.0)
            yield gauge
        waiting = GaugeMetricFamily("zava_pool_waiting",
                                    "Units of work waiting for a connection")
        waiting.add_metric([], float(self._queue.waiting))
        yield waiting
        hits = CounterMetricFamily("zava_cache_hits", "Cache hits by cache", labels=["cache"])
        misses = CounterMetricFamily("zava_cache_misses", "Cache misses by cache",
                                     labels=["cache"])
        hits.add_metric(["query_embeddings"], self._embedder.hits)
        misses.add_metric(["query_embeddings"], self._embedder.misses)
        for namespace in sorted({*self._cache.hits, *self._cache.misses}):
            hits.add_metric([namespace], self._cache.hits[namespace])
            misses.add_metric([namespace], self._cache.misses[namespace])
        yield hits
        yield misses
        calls = CounterMetricFamily("zava_embedding_calls",
                                    "Requests to the embedding provider (model or HTTP)",
                                    labels=["model"])
        calls.add_metric([self._embedder.model_name],
                         float(getattr(self._embedder.inner, "provider_calls", 0)))
        yield calls


class Metrics:
    """The server's metrics and the registry ``/metrics`` exposes."""

    def __init__(self, engine: AsyncEngine, queue: CheckoutQueue, embedder: CachedEmbedder,
                 cache: ResultCache) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter("zava_tool_calls", "Tool calls by tool and outcome",
                             ["tool", "outcome"], registry=self.registry)
        self.errors = Counter("zava_tool_errors", "Failed tool calls by tool and error code",
                              ["tool", "error"], registry=self.registry)
        self.duration = Histogram("zava_tool_duration_seconds", "Tool call duration",
                                  ["tool"], buckets=DURATION_BUCKETS, registry=self.registry)
        self.rows = Counter("zava_rows_returned", "Rows returned to clients", ["tool"],
                            registry=self.registry)
        self.bytes = Counter("zava_bytes_returned", "Bytes of text returned to clients",
                             ["tool"], registry=self.registry)
        self.slow_queries = Counter("zava_slow_queries", "Queries over the slow-query threshold",
                                    registry=self.registry)
        self.registry.register(_LiveState(engine, queue, embedder, cache))

    def observe_call(self, tool: str, outcome: str, seconds: float, rows: int | None,
                     size: int | None) -> None:
        """Count one finished tool call."""
        self.calls.labels(tool, "ok" if outcome == "ok" else "error").inc()
        if outcome != "ok":
            self.errors.labels(tool, outcome).inc()
        self.duration.labels(tool).observe(seconds)
        if rows:
            self.rows.labels(tool).inc(rows)
        if size:
            self.bytes.labels(tool).inc(size)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)

"""The local embedder alone on new questions: ONNX Runtime against sentence-transformers.

Each runtime runs in a fresh Python process, as a server would start: the time to import
and load the model (for ONNX once with an empty cache, so the graph is built from the
safetensors weights, then from the cached graph), the first call, then every question of
``seed/catalog/search_queries.jsonl`` embedded one at a time, ``--rounds`` times, with no
query cache in front (every call is a question never seen before): p50/p95. Also the
throughput on the 428 catalog texts in batches (``zava db reembed``'s work) and the
process's peak memory. sentence-transformers rows appear when it is installed.

    python -m benchmarks.search_latency [--rounds 3] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

QUERIES_FILE = Path(__file__).resolve().parents[1] / "seed" / "catalog" / "search_queries.jsonl"


def percentile(samples: list[float], share: float) -> float:
    """The sample at ``share`` of the sorted list (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(runtime: str, cache: str | None, threads: int, rounds: int) -> dict[str, Any]:
    """In this (fresh) process: load, first call, per-question latency, batch throughput."""
    started = time.perf_counter()
    from zava.seeding import catalog

    embedder: Any
    if runtime == "onnx":
        from zava.embeddings.onnx import OnnxEmbedder

        embedder = OnnxEmbedder(cache_dirs=[Path(cache or ".")], threads=threads)
        embedder.load()
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from zava.embeddings.local import LocalEmbedder

        embedder = LocalEmbedder()
        embedder._load()
    loaded = time.perf_counter()
    embedder.encode(["which drill is best for masonry"])
    first = time.perf_counter()
    questions = [json.loads(line)["query"] for line in QUERIES_FILE.read_text().splitlines()
                 if line.strip()]
    samples: list[float] = []
    for _ in range(rounds):
        for question in questions:
            began = time.perf_counter()
            embedder.encode([question])
            samples.append((time.perf_counter() - began) * 1000)
    texts = [p.embedding_text for p in catalog.products()]
    began = time.perf_counter()
    for start in range(0, len(texts), 64):
        embedder.encode(texts[start:start + 64])
    batch_s = time.perf_counter() - began
    return {
        "load_s": loaded - started, "first_ms": (first - loaded) * 1000,
        "p50_ms": statistics.median(samples), "p95_ms": percentile(samples, 0.95),
        "calls": len(samples), "texts_per_s": len(texts) / batch_s,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(runtime: str, cache: str | None, threads: int, rounds: int) -> dict[str, Any]:
    """``measure`` in a new interpreter, so imports and loading are counted as at start-up."""
    command = [sys.executable, "-m", "benchmarks.search_latency", "--child", runtime,
               "--threads", str(threads), "--rounds", str(rounds)]
    if cache is not None:
        command += ["--cache", cache]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                          cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(rounds: int, threads: list[int]) -> None:
    cache = tempfile.mkdtemp(prefix="zava-onnx-")
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        rows.append((f"onnx, graph built ({threads[0]} thr)",
                     run_child("onnx", cache, threads[0], rounds)))
        for count in threads:
            rows.append((f"onnx, cached graph ({count} thr)",
                         run_child("onnx", cache, count, rounds)))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if find_spec("sentence_transformers") is not None:
        import torch

        rows.append((f"sentence-transformers ({torch.get_num_threads()} thr)",
                     run_child("sentence-transformers", None, 0, rounds)))
    else:
        print("sentence-transformers is not installed: ONNX rows only")
    calls = rows[0][1]["calls"]
    print(f"local embedder alone, {calls} new questions one at a time "
          f"({rounds} rounds of {QUERIES_FILE.name}), {os.cpu_count()} CPUs")
    print(f"{'runtime':<34} {'load s':>7} {'1st ms':>7} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'catalog/s':>9} {'RSS MB':>7}")
    for label, r in rows:
        print(f"{label:<34} {r['load_s']:>7.2f} {r['first_ms']:>7.1f} {r['p50_ms']:>7.2f} "
              f"{r['p95_ms']:>7.2f} {r['texts_per_s']:>9.0f} {r['rss_mb']:>7.0f}")
    print("load s: import and load in a fresh process; catalog/s: the 428 product texts "
          "in batches of 64")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="ONNX Runtime intra-op threads to compare")
    parser.add_argument("--child", choices=["onnx", "sentence-transformers"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.cache, args.threads[0], args.rounds)))
    else:
        main(args.rounds, args.threads)

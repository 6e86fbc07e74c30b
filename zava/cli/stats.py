"""`zava stats`: a human summary of a running HTTP server's /metrics."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import click
from prometheus_client.parser import text_string_to_metric_families


@dataclass
class ToolStats:
    """One tool's counters, gathered from the exposition."""

    ok: float = 0
    errors: dict[str, float] = field(default_factory=dict)
    rows: float = 0
    bytes: float = 0
    buckets: list[tuple[float, float]] = field(default_factory=list)


def quantile_ms(buckets: list[tuple[float, float]], share: float) -> str:
    """The histogram bucket bound under which ``share`` of the calls finished."""
    ordered = sorted(buckets)
    total = ordered[-1][1] if ordered else 0
    if not total:
        return "-"
    for bound, count in ordered:
        if count >= share * total:
            return "> 30 s" if math.isinf(bound) else f"<= {bound * 1000:g} ms"
    return "-"


def summarise(exposition: str) -> str:
    """The summary ``zava stats`` prints for a /metrics text."""
    tools: dict[str, ToolStats] = defaultdict(ToolStats)
    values: dict[str, float] = {}
    caches: dict[str, dict[str, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "zava_tool_calls_total" and labels["outcome"] == "ok":
                tools[labels["tool"]].ok = sample.value
            elif sample.name == "zava_tool_errors_total":
                tools[labels["tool"]].errors[labels["error"]] = sample.value
            elif sample.name == "zava_rows_returned_total":
                tools[labels["tool"]].rows = sample.value
            elif sample.name == "zava_bytes_returned_total":
                tools[labels["tool"]].bytes = sample.value
            elif sample.name == "zava_tool_duration_seconds_bucket":
                tools[labels["tool"]].buckets.append((float(labels["le"]), sample.value))
            elif sample.name in ("zava_cache_hits_total", "zava_cache_misses_total"):
                caches[labels["cache"]][sample.name.split("_")[2]] = sample.value
            elif not labels or sample.name == "zava_embedding_calls_total":
                values[sample.name] = sample.value
    lines = [f"{'tool':<28} {'ok':>7} {'errors':>7} {'p50':>12} {'p95':>12} {'rows':>8} "
             f"{'bytes':>10}  error codes"]
    for name, tool in sorted(tools.items()):
        codes = ", ".join(f"{code} {count:g}" for code, count in sorted(tool.errors.items()))
        lines.append(f"{name:<28} {tool.ok:>7g} {sum(tool.errors.values()):>7g} "
                     f"{quantile_ms(tool.buckets, 0.5):>12} {quantile_ms(tool.buckets, 0.95):>12} "
                     f"{tool.rows:>8g} {tool.bytes:>10g}  {codes}")
    for cache, counts in sorted(caches.items()):
        hits, misses = counts.get("hits", 0), counts.get("misses", 0)
        rate = f"{100 * hits / (hits + misses):.0f}%" if hits + misses else "-"
        lines.append(f"cache {cache}: {hits:g} hits, {misses:g} misses ({rate} hit rate)")
    lines.append(f"pool: {values.get('zava_pool_checked_out', 0):g} in use of "
                 f"{values.get('zava_pool_size', 0):g} (+{values.get('zava_pool_overflow', 0):g} "
                 f"overflow), {values.get('zava_pool_waiting', 0):g} waiting")
    lines.append(f"embedding provider calls: {values.get('zava_embedding_calls_total', 0):g}; "
                 f"slow queries: {values.get('zava_slow_queries_total', 0):g}")
    return "\n".join(lines)


@click.command()
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="The HTTP server (zava serve --transport http).")
@click.option("--raw", is_flag=True, help="Print the Prometheus exposition text as is.")
@click.option("--token", envvar="ZAVA_METRICS_TOKEN",
              help="The server's metrics token (ZAVA_METRICS_TOKEN), if it has one.")
def stats(url: str, raw: bool, token: str | None) -> None:
    """Show a running HTTP server's metrics: calls, errors, latency, caches, pool."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{url.rstrip('/')}/metrics", timeout=5, headers=headers)
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"cannot read {url}/metrics ({type(exc).__name__}); is `zava serve --transport "
            "http` running there?") from exc
    if response.status_code in (401, 403):
        raise click.ClickException(
            f"{url}/metrics refused the request ({response.status_code}): pass the server's "
            "metrics token with --token (or ZAVA_METRICS_TOKEN), or run this on the "
            "server's own machine")
    if response.status_code != 200:
        raise click.ClickException(f"{url}/metrics answered {response.status_code}")
    click.echo(response.text if raw else summarise(response.text))

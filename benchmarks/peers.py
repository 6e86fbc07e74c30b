"""Zava beside the peer PostgreSQL MCP servers: ``../shared/mcpbench/zava_side_by_side.sh``
run against this checkout's ``zava`` at concurrency 1 and 4, printed as one table with
ratios to dbhub and to the raw asyncpg floor (issue 13's targets).

    python -m benchmarks.peers [--rounds 5] [-n 300] [--reseed] [--mcpbench DIR]

Each concurrency is one interleaved run of every server (the harness alternates them
round by round), so the ratios compare servers measured under the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MCPBENCH = ROOT.parent / "shared" / "mcpbench"
SERVERS = ("raw-asyncpg", "echo-floor", "dbhub-1.4.0", "dbhub-1.4.0-readonly",
           "server-postgres-0.6.2", "postgres-mcp-0.3.0-restricted", "zava-headoffice",
           "zava-seattle")
REFERENCE = "dbhub-1.4.0"
FLOOR = "raw-asyncpg"


def run_side_by_side(mcpbench: Path, zava: Path, concurrency: int, rounds: int, calls: int,
                     reseed: bool) -> list[dict[str, object]]:
    """One interleaved run of the harness; its summary lines."""
    command = ["bash", str(mcpbench / "zava_side_by_side.sh"), "--rounds", str(rounds),
               "-n", str(calls), "--concurrency", str(concurrency)]
    if reseed:
        command.append("--reseed")
    done = subprocess.run(command, env={**os.environ, "ZAVA": str(zava)}, check=True,
                          capture_output=True, text=True)
    found = re.search(r"\(raw lines: (\S+)\)", done.stdout)
    if found is None:
        raise SystemExit(f"the harness printed no results file:\n{done.stdout}\n{done.stderr}")
    lines = Path(found.group(1)).read_text().splitlines()
    return [row for row in map(json.loads, lines) if row.get("event") == "summary"]


def _ratio(value: float | None, reference: float | None) -> str:
    if not value or not reference:
        return "-"
    return f"{value / reference:.2f}x"


def table(rows: list[dict[str, object]]) -> str:
    """Markdown: per query and server, p50, server CPU per call and calls/s, with ratios
    of p50 and calls/s to dbhub and to the floor."""
    out = ["| query | in flight | server | p50 ms | p95 ms | calls/s | server CPU ms/call "
           "| p50 / dbhub | p50 - floor ms | calls/s / floor |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    keyed = {(r["query"], r.get("concurrency", 1), r["server"]): r for r in rows}
    for query in sorted({str(r["query"]) for r in rows}):
        for conc in sorted({int(str(r.get("concurrency", 1))) for r in rows}):
            ref = keyed.get((query, conc, REFERENCE), {})
            floor = keyed.get((query, conc, FLOOR), {})
            for server in SERVERS:
                row = keyed.get((query, conc, server))
                if row is None:
                    continue
                p50 = _number(row.get("p50_ms"))
                cps = _number(row.get("calls_per_s"))
                cpu = row.get("server_cpu_ms_per_call")
                floor_p50 = _number(floor.get("p50_ms"))
                gap = "-" if p50 is None or floor_p50 is None or server == FLOOR \
                    else f"{p50 - floor_p50:+.2f}"
                out.append(
                    f"| {query} | {conc} | {server} | {_fmt(p50)} | "
                    f"{_fmt(_number(row.get('p95_ms')))} | {_fmt(cps, 0)} | "
                    f"{'-' if cpu is None else f'{float(str(cpu)):.2f}'} | "
                    f"{_ratio(p50, _number(ref.get('p50_ms')))} | {gap} | "
                    f"{_ratio(cps, _number(floor.get('calls_per_s')))} |")
    return "\n".join(out)


def _number(value: object) -> float | None:
    return None if value is None else float(str(value))


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-n", type=int, default=300, help="calls per server, round and query")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--reseed", action="store_true",
                        help="reload the workshop seed (after a migration changed)")
    parser.add_argument("--mcpbench", type=Path, default=DEFAULT_MCPBENCH)
    parser.add_argument("--zava", type=Path, default=Path(sys.executable).parent / "zava")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    for position, concurrency in enumerate(args.concurrency):
        rows += run_side_by_side(args.mcpbench, args.zava, concurrency, args.rounds, args.n,
                                 reseed=args.reseed and position == 0)
    print(table(rows))


if __name__ == "__main__":
    main()

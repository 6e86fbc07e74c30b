"""Start-up of `zava serve` over stdio, as a desktop client sees it: the server is spawned
and sent ``initialize`` at once; timed from launch to the ``initialize`` answer, to the
first ``tools/list`` answer, and to the first ``execute_sales_query`` ("SELECT 1") answer
(``notifications/initialized``, ``tools/list`` and the call are written together as soon
as ``initialize`` is answered, so the call measures when the server can first serve).

The database is already running: the embedded one under ``--data-dir`` (a workshop seed,
loaded once), the same one as an external database (DATABASE_URL, its least-privilege
login) with ``--as-external``, or another one's with ``--database-url`` (migrated).

``--bytecode compiled`` (the default) runs the server on compiled modules
(PYTHONDONTWRITEBYTECODE unset, after a warm run that writes any missing
``__pycache__``): what a pip-installed package starts with. ``--bytecode environment``
leaves PYTHONDONTWRITEBYTECODE as the environment has it (set, in a checkout: Zava's
modules without ``__pycache__`` compile at every launch, the installed packages' do
not). ``--bytecode source`` compiles every module from source at every launch (none read
or written: PYTHONPYCACHEPREFIX an empty folder), the worst case.

    python -m benchmarks.startup [--runs 10] [--data-dir DIR] [--as-external]
        [--database-url URL] [--bytecode compiled|environment|source]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.common import seeded_target, server_env
from zava.seeding import company

PHASES = ("initialize", "tools/list", "execute_sales_query")


def _request(ident: int, method: str, params: dict[str, object]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": ident, "method": method,
                       "params": params}).encode() + b"\n"


INITIALIZE = _request(1, "initialize", {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "benchmarks.startup", "version": "0"}})
AFTER_INITIALIZE = (
    json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode() + b"\n"
    + _request(2, "tools/list", {})
    + _request(3, "tools/call", {"name": "execute_sales_query",
                                 "arguments": {"postgresql_query": "SELECT 1"}}))


def _cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) the process has used so far, all threads: less
    moved by other processes' load than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_launch(env: dict[str, str], caller: uuid.UUID) -> dict[str, float]:
    """Seconds from launch to each phase's answer, for one server process, and the CPU
    seconds it had used when it answered ``initialize`` ("cpu")."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zava", "serve", "--rls-user", str(caller), env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, limit=16 * 1024 * 1024)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(INITIALIZE)
    await process.stdin.drain()
    seen: dict[str, float] = {}
    names = {1: "initialize", 2: "tools/list", 3: "execute_sales_query"}
    try:
        while len(seen) < len(names) + 1:
            try:
                line = await asyncio.wait_for(process.stdout.readline(), 60)
            except TimeoutError:
                raise SystemExit(f"no answer in 60 s after {sorted(seen)}") from None
            if not line:
                assert process.stderr is not None
                error = (await process.stderr.read()).decode(errors="replace").strip()
                raise SystemExit(f"the server exited before answering: {error}")
            message = json.loads(line)
            ident = message.get("id")
            if ident not in names:
                continue
            seen[names[ident]] = time.perf_counter() - started
            if ident == 1:
                seen["cpu"] = _cpu_seconds(process.pid)
            if "error" in message or message.get("result", {}).get("isError"):
                raise SystemExit(f"{names[ident]} failed: {line.decode()[:500]}")
            if ident == 1:
                process.stdin.write(AFTER_INITIALIZE)
                await process.stdin.drain()
    finally:
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
    return seen


async def main(runs: int, data_dir: Path | None, database_url: str | None,
               bytecode: str) -> None:
    settings, target = await seeded_target("workshop", data_dir)  # keeps it running
    if database_url == "embedded":
        database_url = target.app_url
    extra = {"DATABASE_URL": database_url} if database_url else {}
    env = server_env(settings, **extra)
    if bytecode == "compiled":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONPYCACHEPREFIX", None)
    elif bytecode == "source":
        env.update(PYTHONDONTWRITEBYTECODE="1",
                   PYTHONPYCACHEPREFIX=tempfile.mkdtemp(prefix="zava-nopyc-"))
    caller = company.HEAD_OFFICE_ID
    await one_launch(env, caller)  # warm: the page cache (and any missing __pycache__)
    samples: dict[str, list[float]] = {phase: [] for phase in (*PHASES, "cpu")}
    for _ in range(runs):
        for phase, seconds in (await one_launch(env, caller)).items():
            samples[phase].append(seconds * 1000)
    where = "DATABASE_URL" if database_url else f"embedded ({settings.data_dir})"
    print(f"zava serve (stdio) on {where}, modules {bytecode}, {runs} launches")
    print(f"{'launch ->':<22}{'p50 ms':>9}{'min ms':>9}{'max ms':>9}")
    for phase in (*PHASES, "cpu"):
        values = samples[phase]
        label = "(CPU at initialize)" if phase == "cpu" else phase
        print(f"{label:<22}{statistics.median(values):>9.0f}{min(values):>9.0f}"
              f"{max(values):>9.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--database-url", help="an external database (already migrated)")
    parser.add_argument("--as-external", action="store_true",
                        help="the embedded database, as an external one (DATABASE_URL)")
    parser.add_argument("--bytecode", choices=["compiled", "environment", "source"],
                        default="compiled",
                        help="compiled: .pyc files (as installed); environment: as "
                             "PYTHONDONTWRITEBYTECODE says; source: no .pyc at all")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.data_dir,
                     "embedded" if args.as_external else args.database_url, args.bytecode))

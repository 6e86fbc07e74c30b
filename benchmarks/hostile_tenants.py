"""Hostile tenants: what one manager's hostile free SQL costs the server and PostgreSQL.

(a) Peak RSS of a `zava serve` stdio process (VmHWM from /proc, reset before each case
    through /proc/<pid>/clear_refs, with 20 ms sampling as a fallback) and of the
    PostgreSQL backends serving it, while `execute_sales_query` is called through the
    official MCP client with a 500 MB value, ten 100 MB values and a string_agg past 1 GB.
(b) The SQL guard's CPU time, tracemalloc peak and event-loop stall for a 100 KB query of
    thousands of empty CTEs, before (the guard of commit 173d326, loaded from git) and
    after (this tree).
(c) The cost gate refusing `generate_series(1, 100000000000)` over the same session.

    python -m benchmarks.hostile_tenants [--size tiny] [--data-dir DIR]

Linux only (/proc). One run on a shared machine: times are context, memory is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
from mcp import ClientSession, StdioServerParameters, stdio_client

from benchmarks.common import seeded_target, server_env
from zava.db.engine import create_engine
from zava.provision.embedded import stop_cluster
from zava.provision.seed_loader import asyncpg_dsn
from zava.repositories.schema import TABLE_DESCRIPTIONS
from zava.security.function_catalog import FunctionCatalog, load_function_catalog
from zava.security.sql_guard import MAX_QUERY_CHARS, SqlGuard
from zava.seeding import company

BEFORE_COMMIT = "173d326"
MB = 1024 * 1024
HOSTILE = {
    "500 MB value": "SELECT repeat('x', 500000000)",
    "ten 100 MB values": "SELECT repeat('x', 100000000) FROM generate_series(1, 10)",
    "string_agg past 1 GB": ("SELECT string_agg(repeat('x', 100000000), ',') "
                             "FROM generate_series(1, 20)"),
    "a light query (baseline)": "SELECT count(*) FROM retail.stores",
}
COSTLY = "SELECT count(*) FROM generate_series(1, 100000000000)"


# --- /proc -----------------------------------------------------------------------------

def status_kb(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` field in kB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def server_pid() -> int:
    """The `zava serve` child this process started."""
    for pid in children_of(os.getpid()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in command:
            return pid
    raise RuntimeError("no `zava serve` child process found")


class Sampler:
    """Samples VmRSS of some processes every 20 ms; keeps each one's maximum."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self._pids = pids
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._pids():
                self.peaks[pid] = max(self.peaks.get(pid, 0), status_kb(pid, "VmRSS"))
            self._stop.wait(0.02)

    @contextmanager
    def running(self) -> Iterator[Sampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


# --- (a) and (c): the server over stdio --------------------------------------------------

async def backend_pids(admin: asyncpg.Connection) -> list[int]:
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'zava' "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
    return [int(r["pid"]) for r in rows]


def outcome(result: Any) -> str:
    text = " ".join(getattr(c, "text", "") for c in result.content).replace("\n", " ")
    return ("error: " if result.is_error else "ok: ") + text[:110]


async def server_cases(settings_env: dict[str, str], admin: asyncpg.Connection) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "zava", "serve", "--rls-user", str(company.SEATTLE_MANAGER_ID)],
        env=settings_env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        pid = server_pid()
        await session.call_tool("execute_sales_query",
                                {"postgresql_query": HOSTILE["a light query (baseline)"]})
        print(f"(a) `zava serve` pid {pid}: RSS after start-up and one query "
              f"{status_kb(pid, 'VmRSS') / 1024:.0f} MB (VmHWM so far "
              f"{status_kb(pid, 'VmHWM') / 1024:.0f} MB)")
        print(f"    {'case':<26} {'server peak':>11} {'backend peak':>12} {'s':>6}  outcome")
        for name, sql in HOSTILE.items():
            backends = await backend_pids(admin)
            resettable = all(reset_peak(p) for p in [pid, *backends])
            known = [pid, *backends]
            sampler = Sampler(known.copy)
            started = time.perf_counter()
            with sampler.running():
                result = await session.call_tool("execute_sales_query",
                                                 {"postgresql_query": sql})
            elapsed = time.perf_counter() - started
            backends_after = await backend_pids(admin)
            known.extend(p for p in backends_after if p not in known)
            if resettable:
                server_peak = status_kb(pid, "VmHWM")
                backend_peak = max((status_kb(p, "VmHWM") for p in backends_after), default=0)
            else:
                server_peak = sampler.peaks.get(pid, 0)
                backend_peak = max((v for p, v in sampler.peaks.items() if p != pid),
                                   default=0)
            print(f"    {name:<26} {server_peak / 1024:>8.0f} MB {backend_peak / 1024:>9.0f} MB "
                  f"{elapsed:>6.1f}  {outcome(result)}")
        print("    (peaks are VmHWM reset before each case"
              + ("" if resettable else "; clear_refs refused, 20 ms VmRSS samples instead")
              + "; a backend's RSS includes the shared buffers it touched)")

        started = time.perf_counter()
        result = await session.call_tool("execute_sales_query", {"postgresql_query": COSTLY})
        elapsed_ms = (time.perf_counter() - started) * 1000
        print(f"(c) cost gate: {COSTLY}\n    {elapsed_ms:.0f} ms, {outcome(result)}")
        running = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%100000000000%' "
            "AND pid <> pg_backend_pid() AND state = 'active'")
        print(f"    statements with that text running now: {running}")


async def direct_before_cases(app_url: str) -> None:
    """The pre-change way for comparison: the query wrapped only in a LIMIT and fetched
    whole (here by this process, on one connection as the Seattle reader)."""
    connection = await asyncpg.connect(
        asyncpg_dsn(app_url), server_settings={"application_name": "zava-bench-direct"})
    try:
        await connection.execute(
            "SET ROLE zava_store_reader; SET statement_timeout = '180s'; "
            "SELECT set_config('app.current_rls_user_id', "
            f"'{company.SEATTLE_MANAGER_ID}', false)")
        backend = connection.get_server_pid()
        print("(a') before, for comparison: `SELECT * FROM (...) LIMIT 501` fetched whole "
              "(the pre-change repository), measured on a direct connection")
        print(f"    {'case':<26} {'client peak':>11} {'backend peak':>12} {'s':>6}")
        for name in ("500 MB value", "ten 100 MB values"):
            reset_peak(os.getpid())
            reset_peak(backend)
            own_before = status_kb(os.getpid(), "VmRSS")
            started = time.perf_counter()
            try:
                rows = await connection.fetch(
                    f"SELECT * FROM ({HOSTILE[name]}) AS q LIMIT 501")
                fetched = f"{len(rows)} rows"
                del rows
            except asyncpg.PostgresError as error:
                fetched = f"error {error.sqlstate}"
            elapsed = time.perf_counter() - started
            client = status_kb(os.getpid(), "VmHWM") - own_before
            print(f"    {name:<26} {client / 1024:>+8.0f} MB "
                  f"{status_kb(backend, 'VmHWM') / 1024:>9.0f} MB {elapsed:>6.1f}  {fetched}")
        print("    (client peak: growth of this process's VmHWM; the pre-change server "
              "also converted every value to JSON after fetching it)")
    finally:
        await connection.close()


# --- (b): the guard ------------------------------------------------------------------

def cte_query() -> tuple[str, int]:
    """``WITH c0 AS (SELECT), c1 AS (SELECT), ... SELECT 1``, just under the cap."""
    parts: list[str] = []
    length = len("WITH  SELECT 1")
    while length + len(f"c{len(parts)} AS (SELECT)") + 1 < MAX_QUERY_CHARS:
        parts.append(f"c{len(parts)} AS (SELECT)")
        length += len(parts[-1]) + 1
    return "WITH " + ",".join(parts) + " SELECT 1", len(parts)


def load_old_guard() -> ModuleType | None:
    """The guard module as it was at BEFORE_COMMIT, or None when git cannot show it."""
    try:
        source = subprocess.run(
            ["git", "show", f"{BEFORE_COMMIT}:zava/security/sql_guard.py"], check=True,
            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp(prefix="zava-old-guard-")) / "old_sql_guard.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_sql_guard", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_sql_guard"] = module
    spec.loader.exec_module(module)
    return module


async def loop_stall_ms(check: Callable[[], Awaitable[object]]) -> float:
    """The longest the event loop went without turning while ``check`` ran."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    try:
        await check()
    finally:
        done.set()
        await task
    return max(gaps) * 1000


async def guard_case(label: str, guard: Any, sql: str, *, threaded: bool,
                     repeats: int = 5) -> None:
    cpu: list[float] = []
    for _ in range(repeats):
        started = time.process_time()
        guard.check(sql)
        cpu.append((time.process_time() - started) * 1000)
    tracemalloc.start()
    guard.check(sql)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    async def check() -> object:
        if threaded:
            return await guard.check_async(sql)
        return guard.check(sql)  # the old server checked on the event loop
    stalls = [await loop_stall_ms(check) for _ in range(repeats)]
    print(f"    {label:<26} {statistics.median(cpu):>6.0f} / {max(cpu):>5.0f} ms CPU "
          f"{peak / MB:>7.1f} MB peak {statistics.median(stalls):>6.0f} / "
          f"{max(stalls):>5.0f} ms loop stall")


async def guard_cases(catalog: FunctionCatalog) -> None:
    sql, count = cte_query()
    print(f"(b) guard on a {len(sql):,}-character query of {count:,} empty CTEs "
          "(no cache: each check does the whole work); median / max of 5")
    old = load_old_guard()
    if old is None:
        print(f"    before ({BEFORE_COMMIT}): skipped, git could not show the old guard")
    else:
        before = old.SqlGuard(catalog, frozenset(TABLE_DESCRIPTIONS), cache_size=0)
        await guard_case(f"before ({BEFORE_COMMIT}, check)", before, sql, threaded=False)
    after = SqlGuard(catalog, frozenset(TABLE_DESCRIPTIONS), cache_size=0)
    await guard_case("after (check_async)", after, sql, threaded=True)


async def main(size: str, data_dir: Path | None) -> None:
    settings, target = await seeded_target(size, data_dir)
    admin = await asyncpg.connect(asyncpg_dsn(target.admin_url))
    try:
        env = server_env(settings, ZAVA_STATEMENT_TIMEOUT_MS="180000")
        print(f"seed: {size}; server limits: max_result_bytes {settings.max_result_bytes:,}, "
              f"max_query_cost {settings.max_query_cost:g}, statement timeout 180 s")
        await server_cases(env, admin)
        await direct_before_cases(target.app_url)
        engine = create_engine(target.app_url, settings)
        try:
            async with engine.connect() as connection:
                catalog = await load_function_catalog(connection)
        finally:
            await engine.dispose()
        await guard_cases(catalog)
    finally:
        await admin.close()
        if data_dir is None:
            stop_cluster(settings.data_dir)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.size, args.data_dir))

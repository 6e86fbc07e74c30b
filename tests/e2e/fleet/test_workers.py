"""`zava serve --transport http --workers 2`: two worker processes on one port; SIGHUP
replaces them one at a time while kept-alive clients keep calling (no call fails: a
draining worker stops accepting and closes each connection after its next answer);
SIGTERM stops them all gracefully (exit 0, no worker left behind)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port
from tests.e2e.fleet.fleet import modern_client, pid_alive, store_names, tokens_env, wait_for
from zava.seeding import company

TOKEN = "workers_seattle_token"
STORES = "SELECT name FROM retail.stores ORDER BY name"
SEATTLE = {s.name for s in company.stores()
           if s.store_id in company.visible_stores(
               next(m for m in company.managers()
                    if m.manager_id == company.SEATTLE_MANAGER_ID))}


def children(pid: int) -> set[int]:
    """The child processes of ``pid`` (the workers)."""
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


@pytest.fixture()
def supervisor(server_env: dict[str, str],
               tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = dict(tokens_env(server_env, {company.SEATTLE_MANAGER_ID: TOKEN}),
               ZAVA_HTTP_DRAIN_S="1")
    with (tmp_path / "workers.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "zava", "serve", "--transport", "http", "--port", str(port),
             "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for(lambda: process.poll() is not None or len(children(process.pid)) == 2,
                 "two workers", timeout_s=180)
        assert process.poll() is None, (tmp_path / "workers.log").read_text()
        yield process, f"http://127.0.0.1:{port}/mcp"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_sighup_replaces_every_worker_without_failing_a_call(
        supervisor: tuple[subprocess.Popen[bytes], str]) -> None:
    process, url = supervisor
    first = children(process.pid)
    assert len(first) == 2
    errors: list[str] = []
    answered = 0
    stop = asyncio.Event()

    async def caller() -> None:
        nonlocal answered
        async with modern_client(url, TOKEN) as client:
            while not stop.is_set():
                try:
                    result = await client.call_tool("execute_sales_query",
                                                    {"postgresql_query": STORES})
                except Exception as exc:
                    errors.append(repr(exc))
                    continue
                if result.is_error:
                    errors.append(str(result.content[0]))
                else:
                    assert store_names(result.structured_content) == SEATTLE
                    answered += 1

    callers = [asyncio.create_task(caller()) for _ in range(4)]
    try:
        while answered < 20:
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGHUP)
        await asyncio.to_thread(
            wait_for, lambda: not (children(process.pid) & first)
            and len(children(process.pid)) == 2, "both workers replaced", 240)
        settled = answered
        while answered < settled + 20:  # the new workers serve
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*callers)
    assert errors == []
    assert not any(pid_alive(pid) for pid in first)


def test_sigterm_stops_every_worker_gracefully(
        supervisor: tuple[subprocess.Popen[bytes], str]) -> None:
    process, _ = supervisor
    workers = children(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0
    assert not any(pid_alive(pid) for pid in workers)


def test_workers_stop_when_the_supervisor_is_killed(
        supervisor: tuple[subprocess.Popen[bytes], str]) -> None:
    process, _ = supervisor
    workers = children(process.pid)
    process.kill()  # no chance to stop them itself (SIGKILL, the OOM killer)
    process.wait()
    wait_for(lambda: not any(running(pid) for pid in workers),
             "the orphaned workers to stop", timeout_s=60)


def running(pid: int) -> bool:
    """True while ``pid`` runs (an exited orphan may linger as a zombie until reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"

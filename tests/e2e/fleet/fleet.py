"""A fleet on 127.0.0.1 for the tests: Redis, `zava serve` workers on their own ports,
and HAProxy (Debian's) in front of them, health-checking /ready. Everything is started
and stopped by the test that uses it; ports are free ones."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.conftest import free_port
from tests.support.system_packages import require_program

ROOT = Path(__file__).resolve().parents[3]
HAPROXY_CFG = ROOT / "docker" / "haproxy" / "haproxy.cfg"
WORKER_GONE = "server_unavailable"
"""The start of HAProxy's JSON-RPC error when a worker died with the call in flight."""


def wait_for(condition: Any, what: str, timeout_s: float = 90.0) -> None:
    """Poll ``condition()`` until it is true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A private redis-server on a free port: its URL."""
    program = require_program("redis-server")
    port = free_port()
    process = subprocess.Popen(
        [str(program), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_for(answers, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Worker:
    """One `zava serve --transport http` process on its own port."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    extra: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("a") as errlog:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "zava", "serve", "--transport", "http",
                 "--host", "127.0.0.1", "--port", str(self.port), *self.extra],
                env=self.env, stdout=subprocess.DEVNULL, stderr=errlog)
        wait_for(self.ready, f"{self.name} /ready")

    def ready(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx2.get(self.base + "/ready", timeout=2).status_code == 200
        except httpx2.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> int:
        """SIGTERM and wait for a graceful exit; the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=120)

    def in_use(self) -> float:
        """Pooled connections its calls hold now (a call in flight holds one)."""
        text = httpx2.get(self.base + "/metrics", timeout=5).text
        found = re.search(r"^zava_pool_checked_out (\S+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    def calls(self) -> float:
        """Tool calls this process has served (all tools, all outcomes), from /metrics."""
        text = httpx2.get(self.base + "/metrics", timeout=5).text
        return sum(float(m.group(1)) for m in
                   re.finditer(r"^zava_tool_calls_total\{[^}]*\} (\S+)$", text, re.M))


def haproxy_config(port: int, workers: list[Worker], stats: Path) -> str:
    """docker/haproxy/haproxy.cfg with the test's addresses, a stats socket, and quick
    health checks (every 250 ms, down after two failures, up after one success)."""
    config = HAPROXY_CFG.read_text()
    config = config.replace("bind :8000", f"bind 127.0.0.1:{port}")
    config = re.sub(r"^\s*server .*\n", "", config, flags=re.M)
    config = config.replace("inter 1s fall 2 rise 2", "inter 250ms fall 2 rise 1")
    config = config.replace("option dontlog-normal", "")
    config = config.replace("\nglobal\n", f"\nglobal\n    stats socket {stats} mode 600 level admin\n")
    servers = "".join(f"    server {w.name} 127.0.0.1:{w.port} check\n" for w in workers)
    return config.rstrip("\n") + "\n" + servers


@dataclass
class Balancer:
    """HAProxy in front of ``workers``."""

    port: int
    workers: list[Worker]
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    stats: Path = field(init=False)

    def __post_init__(self) -> None:
        self.stats = self.folder / "haproxy.sock"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> None:
        program = require_program("haproxy")
        config = self.folder / "haproxy.cfg"
        config.write_text(haproxy_config(self.port, self.workers, self.stats))
        checked = subprocess.run([str(program), "-c", "-f", str(config)],
                                 capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        self.process = subprocess.Popen([str(program), "-f", str(config), "-db"],
                                        stdout=subprocess.DEVNULL,
                                        stderr=(self.folder / "haproxy.log").open("w"))
        for worker in self.workers:
            wait_for(lambda w=worker: self.status(w) == "UP", f"HAProxy sees {worker.name} UP")

    def status(self, worker: Worker) -> str:
        """HAProxy's view of one worker: UP, DOWN, ... (from its stats socket)."""
        if not self.stats.exists():
            return "?"
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(self.stats))
            conn.sendall(b"show stat\n")
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("svname") == worker.name:
                return row["status"].split(" ")[0]
        return "?"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@contextmanager
def fleet(env: dict[str, str], folder: Path, count: int, *,
          extra: tuple[str, ...] = ()) -> Iterator[Balancer]:
    """``count`` workers behind HAProxy; all stopped when the block ends."""
    port = free_port()
    workers = [Worker(f"w{n}", free_port(), dict(env), folder / f"w{n}.log",
                      extra=("--allowed-host", f"127.0.0.1:{port}", *extra))
               for n in range(1, count + 1)]
    balancer = Balancer(port, workers, folder)
    try:
        for worker in workers:
            worker.start()
        balancer.start()
        yield balancer
    finally:
        balancer.stop()
        for worker in workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait(timeout=10)


@asynccontextmanager
async def modern_client(url: str, token: str) -> AsyncIterator[Client]:
    """The SDK's `Client` on protocol 2026-07-28 (stateless: no session, no handshake)."""
    async with httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"},
                                  timeout=120) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        yield client


@asynccontextmanager
async def legacy_client(url: str, token: str) -> AsyncIterator[ClientSession]:
    """A 2025-11-25 `ClientSession` (initialize handshake) over streamable HTTP."""
    async with httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"},
                                  timeout=120) as http, \
            streamable_http_client(url, http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


def store_names(structured: dict[str, Any] | None) -> set[str]:
    """The store names in an execute_sales_query answer of ``SELECT name ... stores``."""
    assert structured is not None
    return {row[0] if isinstance(row, list) else row["name"] for row in structured["rows"]}


def tokens_env(env: dict[str, str], tokens: dict[uuid.UUID, str]) -> dict[str, str]:
    """``env`` with ZAVA_TOKENS for ``tokens`` (manager id -> bearer token)."""
    from zava.security.identity import hash_token

    return dict(env, ZAVA_TOKENS=",".join(f"{m} {hash_token(t)}" for m, t in tokens.items()))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True

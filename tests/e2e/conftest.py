"""End-to-end fixtures: `zava serve` as a real subprocess on the seeded test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import StdioServerParameters

from zava.config import Settings
from zava.provision.embedded import EmbeddedCluster


@pytest.fixture(scope="module")
def server_env(seeded_database: EmbeddedCluster, settings: Settings) -> dict[str, str]:
    """The environment of a `zava` subprocess pointed at this module's seeded database."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ZAVA_") and k not in ("DATABASE_URL",)}
    env.update(
        ZAVA_DATA_DIR=str(settings.data_dir),
        ZAVA_DATABASE_NAME=seeded_database.database,
        ZAVA_LOG_LEVEL="WARNING",
        HF_HUB_OFFLINE="1",
    )
    return env


def stdio_server(env: dict[str, str], manager: uuid.UUID, *extra: str) -> StdioServerParameters:
    """`python -m zava serve --rls-user <manager>` over stdio."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "zava", "serve", "--rls-user", str(manager), *extra],
        env=env,
    )


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def http_server(env: dict[str, str], log: Path, log_level: str = "INFO") -> Iterator[str]:
    """`zava serve --transport http` on a free loopback port until the block ends, its
    stderr in ``log``; yields the base URL once /health answers."""
    port = free_port()
    with log.open("w") as errlog:
        process = subprocess.Popen(
            [sys.executable, "-m", "zava", "serve", "--transport", "http", "--port", str(port)],
            env={**env, "ZAVA_LOG_LEVEL": log_level}, stdout=subprocess.DEVNULL, stderr=errlog)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx2.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx2.HTTPError:
            time.sleep(0.2)
    assert process.poll() is None, log.read_text()
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)

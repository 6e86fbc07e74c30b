"""End-to-end fixtures: `zava serve` as a real subprocess on the seeded test database."""

from __future__ import annotations

import os
import sys
import uuid

import pytest
from mcp import StdioServerParameters

from zava.config import Settings
from zava.db.embedded import EmbeddedCluster


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

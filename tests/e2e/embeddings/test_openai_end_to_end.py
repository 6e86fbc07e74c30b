"""The openai provider end to end: `zava db reembed` and `zava serve` (stdio) both talk
to an OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import sys

from mcp import ClientSession, StdioServerParameters, stdio_client

from tests.support.fake_openai import fake_openai
from zava.config import Settings
from zava.provision.embedded import EmbeddedCluster
from zava.seeding import company


def environment(settings: Settings, database: EmbeddedCluster, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("ZAVA_") and k != "OPENAI_API_KEY"}
    env.update(ZAVA_DATA_DIR=str(settings.data_dir), ZAVA_DATABASE_NAME=database.database,
               ZAVA_LOG_LEVEL="WARNING", ZAVA_EMBEDDING_PROVIDER="openai",
               ZAVA_EMBEDDING_MODEL="text-embedding-3-small", ZAVA_EMBEDDING_DIM="1536",
               ZAVA_EMBEDDING_API_BASE=f"{url}/v1", ZAVA_EMBEDDING_API_KEY="sk-test")
    return env


async def search(env: dict[str, str], question: str) -> tuple[bool, str, object]:
    server = StdioServerParameters(command=sys.executable, env=env, args=[
        "-m", "zava", "serve", "--rls-user", str(company.SEATTLE_MANAGER_ID)])
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        result = await session.call_tool("semantic_search_products",
                                         {"query_description": question, "max_rows": 5})
    return result.is_error, result.content[0].text, result.structured_content  # type: ignore[union-attr]


async def test_refused_then_reembedded_then_served(seeded_database: EmbeddedCluster,
                                                   settings: Settings) -> None:
    async with fake_openai() as fake:
        env = environment(settings, seeded_database, fake.url)

        failed, message, _ = await search(env, "patio umbrella")
        assert failed
        assert ("the product vectors were made with all-MiniLM-L6-v2 (384 dims) but the "
                "server is configured for text-embedding-3-small (1536 dims)") in message
        assert "`zava db reembed`" in message
        # The question is embedded before the search's first statement checks the space.
        assert len(fake.requests) == 1

        reembed = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zava", "db", "reembed", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, stderr = await asyncio.wait_for(reembed.communicate(), timeout=300)
        assert reembed.returncode == 0, stderr.decode()
        assert "re-embedded 428 products with text-embedding-3-small (1536 dims" in \
            stderr.decode()
        catalog_requests = len(fake.requests)
        assert catalog_requests == 1 + 7  # 428 texts in batches of 64

        failed, message, found = await search(env, "market patio umbrella with tilt")
        assert not failed, message
        assert found["products"][0]["sku"] == "GO-PAT-0002"  # type: ignore[index]
        assert fake.requests[-1]["body"]["input"] == ["market patio umbrella with tilt"]

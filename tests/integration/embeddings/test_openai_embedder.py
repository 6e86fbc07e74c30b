"""The openai provider against a real HTTP server on 127.0.0.1 that speaks the API."""

from __future__ import annotations

import asyncio
import math

import pytest
from loguru import logger
from pydantic import SecretStr

from tests.support.fake_openai import FakeOpenAI, Scripted, fake_openai, word_vector
from zava.config import Settings
from zava.embeddings.base import CachedEmbedder
from zava.embeddings.factory import create_embedder
from zava.embeddings.openai import OpenAIEmbedder
from zava.errors import ConfigurationError, EmbeddingUnavailableError

KEY = "sk-test-0123456789abcdef"


def provider(fake: FakeOpenAI, **options: object) -> OpenAIEmbedder:
    settings: dict[str, object] = {
        "model_name": "text-embedding-3-small", "dimension": 1536,
        "api_base": f"{fake.url}/v1", "api_key": SecretStr(KEY), "backoff_s": 0.01,
        "timeout_s": 5.0, **options}
    return OpenAIEmbedder(**settings)  # type: ignore[arg-type]


async def test_openai_request_shape_batches_order_and_normalisation() -> None:
    async with fake_openai() as fake:
        embedder = provider(fake, batch_size=2)
        texts = ["patio cover", "cordless drill", "garden hose", "snow shovel", "deck stain"]
        vectors = await embedder.embed(texts)
        await embedder.aclose()
    assert len(fake.requests) == 3 and embedder.provider_calls == 3
    first = fake.requests[0]
    assert first["path"] == "/v1/embeddings" and first["query"] == {}
    assert first["headers"]["authorization"] == f"Bearer {KEY}"
    assert first["body"] == {"input": ["patio cover", "cordless drill"],
                             "model": "text-embedding-3-small", "dimensions": 1536,
                             "encoding_format": "float"}
    for text, vector in zip(texts, vectors, strict=True):
        expected = word_vector(text, 1536)
        norm = math.sqrt(sum(x * x for x in expected))
        assert vector == pytest.approx([x / norm for x in expected])
        assert math.fsum(x * x for x in vector) == pytest.approx(1.0)


async def test_azure_request_shape() -> None:
    async with fake_openai() as fake:
        embedder = provider(fake, api_base=fake.url, azure_deployment="embed-small",
                            azure_api_version="2024-10-21")
        await embedder.embed(["sump pump"])
        await embedder.aclose()
    (request,) = fake.requests
    assert request["path"] == "/openai/deployments/embed-small/embeddings"
    assert request["query"] == {"api-version": "2024-10-21"}
    assert request["headers"]["api-key"] == KEY and "authorization" not in request["headers"]


async def test_ollama_style_models_get_no_dimensions_field() -> None:
    async with fake_openai(dimension=768) as fake:
        embedder = provider(fake, model_name="nomic-embed-text", dimension=768, api_key=None)
        assert len((await embedder.embed(["hammer"]))[0]) == 768
        await embedder.aclose()
    (request,) = fake.requests
    assert "dimensions" not in request["body"] and "authorization" not in request["headers"]


@pytest.mark.parametrize("script", [
    [Scripted(429, {"retry-after": "0"})],
    [Scripted(503), Scripted(502)],
    [Scripted(delay_s=1.0)],
], ids=["429 with Retry-After", "5xx twice", "timeout"])
async def test_transient_failures_are_retried(script: list[Scripted]) -> None:
    async with fake_openai() as fake:
        fake.script = list(script)
        embedder = provider(fake, timeout_s=0.3)
        vectors = await embedder.embed(["rain barrel"])
        await embedder.aclose()
    assert len(vectors) == 1 and len(fake.requests) == len(script) + 1


async def test_retries_run_out_with_a_clear_error() -> None:
    async with fake_openai() as fake:
        fake.script = [Scripted(503)] * 10
        embedder = provider(fake, max_retries=2)
        with pytest.raises(EmbeddingUnavailableError,
                           match=r"did not answer after 3 attempts \(last: HTTP 503\)"):
            await embedder.embed(["rain barrel"])
        await embedder.aclose()
    assert len(fake.requests) == 3


@pytest.mark.parametrize(("status", "message"), [
    (401, "refused the API key .HTTP 401.: set ZAVA_EMBEDDING_API_KEY"),
    (403, "refused the API key .HTTP 403."),
    (404, "does not know model text-embedding-3-small .HTTP 404.: check ZAVA_EMBEDDING_MODEL"),
    (400, "refused the request .HTTP 400: "),
])
async def test_refusals_are_not_retried_and_name_the_fix(status: int, message: str) -> None:
    async with fake_openai() as fake:
        fake.script = [Scripted(status)]
        embedder = provider(fake)
        with pytest.raises(ConfigurationError, match=message) as refused:
            await embedder.embed(["rain barrel"])
        await embedder.aclose()
    assert len(fake.requests) == 1
    assert KEY not in str(refused.value)


async def test_a_wrong_dimension_is_a_configuration_error() -> None:
    async with fake_openai() as fake:
        fake.wrong_dimension = True
        embedder = provider(fake)
        with pytest.raises(ConfigurationError,
                           match="returned 1537-dimensional vectors, but 1536 are configured: "
                                 "set ZAVA_EMBEDDING_DIM=1537"):
            await embedder.embed(["rain barrel"])
        await embedder.aclose()


async def test_the_event_loop_keeps_running_during_a_slow_answer() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async with fake_openai() as fake:
        fake.script = [Scripted(delay_s=0.5)]
        embedder = provider(fake)
        background = asyncio.create_task(ticker())
        await embedder.embed(["slow"])
        background.cancel()
        await embedder.aclose()
    assert ticks >= 10


async def test_the_key_never_reaches_the_logs() -> None:
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    try:
        async with fake_openai() as fake:
            fake.script = [Scripted(503), Scripted(401)]
            embedder = provider(fake)
            with pytest.raises(ConfigurationError):
                await embedder.embed(["x"])
            await embedder.aclose()
    finally:
        logger.remove(sink)
    assert not any(KEY in line for line in lines)


async def test_the_factory_builds_it_from_settings_behind_the_cache() -> None:
    async with fake_openai() as fake:
        settings = Settings(embedding_provider="openai", embedding_model="text-embedding-3-small",
                            embedding_dim=1536, embedding_api_base=f"{fake.url}/v1",
                            embedding_api_key=SecretStr(KEY))
        embedder = create_embedder(settings)
        assert isinstance(embedder, CachedEmbedder)
        assert isinstance(embedder.inner, OpenAIEmbedder)
        await embedder.embed(["drill"])
        await embedder.embed(["drill", "drill"])
        await embedder.aclose()
    assert len(fake.requests) == 1 and (embedder.hits, embedder.misses) == (2, 1)

"""The ``openai`` provider: any OpenAI-compatible embeddings endpoint over HTTP.

OpenAI, Ollama and vLLM take ``POST {base}/embeddings`` with a bearer key; Azure OpenAI
takes ``POST {base}/openai/deployments/{deployment}/embeddings?api-version=...`` with
an ``api-key`` header (set ``ZAVA_EMBEDDING_AZURE_DEPLOYMENT``). Texts go in batches;
429, 5xx, timeouts and connection failures are retried with exponential backoff and
jitter (honouring ``Retry-After``); other refusals are configuration errors that say
what to fix. Plain httpx, so the event loop never blocks and no SDK is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from zava.config import Settings
from zava.embeddings.base import unit_rows
from zava.errors import ConfigurationError, EmbeddingUnavailableError

MAX_RETRY_AFTER_S = 30.0
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class _Retryable(Exception):
    """A failure worth another attempt, with the server's Retry-After if it gave one."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(response.headers["retry-after"])))
    except (KeyError, ValueError):
        return None


def _public(url: httpx.URL) -> str:
    """The URL without credentials or query (never log or show a key)."""
    return str(url.copy_with(userinfo=b"", query=None))


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible HTTP API, normalised for cosine similarity."""

    def __init__(
        self, *, model_name: str, dimension: int, api_base: str,
        api_key: SecretStr | None = None, azure_deployment: str | None = None,
        azure_api_version: str | None = None, timeout_s: float = 30.0, max_retries: int = 5,
        batch_size: int = 64, backoff_s: float = 0.5,
    ) -> None:
        self.model_name = model_name
        self.dimension = dimension
        self.provider_calls = 0
        self._batch_size = batch_size
        self._attempts = max_retries + 1
        self._exponential = wait_exponential_jitter(multiplier=backoff_s, max=20 * backoff_s,
                                                    jitter=backoff_s)
        base = api_base.rstrip("/")
        headers = {"content-type": "application/json"}
        self._params: dict[str, str] = {}
        if azure_deployment:
            self._url = httpx.URL(f"{base}/openai/deployments/{azure_deployment}/embeddings")
            if azure_api_version:
                self._params["api-version"] = azure_api_version
            if api_key is not None:
                headers["api-key"] = api_key.get_secret_value()
            self._target = f"deployment {azure_deployment}"
        else:
            self._url = httpx.URL(f"{base}/embeddings")
            if api_key is not None:
                headers["authorization"] = f"Bearer {api_key.get_secret_value()}"
            self._target = f"model {model_name}"
        self._client = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=4))

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIEmbedder:
        """The provider as ``ZAVA_EMBEDDING_*`` configure it."""
        return cls(model_name=settings.embedding_model, dimension=settings.embedding_dim,
                   api_base=settings.embedding_api_base, api_key=settings.embedding_api_key,
                   azure_deployment=settings.embedding_azure_deployment,
                   azure_api_version=settings.embedding_azure_api_version,
                   timeout_s=settings.embedding_timeout_s,
                   max_retries=settings.embedding_max_retries,
                   batch_size=settings.embedding_batch_size)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order, ``batch_size`` texts per request."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors.extend(await self._embed_batch(list(texts[start:start + self._batch_size])))
        return vectors

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    def _body(self, texts: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"input": texts, "model": self.model_name,
                                "encoding_format": "float"}
        if self.model_name.startswith("text-embedding-3"):
            body["dimensions"] = self.dimension  # 3-small/3-large can shorten their vectors
        return body

    def _wait(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _Retryable) and failure.retry_after is not None:
            return failure.retry_after
        return float(self._exponential(state))

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        retrying = AsyncRetrying(stop=stop_after_attempt(self._attempts), wait=self._wait,
                                 retry=retry_if_exception_type(_Retryable), reraise=True)
        try:
            async for attempt in retrying:
                with attempt:
                    return self._vectors(await self._post(texts), len(texts))
        except _Retryable as exc:
            raise EmbeddingUnavailableError(
                f"the embedding service at {_public(self._url)} did not answer after "
                f"{self._attempts} attempts (last: {exc.reason}); try again later, or check "
                "the service") from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _post(self, texts: list[str]) -> dict[str, Any]:
        self.provider_calls += 1
        try:
            response = await self._client.post(self._url, params=self._params,
                                               json=self._body(texts))
        except httpx.TimeoutException:
            raise _Retryable("timed out") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed: {type(exc).__name__}") from None
        if response.status_code in RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response))
        where = _public(self._url)
        if response.status_code in (401, 403):
            raise ConfigurationError(
                f"the embedding service at {where} refused the API key (HTTP "
                f"{response.status_code}): set ZAVA_EMBEDDING_API_KEY (or OPENAI_API_KEY) to a "
                "valid key")
        if response.status_code == 404:
            raise ConfigurationError(
                f"the embedding service at {where} does not know {self._target} (HTTP 404): "
                "check ZAVA_EMBEDDING_MODEL, ZAVA_EMBEDDING_AZURE_DEPLOYMENT and "
                "ZAVA_EMBEDDING_API_BASE")
        if response.is_error:
            raise ConfigurationError(
                f"the embedding service at {where} refused the request (HTTP "
                f"{response.status_code}: {response.text[:200]})")
        try:
            payload: dict[str, Any] = response.json()
        except ValueError:
            raise _Retryable("a response that is not JSON") from None
        return payload

    def _vectors(self, payload: dict[str, Any], expected: int) -> list[list[float]]:
        try:
            items = sorted(payload["data"], key=lambda item: item["index"])
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (KeyError, TypeError, ValueError):
            raise ConfigurationError(
                f"the embedding service at {_public(self._url)} did not answer in the OpenAI "
                "format (data[].embedding, data[].index)") from None
        if len(vectors) != expected:
            raise ConfigurationError(
                f"the embedding service returned {len(vectors)} vectors for {expected} texts")
        for vector in vectors:
            if len(vector) != self.dimension:
                raise ConfigurationError(
                    f"model {self.model_name} returned {len(vector)}-dimensional vectors, but "
                    f"{self.dimension} are configured: set ZAVA_EMBEDDING_DIM={len(vector)} "
                    "(and re-embed the catalog with `zava db reembed`)")
        unit: list[list[float]] = unit_rows(np.asarray(vectors, dtype=np.float64)).tolist()
        return unit

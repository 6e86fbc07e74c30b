"""The provider protocol, the query-embedding cache every provider shares, the text a
product is embedded from, and unit-length vectors."""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from zava.cache.backends import CacheBackend
from zava.cache.lru import Lru
from zava.errors import ConfigurationError

if TYPE_CHECKING:  # numpy loads only where vectors are made (start-up stays short)
    import numpy as np

SHARED_TTL_S = 7 * 24 * 3600.0
"""A question's vector never changes for a model: keep it a week in the shared cache."""


class Embedder(Protocol):
    """Turns texts into vectors of ``dimension`` floats."""

    model_name: str
    dimension: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order."""
        ...

    async def aclose(self) -> None:
        """Release what the provider holds (HTTP connections)."""
        ...


class CachedEmbedder:
    """Query embeddings cached per model: an in-process LRU in front, and optionally a
    shared cache (Redis) behind it, so HTTP replicas embed a question only once."""

    def __init__(self, inner: Embedder, *, size: int = 2048,
                 shared: CacheBackend | None = None, prefix: str = "zava") -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.dimension = inner.dimension
        self._shared = shared
        self._prefix = f"{prefix}:v1:embedding:{inner.model_name}:{inner.dimension}"
        self._cache: Lru[str, list[float]] = Lru(size)
        self.hits = 0
        self.misses = 0

    def _key(self, text: str) -> str:
        return f"{self._prefix}:{hashlib.sha256(text.encode()).hexdigest()}"

    async def _from_shared(self, texts: list[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        if self._shared is not None:
            for text in texts:
                raw = await self._shared.get(self._key(text))
                if raw is not None and len(raw) == 4 * self.dimension:
                    found[text] = array("f", raw).tolist()
        return found

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Cached vectors where known; the rest from the provider in one batch."""
        found = {t: v for t in dict.fromkeys(texts) if (v := self._cache.get(t)) is not None}
        found.update(await self._from_shared([t for t in dict.fromkeys(texts)
                                              if t not in found]))
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = dict(zip(missing, await self.inner.embed(missing), strict=True))
            if self._shared is not None:
                for text, vector in fresh.items():
                    await self._shared.set(self._key(text), array("f", vector).tobytes(),
                                           SHARED_TTL_S)
            found.update(fresh)
        for text, vector in found.items():
            self._cache.put(text, vector)
        return [found[t] for t in texts]

    async def aclose(self) -> None:
        """Close the provider."""
        await self.inner.aclose()


def product_text(name: str, description: str) -> str:
    """The text a product is embedded from: the shipped seed vectors, ``zava db reembed``
    and the search index all assume this one recipe."""
    return f"{name}. {description}"


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (cosine similarity becomes a dot product); a zero row
    stays zero."""
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: np.ndarray = matrix / np.where(norms == 0, 1, norms)
    return unit


async def embed_all(embedder: Embedder, texts: Sequence[str], *, batch_size: int = 64,
                    advance: Callable[[int], None] = lambda _: None) -> np.ndarray:
    """Every text's unit vector as a float32 matrix, embedded ``batch_size`` at a time;
    a provider that answers with the wrong shape is a configuration error."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start:start + batch_size]
        vectors.extend(await embedder.embed(batch))
        advance(len(batch))
    import numpy as np

    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.shape != (len(texts), embedder.dimension):
        raise ConfigurationError(
            f"{embedder.model_name} returned vectors of shape {matrix.shape}, expected "
            f"({len(texts)}, {embedder.dimension}); check ZAVA_EMBEDDING_DIM")
    return unit_rows(matrix)

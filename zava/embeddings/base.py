"""The provider protocol and the query-embedding cache every provider shares."""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from zava.cache.backends import CacheBackend

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
        self._size = size
        self._shared = shared
        self._prefix = f"{prefix}:v1:embedding:{inner.model_name}:{inner.dimension}"
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
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
        found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
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
            self._cache[text] = vector
            self._cache.move_to_end(text)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return [found[t] for t in texts]

    async def aclose(self) -> None:
        """Close the provider."""
        await self.inner.aclose()

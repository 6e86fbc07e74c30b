"""The result cache the tools use: typed values under explicit keys, hit/miss counts.

Keys always say whose result it is: ``cache_key(namespace, *parts, caller=...)`` puts
the caller's manager id in every key whose value depends on row-level security, and
``shared`` in the others, so two managers can never read each other's entry.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from zava.cache.backends import CacheBackend, MemoryCache, RedisCache
from zava.config import Settings

Model = TypeVar("Model", bound=BaseModel)
KEY_VERSION = "v1"


def cache_key(prefix: str, namespace: str, *parts: object,
              caller: uuid.UUID | None = None) -> str:
    """``<prefix>:v1:<namespace>:<caller or shared>:<hash of the parts>``."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]
    return f"{prefix}:{KEY_VERSION}:{namespace}:{caller or 'shared'}:{digest}"


class ResultCache:
    """Typed get-or-compute over a backend, counting hits and misses per namespace."""

    def __init__(self, backend: CacheBackend, prefix: str) -> None:
        self.backend = backend
        self.prefix = prefix
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()

    async def get_or_compute(
        self, namespace: str, model: type[Model], parts: tuple[object, ...], ttl_s: float,
        compute: Callable[[], Awaitable[Model]], *, caller: uuid.UUID | None,
    ) -> Model:
        """The cached value for the key, or ``compute()`` stored under it."""
        key = cache_key(self.prefix, namespace, *parts, caller=caller)
        if ttl_s > 0:
            raw = await self.backend.get(key)
            if raw is not None:
                try:
                    value = model.model_validate_json(raw)
                except ValidationError:  # written by another version: recompute
                    pass
                else:
                    self.hits[namespace] += 1
                    return value
        self.misses[namespace] += 1
        value = await compute()
        if ttl_s > 0:
            await self.backend.set(key, value.model_dump_json().encode(), ttl_s)
        return value

    async def aclose(self) -> None:
        """Close the backend."""
        await self.backend.aclose()


def create_backend(settings: Settings) -> CacheBackend:
    """Redis when ``ZAVA_REDIS_URL`` is set, else an in-process LRU."""
    if settings.redis_url:
        return RedisCache(settings.redis_url)
    return MemoryCache(settings.cache_size)

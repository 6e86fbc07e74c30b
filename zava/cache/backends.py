"""Where cached bytes live: an in-process LRU, or Redis shared by every server.

Both are async and never raise: a backend that fails behaves as a miss, so a cache can
only make a call faster, never make it fail.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from loguru import logger

from zava.cache.lru import Lru
from zava.config import mask_database_url

REDIS_TIMEOUT_S = 0.25
RETRY_AFTER_S = 5.0


class CacheBackend(Protocol):
    """Bytes by key, each with a lifetime."""

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent, expired or unavailable."""
        ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store ``value`` for ``ttl_s`` seconds (best effort)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryCache:
    """An LRU of at most ``size`` entries with a deadline each (this process only)."""

    def __init__(self, size: int) -> None:
        self._entries: Lru[str, tuple[float, bytes]] = Lru(size)

    async def get(self, key: str) -> bytes | None:
        """The live value of ``key``; an expired one is dropped."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key)
            return None
        return entry[1]

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store, evicting the least recently used entries beyond the size."""
        self._entries.put(key, (time.monotonic() + ttl_s, value))

    async def aclose(self) -> None:
        """Nothing to release."""


class RedisCache:
    """Redis with short timeouts. During an outage it is skipped (one warning), and tried
    again every ``RETRY_AFTER_S`` seconds; recovery is logged once too."""

    def __init__(self, url: str) -> None:
        self._client = redis_client(url, socket_timeout=REDIS_TIMEOUT_S,
                                      socket_connect_timeout=REDIS_TIMEOUT_S)
        self._where = mask_redis_url(url)
        self._down_until = 0.0
        self._down = False

    def _available(self) -> bool:
        return not self._down or time.monotonic() >= self._down_until

    def _failed(self, exc: Exception) -> None:
        if not self._down:
            logger.warning("Redis cache at {} unavailable ({}); serving without the shared "
                           "cache, retrying every {:.0f} s", self._where, type(exc).__name__,
                           RETRY_AFTER_S)
        self._down = True
        self._down_until = time.monotonic() + RETRY_AFTER_S

    def _succeeded(self) -> None:
        if self._down:
            logger.info("Redis cache at {} is back", self._where)
            self._down = False

    async def get(self, key: str) -> bytes | None:
        """The value from Redis, or None (also while Redis is down)."""
        if not self._available():
            return None
        try:
            value = await self._client.get(key)
        except Exception as exc:  # any Redis or network failure degrades to a miss
            self._failed(exc)
            return None
        self._succeeded()
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """SET with an expiry in milliseconds; skipped while Redis is down."""
        if not self._available():
            return
        try:
            await self._client.set(key, value, px=max(1, int(ttl_s * 1000)))
        except Exception as exc:  # as in get(): never an error for the caller
            self._failed(exc)
            return
        self._succeeded()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def mask_redis_url(url: str) -> str:
    """The Redis URL with any password hidden (for logs)."""
    try:
        return mask_database_url(url)
    except Exception:  # not parseable as a URL: show only the scheme
        return url.split(":", 1)[0] + "://***"


def redis_client(url: str, **options: Any) -> Any:
    """A Redis client (redis-py is imported only by a server configured to use Redis)."""
    from redis.asyncio import Redis

    return Redis.from_url(url, **options)

"""The Redis cache backend on 127.0.0.1:6379, and one that cannot be reached."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio
from pydantic import BaseModel

from zava.cache.backends import RedisCache
from zava.cache.results import ResultCache

REDIS_URL = "redis://127.0.0.1:6379/0"


class Value(BaseModel):
    n: int


async def test_redis_round_trip_with_expiry() -> None:
    prefix = f"zava-test-{uuid.uuid4().hex[:8]}"
    cache = ResultCache(RedisCache(REDIS_URL), prefix)
    calls = 0

    async def compute() -> Value:
        nonlocal calls
        calls += 1
        return Value(n=42)

    try:
        for _ in range(3):
            assert await cache.get_or_compute("t", Value, ("x",), 0.5, compute,
                                              caller=None) == Value(n=42)
        assert calls == 1 and cache.hits["t"] == 2 and cache.misses["t"] == 1
        await asyncio.sleep(0.7)
        await cache.get_or_compute("t", Value, ("x",), 0.5, compute, caller=None)
        assert calls == 2
        # a zero lifetime means no caching at all
        await cache.get_or_compute("t", Value, ("y",), 0, compute, caller=None)
        await cache.get_or_compute("t", Value, ("y",), 0, compute, caller=None)
        assert calls == 4
    finally:
        client = redis.asyncio.Redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await cache.aclose()


async def test_an_unreachable_redis_is_a_miss_not_an_error() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0")
    assert await cache.get("k") is None
    await cache.set("k", b"v", 10)
    await cache.aclose()

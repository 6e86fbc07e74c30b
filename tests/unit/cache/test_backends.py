"""The cache backends and keys on their own: the in-process LRU and expiry, and keys.
Redis is tested in ``tests/integration/cache``."""

from __future__ import annotations

import asyncio

from zava.cache.backends import MemoryCache
from zava.cache.results import cache_key
from zava.seeding import company


async def test_memory_cache_evicts_the_least_recent_and_expires() -> None:
    cache = MemoryCache(size=2)
    await cache.set("a", b"1", 60)
    await cache.set("b", b"2", 60)
    assert await cache.get("a") == b"1"  # a is now the most recent
    await cache.set("c", b"3", 60)
    assert await cache.get("b") is None and await cache.get("a") == b"1"
    await cache.set("short", b"x", 0.05)
    await asyncio.sleep(0.1)
    assert await cache.get("short") is None


def test_keys_name_the_caller_or_say_shared() -> None:
    seattle = cache_key("p", "schema", "0004", caller=company.SEATTLE_MANAGER_ID)
    bellevue = cache_key("p", "schema", "0004", caller=company.BELLEVUE_MANAGER_ID)
    shared = cache_key("p", "schema", "0004")
    assert seattle.startswith(f"p:v1:schema:{company.SEATTLE_MANAGER_ID}:")
    assert shared.startswith("p:v1:schema:shared:")
    assert len({seattle, bellevue, shared}) == 3
    assert cache_key("p", "q", "a", "b") != cache_key("p", "q", "ab")

"""The in-process cache on a fake clock (no sleeping), the LRU under it, the result
cache's keys and counts, and the Redis backend's outage handling on a fake client."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import pytest
from loguru import logger
from pydantic import BaseModel

from zava.cache import backends
from zava.cache.backends import RETRY_AFTER_S, MemoryCache, RedisCache, mask_redis_url
from zava.cache.lru import Lru
from zava.cache.results import ResultCache, cache_key, create_backend
from zava.config import Settings

SEATTLE = uuid.UUID("f47ac10b-58cc-4372-a567-0e02b2c3d479")
BELLEVUE = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")


class Clock:
    """Stands in for the ``time`` module of ``zava.cache.backends``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class Value(BaseModel):
    n: int


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(backends, "time", fake)
    return fake


# --- the LRU ------------------------------------------------------------------------------

def test_the_lru_forgets_the_least_recently_used() -> None:
    lru: Lru[str, int] = Lru(3)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        lru.put(key, value)
    assert lru.get("a") == 1  # now the most recent
    lru.put("d", 4)
    assert "b" not in lru and {"a", "c", "d"} == {k for k in "abcd" if k in lru}
    lru.put("c", 30)  # writing refreshes too
    lru.put("e", 5)
    assert "a" not in lru and lru.get("c") == 30 and len(lru) == 3


def test_the_lru_pops_and_ignores_missing_keys() -> None:
    lru: Lru[str, int] = Lru(2)
    lru.put("a", 1)
    lru.pop("a")
    lru.pop("never")
    assert lru.get("a") is None and len(lru) == 0


@pytest.mark.parametrize("size", [0, -1])
def test_an_lru_of_no_size_keeps_nothing(size: int) -> None:
    lru: Lru[str, int] = Lru(size)
    lru.put("a", 1)
    assert lru.get("a") is None and len(lru) == 0


# --- the memory cache ---------------------------------------------------------------------

async def test_a_value_lives_until_its_deadline(clock: Clock) -> None:
    cache = MemoryCache(size=10)
    await cache.set("k", b"v", 30)
    clock.now += 30
    assert await cache.get("k") == b"v"  # the deadline itself is still alive
    clock.now += 0.001
    assert await cache.get("k") is None
    clock.now -= 1  # an expired entry was dropped, not just hidden
    assert await cache.get("k") is None


async def test_setting_again_replaces_the_value_and_its_deadline(clock: Clock) -> None:
    cache = MemoryCache(size=10)
    await cache.set("k", b"old", 1)
    clock.now += 0.5
    await cache.set("k", b"new", 10)
    clock.now += 5
    assert await cache.get("k") == b"new"


async def test_a_zero_or_negative_lifetime_expires_at_once(clock: Clock) -> None:
    cache = MemoryCache(size=10)
    await cache.set("zero", b"v", 0)
    await cache.set("negative", b"v", -5)
    clock.now += 0.001
    assert await cache.get("zero") is None and await cache.get("negative") is None


async def test_the_memory_cache_evicts_the_least_recent(clock: Clock) -> None:
    cache = MemoryCache(size=2)
    await cache.set("a", b"1", 60)
    await cache.set("b", b"2", 60)
    assert await cache.get("a") == b"1"
    await cache.set("c", b"3", 60)
    assert await cache.get("b") is None
    assert [await cache.get(k) for k in "ac"] == [b"1", b"3"]
    await cache.aclose()


async def test_a_memory_cache_of_size_zero_caches_nothing(clock: Clock) -> None:
    cache = MemoryCache(size=0)
    await cache.set("a", b"1", 60)
    assert await cache.get("a") is None


# --- keys and the result cache --------------------------------------------------------------

def test_keys_are_versioned_and_hash_their_parts() -> None:
    key = cache_key("zava", "schema", "orders", 3, caller=SEATTLE)
    prefix, version, namespace, caller, digest = key.split(":")
    assert (prefix, version, namespace, caller) == ("zava", "v1", "schema", str(SEATTLE))
    assert len(digest) == 32 and int(digest, 16) >= 0
    assert "orders" not in key  # parts are hashed, never shown
    assert key == cache_key("zava", "schema", "orders", 3, caller=SEATTLE)
    assert key != cache_key("zava", "schema", "orders", "3 ", caller=SEATTLE)
    assert key != cache_key("other", "schema", "orders", 3, caller=SEATTLE)


@pytest.mark.parametrize(("one", "other", "collide"), [
    (("a", "b"), ("ab",), False),
    (("ab", "c"), ("a", "bc"), False),
    (("1",), (1.0,), False),
    # Parts are compared as text, joined with \x1f: a number and its text, a part holding
    # the separator, and no parts versus one empty part make the same key. Callers pass
    # typed, separator-free parts, so these never meet.
    (("1",), (1,), True),
    (("a", "b"), ("a\x1fb",), True),
    ((), ("",), True),
])
def test_which_parts_make_the_same_key(one: tuple[object, ...], other: tuple[object, ...],
                                       collide: bool) -> None:
    assert (cache_key("p", "q", *one) == cache_key("p", "q", *other)) is collide


async def test_the_result_cache_computes_once_and_counts(clock: Clock) -> None:
    cache = ResultCache(MemoryCache(100), "zava")
    calls: list[int] = []

    async def compute() -> Value:
        calls.append(1)
        return Value(n=len(calls))

    for _ in range(3):
        assert await cache.get_or_compute("t", Value, ("x",), 60, compute,
                                          caller=SEATTLE) == Value(n=1)
    assert await cache.get_or_compute("t", Value, ("x",), 60, compute,
                                      caller=BELLEVUE) == Value(n=2)  # never shared
    assert (cache.hits["t"], cache.misses["t"]) == (2, 2)
    clock.now += 61
    assert await cache.get_or_compute("t", Value, ("x",), 60, compute,
                                      caller=SEATTLE) == Value(n=3)
    await cache.aclose()


async def test_a_zero_lifetime_neither_reads_nor_writes(clock: Clock) -> None:
    backend = MemoryCache(100)
    cache = ResultCache(backend, "zava")

    async def compute() -> Value:
        return Value(n=7)

    await cache.get_or_compute("t", Value, ("x",), 0, compute, caller=None)
    assert await backend.get(cache_key("zava", "t", "x")) is None
    assert (cache.hits["t"], cache.misses["t"]) == (0, 1)


async def test_an_entry_of_another_shape_is_recomputed(clock: Clock) -> None:
    backend = MemoryCache(100)
    key = cache_key("zava", "t", "x")
    await backend.set(key, b'{"unexpected": true}', 60)
    cache = ResultCache(backend, "zava")

    async def compute() -> Value:
        return Value(n=1)

    assert await cache.get_or_compute("t", Value, ("x",), 60, compute, caller=None) == Value(n=1)
    assert await backend.get(key) == b'{"n":1}'  # replaced by the fresh value


def test_the_backend_is_redis_only_when_configured() -> None:
    assert isinstance(create_backend(Settings(redis_url=None, cache_size=5)), MemoryCache)
    assert isinstance(create_backend(Settings(redis_url="redis://cache:6379/0")), RedisCache)


@pytest.mark.parametrize(("url", "masked"), [
    ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
    ("redis://user:s3cret@cache/0", "redis://user:***@cache/0"),
    ("redis://cache:6379/0", "redis://cache:6379/0"),
    ("rediss://:s3cret@[::1", "rediss://***"),
])
def test_redis_urls_are_masked_for_logs(url: str, masked: str) -> None:
    assert mask_redis_url(url) == masked


# --- Redis outages, on a fake client ----------------------------------------------------------

class FakeRedis:
    """``redis.asyncio.Redis`` as far as the backend uses it; fails while ``down``."""

    instances: ClassVar[list[FakeRedis]] = []

    def __init__(self) -> None:
        self.down = False
        self.data: dict[str, bytes] = {}
        self.calls = 0
        self.expiries: list[int] = []
        self.closed = False

    @classmethod
    def from_url(cls, url: str, **options: Any) -> FakeRedis:
        client = cls()
        cls.instances.append(client)
        return client

    async def get(self, key: str) -> bytes | None:
        self.calls += 1
        if self.down:
            raise ConnectionError("refused")
        return self.data.get(key)

    async def set(self, key: str, value: bytes, px: int) -> None:
        self.calls += 1
        if self.down:
            raise TimeoutError("timed out")
        self.data[key] = value
        self.expiries.append(px)

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def redis(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> tuple[RedisCache, FakeRedis]:
    monkeypatch.setattr(backends, "redis_client", FakeRedis.from_url)
    cache = RedisCache("redis://:s3cret@cache:6379/0")
    return cache, FakeRedis.instances[-1]


async def test_redis_round_trip_with_a_millisecond_expiry(
        redis: tuple[RedisCache, FakeRedis]) -> None:
    cache, client = redis
    await cache.set("k", b"v", 2.5)
    await cache.set("tiny", b"v", 0.0001)
    assert await cache.get("k") == b"v" and await cache.get("missing") is None
    assert client.expiries == [2500, 1]  # never 0: Redis refuses PX 0
    await cache.aclose()
    assert client.closed


async def test_an_outage_is_a_miss_logged_once_then_skipped_until_the_retry(
        redis: tuple[RedisCache, FakeRedis], clock: Clock) -> None:
    cache, client = redis
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="INFO")
    try:
        client.down = True
        assert await cache.get("k") is None
        await cache.set("k", b"v", 10)  # the first failure started the pause: not tried
        assert await cache.get("k") is None
        assert client.calls == 1
        clock.now += RETRY_AFTER_S
        client.down = False
        client.data["k"] = b"back"
        assert await cache.get("k") == b"back"
        await cache.set("j", b"w", 10)
        assert client.calls == 3
    finally:
        logger.remove(sink)
    warnings = [line for line in lines if "unavailable" in line]
    assert len(warnings) == 1 and "ConnectionError" in warnings[0]
    assert sum("is back" in line for line in lines) == 1
    assert not any("s3cret" in line for line in lines)
    assert any("redis://:***@cache:6379/0" in line for line in lines)


async def test_a_failing_set_never_raises(redis: tuple[RedisCache, FakeRedis],
                                          clock: Clock) -> None:
    cache, client = redis
    client.down = True
    await cache.set("k", b"v", 10)
    clock.now += RETRY_AFTER_S - 0.001
    assert await cache.get("k") is None
    assert client.calls == 1  # still paused

"""Fair shares between tenants: per-caller limits on calls in flight and calls per second.

One manager flooding the server must not take every pooled connection from the others.
Each call is admitted first, before any connection is taken: a caller over their
concurrency limit, or out of rate tokens (a token bucket: ``rate_per_s`` sustained,
``burst`` at once), waits for a slot without holding anything, for at most
``max_wait_s``; then gets ``rate_limited`` with a retry-after the model can act on.
Limits are set per manager scope (store, region, head office). With Redis configured the
counts are shared by every process (one atomic script per admission); while Redis is
down each process counts for itself, so a Redis outage never refuses calls.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from zava.cache.backends import redis_client
from zava.config import ShareLimits
from zava.errors import RateLimitedError

CONCURRENCY_RETRY_S = 0.5
"""The retry-after given for a full set of calls in flight (their ends are unknown)."""


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class LocalShares:
    """The counts of this process alone."""

    in_flight: dict[uuid.UUID, int] = field(default_factory=dict)
    buckets: dict[uuid.UUID, _Bucket] = field(default_factory=dict)

    def acquire(self, caller: uuid.UUID, limits: ShareLimits, now: float) -> float:
        """0 when admitted (and counted), else seconds to wait (a guess for a slot)."""
        if limits.concurrency and self.in_flight.get(caller, 0) >= limits.concurrency:
            return CONCURRENCY_RETRY_S
        if limits.rate_per_s:
            bucket = self.buckets.setdefault(caller, _Bucket(limits.burst, now))
            bucket.tokens = min(limits.burst,
                                bucket.tokens + (now - bucket.stamp) * limits.rate_per_s)
            bucket.stamp = now
            if bucket.tokens < 1:
                return (1 - bucket.tokens) / limits.rate_per_s
            bucket.tokens -= 1
        self.in_flight[caller] = self.in_flight.get(caller, 0) + 1
        return 0.0

    def release(self, caller: uuid.UUID) -> None:
        """One call of ``caller`` ended."""
        left = self.in_flight.get(caller, 0) - 1
        if left > 0:
            self.in_flight[caller] = left
        else:
            self.in_flight.pop(caller, None)


# KEYS: in-flight sorted set, bucket hash. ARGV: now (s), call id, stale after (s),
# concurrency, rate per s, burst, the wait for a slot (ms). Returns 0 when admitted, else
# milliseconds to wait.
_ADMIT = """
local now = tonumber(ARGV[1])
local concurrency, rate, burst = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
if concurrency > 0 and redis.call('ZCARD', KEYS[1]) >= concurrency then
  return tonumber(ARGV[7])
end
if rate > 0 then
  local state = redis.call('HMGET', KEYS[2], 'tokens', 'stamp')
  local tokens = tonumber(state[1]) or burst
  local stamp = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + (now - stamp) * rate)
  if tokens < 1 then
    redis.call('HSET', KEYS[2], 'tokens', tokens, 'stamp', now)
    redis.call('EXPIRE', KEYS[2], 3600)
    return math.ceil((1 - tokens) / rate * 1000)
  end
  redis.call('HSET', KEYS[2], 'tokens', tokens - 1, 'stamp', now)
  redis.call('EXPIRE', KEYS[2], 3600)
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])))
return 0
"""


_POLL_S = 0.02
"""How often a waiting call looks for a free slot."""


class FairShare:
    """Admits tool calls per caller and scope; shared through Redis when given one."""

    def __init__(self, limits: dict[str, ShareLimits], *, redis_url: str | None = None,
                 prefix: str = "zava", stale_after_s: float = 120.0,
                 max_wait_s: float = 5.0) -> None:
        self.limits = limits
        self.max_wait_s = max_wait_s
        self.local = LocalShares()
        self._redis: Any = redis_client(redis_url, socket_timeout=0.25,
                                          socket_connect_timeout=0.25) if redis_url else None
        self._script: Any = self._redis.register_script(_ADMIT) if self._redis else None
        self._prefix = f"{prefix}-share:v1"
        self._stale_after_s = stale_after_s
        self._redis_down_until = 0.0

    def limits_for(self, scope: str | None) -> ShareLimits:
        """The limits of ``scope`` (an unknown scope gets the strictest, a store's)."""
        return self.limits.get(scope or "store") or self.limits["store"]

    @asynccontextmanager
    async def admitted(self, caller: uuid.UUID, scope: str | None) -> AsyncIterator[None]:
        """Run the body as one admitted call of ``caller``; ``RateLimitedError`` if over."""
        limits = self.limits_for(scope)
        call_id = uuid.uuid4().hex
        deadline = time.monotonic() + self.max_wait_s
        while True:
            shared = await self._acquire_shared(caller, limits, call_id)
            if shared is None:  # no Redis, or Redis is down: this process counts alone
                wait = self.local.acquire(caller, limits, time.monotonic())
            else:
                wait = shared
            if not wait:
                break
            if time.monotonic() + min(wait, _POLL_S) > deadline:
                raise _refusal(limits, wait)
            # A slot frees when a call ends: look again soon; a token comes at a known time.
            await asyncio.sleep(min(wait, _POLL_S))
        try:
            yield
        finally:
            if shared is None:
                self.local.release(caller)
            else:
                await self._release_shared(caller, call_id)

    async def _acquire_shared(self, caller: uuid.UUID, limits: ShareLimits,
                              call_id: str) -> float | None:
        if self._script is None or time.monotonic() < self._redis_down_until:
            return None
        try:
            waited = await self._script(
                keys=[f"{self._prefix}:{caller}:in_flight", f"{self._prefix}:{caller}:bucket"],
                args=[time.time(), call_id, self._stale_after_s, limits.concurrency,
                      limits.rate_per_s, limits.burst, int(CONCURRENCY_RETRY_S * 1000)])
        except Exception as exc:  # Redis down: count locally, try again in a while
            self._redis_failed(exc)
            return None
        return int(waited) / 1000

    async def _release_shared(self, caller: uuid.UUID, call_id: str) -> None:
        try:
            await self._redis.zrem(f"{self._prefix}:{caller}:in_flight", call_id)
        except Exception as exc:  # the entry expires after stale_after_s anyway
            self._redis_failed(exc)

    def _redis_failed(self, exc: Exception) -> None:
        if time.monotonic() >= self._redis_down_until:
            logger.warning("fair shares: cannot reach Redis ({}); counting per process",
                           type(exc).__name__)
        self._redis_down_until = time.monotonic() + 5.0

    async def aclose(self) -> None:
        """Close the Redis connections."""
        if self._redis is not None:
            await self._redis.aclose()


def _refusal(limits: ShareLimits, wait_s: float) -> RateLimitedError:
    wait = max(0.1, math.ceil(wait_s * 10) / 10)
    return RateLimitedError(
        f"you are over your share of this server (at most {limits.concurrency} calls at "
        f"once and {limits.rate_per_s:g} per second): retry in {wait:g} s, and send calls "
        "one after another rather than in parallel", retry_after_s=wait)


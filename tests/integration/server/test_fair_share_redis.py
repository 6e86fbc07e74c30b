"""Fair shares through the real Redis on 127.0.0.1:6379: two processes' ``FairShare``
(two instances, one Redis) count one caller's calls in flight and rate tokens together;
a Redis that cannot be reached degrades to per-process counting, never to an error."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from zava.config import ShareLimits, default_limits
from zava.errors import RateLimitedError
from zava.server.fair_share import FairShare

REDIS_URL = "redis://127.0.0.1:6379/0"
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    name = f"zava-test-share-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def pair(prefix: str, limits: ShareLimits, **options: float) -> tuple[FairShare, FairShare]:
    """Two instances, as two server processes would have, on one Redis; by default a call
    over the share is refused at once (no wait for a slot)."""
    configured = {**default_limits(), "store": limits}
    options.setdefault("max_wait_s", 0)
    return (FairShare(configured, redis_url=REDIS_URL, prefix=prefix, **options),
            FairShare(configured, redis_url=REDIS_URL, prefix=prefix, **options))


async def test_two_instances_share_one_callers_concurrency(prefix: str) -> None:
    first, second = pair(prefix, ShareLimits(concurrency=2, rate_per_s=0, burst=1))
    caller, other = uuid.uuid4(), uuid.uuid4()
    try:
        async with first.admitted(caller, "store"), second.admitted(caller, "store"):
            for share in (first, second):
                with pytest.raises(RateLimitedError) as refused:
                    async with share.admitted(caller, "store"):
                        pytest.fail("admitted over the shared concurrency limit")
                assert refused.value.retry_after_s > 0
                assert "at most 2 calls at once" in refused.value.message
            # counted in Redis, not in either process
            assert first.local.in_flight == {} and second.local.in_flight == {}
            # another caller has a share of their own
            async with first.admitted(other, "store"), second.admitted(other, "store"):
                pass
        # both released through Redis: two more fit again, on either instance
        async with second.admitted(caller, "store"), second.admitted(caller, "store"):
            pass
    finally:
        await first.aclose()
        await second.aclose()


async def test_concurrent_tasks_on_two_instances_never_exceed_the_limit(prefix: str) -> None:
    first, second = pair(prefix, ShareLimits(concurrency=3, rate_per_s=0, burst=1))
    caller = uuid.uuid4()
    running = peak = admitted = refused = 0
    gate = asyncio.Event()

    async def call(share: FairShare) -> None:
        nonlocal running, peak, admitted, refused
        try:
            async with share.admitted(caller, "store"):
                admitted += 1
                running += 1
                peak = max(peak, running)
                await gate.wait()
                running -= 1
        except RateLimitedError:
            refused += 1

    try:
        tasks = [asyncio.create_task(call(share)) for share in (first, second) * 10]
        while admitted + refused < 20:
            await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(*tasks)
        assert (admitted, refused, peak) == (3, 17, 3)
    finally:
        await first.aclose()
        await second.aclose()


async def test_two_instances_share_one_callers_rate(prefix: str) -> None:
    # A burst of 3 and a refill so slow that it cannot add a token during the test.
    first, second = pair(prefix, ShareLimits(concurrency=0, rate_per_s=0.001, burst=3))
    caller, other = uuid.uuid4(), uuid.uuid4()
    try:
        for share in (first, second, first):
            async with share.admitted(caller, "store"):
                pass
        for share in (second, first):
            with pytest.raises(RateLimitedError) as refused:
                async with share.admitted(caller, "store"):
                    pass
            assert refused.value.retry_after_s > 100  # one token at 0.001 per second
            assert f"retry in {refused.value.retry_after_s:g} s" in refused.value.message
        for share in (second, second, first):
            async with share.admitted(other, "store"):
                pass
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_call_waits_for_a_slot_freed_by_the_other_instance(prefix: str) -> None:
    first, second = pair(prefix, ShareLimits(concurrency=1, rate_per_s=0, burst=1),
                         max_wait_s=60)
    caller = uuid.uuid4()
    release = asyncio.Event()
    order: list[str] = []

    async def hold() -> None:
        async with first.admitted(caller, "store"):
            order.append("first in")
            await release.wait()
        order.append("first out")

    async def wait_for_slot() -> None:
        async with second.admitted(caller, "store"):
            order.append("second in")

    try:
        holder = asyncio.create_task(hold())
        while not order:
            await asyncio.sleep(0.01)
        waiter = asyncio.create_task(wait_for_slot())
        await asyncio.sleep(0.2)  # several polls of Redis, all refused
        assert order == ["first in"] and not waiter.done()
        release.set()
        await asyncio.gather(holder, waiter)
        assert order == ["first in", "first out", "second in"]
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_crashed_processes_calls_expire(prefix: str) -> None:
    first, second = pair(prefix, ShareLimits(concurrency=1, rate_per_s=0, burst=1),
                         stale_after_s=0.5)
    caller = uuid.uuid4()
    try:
        # entered and never left, as by a process that died mid-call (kept referenced:
        # a collected generator would be closed, and so released, by asyncio)
        abandoned = first.admitted(caller, "store")
        await abandoned.__aenter__()
        with pytest.raises(RateLimitedError):
            async with second.admitted(caller, "store"):
                pass
        await asyncio.sleep(0.7)
        async with second.admitted(caller, "store"):
            pass
        assert abandoned is not None
    finally:
        await first.aclose()
        await second.aclose()


async def test_an_unreachable_redis_counts_per_process_without_errors() -> None:
    limits = {**default_limits(),
              "store": ShareLimits(concurrency=1, rate_per_s=0.001, burst=3)}
    first = FairShare(limits, redis_url=CLOSED_PORT_URL, prefix="zava-test-down",
                      max_wait_s=0)
    second = FairShare(limits, redis_url=CLOSED_PORT_URL, prefix="zava-test-down",
                       max_wait_s=0)
    caller = uuid.uuid4()
    try:
        async with first.admitted(caller, "store"):
            assert first.local.in_flight == {caller: 1}
            with pytest.raises(RateLimitedError, match="at most 1 calls at once"):
                async with first.admitted(caller, "store"):
                    pass
            # per process: the other instance does not see this call
            async with second.admitted(caller, "store"):
                pass
        assert first.local.in_flight == {}
        # the rate is counted per process too: two more tokens here, then none
        for _ in range(2):
            async with first.admitted(caller, "store"):
                pass
        with pytest.raises(RateLimitedError, match="retry in"):
            async with first.admitted(caller, "store"):
                pass
    finally:
        await first.aclose()
        await second.aclose()

"""Fair shares without Redis: per-caller concurrency and token-bucket rate limits, counted
by this process; ``rate_limited`` with a retry-after; one caller never spends another's
share; ZAVA_CALLER_LIMITS validated and merged with the defaults."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from types import SimpleNamespace

import pydantic
import pytest

from zava.config import Settings, ShareLimits, default_limits
from zava.errors import RateLimitedError
from zava.server import fair_share
from zava.server.fair_share import FairShare, LocalShares

ALICE = uuid.UUID("00000000-0000-4000-8000-00000000000a")
BOB = uuid.UUID("00000000-0000-4000-8000-00000000000b")


class Clock:
    """The module's clock, moved by hand or by its waits (which take no real time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """``time`` and ``asyncio.sleep`` of the fair-share module only (the event loop keeps
    its own clock)."""
    fake = Clock()
    monkeypatch.setattr(fair_share, "time", SimpleNamespace(monotonic=fake, time=fake))
    monkeypatch.setattr(fair_share, "asyncio", SimpleNamespace(sleep=fake.sleep))
    return fake


def shares(max_wait_s: float = 0, **limits: ShareLimits) -> FairShare:
    """A share without Redis; by default a call over it is refused at once."""
    return FairShare({**default_limits(), **limits}, max_wait_s=max_wait_s)


# LocalShares: the arithmetic, with explicit times.

def test_local_concurrency_refuses_the_next_call_until_one_ends() -> None:
    local = LocalShares()
    limits = ShareLimits(concurrency=2, rate_per_s=0, burst=1)
    assert local.acquire(ALICE, limits, 0.0) == 0
    assert local.acquire(ALICE, limits, 0.0) == 0
    assert local.acquire(ALICE, limits, 0.0) > 0
    local.release(ALICE)
    assert local.acquire(ALICE, limits, 0.0) == 0
    assert local.in_flight[ALICE] == 2


def test_local_release_of_the_last_call_forgets_the_caller() -> None:
    local = LocalShares()
    limits = ShareLimits(concurrency=1, rate_per_s=0, burst=1)
    assert local.acquire(ALICE, limits, 0.0) == 0
    local.release(ALICE)
    local.release(ALICE)  # an extra release never goes negative nor frees a slot twice
    assert ALICE not in local.in_flight
    assert local.acquire(ALICE, limits, 0.0) == 0
    assert local.acquire(ALICE, limits, 0.0) > 0


def test_local_bucket_allows_a_burst_then_refills_with_time() -> None:
    local = LocalShares()
    limits = ShareLimits(concurrency=0, rate_per_s=2, burst=3)
    for _ in range(3):
        assert local.acquire(ALICE, limits, 10.0) == 0
    wait = local.acquire(ALICE, limits, 10.0)
    assert wait == pytest.approx(0.5)  # one token at 2 per second
    assert local.acquire(ALICE, limits, 10.25) == pytest.approx(0.25)
    assert local.acquire(ALICE, limits, 10.5) == 0  # refilled by exactly one token
    assert local.acquire(ALICE, limits, 10.5) > 0
    # a long pause refills up to the burst, never beyond it
    for _ in range(3):
        assert local.acquire(ALICE, limits, 100.0) == 0
    assert local.acquire(ALICE, limits, 100.0) > 0


def test_local_zero_turns_limits_off() -> None:
    local = LocalShares()
    limits = ShareLimits(concurrency=0, rate_per_s=0, burst=1)
    assert all(local.acquire(ALICE, limits, 0.0) == 0 for _ in range(1000))


def test_local_a_refused_concurrency_costs_no_token() -> None:
    local = LocalShares()
    limits = ShareLimits(concurrency=1, rate_per_s=1, burst=2)
    assert local.acquire(ALICE, limits, 0.0) == 0
    for _ in range(5):
        assert local.acquire(ALICE, limits, 0.0) > 0
    local.release(ALICE)
    assert local.acquire(ALICE, limits, 0.0) == 0  # the second burst token is still there


def test_local_callers_are_counted_apart() -> None:
    local = LocalShares()
    limits = ShareLimits(concurrency=1, rate_per_s=1, burst=1)
    assert local.acquire(ALICE, limits, 0.0) == 0
    assert local.acquire(ALICE, limits, 0.0) > 0
    assert local.acquire(BOB, limits, 0.0) == 0
    local.release(ALICE)
    assert local.acquire(ALICE, limits, 0.0) > 0  # out of tokens
    local.release(BOB)
    assert local.acquire(BOB, limits, 0.0) > 0  # Bob's own bucket is empty too
    assert local.acquire(BOB, limits, 1.0) == 0


# FairShare.admitted: the context manager the runtime uses, without Redis.

async def test_concurrency_refuses_the_next_admission_with_a_retry_hint(clock: Clock) -> None:
    share = shares(store=ShareLimits(concurrency=2, rate_per_s=0, burst=1))
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(share.admitted(ALICE, "store"))
        with pytest.raises(RateLimitedError) as refused:
            async with share.admitted(ALICE, "store"):
                pytest.fail("admitted over the concurrency limit")
    error = refused.value
    assert error.code == "rate_limited"
    assert error.retry_after_s > 0
    assert "at most 2 calls at once" in error.message
    assert f"retry in {error.retry_after_s:g} s" in error.message
    # both ended: a slot is free again
    async with share.admitted(ALICE, "store"):
        pass


async def test_release_frees_a_slot_even_when_the_call_fails(clock: Clock) -> None:
    share = shares(store=ShareLimits(concurrency=1, rate_per_s=0, burst=1))
    with pytest.raises(ZeroDivisionError):
        async with share.admitted(ALICE, "store"):
            raise ZeroDivisionError
    async with share.admitted(ALICE, "store"):
        with pytest.raises(RateLimitedError):
            async with share.admitted(ALICE, "store"):
                pass
    assert ALICE not in share.local.in_flight


async def test_the_rate_refuses_then_refills_with_time(clock: Clock) -> None:
    share = shares(store=ShareLimits(concurrency=0, rate_per_s=4, burst=2))
    for _ in range(2):
        async with share.admitted(ALICE, "store"):
            pass
    with pytest.raises(RateLimitedError) as refused:
        async with share.admitted(ALICE, "store"):
            pass
    assert refused.value.retry_after_s == pytest.approx(0.3)  # 0.25 s, rounded up
    assert "4 per second" in refused.value.message and "retry in 0.3 s" in \
        refused.value.message
    clock.now += 0.125
    with pytest.raises(RateLimitedError) as again:
        async with share.admitted(ALICE, "store"):
            pass
    assert 0 < again.value.retry_after_s < refused.value.retry_after_s
    clock.now += 0.125
    async with share.admitted(ALICE, "store"):
        pass


async def test_the_retry_hint_is_never_zero(clock: Clock) -> None:
    share = shares(store=ShareLimits(concurrency=0, rate_per_s=1000, burst=1))
    async with share.admitted(ALICE, "store"):
        pass
    with pytest.raises(RateLimitedError) as refused:
        async with share.admitted(ALICE, "store"):
            pass
    assert refused.value.retry_after_s >= 0.1  # 1 ms rounded up to something actionable
    assert "retry in 0.1 s" in refused.value.message


async def test_one_callers_exhaustion_never_affects_another(clock: Clock) -> None:
    share = shares(store=ShareLimits(concurrency=2, rate_per_s=1, burst=3))
    refused = 0
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(share.admitted(ALICE, "store"))
        for _ in range(10):
            with pytest.raises(RateLimitedError):
                async with share.admitted(ALICE, "store"):
                    pass
            refused += 1
        # Alice is at her concurrency limit: Bob gets his whole burst, twice at once
        async with share.admitted(BOB, "store"), share.admitted(BOB, "store"):
            pass
        async with share.admitted(BOB, "store"):
            pass
    assert refused == 10
    # Alice ended her calls but has spent her burst (one token left): Bob's is his own
    async with share.admitted(ALICE, "store"):
        pass
    with pytest.raises(RateLimitedError):
        async with share.admitted(ALICE, "store"):
            pass
    clock.now += 1.0
    async with share.admitted(BOB, "store"):
        pass


async def test_concurrent_tasks_never_exceed_the_limit(clock: Clock) -> None:
    share = shares(store=ShareLimits(concurrency=3, rate_per_s=0, burst=1))
    running = peak = admitted = refused = 0
    gate = asyncio.Event()

    async def call() -> None:
        nonlocal running, peak, admitted, refused
        try:
            async with share.admitted(ALICE, "store"):
                admitted += 1
                running += 1
                peak = max(peak, running)
                await gate.wait()
                running -= 1
        except RateLimitedError:
            refused += 1

    tasks = [asyncio.create_task(call()) for _ in range(20)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(*tasks)
    assert (admitted, refused, peak) == (3, 17, 3)
    assert share.local.in_flight == {}


async def test_limits_follow_the_scope(clock: Clock) -> None:
    share = FairShare({"store": ShareLimits(concurrency=1, rate_per_s=0, burst=1),
                       "region": ShareLimits(concurrency=2, rate_per_s=0, burst=1),
                       "head_office": ShareLimits(concurrency=3, rate_per_s=0, burst=1)},
                      max_wait_s=0)
    for scope, allowed in (("store", 1), ("region", 2), ("head_office", 3), (None, 1),
                           ("martian", 1)):
        caller = uuid.uuid4()
        async with AsyncExitStack() as stack:
            for _ in range(allowed):
                await stack.enter_async_context(share.admitted(caller, scope))
            with pytest.raises(RateLimitedError, match=f"at most {allowed} calls"):
                async with share.admitted(caller, scope):
                    pass


# Waiting for a slot (max_wait_s): a waiting call holds nothing and is admitted when a
# slot or a token comes in time; otherwise it is refused when the wait is over.

async def test_a_call_over_the_concurrency_waits_for_a_slot(clock: Clock) -> None:
    share = shares(max_wait_s=60, store=ShareLimits(concurrency=1, rate_per_s=0, burst=1))
    release = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with share.admitted(ALICE, "store"):
            order.append("first in")
            await release.wait()
        order.append("first out")

    async def second() -> None:
        async with share.admitted(ALICE, "store"):
            order.append("second in")

    holder = asyncio.create_task(first())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(second())
    for _ in range(20):
        await asyncio.sleep(0)
    assert order == ["first in"] and not waiter.done()  # waiting, not refused
    assert share.local.in_flight == {ALICE: 1}  # the waiting call holds no slot
    release.set()
    await asyncio.gather(holder, waiter)
    assert order == ["first in", "first out", "second in"]
    assert share.local.in_flight == {}


async def test_a_call_that_gets_no_slot_in_time_is_refused(clock: Clock) -> None:
    share = shares(max_wait_s=1, store=ShareLimits(concurrency=1, rate_per_s=0, burst=1))
    async with share.admitted(ALICE, "store"):
        started = clock.now
        with pytest.raises(RateLimitedError) as refused:
            async with share.admitted(ALICE, "store"):
                pytest.fail("admitted over the concurrency limit")
        waited = clock.now - started
    assert 0.9 < waited <= 1.0  # it looked again and again for the whole wait
    assert len(clock.sleeps) > 10 and max(clock.sleeps) < 0.1
    assert refused.value.retry_after_s > 0 and "retry in" in refused.value.message
    assert share.local.in_flight == {}


async def test_a_call_out_of_tokens_waits_for_the_next_one(clock: Clock) -> None:
    share = shares(max_wait_s=1, store=ShareLimits(concurrency=0, rate_per_s=4, burst=1))
    async with share.admitted(ALICE, "store"):
        pass
    started = clock.now
    async with share.admitted(ALICE, "store"):
        pass
    assert clock.now - started == pytest.approx(0.25)  # the next token, not the whole wait
    # a token further away than the wait allows: refused, with the token's time as hint
    slow = shares(max_wait_s=1, store=ShareLimits(concurrency=0, rate_per_s=0.1, burst=1))
    async with slow.admitted(BOB, "store"):
        pass
    with pytest.raises(RateLimitedError) as refused:
        async with slow.admitted(BOB, "store"):
            pass
    assert refused.value.retry_after_s > 1


async def test_a_waiting_caller_never_delays_another(clock: Clock) -> None:
    share = shares(max_wait_s=60, store=ShareLimits(concurrency=1, rate_per_s=0, burst=1))
    release = asyncio.Event()

    async def hold() -> None:
        async with share.admitted(ALICE, "store"):
            await release.wait()

    async def wait_behind() -> None:
        async with share.admitted(ALICE, "store"):
            pass

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(wait_behind()) for _ in range(5)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    before = clock.now
    async with share.admitted(BOB, "store"):  # at once: Bob's slot is his own
        assert clock.now == before
    assert not any(w.done() for w in waiters)
    release.set()
    await asyncio.gather(holder, *waiters)


async def test_without_redis_nothing_is_shared_or_closed(clock: Clock) -> None:
    share = shares()
    assert share._redis is None
    async with share.admitted(ALICE, "store"):
        assert share.local.in_flight == {ALICE: 1}
    await share.aclose()


# Settings: ZAVA_CALLER_LIMITS.

def test_the_defaults_give_store_managers_the_smallest_share() -> None:
    limits = Settings().caller_limits
    assert set(limits) == {"store", "region", "head_office"}
    assert limits["store"].concurrency < limits["region"].concurrency \
        < limits["head_office"].concurrency


def test_partial_json_is_merged_with_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAVA_CALLER_LIMITS", '{"store": {"concurrency": 2, "rate_per_s": 5}}')
    limits = Settings().caller_limits
    assert limits["store"] == ShareLimits(concurrency=2, rate_per_s=5,
                                          burst=ShareLimits().burst)
    assert limits["region"] == default_limits()["region"]
    assert limits["head_office"] == default_limits()["head_office"]


def test_an_unknown_scope_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZAVA_CALLER_LIMITS", '{"stores": {"concurrency": 2}}')
    with pytest.raises(pydantic.ValidationError, match="unknown scope 'stores'"):
        Settings()


@pytest.mark.parametrize("value", [
    '{"store": {"concurrency": -1}}', '{"store": {"rate_per_s": -0.5}}',
    '{"store": {"burst": 0}}', '{"store": 3}', "not json",
])
def test_invalid_limits_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ZAVA_CALLER_LIMITS", value)
    with pytest.raises((pydantic.ValidationError, ValueError)):
        Settings()


def test_the_wait_for_a_slot_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().caller_max_wait_s > 0
    monkeypatch.setenv("ZAVA_CALLER_MAX_WAIT_S", "0")
    assert Settings().caller_max_wait_s == 0
    monkeypatch.setenv("ZAVA_CALLER_MAX_WAIT_S", "-1")
    with pytest.raises(pydantic.ValidationError):
        Settings()

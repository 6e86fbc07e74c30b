"""Generate the next chunk in a worker thread while PostgreSQL ingests the current one.

The loader's time is the database's COPY work plus the generator's Python work; running
the generator one or two chunks ahead in a thread overlaps the two (PostgreSQL runs in
its own process, and the event loop waits on the socket with the GIL released). The
order of the items is the generator's order, so determinism is unaffected.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1


class _Done:
    """The end-of-items marker."""


class Prefetch(Generic[T]):
    """Iterate ``items`` in a daemon thread, at most ``depth`` items ahead of the consumer.

    Use as ``async with Prefetch(items) as ahead: async for item in ahead: ...``. An
    exception raised by ``items`` is re-raised in the consumer; leaving the block early
    (an error, a cancellation) stops the thread at its next item.
    """

    def __init__(self, items: Iterable[T], depth: int = 2) -> None:
        self._items = items
        self._slots = threading.Semaphore(depth)
        self._stop = threading.Event()
        self._queue: asyncio.Queue[T | _Done | BaseException] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._produce, name="seed-generator",
                                         daemon=True)

    async def __aenter__(self) -> Prefetch[T]:
        self._loop = asyncio.get_running_loop()
        self._thread.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()

    def _hand_over(self, item: T | _Done | BaseException) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            self._stop.set()

    def _produce(self) -> None:
        try:
            for item in self._items:
                while not self._slots.acquire(timeout=_POLL_SECONDS):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                self._hand_over(item)
            self._hand_over(_Done())
        except BaseException as exc:  # handed to the consumer, re-raised there
            self._hand_over(exc)

    async def __aiter__(self) -> AsyncIterator[T]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, BaseException):
                raise item
            self._slots.release()
            yield item

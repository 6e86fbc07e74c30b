"""Leaving a load balancer without losing a call: drain, then stop.

On SIGTERM (or SIGINT) a worker that a load balancer is watching (a ``/ready`` probe in
the last minute) first *drains*: ``/ready`` answers 503 while every request, old or new,
is still served, for ``drain_s`` seconds, long enough for the balancer to mark it down
and send new calls elsewhere. Then uvicorn's graceful shutdown closes the listener and
lets the calls in flight finish (``shutdown_timeout_s`` at most) before the lifespan
closes the pool. A worker nobody probes stops at once; a second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from socket import socket

import uvicorn
from loguru import logger

WATCHED_WITHIN_S = 60.0
"""A /ready probe this recent means a load balancer is watching this worker."""


class Drain:
    """Whether this worker is leaving, and whether anything watches its /ready."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.draining = False
        self._last_probe: float | None = None

    def probed(self) -> None:
        """A /ready request arrived."""
        self._last_probe = self.clock()

    def watched(self) -> bool:
        """True when /ready was probed within the last minute."""
        return (self._last_probe is not None
                and self.clock() - self._last_probe <= WATCHED_WITHIN_S)


class GracefulServer(uvicorn.Server):
    """uvicorn that drains before it stops, without its own signal handling (which
    re-raises SIGTERM after shutdown and so would kill the process before the pool and
    the embedded handle are closed). ``on_started`` runs once it is accepting."""

    def __init__(self, config: uvicorn.Config, drain: Drain, *, drain_s: float,
                 on_started: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.drain = drain
        self.drain_s = drain_s
        self.on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_started is not None:
            self.on_started()

    def request_exit(self) -> None:
        """SIGTERM / SIGINT: drain first when a load balancer watches, else stop now."""
        if self.drain.draining or self.drain_s <= 0 or not self.drain.watched():
            self.should_exit = True
            return
        self.drain.draining = True
        logger.info("draining: /ready answers 503 for {:g} s, then the listener closes and "
                    "calls in flight finish", self.drain_s)
        asyncio.get_running_loop().call_later(self.drain_s, self._stop)

    def _stop(self) -> None:
        self.should_exit = True

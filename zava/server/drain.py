"""Leaving without losing a call: drain, then stop.

On SIGTERM (or SIGINT) a worker first *drains* for ``drain_s`` seconds: every request is
still served, each answer saying ``Connection: close`` so that kept-alive clients move to
a new connection (never one this worker is about to close under them). Behind a load
balancer, on its own port, it keeps accepting and ``/ready`` answers 503, long enough for
the balancer to mark it down and send new calls elsewhere; only a worker the balancer
watches (a ``/ready`` probe in the last minute) drains, one nobody probes stops at once.
A worker of ``--workers`` (one socket shared with the others) stops accepting at once,
since the others take new connections, and never says 503 (the balancer sees them all as
one). Then uvicorn's graceful shutdown lets the calls in flight finish
(``shutdown_timeout_s`` at most) before the lifespan closes the pool. A second signal
stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from socket import socket

import uvicorn
from loguru import logger

from zava.server.session_cap import App, Message, Receive, Scope, Send

WATCHED_WITHIN_S = 60.0
"""A /ready probe this recent means a load balancer is watching this worker."""


class Drain:
    """Whether this worker is leaving, and whether anything watches its /ready."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 shared_socket: bool = False) -> None:
        self.clock = clock
        self.shared_socket = shared_socket
        self.draining = False
        self._last_probe: float | None = None

    @property
    def not_ready(self) -> bool:
        """True when /ready should say 503: draining on a port of its own."""
        return self.draining and not self.shared_socket

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
        """SIGTERM / SIGINT: drain first (see the module), then stop."""
        drain = self.drain
        if drain.draining or self.drain_s <= 0 or not (drain.shared_socket or drain.watched()):
            self.should_exit = True
            return
        drain.draining = True
        if drain.shared_socket:
            for listener in getattr(self, "servers", []):
                listener.close()  # this process's copy: the other workers keep accepting
            logger.info("draining: not accepting; answers close their connections; "
                        "stopping in {:g} s", self.drain_s)
        else:
            logger.info("draining: /ready answers 503 and answers close their connections "
                        "for {:g} s, then the listener closes and calls in flight finish",
                        self.drain_s)
        asyncio.get_running_loop().call_later(self.drain_s, self._stop)

    def _stop(self) -> None:
        self.should_exit = True


class CloseWhileDraining:
    """Adds ``Connection: close`` to every answer while the worker drains."""

    def __init__(self, app: App, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.drain.draining:
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)

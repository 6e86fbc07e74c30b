"""What every request handler of one server can reach."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mcp.server.mcpserver import Context

from zava.server.identity import CallerResolver

if TYPE_CHECKING:
    from zava.server.runtime import Runtime


class ServerState:
    """The lifespan state: the runtime and how to find the caller of a request.

    The runtime may still be opening (stdio answers ``initialize`` while the database
    pool opens, benchmarks/startup.py): a call awaits ``opened()`` first, which waits
    for it, or raises the error that stopped it from opening."""

    def __init__(self, runtime: Runtime | asyncio.Future[Runtime],
                 identity: CallerResolver) -> None:
        self._runtime: Runtime | None = None
        self._pending: asyncio.Future[Runtime] | None = None
        if isinstance(runtime, asyncio.Future):
            self._pending = runtime
        else:
            self._runtime = runtime
        self.identity = identity

    @property
    def opening(self) -> bool:
        """The runtime is not open yet (or failed to open)."""
        return self._runtime is None

    @property
    def runtime(self) -> Runtime:
        """The open runtime (after ``opened()``)."""
        if self._runtime is None:
            raise RuntimeError("the runtime is still opening: await opened() first")
        return self._runtime

    async def opened(self) -> Runtime:
        """The runtime, once open."""
        if self._runtime is None:
            assert self._pending is not None
            # shielded: a cancelled call must not cancel the opening every call waits for
            self._runtime = await asyncio.shield(self._pending)
        return self._runtime


ToolContext = Context[ServerState]
"""The request context a tool is given, typed with this server's state."""

"""What every request handler of one server can reach."""

from __future__ import annotations

from dataclasses import dataclass

from mcp.server.mcpserver import Context

from zava.server.identity import CallerResolver
from zava.server.runtime import Runtime


@dataclass(frozen=True)
class ServerState:
    """The lifespan state: the runtime and how to find the caller of a request."""

    runtime: Runtime
    identity: CallerResolver


ToolContext = Context[ServerState]
"""The request context a tool is given, typed with this server's state."""

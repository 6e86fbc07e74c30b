"""Semantic product search."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from zava.server import renderers
from zava.server.calls import tool_call
from zava.server.sql_tools import READ_ONLY
from zava.server.state import ServerState, ToolContext
from zava.services.search import SearchResults, search_products


def register(server: MCPServer[ServerState]) -> None:
    """Add the product search tool to ``server``."""

    @server.tool(annotations=READ_ONLY)
    async def semantic_search_products(
        query_description: Annotated[str, Field(
            description="What the product should do or be, in plain words",
            min_length=1, max_length=2000)],
        ctx: ToolContext,
        max_rows: Annotated[int, Field(ge=1, le=100)] = 20,
        similarity_threshold: Annotated[float, Field(
            ge=0, le=100, description="Minimum similarity in percent")] = 30.0,
    ) -> Annotated[CallToolResult, SearchResults]:
        """Products by meaning, not exact words ("something to keep a patio dry"), best
        first, with price and stock in your stores. Ranks by meaning and by word matches
        on name and description; similarity_threshold filters on meaning, but a product
        whose words match is always kept."""
        async with tool_call(ctx, "semantic_search_products") as call:
            results = await search_products(
                call.unit(), call.runtime.embedder, query=query_description,
                max_rows=max_rows, similarity_threshold_percent=similarity_threshold,
                mode=call.runtime.settings.search_mode)
            call.rows = len(results.products)
            return call.respond(results, renderers.search(results))

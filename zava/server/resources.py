"""Resources (schema overview, one per table, the caller's stores) and prompts.

Resources are JSON with ``<``, ``>`` and ``&`` escaped inside strings (``untrusted_json``):
the data parses back unchanged, and no database text in it can pass for a fence tag."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage

from zava.server import cached_results, exports
from zava.server.calls import call_as
from zava.server.rendering import untrusted_json
from zava.server.state import ServerState
from zava.services import analytics


def register(server: MCPServer[ServerState], state: ServerState) -> None:
    """Add the resources and prompts to ``server``; ``state`` is the ``ServerState``."""

    @server.resource("zava://schema", mime_type="application/json",
                     description="Every queryable retail table with its columns")
    async def schema_overview() -> str:
        async with call_as(state, None, "resource:schema") as call:
            schemas = await cached_results.table_schemas(call, [])
        return untrusted_json(schemas.model_dump(mode="json"))

    @server.resource("zava://schema/{table}", mime_type="application/json",
                     description="One retail table: columns, types, keys")
    async def table_schema(table: str) -> str:
        async with call_as(state, None, "resource:table") as call:
            schemas = await cached_results.table_schemas(call, [table])
        return untrusted_json(schemas.tables[0].model_dump(mode="json"))

    @server.resource("zava://stores", mime_type="application/json",
                     description="The stores you may see")
    async def my_stores() -> str:
        async with call_as(state, None, "resource:stores") as call:
            stores = await analytics.visible_stores(call.unit())
        return untrusted_json([{"name": s.name, "location": s.location, "region": s.region,
                            "is_online": s.is_online} for s in stores])

    exports.register(server, state)

    @server.prompt(title="Store performance review")
    def store_performance_review(period: str = "last_30_days") -> list[UserMessage]:
        """Review how my stores did in a period and what to act on."""
        return [UserMessage(
            f"Review my stores' performance for {period}. Call get_store_performance, then "
            "get_top_products and get_low_stock for the same scope. Summarise revenue, growth, "
            "margin and the categories driving change, and end with three concrete actions.")]

    @server.prompt(title="Category deep-dive")
    def category_deep_dive(category: str) -> list[UserMessage]:
        """Dig into one category: trend, best sellers, stock risks."""
        return [UserMessage(
            f"Analyse the {category} category in my stores. Use get_multiple_table_schemas, "
            "then execute_sales_query for monthly revenue of this category over the last two "
            "years, get_top_products with category set, and get_low_stock for it. Explain "
            "seasonality and what to reorder.")]

    @server.prompt(title="Find products like this")
    def find_similar_products(need: str) -> list[UserMessage]:
        """Explore the catalog for products that meet a need, with stock."""
        return [UserMessage(
            f"A customer needs: {need}. Call semantic_search_products with that need, "
            "compare the best matches on price and stock in my stores, and suggest what to "
            "offer and what to restock.")]

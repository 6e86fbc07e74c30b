"""Date, health and semantic product search."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from zava.db import migrations
from zava.db.connect import database_revision
from zava.server.calls import runtime_of, tool_call
from zava.server.rendering import fence, table
from zava.server.sql_tools import READ_ONLY
from zava.services.search import SearchResults, search_products


class CurrentDate(BaseModel):
    """The current date and time in UTC."""

    utc_date: str
    utc_datetime: str


class Health(BaseModel):
    """Whether the server can answer: database, migrations, embedder."""

    status: str = Field(description="ok or degraded")
    database: str
    migrations: str
    embedder: str
    embedding_cache_hits: int
    uptime_s: float


def register(server: MCPServer) -> None:
    """Add the date, health and search tools to ``server``."""

    @server.tool(annotations=READ_ONLY)
    def get_current_utc_date() -> CurrentDate:
        """Today's date and time in UTC, for relative dates ("last month") in SQL."""
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        return CurrentDate(utc_date=now.date().isoformat(), utc_datetime=now.isoformat())

    @server.tool(annotations=READ_ONLY)
    async def health_check(ctx: Context) -> Health:
        """Check the database connection, the migration level and the embedder."""
        runtime = runtime_of(ctx)
        database, level = "ok", "unknown"
        try:
            current = await database_revision(runtime.engine)
            head = migrations.head_revision()
            level = "at head" if current == head else f"at {current}, head is {head}"
        except Exception as exc:  # health reports, it does not fail
            database = f"unavailable ({type(exc).__name__})"
        embedder = runtime.embedder
        ok = database == "ok" and level == "at head"
        return Health(status="ok" if ok else "degraded", database=database, migrations=level,
                      embedder=f"{embedder.model_name} ({embedder.dimension} dims)",
                      embedding_cache_hits=embedder.hits,
                      uptime_s=round(runtime.uptime_s, 1))

    @server.tool(annotations=READ_ONLY)
    async def semantic_search_products(
        query_description: Annotated[str, Field(
            description="What the product should do or be, in plain words",
            min_length=1, max_length=2000)],
        ctx: Context,
        max_rows: Annotated[int, Field(ge=1, le=100)] = 20,
        similarity_threshold: Annotated[float, Field(
            ge=0, le=100, description="Minimum similarity in percent")] = 30.0,
    ) -> Annotated[CallToolResult, SearchResults]:
        """Find products by meaning, not exact words ("something to keep a patio dry"),
        with price and stock in your stores. Ranking fuses meaning (vector similarity)
        with word matches on name and description; similarity_threshold filters on
        meaning, but a product whose words match the question is always kept."""
        async with tool_call(ctx, "semantic_search_products") as call:
            async with call.runtime.unit(call.caller) as uow:
                results = await search_products(
                    uow, call.runtime.embedder, query=query_description, max_rows=max_rows,
                    similarity_threshold_percent=similarity_threshold,
                    mode=call.runtime.settings.search_mode)
            call.rows = len(results.products)
            rows = [[p.sku, p.name, p.category, f"{p.price:.2f}", f"{p.similarity_percent:.1f}%",
                     "yes" if p.matched_words else "", p.units_in_your_stores, p.description]
                    for p in results.products]
            body = table(["sku", "name", "category", "price", "similarity", "words", "stock",
                          "description"], rows)
            return call.respond(results, fence(body))


"""The date and the server's health."""

from __future__ import annotations

import datetime as dt

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from zava.provision.health import check_database
from zava.server.calls import runtime_of
from zava.server.sql_tools import READ_ONLY
from zava.server.state import ServerState, ToolContext


class CurrentDate(BaseModel):
    """The current date and time in UTC."""

    utc_date: str
    utc_datetime: str


class Health(BaseModel):
    """Whether the server can answer: database, migrations, embedder. Counters (cache hits
    and the like) are for operators at /metrics: across tenants they would be an oracle."""

    status: str = Field(description="ok or degraded")
    database: str
    migrations: str
    embedder: str


def register(server: MCPServer[ServerState]) -> None:
    """Add the date and health tools to ``server``."""

    @server.tool(annotations=READ_ONLY)
    def get_current_utc_date() -> CurrentDate:
        """Today's date and time in UTC, for relative dates ("last month") in SQL."""
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        return CurrentDate(utc_date=now.date().isoformat(), utc_datetime=now.isoformat())

    @server.tool(annotations=READ_ONLY)
    async def health_check(ctx: ToolContext) -> Health:
        """Check the database connection, the migration level and the embedder."""
        runtime = await runtime_of(ctx)
        health = await check_database(runtime.engine)
        database = "ok" if health.reachable else f"unavailable ({health.unreachable})"
        embedder = runtime.embedder
        return Health(status="ok" if health.ok else "degraded", database=database,
                      migrations=health.migrations_text(),
                      embedder=f"{embedder.model_name} ({embedder.dimension} dims)")

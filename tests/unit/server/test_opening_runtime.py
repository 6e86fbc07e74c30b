"""A stdio server answers the handshake and the lists while its runtime is still opening
(``build_server`` given a future); a call waits for the runtime, and gets the runtime's
typed error if it failed to open. A deferred server (stdio) registers its tools once
``initialize`` is answered, the same tools."""

from __future__ import annotations

import asyncio
import uuid

from mcp import Client
from mcp.types import TextContent

from zava.errors import ConfigurationError
from zava.server.app import build_deferred_server, build_server
from zava.server.identity import FixedCaller
from zava.server.runtime import Runtime


async def test_the_handshake_and_lists_do_not_wait_for_the_runtime() -> None:
    opening: asyncio.Future[Runtime] = asyncio.get_running_loop().create_future()
    server = build_server(opening, FixedCaller(uuid.uuid4()))
    async with asyncio.timeout(30), Client(server) as client:
        tools = await client.list_tools()
        assert "execute_sales_query" in {tool.name for tool in tools.tools}
        await client.list_resources()
        await client.list_prompts()
        date = await client.call_tool("get_current_utc_date", {})  # needs no database
        assert not date.is_error
    assert not opening.done()


async def test_a_call_waits_for_the_runtime_and_gets_its_typed_error() -> None:
    opening: asyncio.Future[Runtime] = asyncio.get_running_loop().create_future()
    server = build_server(opening, FixedCaller(uuid.uuid4()))
    async with asyncio.timeout(30), Client(server) as client:
        call = asyncio.create_task(
            client.call_tool("execute_sales_query", {"postgresql_query": "SELECT 1"}))
        await asyncio.sleep(0.2)
        assert not call.done()  # waiting for the runtime
        opening.set_exception(ConfigurationError(
            "the database is at migration 0001, this server needs 0002: run "
            "`zava db upgrade`"))
        for result in (await call, await client.call_tool("health_check", {})):
            (content,) = result.content
            assert result.is_error and isinstance(content, TextContent)
            assert content.text.endswith(
                ": configuration_error: the database is at migration 0001, this server "
                "needs 0002: run `zava db upgrade`")


async def test_a_deferred_server_registers_its_tools_once_initialize_is_answered() -> None:
    opening: asyncio.Future[Runtime] = asyncio.get_running_loop().create_future()
    server = build_deferred_server(opening, FixedCaller(uuid.uuid4()))
    assert server.registration is not None
    assert await server.list_tools() == [] and not server.registration.registered.is_set()
    async with asyncio.timeout(30), Client(server) as client:
        tools = await client.list_tools()
        assert server.registration.registered.is_set()
        assert "execute_sales_query" in {tool.name for tool in tools.tools}
        assert {r.uri for r in (await client.list_resources()).resources} >= {
            "zava://schema", "zava://stores"}
    assert [tool.name for tool in await server.list_tools()] == [
        tool.name for tool in await build_server(opening, FixedCaller(uuid.uuid4()))
        .list_tools()]

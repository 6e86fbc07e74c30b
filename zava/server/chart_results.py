"""A chart added to a tool's result when the caller asks for one (``chart=true``): a PNG
image for every client and, for clients that negotiated MCP Apps, the same chart as a
``ui://`` HTML page embedded in the result (no store: only this caller receives it).
The structured content stays as it was."""

from __future__ import annotations

import base64
import functools
import uuid
from typing import Annotated

import anyio.to_thread
from mcp.server.apps import APP_MIME_TYPE, client_supports_apps
from mcp.types import CallToolResult, EmbeddedResource, ImageContent, TextResourceContents
from pydantic import Field

from zava.charts.chart import Chart
from zava.charts.draw import draw
from zava.server.state import ToolContext

ChartFlag = Annotated[bool, Field(description="Also return a chart (PNG)")]
URI_PREFIX = "ui://zava/charts/"


async def with_chart(ctx: ToolContext, result: CallToolResult, chart: Chart) -> CallToolResult:
    """``result`` with ``chart`` appended, drawn in a worker thread (it is CPU work; the
    tool's unit of work has already closed)."""
    drawing = await anyio.to_thread.run_sync(
        functools.partial(draw, chart, with_page=client_supports_apps(ctx)))
    result.content.append(ImageContent(type="image", mime_type="image/png",
                                       data=base64.b64encode(drawing.png).decode()))
    if drawing.page is not None:
        result.content.append(EmbeddedResource(type="resource", resource=TextResourceContents(
            uri=f"{URI_PREFIX}{uuid.uuid4().hex}", mime_type=APP_MIME_TYPE,
            text=drawing.page)))
    return result

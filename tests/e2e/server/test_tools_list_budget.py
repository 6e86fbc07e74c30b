"""The whole tools/list payload stays within its budget (issue 16): every tool's name,
description, input and output schemas and annotations are read by the model at the start
of each session.

The measure: the ``tools/list`` result as the SDK's client receives it from a real
`zava serve` over stdio, dumped as the wire spells it (camelCase aliases, no null fields)
to compact JSON (no spaces, non-ASCII characters as they are), in characters: the tools
and the result's own fields (_meta, ttlMs, ...). It was 19,661 for 11 tools before the
schemas were compacted (zava/server/tool_schemas.py), 12,413 after, 13,670 with the
`chart` argument and the `provenance` result field.
"""

from __future__ import annotations

import json
from typing import Any

from mcp import Client

from tests.e2e.conftest import stdio_server
from zava.seeding import company

BUDGET = 14_000


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def test_tools_list_fits_the_budget(server_env: dict[str, str]) -> None:
    async with Client(stdio_server(server_env, company.SEATTLE_MANAGER_ID)) as client:
        result = await client.list_tools()
    payload = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    size = len(compact_json(payload))
    sizes = {tool["name"]: {part: len(compact_json(value)) for part, value in tool.items()}
             for tool in payload["tools"]}
    report = "\n".join(f"{name}: {sum(parts.values())} {parts}"
                       for name, parts in sorted(sizes.items(), key=lambda s: -sum(s[1].values())))
    assert size <= BUDGET, f"tools/list is {size:,} characters (budget {BUDGET:,}):\n{report}"
    assert len(payload["tools"]) >= 11

"""Tool results served from the cache: keyed by the caller wherever RLS shapes them.

Schema descriptions carry the caller's valid values (their store names, order years),
so they are cached per caller; repeated identical queries are cached per caller only
when ``ZAVA_QUERY_CACHE_TTL_S`` opts in. The migration head is part of every key, so a
new schema never serves an old entry.
"""

from __future__ import annotations

from zava.provision import migrations
from zava.server.calls import ToolCall
from zava.services import analytics
from zava.services.reports import TableSchemas


async def table_schemas(call: ToolCall, table_names: list[str]) -> TableSchemas:
    """``analytics.table_schemas`` for the caller, cached for ``ZAVA_CACHE_TTL_S``."""
    runtime = call.runtime

    async def compute() -> TableSchemas:
        return await analytics.table_schemas(call.unit(), table_names)

    return await runtime.cache.get_or_compute(
        "schema", TableSchemas, (migrations.head_revision(), *sorted(table_names)),
        runtime.settings.cache_ttl_s, compute, caller=call.caller)

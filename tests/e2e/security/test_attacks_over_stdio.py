"""The hostile-query corpus through `execute_sales_query` over stdio, as the Seattle
manager: every line is rejected or returns only Seattle's rows; the database is unchanged."""

from __future__ import annotations

from mcp import ClientSession, stdio_client
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.conftest import stdio_server
from tests.support.attacks import ATTACKS
from tests.support.isolation import SEATTLE, database_fingerprint
from zava.seeding import company


async def test_attack_corpus_over_stdio(server_env: dict[str, str],
                                        seeded_admin_engine: AsyncEngine) -> None:
    before = await database_fingerprint(seeded_admin_engine)
    others = {str(s.store_id) for s in company.stores()} - {
        str(company.store_named("Seattle").store_id)}
    env = dict(server_env, ZAVA_STATEMENT_TIMEOUT_MS="2000")
    outcomes = {"rejected": 0, "failed": 0, "ran": 0}
    async with stdio_client(stdio_server(env, SEATTLE.manager_id)) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        for attack in ATTACKS:
            result = await session.call_tool("execute_sales_query", {"postgresql_query": attack})
            text = result.content[0].text
            if result.is_error:
                outcomes["rejected" if "query_rejected" in text else "failed"] += 1
                assert "Traceback" not in text and "/work" not in text
                continue
            outcomes["ran"] += 1
            values = {v for row in result.structured_content["rows"] for v in row}
            # Other stores' ids appear only as customers' home stores (they bought here).
            assert not (values & others) or "customers" in attack, attack
    assert await database_fingerprint(seeded_admin_engine) == before
    assert outcomes["ran"] <= 3 and outcomes["rejected"] >= 60, outcomes

"""Property: any query the guard accepts, run as the Seattle manager, returns only
Seattle's rows, whatever functions and shapes it is built from."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.isolation import SEATTLE, build_guard, run_as
from zava.config import Settings
from zava.errors import DatabaseError, QueryRejectedError
from zava.security.sql_guard import SqlGuard
from zava.seeding import company

BELLEVUE = str(company.BELLEVUE_MANAGER_ID)
TABLES = ["orders", "order_items", "inventory", "stores"]
HARMLESS = ["count(*) OVER ()", "lower('X')", "coalesce(NULL, 1)", "now()::date",
            "length(store_id::text)", "abs(-1)", "md5('a')", "round(1.5)"]
HOSTILE = [
    f"set_config('app.current_rls_user_id', '{BELLEVUE}', true)",
    f"pg_catalog.set_config('app.current_rls_user_id', '{BELLEVUE}', false)",
    "current_setting('app.current_rls_user_id')",
    "query_to_xml('select * from retail.orders', true, false, '')",
    "set_config('role', 'postgres', true)",
    "pg_sleep(0)",
]
EXPRESSIONS = st.sampled_from(HARMLESS + HOSTILE)


@st.composite
def queries(draw: st.DrawFn) -> str:
    table = draw(st.sampled_from(TABLES))
    expr = draw(EXPRESSIONS)
    shape = draw(st.sampled_from(["select", "where", "order", "from", "lateral", "cte",
                                  "union", "scalar"]))
    t = f"retail.{table}"
    return {
        "select": f"SELECT store_id, {expr} AS x FROM {t}",
        "where": f"SELECT store_id FROM {t} WHERE ({expr}) IS NOT NULL",
        "order": f"SELECT store_id FROM {t} ORDER BY {expr}",
        "from": f"SELECT q.store_id FROM (SELECT store_id, {expr} AS x FROM {t}) q",
        "lateral": f"SELECT a.store_id FROM {t} a, LATERAL (SELECT {expr} AS x) l",
        "cte": f"WITH c AS (SELECT {expr} AS x) SELECT store_id FROM {t}, c",
        "union": f"SELECT store_id FROM {t} UNION ALL SELECT store_id FROM {t} "
                 f"WHERE ({expr}) IS NOT NULL",
        "scalar": f"SELECT (SELECT {expr}) AS x, store_id FROM {t}",
    }[shape]


@pytest.fixture(scope="module")
async def guard(seeded_admin_engine: AsyncEngine) -> SqlGuard:
    return await build_guard(seeded_admin_engine)


@hypothesis_settings(max_examples=80, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sql=queries())
async def test_accepted_queries_return_only_the_callers_stores(
    seeded_app_engine: AsyncEngine, settings: Settings, guard: SqlGuard, sql: str
) -> None:
    seattle = str(company.store_named("Seattle").store_id)
    try:
        result = await run_as(seeded_app_engine, settings, guard, SEATTLE.manager_id, sql)
    except QueryRejectedError:
        assert any(h.split("(")[0] in sql for h in HOSTILE)
        return
    except DatabaseError:  # invalid SQL or a timeout: nothing was returned
        return
    assert not any(h in sql for h in HOSTILE), f"guard accepted {sql!r}"
    column = result.columns.index("store_id")
    assert {row[column] for row in result.rows} <= {seattle}

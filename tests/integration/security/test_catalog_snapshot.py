"""The catalog snapshot the unit tests build the SQL guard from is the live catalog of a
migrated database, read as the server's login (``ZAVA_WRITE_CATALOG_SNAPSHOT=1`` rewrites
it instead: see ``tests/support/catalog_snapshot.py``)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.catalog_snapshot import (
    SNAPSHOT,
    WRITE_VARIABLE,
    load_catalog,
    load_rows,
    normalise,
    read_rows,
    write_snapshot,
)
from zava.security.sql_guard import load_function_catalog


async def test_the_snapshot_equals_the_live_catalog(app_engine: AsyncEngine) -> None:
    async with app_engine.connect() as connection:
        if os.environ.get(WRITE_VARIABLE):
            count = await write_snapshot(connection)
            load_catalog.cache_clear()
            pytest.skip(f"{WRITE_VARIABLE} is set: wrote {count} rows to {SNAPSHOT}")
        rows = normalise(await read_rows(connection))
        live = await load_function_catalog(connection)
    snapshot = load_rows()
    assert len(snapshot) > 2000
    missing, extra = set(rows) - set(snapshot), set(snapshot) - set(rows)
    assert not missing and not extra, (
        f"the snapshot lacks {sorted(missing)[:10]} and has {sorted(extra)[:10]} that the "
        f"database does not; rewrite it with {WRITE_VARIABLE}=1")
    assert snapshot == rows
    assert load_catalog() == live

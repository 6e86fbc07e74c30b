"""The SQL guard's function catalog as a file, so its decisions can be tested with no
database: the rows ``load_function_catalog`` reads (``pg_proc``, ``pg_type`` and one
setting) from a migrated database, written to
``tests/unit/security/function_catalog_snapshot.json``.

The unit tests build the guard from the file exactly as the server builds it from the
live catalog (``FunctionCatalog.from_rows`` then ``SqlGuard(catalog, TABLE_DESCRIPTIONS)``);
``tests/integration/security/test_catalog_snapshot.py`` fails when the file no longer
equals the live catalog (a new PostgreSQL, pgvector or migration). Refresh it with

    ZAVA_WRITE_CATALOG_SNAPSHOT=1 .venv/bin/python -m pytest \\
        tests/integration/security/test_catalog_snapshot.py

or, against any migrated database, as the server's login:

    .venv/bin/python -m tests.support.catalog_snapshot postgresql://zava_app@host/zava
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from zava.config import normalise_database_url
from zava.repositories.schema import TABLE_DESCRIPTIONS
from zava.security.function_catalog import _CATALOG_QUERY, CatalogRow, FunctionCatalog
from zava.security.sql_guard import SqlGuard

SNAPSHOT = (Path(__file__).resolve().parents[1] / "unit" / "security"
            / "function_catalog_snapshot.json")
WRITE_VARIABLE = "ZAVA_WRITE_CATALOG_SNAPSHOT"


def production_guard(catalog: FunctionCatalog, **options: Any) -> SqlGuard:
    """The guard as ``zava.server.runtime`` builds it: the catalog and the tables a
    caller can query (``TABLE_DESCRIPTIONS``), nothing more."""
    return SqlGuard(catalog, frozenset(TABLE_DESCRIPTIONS), **options)


async def read_rows(connection: AsyncConnection) -> list[CatalogRow]:
    """The catalog rows, read with the very query ``load_function_catalog`` runs."""
    return [CatalogRow(*row) for row in await connection.execute(_CATALOG_QUERY)]


def normalise(rows: Iterable[CatalogRow]) -> list[CatalogRow]:
    """Distinct rows in a stable order (overloads with equal attributes decide alike)."""
    return sorted(set(rows), key=lambda r: (r.kind, r.schema, r.name, r.code, r.detail,
                                            r.extension or "", r.plumbing))


def render(rows: Iterable[CatalogRow], server_version: str) -> str:
    """The snapshot file's text: one row per line, so a diff shows what changed."""
    lines = [json.dumps(list(row), ensure_ascii=False) for row in normalise(rows)]
    return (
        "{\n"
        f'  "about": "rows of zava.security.function_catalog._CATALOG_QUERY; '
        f'see tests/support/catalog_snapshot.py",\n'
        f'  "server_version": {json.dumps(server_version)},\n'
        '  "rows": [\n    ' + ",\n    ".join(lines) + "\n  ]\n}\n"
    )


def load_rows(path: Path = SNAPSHOT) -> list[CatalogRow]:
    """The rows of a snapshot file."""
    data = json.loads(path.read_text())
    return [CatalogRow(str(kind), str(schema), str(name), str(code), str(detail),
                       None if extension is None else str(extension), bool(plumbing))
            for kind, schema, name, code, detail, extension, plumbing in data["rows"]]


@cache
def load_catalog(path: Path = SNAPSHOT) -> FunctionCatalog:
    """The ``FunctionCatalog`` built from a snapshot file, as from the live rows."""
    return FunctionCatalog.from_rows(load_rows(path))


async def write_snapshot(connection: AsyncConnection, path: Path = SNAPSHOT) -> int:
    """Write the catalog ``connection`` sees to ``path``; return the number of rows."""
    rows = normalise(await read_rows(connection))
    version = str((await connection.execute(text("SHOW server_version"))).scalar_one())
    path.write_text(render(rows, version))
    return len(rows)


async def _dump(url: str) -> int:
    engine = create_async_engine(normalise_database_url(url))
    try:
        async with engine.connect() as connection:
            return await write_snapshot(connection)
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    """``python -m tests.support.catalog_snapshot <database url>``."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    count = asyncio.run(_dump(argv[0]))
    print(f"wrote {count} rows to {SNAPSHOT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Which functions and types a free-form query may use, derived from the live catalog.

Allowed: built-in functions in ``pg_catalog`` whose every overload is IMMUTABLE or
STABLE (or an aggregate or window function), and the ``vector`` extension's functions,
minus an explicit denylist of stable-but-dangerous functions (those that read settings
or files, run a SQL string, reveal server internals or other tenants' volumes, or
signal other sessions). Volatile functions are denied except a few harmless ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

HARMLESS_VOLATILE = frozenset({
    "random", "random_normal", "gen_random_uuid", "uuidv4", "uuidv7", "clock_timestamp",
    "timeofday",
})
"""Volatile built-ins that neither read nor change anything outside the query."""

DENIED = frozenset({
    # settings: reading internals, or switching tenant/role
    "set_config", "current_setting",
    # functions that run a SQL string given as an argument
    "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
    "cursor_to_xml", "cursor_to_xmlschema", "table_to_xml", "table_to_xmlschema",
    "table_to_xml_and_xmlschema", "schema_to_xml", "schema_to_xmlschema",
    "schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema",
    "database_to_xml_and_xmlschema", "ts_stat", "ts_rewrite",
    # server internals and identity of other roles
    "version", "inet_server_addr", "inet_server_port", "inet_client_addr",
    "inet_client_port", "current_query", "getpgusername", "row_security_active",
})
"""Functions no query may call, whatever their volatility."""

DENIED_PREFIXES = ("pg_", "lo_", "has_", "txid_", "dblink", "binary_upgrade_")
"""Families denied as a whole: catalog introspection and statistics (which reveal other
tenants' volumes), files, large objects, privileges of other roles, transactions."""

ALLOWED_PG_PREFIXED = frozenset({"pg_typeof", "pg_size_pretty", "pg_size_bytes",
                                 "pg_column_size", "pg_client_encoding"})
"""Harmless functions that share the ``pg_`` prefix."""

_CATALOG_QUERY = text("""
SELECT n.nspname, p.proname, p.provolatile::text, p.prokind::text,
       e.extname IS NOT NULL AS in_vector
FROM pg_proc AS p
JOIN pg_namespace AS n ON n.oid = p.pronamespace
LEFT JOIN pg_depend AS d
       ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
LEFT JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'vector'
WHERE n.nspname = 'pg_catalog' OR e.extname IS NOT NULL
""")

_TYPES_QUERY = text("""
SELECT n.nspname, t.typname
FROM pg_type AS t JOIN pg_namespace AS n ON n.oid = t.typnamespace
LEFT JOIN pg_depend AS d
       ON d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
LEFT JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'vector'
WHERE n.nspname = 'pg_catalog' OR e.extname IS NOT NULL
""")


def is_denied_name(name: str) -> bool:
    """True for a function name on the denylist or in a denied family."""
    if name in DENIED:
        return True
    return name.startswith(DENIED_PREFIXES) and name not in ALLOWED_PG_PREFIXED


@dataclass(frozen=True)
class FunctionCatalog:
    """Allowed function names per schema, and the schemas and names of usable types."""

    functions: dict[str, frozenset[str]]
    types: dict[str, frozenset[str]]

    @property
    def schemas(self) -> frozenset[str]:
        """Schemas whose functions a query may name explicitly."""
        return frozenset(self.functions)

    def allows_function(self, schema: str | None, name: str) -> bool:
        """May a query call ``schema.name`` (``schema`` None: as resolved unqualified)?"""
        if schema is None:
            return any(name in names for names in self.functions.values())
        return name in self.functions.get(schema, frozenset())

    def allows_type(self, schema: str | None, name: str) -> bool:
        """May a query cast to ``schema.name``?"""
        if schema is None:
            return any(name in names for names in self.types.values())
        return name in self.types.get(schema, frozenset())

    @classmethod
    def from_rows(cls, functions: list[tuple[str, str, str, str, bool]],
                  types: list[tuple[str, str]]) -> FunctionCatalog:
        """Apply the allow/deny rules to ``pg_proc`` and ``pg_type`` rows."""
        verdicts: dict[tuple[str, str], bool] = {}
        for schema, name, volatility, kind, _ in functions:
            ok = (kind in ("a", "w") or volatility in ("i", "s")
                  or name in HARMLESS_VOLATILE) and not is_denied_name(name)
            key = (schema, name)
            verdicts[key] = verdicts.get(key, True) and ok  # every overload must pass
        allowed: dict[str, set[str]] = {}
        for (schema, name), ok in verdicts.items():
            if ok and re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                allowed.setdefault(schema, set()).add(name)
        type_names: dict[str, set[str]] = {}
        for schema, name in types:
            if not name.startswith(("reg", "pg_", "_")):
                type_names.setdefault(schema, set()).add(name)
        return cls({s: frozenset(n) for s, n in allowed.items()},
                   {s: frozenset(n) for s, n in type_names.items()})


async def load_function_catalog(connection: AsyncConnection) -> FunctionCatalog:
    """Read the allowlists from the database ``connection`` is on."""
    functions = [tuple(r) for r in await connection.execute(_CATALOG_QUERY)]
    types = [tuple(r) for r in await connection.execute(_TYPES_QUERY)]
    return FunctionCatalog.from_rows(functions, types)

"""Which functions and types a free-form query may name, derived from the live catalog.

Allowed functions: built-ins in ``pg_catalog`` whose every overload is IMMUTABLE or
STABLE, or an aggregate or window function, and the ``vector`` extension's functions,
minus a denylist of stable-but-dangerous ones (settings, SQL strings, files, large
objects, locks, other sessions, server internals, catalog introspection, statistics that
reveal other tenants' volumes). Volatile functions are denied except a few that only read
the clock or draw random numbers. Allowed types: base, range and multirange types of
``pg_catalog`` and the ``vector`` extension, minus object-identifier, system and XML types.

Functions and types that other extensions add, even to ``pg_catalog``, are not trusted. An
unqualified name must be allowed wherever a trusted object has it and exist nowhere else,
so no function or type in another schema on the search path can shadow it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from zava.errors import ConfigurationError

HARMLESS_VOLATILE = frozenset({
    "random", "random_normal", "array_shuffle", "array_sample",
    "gen_random_uuid", "uuidv4", "uuidv7", "clock_timestamp", "timeofday",
})
"""Volatile built-ins that only read the clock or the session's random generator: they
read no data, settings or files and change nothing (setseed, which steers the generator
shared by every caller of a pooled session, is not among them)."""

DENIED_FUNCTIONS = frozenset({
    # settings and identity: switching tenant or role, reading server internals
    "set_config", "current_setting", "system_user", "getpgusername", "current_query",
    "version", "unicode_version", "icu_unicode_version", "inet_server_addr",
    "inet_server_port", "inet_client_addr", "inet_client_port",
    # functions that run a query given as text
    "ts_stat", "ts_rewrite",
    # catalog introspection and transaction-id arithmetic
    "format_type", "obj_description", "col_description", "shobj_description", "ts_debug",
    "row_security_active", "satisfies_hash_partition", "mxid_age",
    # sequences and the random seed of the pooled session
    "nextval", "currval", "setval", "lastval", "setseed",
    # large objects not named lo_*
    "loread", "lowrite",
})
"""Functions no query may call, whatever their volatility."""

DENIED_FUNCTION_PATTERN = re.compile(r"""
      pg_(?!(typeof|size_pretty|size_bytes|column_size)$)  # files, backends, WAL, statistics
    | lo_ | has_ | txid_ | binary_upgrade_ | dblink | fmgr_ | acl | makeaclitem$
    | brin_ | gin_                                         # index maintenance
    | (to_)?reg(class|collation|config|dictionary|namespace|oper|operator|proc|procedure
               |role|type)                                 # object-identifier lookups
    | .*(xml|xpath)                                        # query_to_xml & co., XML parsing
    | .*_(handler|validator)$
""", re.VERBOSE)
"""Families denied as a whole (matched at the start of the name)."""

DENIED_TYPES = frozenset({
    "xml", "xid", "xid8", "cid", "tid", "oid", "aclitem", "refcursor", "txid_snapshot",
    "int2vector", "oidvector", "gtsvector",
})
"""Types a query may not cast to: system identifiers, cursors, XML."""

DENIED_TYPE_PATTERN = re.compile(
    r"pg_|reg(class|collation|dictionary|namespace|oper|operator|proc|procedure|role|type)$")
"""Internal ``pg_*`` types and object-identifier types (``regconfig``, a text search
configuration, stays allowed for ``to_tsvector('english'::regconfig, ...)``)."""

_ALLOWED_TYPTYPES = frozenset({"b", "r", "m"})  # base, range, multirange


class CatalogRow(NamedTuple):
    """One ``pg_proc`` or ``pg_type`` row, as the catalog query returns it."""

    kind: str
    """``function``, ``type``, or ``setting`` (standard_conforming_strings in ``code``)."""
    schema: str
    name: str
    code: str
    """provolatile (``i``, ``s``, ``v``) or typtype (``b``, ``c``, ``p``...)."""
    detail: str
    """prokind (``f``, ``a``, ``w``, ``p``) or typcategory (``A`` for arrays...)."""
    extension: str | None
    """The extension the object belongs to, if any."""
    plumbing: bool = False
    """A function taking or returning ``cstring`` or ``internal``: type input/output and
    planner or index support, never needed in a query (``array_in('{1}', <type oid>, -1)``
    would otherwise reach any type's input function, reg* lookups included)."""


_CATALOG_QUERY = text("""
WITH members AS (
    SELECT d.classid, d.objid, e.extname::text AS extension
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
)
SELECT 'function' AS kind, n.nspname::text, p.proname::text, p.provolatile::text,
       p.prokind::text, m.extension,
       p.prorettype IN ('pg_catalog.cstring'::pg_catalog.regtype,
                        'pg_catalog.internal'::pg_catalog.regtype)
       OR p.proargtypes::pg_catalog.oid[] OPERATOR(pg_catalog.&&)
          ARRAY['pg_catalog.cstring'::pg_catalog.regtype,
                'pg_catalog.internal'::pg_catalog.regtype]::pg_catalog.oid[]
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
LEFT JOIN members AS m
       ON m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND m.objid = p.oid
WHERE n.nspname <> 'information_schema'
UNION ALL
SELECT 'type', n.nspname::text, t.typname::text, t.typtype::text, t.typcategory::text,
       m.extension, false
FROM pg_catalog.pg_type AS t
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
LEFT JOIN members AS m
       ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND m.objid = t.oid
WHERE n.nspname <> 'information_schema'
UNION ALL
SELECT 'setting', '', 'standard_conforming_strings',
       pg_catalog.current_setting('standard_conforming_strings'), '', NULL, false
""")


def is_denied_function(name: str) -> bool:
    """True for a function name on the denylist or in a denied family."""
    return name in DENIED_FUNCTIONS or DENIED_FUNCTION_PATTERN.match(name) is not None


def is_denied_type(name: str) -> bool:
    """True for a type name a query may not cast to."""
    return name in DENIED_TYPES or DENIED_TYPE_PATTERN.match(name) is not None


def _allowed_names(verdicts: dict[tuple[str, str], bool],
                   elsewhere: set[str]) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """Unqualified and schema-qualified names from per-(schema, name) verdicts."""
    qualified = frozenset(key for key, ok in verdicts.items() if ok)
    refused = {name for (_, name), ok in verdicts.items() if not ok}
    unqualified = frozenset(name for _, name in qualified) - refused - elsewhere
    return unqualified, qualified


@dataclass(frozen=True)
class FunctionCatalog:
    """The names a query may use, as sets for constant-time lookups."""

    functions: frozenset[str]
    """Function names a query may call unqualified."""
    qualified_functions: frozenset[tuple[str, str]]
    """(schema, name) a query may call schema-qualified."""
    types: frozenset[str]
    """Type names a query may cast to unqualified."""
    qualified_types: frozenset[tuple[str, str]]
    """(schema, type) a query may cast to schema-qualified."""
    schemas: frozenset[str]
    """Schemas a query may name: ``pg_catalog`` and the ``vector`` extension's."""
    denied_functions: frozenset[str]
    """Every function name in the database a query may not call unqualified."""

    @classmethod
    def from_rows(cls, rows: Iterable[CatalogRow]) -> FunctionCatalog:
        """Apply the allow and deny rules to ``pg_proc`` and ``pg_type`` rows."""
        functions: dict[tuple[str, str], bool] = {}
        types: dict[tuple[str, str], bool] = {}
        other_functions: set[str] = set()
        other_types: set[str] = set()
        schemas = {"pg_catalog"}
        for kind, schema, name, code, detail, extension, plumbing in rows:
            # Built-ins (pg_catalog, not from an extension) and pgvector are trusted.
            trusted = (schema == "pg_catalog" and extension is None) or extension == "vector"
            if extension == "vector":
                schemas.add(schema)
            if kind == "function":
                if not trusted:
                    other_functions.add(name)
                    continue
                ok = not plumbing and (detail in ("a", "w") or code in ("i", "s")
                                       or name in HARMLESS_VOLATILE)
                # A name is allowed only if every overload is.
                key = (schema, name)
                functions[key] = functions.get(key, True) and ok and not is_denied_function(name)
            elif kind == "type":
                if not trusted:
                    other_types.add(name)
                    continue
                ok = code in _ALLOWED_TYPTYPES and detail != "A" and not is_denied_type(name)
                types[(schema, name)] = ok
        function_names, qualified_functions = _allowed_names(functions, other_functions)
        type_names, qualified_types = _allowed_names(types, other_types)
        every_function = other_functions | {name for _, name in functions}
        return cls(functions=function_names, qualified_functions=qualified_functions,
                   types=type_names, qualified_types=qualified_types,
                   schemas=frozenset(schemas),
                   denied_functions=frozenset(every_function - function_names))


async def load_function_catalog(connection: AsyncConnection) -> FunctionCatalog:
    """Read the allowlists from the database ``connection`` is on (one query).

    Raises ``ConfigurationError`` if ``standard_conforming_strings`` is off: the guard's
    parser reads backslashes in string literals as PostgreSQL does only when it is on.
    """
    rows = [CatalogRow(*row) for row in await connection.execute(_CATALOG_QUERY)]
    for row in rows:
        if row.kind == "setting" and row.code != "on":
            raise ConfigurationError(
                "standard_conforming_strings is off on this database; the SQL guard needs "
                "it on (ALTER DATABASE ... SET standard_conforming_strings = on)")
    return FunctionCatalog.from_rows(rows)

"""The SQL guard: free-form queries from a model are parsed by PostgreSQL's own parser
(pglast) and accepted only if they are exactly one plain SELECT (WITH, UNION and
subqueries allowed), or an EXPLAIN of one without ANALYZE, that calls only allowlisted
functions and reads only the retail tables.

Rejections raise ``QueryRejectedError`` with a message a model can act on; they name at
most the offending identifier. Decisions are cached per query text.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pglast
from pglast.parser import ParseError

from zava.errors import QueryRejectedError
from zava.security.function_catalog import FunctionCatalog, load_function_catalog

__all__ = ["GuardedQuery", "SqlGuard", "load_function_catalog"]

SCHEMA = "retail"
MAX_QUERY_CHARS = 100_000
_SCHEMA_HINT = "call get_multiple_table_schemas to see the tables"
_WRITE_NODES = {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"}
_UNSUPPORTED_NODES = {
    "RangeTableFunc": "XMLTABLE is not supported",
    "JsonTable": "JSON_TABLE is not supported",
    "IntoClause": "SELECT INTO is not allowed: queries cannot create tables",
    "LockingClause": "FOR UPDATE/SHARE is not allowed: queries are read-only",
}
_SAMPLE_METHODS = {"system", "bernoulli"}


@dataclass(frozen=True)
class GuardedQuery:
    """A query the guard accepted: the statement text to run and what it touches."""

    sql: str
    is_explain: bool
    tables: frozenset[str]
    fingerprint: str


def _reject(message: str) -> QueryRejectedError:
    return QueryRejectedError(message)


def _names(nodes: list[dict[str, Any]] | None) -> list[str]:
    return [n.get("sval", "") for n in nodes or [] if n.get("@") == "String"]


class _Walk:
    """One query's walk: relations resolved against CTE scopes, every function checked."""

    def __init__(self, catalog: FunctionCatalog, tables: frozenset[str]) -> None:
        self.catalog = catalog
        self.tables = tables
        self.used: set[str] = set()

    def node(self, value: Any, scope: tuple[frozenset[str], ...]) -> None:
        if isinstance(value, list | tuple):
            for item in value:
                self.node(item, scope)
            return
        if not isinstance(value, dict):
            return
        kind = value.get("@")
        if kind in _WRITE_NODES:
            raise _reject("only SELECT is allowed: queries cannot insert, update or delete")
        if kind in _UNSUPPORTED_NODES:
            raise _reject(_UNSUPPORTED_NODES[kind])
        if kind == "SelectStmt":
            self.select(value, scope)
            return
        if kind == "RangeVar":
            self.relation(value, scope)
        elif kind == "FuncCall":
            self.function(_names(value.get("funcname")))
        elif kind == "TypeName":
            self.type_name(_names(value.get("names")))
        elif kind == "A_Expr":
            self.operator(_names(value.get("name")))
        elif kind == "RangeTableSample":
            method = _names(value.get("method"))
            if len(method) != 1 or method[0].lower() not in _SAMPLE_METHODS:
                raise _reject("TABLESAMPLE supports only SYSTEM and BERNOULLI")
            self.node(value.get("relation"), scope)
            self.node(value.get("args"), scope)
            self.node(value.get("repeatable"), scope)
            return
        for key, child in value.items():
            if key != "@" and isinstance(child, dict | list | tuple):
                self.node(child, scope)

    def select(self, stmt: dict[str, Any], scope: tuple[frozenset[str], ...]) -> None:
        with_clause = stmt.get("withClause")
        if with_clause:
            ctes = with_clause.get("ctes") or []
            names = [c.get("ctename", "") for c in ctes]
            recursive = bool(with_clause.get("recursive"))
            for index, cte in enumerate(ctes):
                # A plain WITH sees only the CTEs before it; WITH RECURSIVE sees them all.
                visible = frozenset(names if recursive else names[:index])
                self.node(cte.get("ctequery"), (*scope, visible))
            scope = (*scope, frozenset(names))
        for key, child in stmt.items():
            if key not in ("@", "withClause") and isinstance(child, dict | list | tuple):
                self.node(child, scope)

    def relation(self, var: dict[str, Any], scope: tuple[frozenset[str], ...]) -> None:
        schema, name = var.get("schemaname"), var.get("relname", "")
        if var.get("catalogname"):
            raise _reject(f"table {name} is not available; {_SCHEMA_HINT}")
        if schema is None and any(name in names for names in scope):
            return
        if schema in (None, SCHEMA) and name in self.tables:
            self.used.add(name)
            return
        raise _reject(f"table {name[:63]} is not available; query the retail tables "
                      f"({_SCHEMA_HINT})")

    def function(self, parts: list[str]) -> None:
        schema, name = (parts[0], parts[-1]) if len(parts) == 2 else (None, parts[-1])
        if len(parts) > 2 or not self.catalog.allows_function(schema, name):
            raise _reject(f"function {name[:63]} is not allowed in queries; Zava queries are "
                          "read-only, run as the caller, and may use built-in functions only")

    def type_name(self, parts: list[str]) -> None:
        schema, name = (parts[0], parts[-1]) if len(parts) == 2 else (None, parts[-1])
        if len(parts) > 2 or not self.catalog.allows_type(schema, name):
            raise _reject(f"type {name[:63]} is not allowed in queries; use built-in types")

    def operator(self, parts: list[str]) -> None:
        if len(parts) == 2 and parts[0] not in self.catalog.schemas:
            raise _reject(f"operators from schema {parts[0][:63]} are not allowed")


def _explain_target(stmt: dict[str, Any]) -> dict[str, Any]:
    for option in stmt.get("options") or []:
        if option.get("defname", "").lower() in ("analyze", "analyse"):
            raise _reject("EXPLAIN ANALYZE is not allowed; use EXPLAIN without ANALYZE "
                          "(or explain_sales_query)")
    query: dict[str, Any] = stmt.get("query") or {}
    if query.get("@") != "SelectStmt":
        raise _reject("only EXPLAIN of a SELECT is allowed")
    return query


def _statements(sql: str) -> Iterator[Any]:
    try:
        yield from pglast.parse_sql(sql)
    except ParseError as exc:
        raise _reject(f"syntax error: {str(exc)[:160]}; write one PostgreSQL SELECT") from None


class SqlGuard:
    """Accepts or rejects free-form SQL; ``check`` is cached per query text."""

    def __init__(self, catalog: FunctionCatalog, readable_tables: frozenset[str], *,
                 max_chars: int = MAX_QUERY_CHARS, cache_size: int = 4096) -> None:
        self.catalog = catalog
        self.tables = readable_tables
        self.max_chars = max_chars
        self._cache: OrderedDict[str, GuardedQuery | str] = OrderedDict()
        self._cache_size = cache_size

    def check(self, sql: str) -> GuardedQuery:
        """The accepted query, or ``QueryRejectedError`` saying what to change."""
        cached = self._cache.get(sql)
        if cached is None:
            try:
                cached = self._decide(sql)
            except QueryRejectedError as exc:
                cached = exc.message
            self._cache[sql] = cached
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(sql)
        if isinstance(cached, str):
            raise _reject(cached)
        return cached

    def _decide(self, sql: str) -> GuardedQuery:
        if len(sql) > self.max_chars:
            raise _reject(f"the query is longer than {self.max_chars} characters; shorten it")
        if not sql.strip():
            raise _reject("the query is empty; write one PostgreSQL SELECT")
        statements = list(_statements(sql))
        if len(statements) != 1:
            raise _reject("only one SELECT statement is allowed; remove the other "
                          f"{len(statements) - 1 if statements else 0} statement(s)"
                          if statements else "the query is empty; write one SELECT")
        raw = statements[0]
        tree = raw.stmt(skip_none=True)
        kind = tree.get("@")
        is_explain = kind == "ExplainStmt"
        if is_explain:
            select = _explain_target(tree)
        elif kind == "SelectStmt":
            select = tree
        else:
            raise _reject(f"only SELECT is allowed (got {kind.removesuffix('Stmt').upper()}); "
                          "queries are read-only")
        walk = _Walk(self.catalog, self.tables)
        walk.node(select, ())
        encoded = sql.encode()
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(encoded)
        text = encoded[start:end].decode().strip()
        return GuardedQuery(sql=text, is_explain=is_explain, tables=frozenset(walk.used),
                            fingerprint=pglast.parser.fingerprint(text))

"""The SQL guard: free-form SQL from a model runs only if PostgreSQL's own parser (pglast,
libpg_query) reads it as exactly one plain SELECT, or an EXPLAIN of one without ANALYZE,
built only from known node types, that reads only the retail tables and names only
allowlisted functions, types and operator schemas (see ``function_catalog``).

The parse tree is walked iteratively as libpg_query's JSON. A wrapped node is a one-key
object named after its type (``{"FuncCall": {...}}``); fields that point at one struct
type hold the struct directly, so the checks key on field names found in any struct
(``funcname``, ``relname``, ``names``...) and hold wherever a node stands. Rejections raise
``QueryRejectedError`` with a message that names at most the offending identifier.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from zava.cache.lru import Lru
from zava.db.models import SCHEMA
from zava.errors import QueryRejectedError
from zava.security.function_catalog import FunctionCatalog, load_function_catalog

__all__ = ["FunctionCatalog", "GuardedQuery", "SqlGuard", "load_function_catalog"]

MAX_QUERY_CHARS = 100_000
INLINE_CHECK_CHARS = 4_096
"""Queries up to this size are checked on the event loop (under a millisecond)."""
MAX_NODES = 60_000
"""Parse-tree nodes one query may have: the guard's work (and memory) is bounded."""
MAX_WITH_DEPTH = 32
"""How deeply WITH clauses may nest (each level adds a step to every table lookup)."""
_SCHEMA_HINT = "query the retail tables (call get_multiple_table_schemas to see them)"
_READ_ONLY = "Zava queries are read-only and run as the caller"

_NODE_KINDS = frozenset({
    "SelectStmt", "ResTarget", "ColumnRef", "A_Star", "A_Const", "String", "Integer",
    "Float", "Boolean", "BitString", "List", "A_Expr", "BoolExpr", "NullTest", "BooleanTest",
    "SubLink", "CaseExpr", "CaseWhen", "CoalesceExpr", "MinMaxExpr", "RowExpr",
    "A_ArrayExpr", "A_Indirection", "A_Indices", "TypeCast", "TypeName", "CollateClause",
    "FuncCall", "NamedArgExpr", "WindowDef", "SortBy", "RangeVar", "RangeSubselect",
    "RangeFunction", "RangeTableSample", "JoinExpr", "CommonTableExpr", "Alias", "ColumnDef",
    "GroupingSet", "GroupingFunc", "SQLValueFunction", "JsonValueExpr", "JsonOutput",
    "JsonReturning", "JsonFormat", "JsonKeyValue", "JsonObjectConstructor",
    "JsonArrayConstructor", "JsonArrayQueryConstructor", "JsonAggConstructor",
    "JsonObjectAgg", "JsonArrayAgg", "JsonFuncExpr", "JsonIsPredicate", "JsonParseExpr",
    "JsonScalarExpr", "JsonSerializeExpr", "JsonBehavior", "JsonArgument", "JsonTable",
    "JsonTableColumn", "JsonTablePathSpec",
})
"""Parse-node types a query may contain; anything else is refused."""
_LEAF_KINDS = frozenset({"A_Const", "String", "Integer", "Float", "Boolean", "BitString",
                         "A_Star", "SQLValueFunction"})
"""Allowed nodes with nothing to check inside (names are checked by their parent)."""
_CHECKED_FIELDS = frozenset({"withClause", "intoClause", "funcname", "relname", "names",
                             "name", "operName", "useOp", "collname", "fields", "indirection"})
"""Struct fields ``_Walk.struct`` checks; a struct with none of them needs no look."""

_REFUSED_KINDS = {
    "ParamRef": "query parameters ($1) are not supported; write the values in the query",
    "LockingClause": "FOR UPDATE/SHARE is not allowed; " + _READ_ONLY,
    "IntoClause": "SELECT INTO is not allowed; " + _READ_ONLY,
    "XmlExpr": "XML functions are not supported",
    "XmlSerialize": "XML functions are not supported",
    "RangeTableFunc": "XMLTABLE is not supported",
}
_EXPLAIN_OPTIONS = frozenset({"verbose", "costs", "settings", "generic_plan", "buffers",
                              "summary", "memory", "format"})
_SAMPLE_METHODS = frozenset({"system", "bernoulli"})
_SYSTEM_COLUMNS = frozenset({"ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"})
_STATEMENT_NAMES = {"VariableSetStmt": "SET/RESET", "VariableShowStmt": "SHOW",
                    "TransactionStmt": "a transaction command"}


@dataclass(frozen=True)
class GuardedQuery:
    """A query the guard accepted: the statement to run and what it touches."""

    sql: str
    """The statement text, trimmed, without a trailing semicolon."""
    is_explain: bool
    """True for an EXPLAIN (without ANALYZE) of a SELECT."""
    tables: frozenset[str]
    """The retail tables the query reads."""


def _ident(name: str) -> str:
    """An identifier fit to quote back: at most 63 printable characters."""
    return "".join(c if c.isprintable() else "?" for c in name[:63])


def _names(nodes: object) -> list[str]:
    """The strings of a name list (``[{"String": {"sval": ...}}, ...]``)."""
    if not isinstance(nodes, list):
        raise QueryRejectedError("the query has a name the guard cannot read")
    names = []
    for node in nodes:
        string = node.get("String") if isinstance(node, dict) else None
        if not isinstance(string, dict):
            raise QueryRejectedError("the query has a name the guard cannot read")
        names.append(str(string.get("sval", "")))
    if not names:
        raise QueryRejectedError("the query has a name the guard cannot read")
    return names


@dataclass(frozen=True, slots=True)
class _Ctes:
    """The CTE names in scope, as a chain of WITH clauses: in each, the names defined
    before position ``visible`` (a CTE sees the ones before it; the rest of the statement
    sees all of them). Made in O(1) per CTE, so a WITH of n CTEs costs O(n), not O(n^2)."""

    positions: dict[str, int]
    visible: int
    parent: _Ctes | None
    depth: int

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        scope: _Ctes | None = self
        while scope is not None:
            position = scope.positions.get(name)
            if position is not None and position < scope.visible:
                return True
            scope = scope.parent
        return False


_NO_CTES = _Ctes({}, 0, None, 0)


@dataclass(frozen=True, slots=True)
class _Scope:
    """A stack marker: from here on, the CTE names in scope are ``ctes``."""

    ctes: _Ctes


class _Walk:
    """One query's walk: every node checked, relations resolved against CTE scopes."""

    def __init__(self, catalog: FunctionCatalog, tables: frozenset[str]) -> None:
        self.catalog = catalog
        self.tables = tables
        self.used: set[str] = set()

    def run(self, root: dict[str, Any]) -> None:
        """Walk the tree depth-first. The CTE names in scope change only at a WITH, so
        the stack holds plain nodes, and a ``_Scope`` marker where the scope changes."""
        ctes = _NO_CTES
        stack: list[object] = [root]
        push, pop = stack.append, stack.pop
        nodes = 0
        while stack:
            value = pop()
            nodes += 1
            if nodes > MAX_NODES:
                raise QueryRejectedError(
                    f"the query has more than {MAX_NODES:,} parts; simplify it (fewer "
                    "expressions, CTEs or UNIONs)")
            if type(value) is not dict:
                if type(value) is _Scope:
                    ctes = value.ctes
                continue
            if len(value) == 1:
                kind = next(iter(value))
                if kind[0].isupper():  # a wrapped node: {"Kind": {fields}}
                    if kind in _LEAF_KINDS:
                        continue
                    value = value[kind]
                    self.kind(kind, value)
                    if type(value) is not dict:
                        continue
            if not _CHECKED_FIELDS.isdisjoint(value):
                self.struct(value, ctes)
                if "withClause" in value:
                    push(_Scope(ctes))  # restored once this struct's subtree is done
                    ctes = self.with_clause(value["withClause"], ctes, push)
            for key, child in value.items():
                if type(child) is list:
                    stack.extend(child)
                elif type(child) is dict and key != "withClause":
                    push(child)

    def kind(self, kind: str, body: dict[str, Any]) -> None:
        if kind in _NODE_KINDS:
            if kind == "RangeTableSample":
                method = _names(body.get("method"))
                if method[-1] not in _SAMPLE_METHODS or method[:-1] not in ([], ["pg_catalog"]):
                    raise QueryRejectedError("TABLESAMPLE supports only SYSTEM and BERNOULLI")
            return
        if kind in _REFUSED_KINDS:
            raise QueryRejectedError(_REFUSED_KINDS[kind])
        if kind.endswith("Stmt"):
            raise QueryRejectedError(
                f"only SELECT is allowed; {kind.removesuffix('Stmt').upper()} cannot be used "
                f"inside a query ({_READ_ONLY})")
        raise QueryRejectedError(f"{kind} is not supported in queries; write a plain SELECT")

    def with_clause(self, clause: dict[str, Any], ctes: _Ctes,
                    push: Callable[[object], None]) -> _Ctes:
        """Queue the CTEs, each seeing the names before it (all of them if RECURSIVE);
        return the names the rest of the statement sees."""
        if ctes.depth >= MAX_WITH_DEPTH:
            raise QueryRejectedError(
                f"WITH clauses are nested more than {MAX_WITH_DEPTH} deep; flatten them")
        entries = clause.get("ctes") or []
        positions: dict[str, int] = {}
        for index, entry in enumerate(entries):
            positions.setdefault(str(entry.get("CommonTableExpr", {}).get("ctename", "")), index)
        everything = _Ctes(positions, len(entries), ctes, ctes.depth + 1)
        recursive = bool(clause.get("recursive"))
        for index, entry in enumerate(entries):
            push(_Scope(ctes))
            push(entry)
            push(_Scope(everything if recursive
                        else _Ctes(positions, index, ctes, ctes.depth + 1)))
        return everything

    def struct(self, body: dict[str, Any], ctes: _Ctes) -> None:
        """Check the fields of one struct (``ctes``: the CTE names in scope)."""
        if "intoClause" in body:
            raise QueryRejectedError(_REFUSED_KINDS["IntoClause"])
        if "funcname" in body:
            self.function(_names(body["funcname"]))
        if "relname" in body:
            self.relation(body, ctes)
        if "names" in body:
            self.type_name(_names(body["names"]))
        for key in ("name", "operName", "useOp"):  # A_Expr, SubLink, SortBy
            if isinstance(body.get(key), list):
                self.operator(_names(body[key]))
        if "collname" in body and _names(body["collname"])[:-1] not in ([], ["pg_catalog"]):
            raise QueryRejectedError("only pg_catalog collations may be schema-qualified")
        if "fields" in body:  # ColumnRef: t.f may call f(t)
            self.attributes(body["fields"], first=1)
        if "indirection" in body:  # (expr).f may call f(expr)
            self.attributes(body["indirection"], first=0)

    def function(self, parts: list[str]) -> None:
        if len(parts) == 1:
            allowed = parts[0] in self.catalog.functions
        else:
            allowed = len(parts) == 2 and (parts[0], parts[1]) in self.catalog.qualified_functions
        if not allowed:
            raise QueryRejectedError(f"function {_ident(parts[-1])} is not allowed in queries; "
                                     f"{_READ_ONLY}")

    def relation(self, var: dict[str, Any], ctes: _Ctes) -> None:
        name, schema = str(var["relname"]), var.get("schemaname")
        if schema is None and name in ctes:
            return
        if schema in (None, SCHEMA) and name in self.tables and "catalogname" not in var:
            self.used.add(name)
            return
        raise QueryRejectedError(f"table {_ident(name)} is not available; {_SCHEMA_HINT}")

    def type_name(self, parts: list[str]) -> None:
        if len(parts) == 1:
            allowed = parts[0] in self.catalog.types
        else:
            allowed = len(parts) == 2 and (parts[0], parts[1]) in self.catalog.qualified_types
        if not allowed:
            raise QueryRejectedError(f"type {_ident(parts[-1])} is not allowed in queries; "
                                     "cast to built-in types only")

    def operator(self, parts: list[str]) -> None:
        if len(parts) > 2 or (len(parts) == 2 and parts[0] not in self.catalog.schemas):
            raise QueryRejectedError(f"operators from schema {_ident(parts[0])} are not allowed; "
                                     "use the built-in operators")

    def attributes(self, fields: object, *, first: int) -> None:
        """Refuse system columns anywhere in a dotted name, and denied function names from
        position ``first`` on (a lone name is a column or a table, never a call)."""
        if not isinstance(fields, list):
            return
        for position, field in enumerate(fields):
            name = field.get("String", {}).get("sval") if isinstance(field, dict) else None
            if name in _SYSTEM_COLUMNS:
                raise QueryRejectedError(f"system column {name} is not available; select the "
                                         "table's own columns")
            if position >= first and name in self.catalog.denied_functions:
                raise QueryRejectedError(
                    f"the name {_ident(name)} is not allowed after a dot: x.{_ident(name)} calls "
                    f"the function {_ident(name)}; alias that column differently")


def _pg_parser() -> ModuleType:
    """pglast's parser, imported when first needed (the guard imports it when built):
    pglast's package imports its enums and AST classes, which a server need not import
    before it answers ``initialize`` (benchmarks/startup.py)."""
    from pglast import parser

    return parser


def _parse(sql: str) -> list[dict[str, Any]]:
    """The statements of the parse tree, or a rejection for text that does not parse."""
    if "\x00" in sql:
        raise QueryRejectedError("the query contains a NUL character; remove it")
    parser = _pg_parser()
    try:
        tree = json.loads(parser.parse_sql_json(sql))
    except parser.ParseError as exc:
        message = str(exc.args[0]) if exc.args else "syntax error"
        before, near, token = message.partition(' at or near "')
        if near:  # the token may run to the end of the query (an unterminated string)
            message = f'{before} near "{_ident(token.removesuffix(chr(34)))[:40]}"'
        if len(exc.args) > 1 and isinstance(exc.args[1], int):
            message = f"{message[:160]} (character {exc.args[1] + 1})"
        raise QueryRejectedError(f"{message[:200]}; write one PostgreSQL SELECT") from None
    except RecursionError:
        raise QueryRejectedError("the query is nested too deeply; simplify it") from None
    except UnicodeError:
        raise QueryRejectedError("the query is not valid Unicode text") from None
    statements: list[dict[str, Any]] = tree.get("stmts", [])
    return statements


def _turns_off(option: dict[str, Any]) -> bool:
    """True for an EXPLAIN option set to a false boolean (off, false, no, 0)."""
    arg = option.get("arg") or {}
    if "Integer" in arg:
        return not arg["Integer"].get("ival", 0)
    text = str(arg.get("String", {}).get("sval", "true")).lower()
    return text in ("off", "false", "no", "0")


def _explained_select(explain: dict[str, Any]) -> dict[str, Any]:
    costs_off = False
    for option in explain.get("options") or []:
        name = str(option.get("DefElem", {}).get("defname", "")).lower()
        if name == "costs":
            costs_off = _turns_off(option["DefElem"])
        if name in ("analyze", "analyse"):
            raise QueryRejectedError("EXPLAIN ANALYZE is not allowed; use EXPLAIN without "
                                     "ANALYZE (it runs the query)")
        if name not in _EXPLAIN_OPTIONS:
            raise QueryRejectedError(f"EXPLAIN option {_ident(name)} is not allowed; use "
                                     f"{', '.join(sorted(_EXPLAIN_OPTIONS))}")
    query: dict[str, Any] = explain.get("query") or {}
    if "SelectStmt" not in query:
        raise QueryRejectedError("only EXPLAIN of a SELECT is allowed")
    if not costs_off:
        # Cost and row estimates come from statistics over every store's rows: they would
        # tell one manager another store's volumes.
        raise QueryRejectedError("EXPLAIN must turn costs off here: write EXPLAIN "
                                 "(COSTS OFF) SELECT ..., or call explain_sales_query")
    return query


class SqlGuard:
    """Accepts or rejects free-form SQL. ``check`` is cached per exact text (an LRU of
    ``cache_size`` entries, queries up to ``cache_max_chars``); ``check_async`` runs the
    check of a long query in a worker thread, so it never stalls the event loop. The work
    is linear in the query's size and bounded (``MAX_NODES``, ``MAX_WITH_DEPTH``)."""

    def __init__(self, catalog: FunctionCatalog, readable_tables: Iterable[str], *,
                 max_chars: int = MAX_QUERY_CHARS, cache_size: int = 2048,
                 cache_max_chars: int = 16_384) -> None:
        _pg_parser()  # imported now, while the runtime opens, not by the first query
        self.catalog = catalog
        self.tables = frozenset(readable_tables)
        self.max_chars = max_chars
        self._cache: Lru[str, GuardedQuery | str] = Lru(cache_size)
        self._cache_max_chars = cache_max_chars

    async def check_async(self, sql: str) -> GuardedQuery:
        """``check``, in a worker thread when ``sql`` is long enough to take a while."""
        if len(sql) <= INLINE_CHECK_CHARS:
            return self.check(sql)
        return await asyncio.to_thread(self.check, sql)

    def check(self, sql: str) -> GuardedQuery:
        """The accepted query, or ``QueryRejectedError`` saying what to change."""
        if len(sql) > self.max_chars:  # before hashing or parsing it
            raise QueryRejectedError(
                f"the query is longer than {self.max_chars} characters; shorten it")
        decision = self._cache.get(sql)
        if decision is None:
            try:
                decision = self._decide(sql)
            except QueryRejectedError as exc:
                decision = exc.message
            if len(sql) <= self._cache_max_chars:
                self._cache.put(sql, decision)
        if isinstance(decision, str):
            raise QueryRejectedError(decision)
        return decision

    def _decide(self, sql: str) -> GuardedQuery:
        statements = _parse(sql)
        if not statements:
            raise QueryRejectedError("the query is empty; write one PostgreSQL SELECT")
        if len(statements) > 1:
            which = "second statement" if len(statements) == 2 else "statements after the first"
            raise QueryRejectedError(f"only one SELECT statement is allowed; remove the {which}")
        raw = statements[0]
        kind, body = next(iter(raw["stmt"].items()))
        if kind == "ExplainStmt":
            select = _explained_select(body)
        elif kind == "SelectStmt":
            select = raw["stmt"]
        else:
            raise QueryRejectedError(f"only SELECT is allowed (got {_statement_name(kind)}); "
                                     f"{_READ_ONLY}")
        walk = _Walk(self.catalog, self.tables)
        walk.run(select)
        start = raw.get("stmt_location", 0)
        encoded = sql.encode()
        end = start + raw["stmt_len"] if raw.get("stmt_len") else len(encoded)
        return GuardedQuery(sql=encoded[start:end].decode().strip(),
                            is_explain=kind == "ExplainStmt", tables=frozenset(walk.used))


def _statement_name(kind: str) -> str:
    """``CreateTableAsStmt`` -> ``CREATE TABLE AS``: a statement a model can recognise."""
    if kind in _STATEMENT_NAMES:
        return _STATEMENT_NAMES[kind]
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", kind.removesuffix("Stmt")).upper()

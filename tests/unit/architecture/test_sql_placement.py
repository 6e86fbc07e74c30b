"""SQL is built only where docs/architecture.md says: db/, repositories/, provision/ and the
guard (security/sql_guard.py, security/function_catalog.py).

Every other module of zava/ is parsed with ``ast`` and must have no ``sqlalchemy.text``
(imported or called) and no string literal that reads as SQL: a statement keyword at the
start of the string or after a ``;`` (SELECT ... FROM, WITH x AS (, INSERT INTO,
UPDATE x SET, DELETE FROM, CREATE/DROP/ALTER TABLE|INDEX|ROLE|..., SET [LOCAL] ROLE or
another setting, GRANT, REVOKE, TRUNCATE, EXPLAIN, COPY, BEGIN, VACUUM, ANALYZE, LOCK
TABLE), or ``set_config(`` anywhere. Keywords are matched in capitals, the way Zava
writes SQL, so that prose ("Select the stores from...", "Analyze the trend") is not
taken for it. f-strings are read whole, with their placeholders.
Docstrings, and any other string that is a statement on its own, are exempt. Each
offender is printed as ``file:line``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "zava"

ALLOWED = (
    "zava/db/",
    "zava/repositories/",
    "zava/provision/",
    "zava/security/sql_guard.py",
    "zava/security/function_catalog.py",
    # The demo is an MCP client: its SQL is what a model would send to
    # execute_sales_query (a question, and an attack the guard must refuse), never run here.
    "zava/demo.py",
)

_START = r"(?:\A|;)[\s(]*"
_STATEMENT = "|".join([
    r"SELECT\b.*?\bFROM\b",
    r"WITH\s+(?:RECURSIVE\s+)?\w+(?:\s*\([^)]*\))?\s+AS\s+(?:(?:NOT\s+)?MATERIALIZED\s+)?\(",
    r"INSERT\s+INTO\b",
    r"UPDATE\s+[\w.\"{}]+\s+SET\b",
    r"DELETE\s+FROM\b",
    r"(?:CREATE|DROP|ALTER)\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+)?(?:TEMP(?:ORARY)?\s+)?"
    r"(?:TABLE|INDEX|ROLE|USER|SCHEMA|FUNCTION|PROCEDURE|VIEW|MATERIALIZED\s+VIEW|EXTENSION"
    r"|POLICY|TRIGGER|SEQUENCE|TYPE|DATABASE)\b",
    r"SET\s+(?:LOCAL\s+|SESSION\s+)?(?:ROLE\b|[\w.]+\s*(?:=|\bTO\b))",
    r"(?:GRANT|REVOKE)\s+\w+",
    r"TRUNCATE\b",
    r"EXPLAIN\b",
    r"COPY\s+[\w.\"{}]+",
    r"(?:BEGIN|START\s+TRANSACTION)\b",
    r"(?:VACUUM|ANALYZE|REINDEX)\b",
    r"LOCK\s+TABLE\b",
])
SQL = re.compile(rf"{_START}(?:{_STATEMENT})", re.DOTALL)
SET_CONFIG = re.compile(r"\bset_config\s*\(", re.IGNORECASE)


def modules() -> Iterator[Path]:
    """Every module of zava/ outside the places allowed to hold SQL."""
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not relative.startswith(ALLOWED):
            yield path


def looks_like_sql(value: str) -> bool:
    return bool(SQL.search(value) or SET_CONFIG.search(value))


def _fstring_text(node: ast.JoinedStr) -> str:
    """The f-string with ``{}`` for each placeholder."""
    return "".join(
        part.value if isinstance(part, ast.Constant) and isinstance(part.value, str) else "{}"
        for part in node.values)


def _sqlalchemy_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Local names bound to ``sqlalchemy.text`` and to sqlalchemy modules."""
    text_names: set[str] = set()
    module_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            for alias in node.names:
                if alias.name == "text":
                    text_names.add(alias.asname or alias.name)
                elif alias.name in ("sql", "expression"):
                    module_names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sqlalchemy"):
                    module_names.add(alias.asname or alias.name.split(".")[0])
    return text_names, module_names


def offences(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line: what`` for each SQL construction in ``path`` (named from ``root``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    relative = path.relative_to(root).as_posix()
    found: list[tuple[int, str]] = []

    exempt: set[int] = set()  # string statements (docstrings) and f-string fragments
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            exempt.add(id(node.value))
        elif isinstance(node, ast.JoinedStr):
            exempt.update(id(part) for part in ast.walk(node) if part is not node)

    text_names, module_names = _sqlalchemy_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            if any(alias.name == "text" for alias in node.names):
                found.append((node.lineno, f"imports sqlalchemy text from {node.module}"))
        elif isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name) and function.id in text_names:
                found.append((node.lineno, "calls sqlalchemy text()"))
            elif (isinstance(function, ast.Attribute) and function.attr == "text"
                  and isinstance(function.value, ast.Name) and function.value.id in module_names):
                found.append((node.lineno, f"calls {function.value.id}.text()"))
        elif isinstance(node, ast.JoinedStr) and id(node) not in exempt:
            if looks_like_sql(_fstring_text(node)):
                found.append((node.lineno, f"SQL in an f-string: {_fstring_text(node)[:60]!r}"))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in exempt and looks_like_sql(node.value)):
            found.append((node.lineno, f"SQL in a string: {node.value[:60]!r}"))
    return [f"{relative}:{line}: {what}" for line, what in sorted(found)]


def test_no_sql_outside_db_repositories_provision_and_the_guard() -> None:
    found = [line for path in modules() for line in offences(path)]
    for line in found:
        print(line)
    assert not found, "SQL built outside its layers:\n" + "\n".join(found)


def test_the_check_scans_the_package() -> None:
    scanned = {p.relative_to(ROOT).as_posix() for p in modules()}
    assert "zava/server/runtime.py" in scanned and "zava/services/search.py" in scanned
    assert not any(p.startswith(("zava/db/", "zava/repositories/")) for p in scanned)


@pytest.mark.parametrize("value", [
    "SELECT count(*) FROM retail.stores",
    "  SELECT 1 FROM t",
    "(SELECT x\n FROM y)",
    "WITH recent AS (SELECT 1) SELECT * FROM recent",
    "INSERT INTO retail.orders VALUES (1)",
    "UPDATE retail.products SET embedding = NULL",
    "DELETE FROM retail.orders",
    "CREATE INDEX CONCURRENTLY ix ON t (c)",
    "DROP TABLE IF EXISTS x",
    "ALTER ROLE zava_app LOGIN",
    "SET ROLE zava_reader",
    "SET LOCAL statement_timeout = 1000",
    "BEGIN READ ONLY; SET LOCAL ROLE zava_reader",
    "GRANT SELECT ON ALL TABLES IN SCHEMA retail TO zava_reader",
    "TRUNCATE retail.orders",
    "EXPLAIN (FORMAT JSON) SELECT 1",
    "COPY retail.orders FROM STDIN",
    "SELECT set_config('app.current_rls_user_id', $1, true)",
    "ANALYZE retail.products",
])
def test_sql_is_recognised(value: str) -> None:
    assert looks_like_sql(value)


@pytest.mark.parametrize("value", [
    "only one SELECT statement is allowed",
    "explain_sales_query",
    "Select the stores from the list",
    "run `zava db upgrade`, then GRANT zava_reader TO the login",
    "the query was rejected: UPDATE is not allowed",
    "a setting the session may change",
    "Setting up the embedded PostgreSQL",
    "Grant access by token",
    "Analyze the sales trend, then explain it",
    "select 1 from t",  # keywords are matched in capitals, as Zava writes SQL
])
def test_prose_is_not_sql(value: str) -> None:
    assert not looks_like_sql(value)


def test_docstrings_are_exempt_and_code_is_not(tmp_path: Path) -> None:
    probe = tmp_path / "zava" / "server" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        '"""Runs SELECT count(*) FROM retail.stores for you."""\n'
        "from sqlalchemy import text\n"
        "def f(table):\n"
        '    """DELETE FROM nothing: a docstring."""\n'
        '    query = f"SELECT * FROM {table}"\n'
        "    return text(query), 'SET ROLE zava_reader'\n"
    )
    assert [line.split(": ")[0] for line in offences(probe, tmp_path)] == [
        "zava/server/probe.py:2", "zava/server/probe.py:5", "zava/server/probe.py:6",
        "zava/server/probe.py:6"]

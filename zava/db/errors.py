"""PostgreSQL errors turned into Zava errors a caller can act on, without internals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import asyncpg
from sqlalchemy import exc as sa_exc

from zava.db.connect import is_connection_failure
from zava.errors import (
    DatabaseError,
    DatabaseUnavailableError,
    QueryRejectedError,
    QueryTimeoutError,
    ZavaError,
)
from zava.observability import tracing

_DATABASE_FAILURES = (sa_exc.SQLAlchemyError, asyncpg.PostgresError, asyncpg.InterfaceError,
                      OSError)
_NO_SPAN: nullcontext[None] = nullcontext()
_SCHEMA_HINT = "call get_multiple_table_schemas to see the tables and their columns"


def _postgres_error(error: BaseException) -> asyncpg.PostgresError | None:
    if isinstance(error, asyncpg.PostgresError):
        return error
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        cause = error.orig.__cause__
        if isinstance(cause, asyncpg.PostgresError):
            return cause
    return None


def _condition(error: asyncpg.PostgresError) -> str:
    """The SQLSTATE condition in words: ``InvalidTextRepresentationError`` ->
    "invalid text representation"."""
    name = type(error).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower() or "invalid value"


def _quoted(message: str) -> str:
    found = re.search(r'"([^"]{1,80})"', message)
    return found.group(1) if found else "?"


def to_zava_error(error: BaseException) -> ZavaError:
    """The Zava error for a database failure; the message names no server internals."""
    if isinstance(error, ZavaError):
        return error
    if is_connection_failure(error):
        return DatabaseUnavailableError(
            "the query was interrupted: the database connection was lost while it ran. "
            "It was not retried automatically (it may already have run); run it again shortly"
        )
    pg = _postgres_error(error)
    if pg is None:
        return DatabaseError("the database call failed unexpectedly")
    state = pg.sqlstate or ""
    message = str(pg.args[0]) if pg.args else ""
    if state == "57014":
        return QueryTimeoutError(
            "the query ran past its time limit and was cancelled; filter by date or store, "
            "aggregate, or add a LIMIT"
        )
    if state in ("55P03", "40P01"):
        return QueryTimeoutError("the query waited too long for a lock; try again")
    if state == "42703":
        return DatabaseError(f'column "{_quoted(message)}" does not exist; {_SCHEMA_HINT}',
                             code="undefined_column")
    if state == "42P01":
        return DatabaseError(f'table "{_quoted(message)}" does not exist; {_SCHEMA_HINT}',
                             code="undefined_table")
    if state == "42883":
        return DatabaseError(
            "no function or operator matches the given name and argument types; "
            "check the argument types and add explicit casts", code="undefined_function")
    if state == "42501":
        return QueryRejectedError("permission denied: queries may only read the retail tables")
    if state == "25006":
        return QueryRejectedError("queries are read-only; only SELECT is allowed")
    if state == "42601":
        # The guard parsed the query, so a syntax error now comes from a function parsing
        # a value (to_tsquery, jsonpath...), and its message quotes that value.
        return DatabaseError(
            "a function could not parse a value it was given (a tsquery, jsonpath or "
            "similar); check what the query passes to it", code="invalid_value")
    if state.startswith("42"):
        return DatabaseError(f"the query is invalid: {message[:200]}", code="invalid_query")
    if state.startswith("22"):
        # PostgreSQL's message quotes the offending value, which may be database text:
        # only the condition's name goes back.
        return DatabaseError(
            f"a value in the query is invalid ({_condition(pg)}); check the casts, "
            "literals and functions applied to column values", code="invalid_value")
    if state.startswith("54"):
        return DatabaseError(
            f"the query exceeds a database limit ({_condition(pg)}); aggregate or select "
            "less (a value may not exceed 1 GB, nor an expression nest too deeply)",
            code="query_too_large")
    if state == "53400":
        return DatabaseError(
            "the query needs more temporary disk space than a call may use (temp_file_limit);"
            " filter or aggregate so it sorts and hashes less", code="query_too_large")
    if state.startswith("53"):
        return DatabaseUnavailableError("the database is out of resources; try a smaller query")
    return DatabaseError(f"the database refused the query (SQLSTATE {state})")


@contextmanager
def translate_errors(span: str | None = "zava.query") -> Iterator[None]:
    """Re-raise database failures inside the block as Zava errors. The block is a trace
    span ``span`` (a statement of a repository, by default; None: no span)."""
    with tracing.span(span) if span is not None else _NO_SPAN:
        try:
            yield
        except ZavaError:
            raise
        except _DATABASE_FAILURES as error:
            raise to_zava_error(error) from error

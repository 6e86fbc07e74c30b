"""Shared helpers for the security tests: the guard on the real catalog, running a query
as a manager, fingerprints of the whole database, and the store ids a result exposes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.repositories.queries import QueryResult
from zava.repositories.schema import TABLE_DESCRIPTIONS
from zava.security.sql_guard import SqlGuard, load_function_catalog
from zava.seeding import company
from zava.services.unit_of_work import SqlAlchemyUnitOfWork


async def build_guard(engine: AsyncEngine) -> SqlGuard:
    """The guard with its allowlist read from the real catalog (as the reader)."""
    async with engine.connect() as connection:
        catalog = await load_function_catalog(connection)
    return SqlGuard(catalog, frozenset(TABLE_DESCRIPTIONS))


async def run_as(engine: AsyncEngine, settings: Settings, guard: SqlGuard,
                 caller: uuid.UUID, sql: str) -> QueryResult:
    """Guard, then execute ``sql`` in a read unit of work for ``caller``."""
    guarded = guard.check(sql)
    async with SqlAlchemyUnitOfWork(engine, settings, caller) as uow:
        return await uow.queries.run(guarded, max_rows=settings.max_rows,
                                     max_bytes=settings.max_result_bytes)


async def database_fingerprint(admin: AsyncEngine) -> dict[str, Any]:
    """Row count and checksum of every retail table, plus roles, policies and settings."""
    fingerprint: dict[str, Any] = {}
    async with admin.connect() as connection:
        tables = [r[0] for r in await connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'retail' ORDER BY 1"))]
        for table in tables:
            fingerprint[table] = tuple((await connection.execute(text(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                f"FROM retail.{table} AS t"))).one())
        fingerprint["policies"] = [tuple(r) for r in await connection.execute(text(
            "SELECT tablename, policyname, qual FROM pg_policies ORDER BY 1, 2"))]
        fingerprint["rls"] = [tuple(r) for r in await connection.execute(text(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relnamespace = 'retail'::regnamespace AND relkind = 'r' ORDER BY 1"))]
        fingerprint["roles"] = [tuple(r) for r in await connection.execute(text(
            "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles "
            "WHERE rolname LIKE 'zava%' ORDER BY 1"))]
    return fingerprint


def foreign_store_ids(result: QueryResult, caller: company.ManagerDef) -> set[str]:
    """Store ids in the result that the caller may not see."""
    visible = {str(s) for s in company.visible_stores(caller)}
    others = {str(s.store_id) for s in company.stores()} - visible
    found: set[str] = set()
    for row in result.rows:
        for value in row:
            if isinstance(value, str) and value in others:
                found.add(value)
    return found


SEATTLE = company.managers()[0]
assert SEATTLE.store == "Seattle"

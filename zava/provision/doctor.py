"""`zava doctor`: what a newcomer or a DBA needs to know about the database in use."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from zava.config import Settings, mask_database_url
from zava.db.engine import create_engine
from zava.provision import migrations
from zava.provision.health import (
    DatabaseHealth,
    grant_login_hint,
    revision_as_reader,
    roles_out_of_reach,
)
from zava.provision.login_role import inspect_login_role
from zava.provision.target import DatabaseTarget
from zava.repositories.products import ProductRepository


class Status(StrEnum):
    """How a check came out."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: Status
    detail: str


async def run_checks(settings: Settings, target: DatabaseTarget) -> list[Check]:
    """Connect as the server's login and report version, pgvector, migrations, privileges."""
    kind = "embedded" if target.embedded else "external"
    checks = [Check("database", Status.OK, f"{kind}: {mask_database_url(target.app_url)}")]
    engine = create_engine(target.app_url, settings, pool=False)
    try:
        async with engine.connect() as connection:
            checks += await _server_checks(connection, settings)
    except Exception as exc:  # a doctor reports; it does not crash
        checks.append(Check("connection", Status.FAIL, f"cannot connect: {_first_line(exc)}"))
    finally:
        await engine.dispose()
    return checks


async def _server_checks(connection: AsyncConnection, settings: Settings) -> list[Check]:
    checks = []
    version = await connection.scalar(text("SHOW server_version"))
    major = int(str(version).split(".")[0])
    checks.append(Check(
        "postgresql", Status.OK if major >= 16 else Status.FAIL,
        f"PostgreSQL {version}" + ("" if major >= 16 else " (Zava needs 16 or newer)"),
    ))
    vector = await connection.scalar(
        text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
    available = await connection.scalar(
        text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"))
    if vector:
        checks.append(Check("pgvector", Status.OK, f"installed, version {vector}"))
    elif available:
        checks.append(Check("pgvector", Status.WARN,
                            f"available ({available}) but not installed: run `zava db upgrade`"))
    else:
        checks.append(Check("pgvector", Status.FAIL,
                            "not available on this server: install pgvector "
                            "(e.g. the pgvector/pgvector image)"))

    role = await inspect_login_role(connection)
    # The rest is read the way the server reads: as the reader roles it switches to.
    if missing := await roles_out_of_reach(connection):
        checks.append(Check("reader role", Status.FAIL, grant_login_hint(role.login, missing)))
        return checks
    health = DatabaseHealth(migrations.head_revision(), await revision_as_reader(connection))
    if health.at_head:
        checks.append(Check("migrations", Status.OK, f"at head ({health.head})"))
    else:
        checks.append(Check("migrations", Status.FAIL, str(health.problem())))

    if role.is_least_privilege:
        checks.append(Check("login role", Status.OK,
                            f"{role.login}: no superuser, BYPASSRLS, ownership or write grant"))
    else:
        checks.append(Check(
            "login role", Status.WARN,
            f"{role.login} " + "; ".join(role.problems)
            + ". The server refuses to start with it unless --allow-privileged-login",
        ))
    if health.at_head:
        checks.append(await _embedding_check(connection, settings))
    return checks


async def _embedding_check(connection: AsyncConnection, settings: Settings) -> Check:
    recorded = await ProductRepository(AsyncSession(bind=connection)).embedding_space()
    if recorded is None:
        return Check("embeddings", Status.FAIL, "no embedding space recorded")
    model, dimension = recorded
    if recorded != (settings.embedding_model, settings.embedding_dim):
        return Check(
            "embeddings", Status.WARN,
            f"database has {model} ({dimension} dims), configured "
            f"{settings.embedding_model} ({settings.embedding_dim} dims): semantic search "
            "will refuse until the catalog is re-embedded: `zava db reembed`",
        )
    return Check("embeddings", Status.OK, f"{model}, {dimension} dims")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]

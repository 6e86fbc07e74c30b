"""The `zava` command line: serve, db, seed, demo, doctor.

Exit codes: 0 success, 1 failure, 2 usage error. Errors are one line on stderr; the
traceback appears only with ``--debug``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from loguru import logger

from zava.config import Settings, get_settings, mask_database_url
from zava.errors import ZavaError
from zava.observability.logging import configure_logging

T = TypeVar("T")


def _run(ctx: click.Context, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on an event loop, turning errors into one stderr line and exit 1."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except ZavaError as exc:
        if ctx.obj.get("debug"):
            logger.exception("failed")
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if ctx.obj.get("debug"):
            logger.exception("failed")
        click.echo(
            f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            "(rerun with --debug for the traceback)",
            err=True,
        )
        sys.exit(1)


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings"]
    return settings


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("--log-json", is_flag=True, help="Log JSON lines to stderr.")
@click.version_option(package_name="zava")
@click.pass_context
def main(ctx: click.Context, debug: bool, log_json: bool) -> None:
    """Zava: retail analytics for AI clients, with every manager seeing only their stores."""
    try:
        settings = get_settings()
    except Exception as exc:
        click.echo(f"error: invalid settings: {exc}", err=True)
        sys.exit(1)
    configure_logging("DEBUG" if debug else settings.log_level, json=log_json or settings.log_json)
    ctx.obj = {"debug": debug, "settings": settings}


@main.group()
def db() -> None:
    """Migrations and connection details (Alembic owns every database object)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from zava.db import bootstrap, migrations
    from zava.db.target import open_target

    settings = _settings(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        await migrations.upgrade(
            target.admin_url, revision,
            embedding_dim=settings.embedding_dim, embedding_model=settings.embedding_model,
        )
        if target.embedded is not None:
            await bootstrap.ensure_app_role(target.embedded)
        click.echo(f"database upgraded to {revision}", err=True)

    _run(ctx, work)


@db.command("downgrade")
@click.argument("revision")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str) -> None:
    """Roll migrations back to REVISION (`base` removes the retail schema and its roles)."""
    from zava.db import migrations
    from zava.db.target import open_target

    settings = _settings(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        await migrations.downgrade(target.admin_url, revision)
        click.echo(f"database downgraded to {revision}", err=True)

    _run(ctx, work)


@db.command("sql")
@click.option("--range", "revision_range", default="head", show_default=True,
              help="Revisions to print, e.g. head or 0001:head.")
@click.pass_context
def db_sql(ctx: click.Context, revision_range: str) -> None:
    """Print the migrations' SQL (offline) for a DBA to review or apply."""
    from zava.db import migrations

    settings = _settings(ctx)

    async def work() -> None:
        click.echo(migrations.offline_sql(
            revision_range, embedding_dim=settings.embedding_dim,
            embedding_model=settings.embedding_model,
        ), nl=False)

    _run(ctx, work)


@db.command("url")
@click.option("--admin", is_flag=True, help="The migrations/seed login instead of the server's.")
@click.pass_context
def db_url(ctx: click.Context, admin: bool) -> None:
    """Print the database URL in use, password masked."""
    from zava.db.target import open_target

    settings = _settings(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        click.echo(mask_database_url(target.admin_url if admin else target.app_url))

    _run(ctx, work)


@main.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check the database: version, pgvector, migrations, the login role's privileges."""
    from zava.db.target import open_target
    from zava.doctor import Status, run_checks

    settings = _settings(ctx)

    async def work() -> bool:
        target = await open_target(settings, migrate_embedded=False)
        checks = await run_checks(settings, target)
        marks = {Status.OK: "ok  ", Status.WARN: "WARN", Status.FAIL: "FAIL"}
        for check in checks:
            click.echo(f"[{marks[check.status]}] {check.name}: {check.detail}")
        return all(check.status is not Status.FAIL for check in checks)

    if not _run(ctx, work):
        sys.exit(1)

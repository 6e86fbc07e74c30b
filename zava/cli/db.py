"""`zava db ...` (migrations, URLs) and `zava doctor`."""

from __future__ import annotations

import sys
import uuid

import click

from zava.cli.common import run_async, settings_of
from zava.config import mask_database_url
from zava.db.roles import READER_ROLES


@click.group()
def db() -> None:
    """Migrations and connection details (Alembic owns every database object)."""


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from zava.provision import bootstrap, migrations
    from zava.provision.target import open_target

    settings = settings_of(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        await migrations.upgrade(
            target.admin_url, revision,
            embedding_dim=settings.embedding_dim, embedding_model=settings.embedding_model,
        )
        if target.embedded is not None:
            await bootstrap.ensure_app_role(target.embedded)
        click.echo(f"database upgraded to {revision}", err=True)

    run_async(ctx, work)


@db.command("downgrade")
@click.argument("revision")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str) -> None:
    """Roll migrations back to REVISION (`base` removes the retail schema and its roles)."""
    from zava.provision import migrations
    from zava.provision.target import open_target

    settings = settings_of(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        await migrations.downgrade(target.admin_url, revision)
        click.echo(f"database downgraded to {revision}", err=True)

    run_async(ctx, work)


@db.command("sql")
@click.option("--range", "revision_range", default="head", show_default=True,
              help="Revisions to print, e.g. head or 0001:head.")
@click.pass_context
def db_sql(ctx: click.Context, revision_range: str) -> None:
    """Print the migrations' SQL (offline) for a DBA to review or apply."""
    from zava.provision import migrations

    settings = settings_of(ctx)

    async def work() -> None:
        click.echo(migrations.offline_sql(
            revision_range, embedding_dim=settings.embedding_dim,
            embedding_model=settings.embedding_model,
        ), nl=False)

    run_async(ctx, work)


@db.command("grant-login")
@click.argument("role")
@click.option("--manager", type=click.UUID,
              help="Bind ROLE to this manager: it can act as nobody else, even with plain "
                   "SQL (created with a random password if it does not exist).")
@click.pass_context
def db_grant_login(ctx: click.Context, role: str, manager: uuid.UUID | None) -> None:
    """Let the login ROLE become the reader roles (and nothing else); run as the admin.

    A server whose login stays on the server (HTTP) can use one login for every manager.
    When managers run `zava serve` themselves against a shared database, give each a login
    bound with --manager: whoever holds it sees only that manager's stores."""
    from zava.provision.bootstrap import grant_reader
    from zava.provision.target import open_target

    settings = settings_of(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        password = await grant_reader(target.admin_url, role, manager=manager)
        click.echo(f"{role} may now SET ROLE {' / '.join(READER_ROLES)}", err=True)
        if manager is not None:
            click.echo(f"{role} is bound to manager {manager}: it can act as nobody else",
                       err=True)
        if password is not None:
            click.echo(f"created login {role}; its password (shown once):", err=True)
            click.echo(password)

    run_async(ctx, work)


@db.command("reembed")
@click.option("--batch-size", type=click.IntRange(1, 2048), help="Texts per model call "
              "(default: ZAVA_EMBEDDING_BATCH_SIZE).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def db_reembed(ctx: click.Context, batch_size: int | None, quiet: bool) -> None:
    """Re-embed the catalog with the configured provider, in one transaction.

    Rewrites every product's vector, the column's dimension if it changed, the recorded
    embedding space and the ivfflat index; on any failure nothing changes.
    """
    from rich.console import Console
    from rich.progress import Progress

    from zava.embeddings.factory import create_embedder
    from zava.provision.reembed import reembed_catalog
    from zava.provision.target import open_target

    settings = settings_of(ctx)

    async def work() -> None:
        target = await open_target(settings)
        embedder = create_embedder(settings)
        console = Console(stderr=True)
        with Progress(console=console, transient=True,
                      disable=quiet or not console.is_terminal) as progress:
            task = progress.add_task(f"embedding with {embedder.model_name}", total=None)
            try:
                summary = await reembed_catalog(
                    target.admin_url, embedder,
                    batch_size=batch_size or settings.embedding_batch_size,
                    advance=lambda n: progress.advance(task, n))
            finally:
                await embedder.aclose()
        click.echo(
            f"re-embedded {summary.products} products with {summary.model} "
            f"({summary.dimension} dims; was {summary.previous_model} "
            f"({summary.previous_dimension} dims)), ivfflat lists={summary.lists}, "
            f"in {summary.seconds:.1f} s", err=True)

    run_async(ctx, work)


@db.command("url")
@click.option("--admin", is_flag=True, help="The migrations/seed login instead of the server's.")
@click.pass_context
def db_url(ctx: click.Context, admin: bool) -> None:
    """Print the database URL in use, password masked."""
    from zava.provision.target import open_target

    settings = settings_of(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        click.echo(mask_database_url(target.admin_url if admin else target.app_url))

    run_async(ctx, work)


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Check the database: version, pgvector, migrations, the login role's privileges."""
    from zava.provision.doctor import Status, run_checks
    from zava.provision.target import open_target

    settings = settings_of(ctx)

    async def work() -> bool:
        target = await open_target(settings, migrate_embedded=False)
        checks = await run_checks(settings, target)
        marks = {Status.OK: "ok  ", Status.WARN: "WARN", Status.FAIL: "FAIL"}
        for check in checks:
            click.echo(f"[{marks[check.status]}] {check.name}: {check.detail}")
        return all(check.status is not Status.FAIL for check in checks)

    if not run_async(ctx, work):
        sys.exit(1)

"""`zava identity add|list|remove`: map people signed in at an OAuth/OpenID issuer to
managers (run as the admin login; the SQL is in zava.provision.identities)."""

from __future__ import annotations

import uuid

import click

from zava.cli.common import run_async, settings_of


@click.group()
def identity() -> None:
    """Who, signed in at your identity provider, acts as which manager (HTTP, OAuth)."""


_ISSUER = click.option("--issuer", required=True,
                       help="The issuer exactly as tokens carry it (ZAVA_OAUTH_ISSUER).")
_SUBJECT = click.option("--subject", required=True,
                        help="The value of the mapped claim (ZAVA_OAUTH_MANAGER_CLAIM: sub "
                             "by default, or email, oid, ...).")


@identity.command("add")
@_ISSUER
@_SUBJECT
@click.option("--manager", type=click.UUID, required=True, help="The manager id they act as.")
@click.pass_context
def identity_add(ctx: click.Context, issuer: str, subject: str, manager: uuid.UUID) -> None:
    """Map SUBJECT at ISSUER to MANAGER (replaces an earlier mapping of the pair)."""
    from zava.provision.identities import add_identity
    from zava.provision.target import open_target

    settings = settings_of(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        new = await add_identity(target.admin_url, issuer, subject, manager)
        click.echo(f"{'mapped' if new else 're-mapped'} {subject} at {issuer} to manager "
                   f"{manager}", err=True)

    run_async(ctx, work)


@identity.command("list")
@click.option("--issuer", help="Only this issuer's mappings.")
@click.pass_context
def identity_list(ctx: click.Context, issuer: str | None) -> None:
    """Every mapping: issuer, subject, manager id, manager name (tab-separated)."""
    from zava.provision.identities import list_identities
    from zava.provision.target import open_target

    settings = settings_of(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        for row in await list_identities(target.admin_url, issuer):
            click.echo(f"{row.issuer}\t{row.subject}\t{row.manager_id}\t{row.manager_name}")

    run_async(ctx, work)


@identity.command("remove")
@_ISSUER
@_SUBJECT
@click.pass_context
def identity_remove(ctx: click.Context, issuer: str, subject: str) -> None:
    """Remove the mapping of SUBJECT at ISSUER (running servers stop honouring it when
    their cached verification of that person's token expires)."""
    from zava.provision.identities import remove_identity
    from zava.provision.target import open_target

    settings = settings_of(ctx)

    async def work() -> None:
        target = await open_target(settings, migrate_embedded=False)
        if not await remove_identity(target.admin_url, issuer, subject):
            click.echo(f"no mapping of {subject} at {issuer}", err=True)
            raise SystemExit(1)
        click.echo(f"removed the mapping of {subject} at {issuer}", err=True)

    run_async(ctx, work)

"""`zava seed`: load the deterministic demo dataset; `zava seed embed-catalog`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from zava.cli.common import run_async, settings_of
from zava.seeding.sizes import DEFAULT_SEED, DEFAULT_SIZE, SIZES


@click.group(invoke_without_command=True)
@click.option("--size", type=click.Choice(list(SIZES)), default=DEFAULT_SIZE, show_default=True)
@click.option("--seed", "seed_value", type=int, default=DEFAULT_SEED, show_default=True,
              help="Same seed, size and end date: identical rows.")
@click.option("--end-date", type=click.DateTime(["%Y-%m-%d"]),
              help="Last order date (default: today, UTC).")
@click.option("--replace", is_flag=True, help="Empty the retail tables and reload them.")
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when data exists.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def seed(ctx: click.Context, size: str, seed_value: int, end_date: dt.datetime | None,
         replace: bool, if_empty: bool, quiet: bool) -> None:
    """Load the demo dataset (COPY, one transaction; refuses to overwrite data)."""
    if ctx.invoked_subcommand is not None:
        return
    from zava.provision.seed import seed_database

    settings = settings_of(ctx)
    end = end_date.date() if end_date else dt.datetime.now(dt.UTC).date()

    async def work() -> None:
        summary = await seed_database(settings, size=size, seed=seed_value, end_date=end,
                                      replace=replace, if_empty=if_empty, quiet=quiet)
        if summary is None:
            click.echo("retail data already present; nothing loaded (--if-empty)", err=True)
            return
        for table, count in summary.rows.items():
            seconds = summary.table_seconds.get(table, 0.0)
            click.echo(f"{table:>32}: {count:>10,} rows {seconds:7.2f} s", err=True)
        for note in summary.notes:
            click.echo(f"note: {note}", err=True)
        total = sum(summary.rows.values())
        click.echo(f"loaded the {size} dataset (seed {seed_value}, orders up to {end}): "
                   f"{total:,} rows in {summary.seconds:.1f} s", err=True)

    run_async(ctx, work)


@seed.command("embed-catalog")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the vectors (default: seed/embeddings/<model>.npz).")
@click.pass_context
def embed_catalog_command(ctx: click.Context, output: Path | None) -> None:
    """Recompute the catalog's description embeddings with the configured provider.

    The text embedded is each product's name + ". " + description; the vectors are
    normalised and stored as float16 with the SKUs. The local model is loaded offline.
    """
    from zava.embeddings.factory import create_embedder
    from zava.seeding.catalog_embeddings import embed_catalog, embeddings_path

    settings = settings_of(ctx)
    target = output or embeddings_path(settings.embedding_model)

    async def work() -> None:
        count = await embed_catalog(create_embedder(settings), target)
        click.echo(f"wrote {count} {settings.embedding_model} vectors "
                   f"({settings.embedding_dim} dims) to {target}", err=True)

    run_async(ctx, work)

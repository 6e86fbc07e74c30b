"""`zava demo`: embedded database, migrations, the workshop seed if empty, a tour through
real MCP sessions as two managers, and ready-to-paste client configurations."""

from __future__ import annotations

import datetime as dt
import json

import click
from rich.console import Console

from zava.cli.common import run_async, settings_of
from zava.seeding.sizes import DEFAULT_SEED, DEFAULT_SIZE, SIZES


@click.command()
@click.option("--size", type=click.Choice(list(SIZES)), default=DEFAULT_SIZE, show_default=True,
              help="Dataset to load when the database is empty.")
@click.option("--no-tour", is_flag=True, help="Only prepare the database and print configs.")
@click.pass_context
def demo(ctx: click.Context, size: str, no_tour: bool) -> None:
    """Set up the demo database and show row-level security at work."""
    from zava.demo import client_configs, run_tour
    from zava.provision.seed import seed_database

    settings = settings_of(ctx)
    console = Console(stderr=False)

    async def work() -> None:
        console.print("[bold]1.[/] starting the embedded PostgreSQL and migrating ...")
        summary = await seed_database(settings, size=size, seed=DEFAULT_SEED,
                                      end_date=dt.datetime.now(dt.UTC).date(), if_empty=True)
        if summary is None:
            console.print("[bold]2.[/] demo data already loaded")
        else:
            console.print(f"[bold]2.[/] loaded the {size} dataset: "
                          f"{summary.rows['orders']:,} orders, "
                          f"{summary.rows['order_items']:,} items in {summary.seconds:.1f} s")
        if not no_tour:
            console.print("[bold]3.[/] asking the same questions as two managers, through "
                          "real MCP sessions against `zava serve` ...")
            await run_tour(settings, console)
        claude, vscode = client_configs(settings)
        console.print("\n[bold]Claude Desktop[/] (claude_desktop_config.json):")
        console.print_json(json.dumps(claude))
        console.print("\n[bold]VS Code[/] (.vscode/mcp.json):")
        console.print_json(json.dumps(vscode))

    run_async(ctx, work)

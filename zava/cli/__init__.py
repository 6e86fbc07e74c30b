"""The `zava` command line: serve, db, seed, demo, doctor, token, identity, stats.

Exit codes: 0 success, 1 failure, 2 usage error. Errors are one line on stderr; the
traceback appears only with ``--debug``.
"""

from __future__ import annotations

import importlib
import sys

import click

from zava.config import get_settings
from zava.observability.logging import configure_logging

COMMANDS = {"db": "zava.cli.db", "doctor": "zava.cli.db", "demo": "zava.cli.demo",
            "identity": "zava.cli.identity", "seed": "zava.cli.seed",
            "serve": "zava.cli.serve", "stats": "zava.cli.stats", "token": "zava.cli.serve"}
"""Each command and the module that defines it (as a module attribute of that name)."""


class LazyGroup(click.Group):
    """A group whose commands are imported when used: `zava serve` does not import the
    other commands' dependencies (rich, prometheus_client's parser), see
    benchmarks/startup.py."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            command = getattr(importlib.import_module(COMMANDS[cmd_name]), cmd_name)
            assert isinstance(command, click.Command)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("--log-json", is_flag=True, help="Log JSON lines to stderr.")
@click.option("--log-queries", is_flag=True,
              help="Put full query text in audit and slow-query lines (never by default).")
@click.option("--slow-query-ms", type=click.FloatRange(min=0),
              help="Log queries slower than this with their plan (default 1000).")
@click.version_option(package_name="zava")
@click.pass_context
def main(ctx: click.Context, debug: bool, log_json: bool, log_queries: bool,
         slow_query_ms: float | None) -> None:
    """Zava: retail analytics for AI clients, with every manager seeing only their stores."""
    try:
        settings = get_settings()
    except Exception as exc:
        click.echo(f"error: invalid settings: {exc}", err=True)
        sys.exit(1)
    overrides: dict[str, object] = {"log_queries": True} if log_queries else {}
    if slow_query_ms is not None:
        overrides["slow_query_ms"] = slow_query_ms
    settings = settings.model_copy(update=overrides)
    configure_logging("DEBUG" if debug else settings.log_level, json=log_json or settings.log_json)
    ctx.obj = {"debug": debug, "settings": settings}


"""The `zava` command line: serve, db, seed, demo, doctor, token, identity, stats.

Exit codes: 0 success, 1 failure, 2 usage error. Errors are one line on stderr; the
traceback appears only with ``--debug``.
"""

from __future__ import annotations

import sys

import click

from zava.cli.db import db, doctor
from zava.cli.demo import demo
from zava.cli.identity import identity
from zava.cli.seed import seed
from zava.cli.serve import serve, token
from zava.cli.stats import stats
from zava.config import get_settings
from zava.observability.logging import configure_logging


@click.group()
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


main.add_command(db)
main.add_command(doctor)
main.add_command(demo)
main.add_command(identity)
main.add_command(seed)
main.add_command(serve)
main.add_command(stats)
main.add_command(token)

"""What every `zava` command shares: settings from the click context, and running async
work with errors turned into one line on stderr (exit 1; traceback only with --debug)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from loguru import logger

from zava.config import Settings
from zava.errors import ZavaError

T = TypeVar("T")


def _loop_factory(fast: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when ``fast`` and it is installed (a dependency everywhere but
    Windows), else asyncio's."""
    if not fast:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    # Typed whether or not uvloop is installed where mypy runs.
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_async(ctx: click.Context, work: Callable[[], Awaitable[T]], *,
              fast_loop: bool = False) -> T:
    """Run ``work`` on a new event loop (uvloop's with ``fast_loop``, when installed); a
    failure prints one line and exits 1."""
    debug = bool(ctx.find_root().obj.get("debug"))

    async def main() -> T:
        return await work()

    try:
        with asyncio.Runner(loop_factory=_loop_factory(fast_loop)) as runner:
            return runner.run(main())
    except ZavaError as exc:
        if debug:
            logger.exception("failed")
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            logger.exception("failed")
        detail = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(
            f"error: {type(exc).__name__}: {detail} (rerun with --debug for the traceback)",
            err=True,
        )
        sys.exit(1)


def settings_of(ctx: click.Context) -> Settings:
    """The settings the root command read."""
    settings: Settings = ctx.find_root().obj["settings"]
    return settings

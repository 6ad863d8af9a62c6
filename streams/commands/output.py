"""Terminal output shared by the subcommands: progress bars with rate and ETA, tables.

Progress goes to stderr (so stdout stays for results) and disappears when stderr is not
a terminal (CI logs, pipes): there a one-line summary is printed instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class RateColumn(ProgressColumn):
    """Items per second, with the unit of the task."""

    def render(self, task: Task) -> Text:
        """The task's current rate."""
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "items")
        if speed is None:
            return Text(f"? {unit}/s", style="progress.data.speed")
        return Text(f"{speed:,.0f} {unit}/s", style="progress.data.speed")


@contextmanager
def progress(description: str, total: float | None, unit: str = "events"
             ) -> Iterator[Callable[..., None]]:
    """A progress bar; yields ``advance(n)``. Hidden when stderr is not a terminal."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                   MofNCompleteColumn(), RateColumn(), TextColumn("ETA"),
                   TimeRemainingColumn(), console=err, transient=False,
                   disable=not sys.stderr.isatty())
    with bar:
        task = bar.add_task(description, total=total, unit=unit)
        yield lambda n=1: bar.advance(task, n)

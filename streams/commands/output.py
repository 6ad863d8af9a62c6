"""Terminal output shared by the subcommands: progress bars with rate and ETA, tables.

Progress goes to stderr (so stdout stays for results) and disappears when stderr is not
a terminal (CI logs, pipes): there a one-line summary is printed instead.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

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


def command_name() -> str:
    """``coselling`` as the user can type it again in this shell.

    ``coselling`` when that name finds this program on PATH; otherwise the path it was
    started by (``.venv/bin/coselling`` after a plain ``pip install .`` into a venv).
    """
    started = Path(sys.argv[0])
    if started.name != "coselling":
        return "coselling"  # run as a module or from a test
    on_path = shutil.which("coselling")
    if on_path and Path(on_path).resolve() == started.resolve():
        return "coselling"
    relative = os.path.relpath(started)
    return relative if not relative.startswith("..") else str(started.resolve())

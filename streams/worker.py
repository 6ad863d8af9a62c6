"""Run a stream worker in this process (what ``coselling worker`` does)."""

from __future__ import annotations

import faust

from .app import create_app
from .settings import Settings
from .topics import ensure_topics


def run_worker(settings: Settings, *, loglevel: str = "warn") -> None:
    """Create missing topics, then run the Faust worker until stopped (SIGTERM/SIGINT)."""
    ensure_topics(settings)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False)
    worker.execute_from_commandline()

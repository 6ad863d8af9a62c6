"""Run a stream worker in this process (what ``coselling worker`` does)."""

from __future__ import annotations

from pathlib import Path

import faust

from . import gc_tuning, logs
from .app import create_app
from .offset_guard import check_faust_version
from .settings import Settings
from .topics import ensure_topics


def run_worker(settings: Settings, *, loglevel: str = "warn") -> None:
    """Create missing topics and the state folder, then run the Faust worker.

    Runs until stopped (SIGTERM/SIGINT). Refuses a Faust release the offset guard was not
    tested with before it touches Kafka.
    """
    check_faust_version()
    ensure_topics(settings)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    gc_tuning.freeze_startup()
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False,
                          logging_config=logs.logging_config(loglevel, settings.log_format))
    worker.execute_from_commandline()

"""Logging set-up for every ``coselling`` process: JSON lines when not on a terminal.

On a terminal the logs are the usual one-line text; anywhere else (containers, files,
log shippers) each record is one JSON object with ``time``, ``level``, ``logger``,
``message``, ``process`` and, for errors, ``exception``. ``COSELLING_LOG_FORMAT`` (auto,
json, text) overrides the choice. Nothing here logs a setting's value; secrets stay out of
the logs because they are ``SecretStr`` and DSNs are redacted before they are logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

TEXT_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        data: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def use_json(log_format: str, stream=None) -> bool:
    """Whether to log JSON: asked for, or ``auto`` and ``stream`` is not a terminal."""
    if log_format in ("json", "text"):
        return log_format == "json"
    stream = stream or sys.stderr
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return True


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict (also handed to the Faust worker)."""
    json_logs = use_json(log_format)
    formatter = {"()": f"{__name__}.JsonFormatter"} if json_logs else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"coselling": formatter},
        "handlers": {"coselling": {"class": "logging.StreamHandler",
                                   "stream": "ext://sys.stderr", "formatter": "coselling"}},
        "root": {"level": python_level(level), "handlers": ["coselling"]},
    }


def python_level(level: str) -> str:
    """Faust's level names (``warn``) as Python's (``WARNING``)."""
    upper = level.upper()
    return "WARNING" if upper == "WARN" else upper


def configure(level: str, log_format: str) -> None:
    """Configure logging for a process that is not a Faust worker."""
    import logging.config

    logging.config.dictConfig(logging_config(level, log_format))

"""An audit of the worker's offset commits, for tests and diagnostics (off by default).

With ``COSELLING_COMMIT_AUDIT_FILE`` set, every worker appends to that file one JSON line
per event an agent has fully processed (``kind`` ``processed``, written where the batch
loop hands the events to :meth:`streams.offset_guard.GuardedConsumer.mark_processed`) and
one per partition offset Faust commits (``kind`` ``committed``, from the app's monitor,
which Faust's consumer calls with every commit). A line is::

    {"pid": 4711, "kind": "committed", "topic": "...", "partition": 3, "offset": 129}

A committed offset is, as in Kafka, the *next* offset to read: committing 129 says that
everything before it is done. Each call writes its lines with one ``write`` on a file
opened for appending, so several workers can share one file and a SIGKILLed worker leaves
whole lines behind; the file's order is the order the lines were written in.

:func:`unprocessed_commits` reads such an audit back and lists every commit that moved a
partition's committed offset past an event no worker had processed before it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faust.types import TP

from .exceptions import CommitAuditError
from .monitor import WorkerMonitor

PROCESSED = "processed"
COMMITTED = "committed"


class CommitAuditLog:
    """Appends ``processed`` and ``committed`` lines to the audit file at ``path``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.pid = os.getpid()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def processed(self, events: Iterable[Any]) -> None:
        """Record the events (Faust events) an agent has fully processed."""
        self._write(PROCESSED, ((e.message.tp, e.message.offset) for e in events))

    def committed(self, tp_offsets: Mapping[TP, int]) -> None:
        """Record offsets Faust commits (each the next offset to read of its partition)."""
        self._write(COMMITTED, tp_offsets.items())

    def _write(self, kind: str, offsets: Iterable[tuple[TP, int]]) -> None:
        lines = "".join(
            json.dumps({"pid": self.pid, "kind": kind, "topic": tp.topic,
                        "partition": tp.partition, "offset": offset}) + "\n"
            for tp, offset in offsets)
        if lines:
            os.write(self._fd, lines.encode())

    def close(self) -> None:
        """Close the file (the lines written are already in it)."""
        os.close(self._fd)


class AuditingMonitor(WorkerMonitor):
    """The worker's monitor, also writing every commit to a :class:`CommitAuditLog`.

    Faust's consumer reports commits to the app's monitor only (not to other sensors),
    so the audit replaces the app's monitor: ``app.monitor = AuditingMonitor(log)``.
    """

    def __init__(self, audit: CommitAuditLog, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.audit = audit

    def on_tp_commit(self, tp_offsets: Mapping[TP, int]) -> None:
        """Faust committed ``tp_offsets``: keep its figures and write the audit lines."""
        super().on_tp_commit(tp_offsets)
        self.audit.committed(tp_offsets)


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit."""

    pid: int
    kind: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class UnprocessedCommit:
    """A commit past events nobody processed.

    It moved ``topic[partition]`` from ``previous`` to ``offset`` although the events at
    the ``missing`` offsets had not been processed.
    """

    pid: int
    topic: str
    partition: int
    previous: int
    offset: int
    missing: tuple[int, ...]


def read_audit(path: str | Path) -> Iterator[AuditEntry]:
    """The entries of the audit file at ``path``, in the order they were written."""
    with Path(path).open() as f:
        for number, line in enumerate(f, 1):
            try:
                entry = AuditEntry(**json.loads(line))
            except (ValueError, TypeError) as exc:
                raise CommitAuditError(f"{path}:{number}: not an audit line: {line!r}") from exc
            if entry.kind not in (PROCESSED, COMMITTED):
                raise CommitAuditError(f"{path}:{number}: unknown kind {entry.kind!r}")
            yield entry


def unprocessed_commits(entries: Iterable[AuditEntry],
                        log_start: Mapping[tuple[str, int], int] | None = None,
                        ) -> list[UnprocessedCommit]:
    """The commits in ``entries`` that skipped an event no process had processed yet.

    A partition's committed offset is the one of its latest commit (by any process), as
    the broker keeps it; before the first, its log start offset (``log_start``, 0 if not
    given). A commit of offset ``c`` is sound when every offset from the committed one up
    to ``c - 1`` was recorded as processed, by any process, before that commit's line.
    """
    starts = log_start or {}
    committed: dict[tuple[str, int], int] = {}
    processed: set[tuple[str, int, int]] = set()
    found = []
    for entry in entries:
        if entry.kind == PROCESSED:
            processed.add((entry.topic, entry.partition, entry.offset))
            continue
        tp = (entry.topic, entry.partition)
        previous = committed.get(tp, starts.get(tp, 0))
        missing = tuple(o for o in range(previous, entry.offset)
                        if (entry.topic, entry.partition, o) not in processed)
        if missing:
            found.append(UnprocessedCommit(entry.pid, entry.topic, entry.partition,
                                           previous, entry.offset, missing))
        committed[tp] = entry.offset
    return found

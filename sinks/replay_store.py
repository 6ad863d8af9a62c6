"""What the replay path keeps in ClickHouse between runs (migration 0006).

- ``replay_state``: the core's state (store ``account`` or ``company``, key, JSON value) as
  each finished replay left it. A run writes only the keys it changed, under its
  generation; the current value of a key is the one of the highest generation up to the
  last finished run, so a run that died half way leaves nothing that is read.
- ``replay_runs``: one row per run, its latest status wins. ``running`` rows are the lock
  (the earliest live claim wins, the others withdraw; :class:`ClaimKeeper` renews a claim
  in the background for as long as its run lasts); a ``finished`` row holds the run's
  generation and a summary: the high-water mark of the events replayed so far and the
  row counts and latest write times of the tables, which the next run compares with the
  database to tell whether anything else wrote there since.

Only I/O lives here; what to do with it is decided in :mod:`streams.incremental_replay`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from schemas.exceptions import CosellingError

from .background import BackgroundWrites
from .clickhouse import ClickHouseWriter
from .exceptions import ReplayBusyError
from .tables import CRM_EVENTS, REPLAY_RUNS, REPLAY_STATE, Table

log = logging.getLogger(__name__)

STATE = REPLAY_STATE
#: A new claim: the server stamps ``claimed_at`` and ``updated_at``.
NEW_RUN = Table(REPLAY_RUNS.name, REPLAY_RUNS.columns[:6])
#: A later row of a run: it repeats ``claimed_at``; the server stamps ``updated_at``.
RUNS = Table(REPLAY_RUNS.name, REPLAY_RUNS.columns[:7])

#: Result tables a replay writes (and empties before it rebuilds them), with the column
#: that tells when a row was written. intro_events is written with intro_state.
RESULT_TABLES = {"overlap_state": "written_at", "intro_state": "written_at",
                 "attribution_state": "written_at", "intro_events": None}

RUNNING, FINISHED, FAILED, WITHDRAWN, INTERRUPTED = (
    "running", "finished", "failed", "withdrawn", "interrupted")

STATE_BATCH = 5_000


@dataclass(frozen=True)
class Claim:
    """One replay's row in ``replay_runs``."""

    run_id: str
    status: str
    host: str
    pid: int
    generation: int
    summary: dict[str, Any]
    claimed_at: dt.datetime
    updated_at: dt.datetime

    def describe(self) -> str:
        """Who and when, for messages."""
        return (f"started {self.claimed_at:%Y-%m-%d %H:%M:%S} UTC by process {self.pid} "
                f"on {self.host}")


@dataclass(frozen=True)
class TableFingerprint:
    """Rows (after replacement) of a table and when its newest row was written (ms)."""

    rows: int
    written_ms: int | None


@dataclass
class Lock:
    """The outcome of claiming the database: this run's claim and what came before."""

    claim: Claim
    #: The last finished run, or None if no replay ever finished here.
    last: Claim | None
    #: Runs after the last finished one that wrote and did not finish (died or failed).
    interrupted: list[Claim] = field(default_factory=list)


class ReplayStore:
    """The replay path's tables (see module doc).

    :param writer: a writer on a migrated database.
    :param stale_after: seconds after which a ``running`` claim that was not renewed
        belongs to a replay that died (on a server; chDB allows one process per folder,
        so there a claim found on start is always one of a dead process).
    """

    def __init__(self, writer: ClickHouseWriter, *, stale_after: float = 600.0):
        self.writer = writer
        self.stale_after = stale_after
        self.embedded = writer.dsn.startswith("chdb://")

    # -- the lock ---------------------------------------------------------------------

    def claim(self) -> Lock:
        """Claim the database for one replay, or raise :class:`ReplayBusyError`."""
        run_id = uuid.uuid4().hex
        self.writer.insert(NEW_RUN, [[run_id, RUNNING, socket.gethostname(), os.getpid(), 0,
                                      "{}"]])
        now = self._now()
        claims = self.claims()
        mine = claims[run_id]
        rivals = sorted((c for c in claims.values() if c.status == RUNNING
                         and c.run_id != mine.run_id and not self._stale(c, now)),
                        key=lambda c: (c.claimed_at, c.run_id))
        if rivals and (rivals[0].claimed_at, rivals[0].run_id) < (mine.claimed_at,
                                                                  mine.run_id):
            self.set_status(mine, WITHDRAWN)
            raise ReplayBusyError(
                f"another replay into this database is running ({rivals[0].describe()}); "
                "wait for it to finish and run this replay again")
        finished = [c for c in claims.values() if c.status == FINISHED]
        last = max(finished, key=lambda c: c.generation) if finished else None
        interrupted = [c for c in claims.values() if c.run_id != mine.run_id
                       and (last is None or c.claimed_at > last.claimed_at)
                       and (c.status in (FAILED, INTERRUPTED)
                            or (c.status == RUNNING and self._stale(c, now)))]
        return Lock(mine, last, sorted(interrupted, key=lambda c: c.claimed_at))

    def claims(self) -> dict[str, Claim]:
        """Every run's latest row, by run id."""
        rows = self.writer.query(
            "SELECT run_id, argMax(status, updated_at), argMax(host, updated_at), "
            "argMax(pid, updated_at), argMax(generation, updated_at), "
            "argMax(summary, updated_at), argMax(claimed_at, updated_at), max(updated_at) "
            f"FROM {RUNS.name} GROUP BY run_id")
        return {r[0]: Claim(r[0], r[1], r[2], int(r[3]), int(r[4]), json.loads(r[5] or "{}"),
                            _aware(r[6]), _aware(r[7])) for r in rows}

    def renew(self, claim: Claim) -> None:
        """Show that the run holding ``claim`` is alive (a new ``updated_at``)."""
        self._put(claim)

    def set_status(self, claim: Claim, status: str, *, generation: int | None = None,
                   summary: dict[str, Any] | None = None) -> Claim:
        """Record a new status of a run (with its generation and summary when finished)."""
        new = Claim(claim.run_id, status, claim.host, claim.pid,
                    claim.generation if generation is None else generation,
                    claim.summary if summary is None else summary, claim.claimed_at,
                    claim.updated_at)
        self._put(new)
        return new

    def _put(self, claim: Claim) -> None:
        # A token of its own: a renewal repeats the last row exactly (the server stamps
        # updated_at), and an insert equal to an earlier one would be dropped as a
        # duplicate even with insert_deduplicate = 0 (seen with chDB).
        self.writer.insert(RUNS, [[claim.run_id, claim.status, claim.host, claim.pid,
                                   claim.generation, json.dumps(claim.summary),
                                   claim.claimed_at]], token=uuid.uuid4().hex)

    def _stale(self, claim: Claim, now: dt.datetime) -> bool:
        return self.embedded or (now - claim.updated_at).total_seconds() > self.stale_after

    def _now(self) -> dt.datetime:
        return _aware(self.writer.query("SELECT now64(6)")[0][0])

    # -- the core's state -------------------------------------------------------------

    def load_state(self, generation: int) -> dict[str, dict[str, Any]]:
        """Store -> key -> value as of ``generation`` (later, unfinished rows ignored)."""
        state: dict[str, dict[str, Any]] = {}
        rows = self.writer.query(
            f"SELECT store, key, argMax(value, generation) FROM {STATE.name} "
            "WHERE generation <= {g:UInt64} GROUP BY store, key", {"g": generation})
        for store, key, value in rows:
            state.setdefault(store, {})[key] = json.loads(value)
        return state

    def save_state(self, store: str, items: Iterable[tuple[str, Any]], generation: int) -> int:
        """Write the given keys of one store under ``generation``; return how many."""
        return self.save_states([(store, items)], generation)

    def save_states(self, stores: Iterable[tuple[str, Iterable[tuple[str, Any]]]],
                    generation: int, writes: BackgroundWrites | None = None) -> int:
        """Write the given keys of each store under ``generation``; return how many.

        A batch is inserted (a column at a time) in the background while the next one,
        of the same store or the next, is encoded: through ``writes`` if given (after
        the writes already under way there; the last batch is left running, and the
        writes count the keys as rows), else through writes of its own, all done when
        it returns.
        """
        keys: list[str] = []
        values: list[str] = []
        saved = 0
        own = writes is None
        with BackgroundWrites() if own else nullcontext(writes) as writes:
            for store, items in stores:
                for key, value in items:
                    keys.append(key)
                    values.append(json.dumps(value, separators=(",", ":")))
                    if len(keys) >= STATE_BATCH:
                        writes.submit(self._insert_state, store, keys, values, generation)
                        saved, keys, values = saved + len(keys), [], []
                if keys:
                    writes.submit(self._insert_state, store, keys, values, generation)
                    saved, keys, values = saved + len(keys), [], []
            if own:
                writes.wait()
        return saved

    def _insert_state(self, store: str, keys: list[str], values: list[str],
                      generation: int) -> int:
        self.writer.insert_columns(STATE, [[store] * len(keys), keys, values,
                                           [generation] * len(keys)])
        return len(keys)

    # -- the tables the replay writes -------------------------------------------------

    def fingerprints(self) -> dict[str, TableFingerprint]:
        """Rows and newest write time of ``crm_events`` and each result table (one query)."""
        times = sorted({**RESULT_TABLES, CRM_EVENTS.name: "ingest_time"}.items())
        parts = []
        for table, column in times:
            newest = f"(SELECT toUnixTimestamp64Milli(max({column})) FROM {table})" \
                if column else "NULL"
            parts.append(f"(SELECT count() FROM {table} FINAL), {newest}")
        found = self.writer.query(f"SELECT {', '.join(parts)}")[0]
        return {table: TableFingerprint(int(rows), None if written is None or not rows
                                        else int(written))
                for (table, _), rows, written in zip(times, found[::2], found[1::2],
                                                     strict=True)}

    def clear_results(self) -> None:
        """Empty the result tables and the saved state (before a rebuild)."""
        target = self.writer.target
        for table in sorted({*RESULT_TABLES, STATE.name}):
            self.writer.command(f"TRUNCATE TABLE IF EXISTS {target.local(table)} "
                                f"{target.on_cluster}")

    def logged_events(self) -> Iterator[tuple[str, str]]:
        """(event type, record JSON) of every event in ``crm_events``."""
        rows = self.writer.query(f"SELECT event_type, record FROM {CRM_EVENTS.name} FINAL")
        yield from ((str(t), str(r)) for t, r in rows)

    def logged_identities(self, since_ms: int) -> set[tuple]:
        """Keys of the ``crm_events`` rows from event time ``since_ms`` on.

        A key is (tenant, event type, record id, version, event id).
        """
        rows = self.writer.query(
            "SELECT tenant_id, event_type, record_id, record_version, event_id "
            f"FROM {CRM_EVENTS.name} WHERE event_time >= fromUnixTimestamp64Milli({{t:Int64}})",
            {"t": since_ms})
        return {(str(t), str(e), str(r), int(v), str(i)) for t, e, r, v, i in rows}

    def holdings(self) -> dict[str, int]:
        """What the database holds now: events and current results (one query)."""
        (events, overlaps, visible, intros, attributions), = self.writer.query(
            f"SELECT (SELECT count() FROM {CRM_EVENTS.name} FINAL), "
            "(SELECT countIf(active) FROM overlap_state FINAL), "
            "(SELECT countIf(active AND visible) FROM overlap_state FINAL), "
            "(SELECT countIf(active) FROM intro_state FINAL), "
            "(SELECT countIf(active) FROM attribution_state FINAL)")
        return {"events": int(events), "overlaps": int(overlaps), "visible": int(visible),
                "intros": int(intros), "attributions": int(attributions)}


class ClaimKeeper:
    """Renews a ``running`` claim every ``stale_after / 4`` seconds until stopped.

    A thread does it, on a connection of its own on a server, so no step of the run
    (planning a rebuild that reads all of ``crm_events``, saving the state, one long
    query) outlasts the staleness and lets a second replay in. With chDB a claim found by
    another process is always one of a dead process, so nothing is renewed. Stop it
    before recording the run's last status: a renewal after that would mark the run
    running again.
    """

    def __init__(self, store: ReplayStore, claim: Claim):
        self.store, self.claim = store, claim
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ClaimKeeper:
        """Start renewing (a server's claim only)."""
        if not self.store.embedded and self._thread is None:
            self._thread = threading.Thread(target=self._renew_until_stopped,
                                            name="replay-claim", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing; returns once no renewal is under way."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _renew_until_stopped(self) -> None:
        writer = self.store.writer
        # A server's claim is renewed on its own connection (the writer's may be busy with
        # a long query); chDB is in-process and its writer serialises the calls.
        own = None if writer.dsn.startswith("chdb://") else ClickHouseWriter(writer.dsn,
                                                                            writer.target)
        renewer = ReplayStore(own or writer, stale_after=self.store.stale_after)
        try:
            while not self._stop.wait(self.store.stale_after / 4):
                try:
                    renewer.renew(self.claim)
                except CosellingError as exc:
                    log.warning("could not renew the replay's claim (retrying): %s", exc)
        finally:
            if own is not None:
                own.close()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

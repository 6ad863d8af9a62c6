"""Replay into a database that already holds results: continue where the last replay stopped.

Replaying files one after another into one database gives what one replay of all their
events gives (every view and ``crm_events``), in one of two ways:

- **continue**: the core's state as the last replay left it is loaded from
  ``replay_state`` and the new events are applied on top. Result rows get the company's
  next version, above every row of that company already written, so they supersede them
  (ReplacingMergeTree); only the state keys that changed are saved. This is exact when no
  new event is older than the newest event already replayed (files cut by event time),
  and events replayed before (in the state, or in ``crm_events``) do not count.
- **rebuild**: a new event is older than the newest already replayed (files cut in
  delivery order). The current results would be right anyway (the core is
  order-independent), but what depends on history would not: ``intro_events`` (and the
  ``intro_conversion`` view) keeps intros that event-time order would raise and withdraw.
  So the result tables and the saved state are emptied and every event in
  ``crm_events`` plus the file's is replayed in event-time order. Events read back from
  ``crm_events`` keep their rows there (and their ingest time). The same happens when the
  attribution settings (window, half-life) differ from those the last replay recorded:
  continuing would mix attributions computed under both, and when the saved state has no
  resolver store (saved before matching kept state of its own, :mod:`.core.resolver`).

Refused with :class:`ReplayRefusedError`: a database with results or events that no
finished replay wrote (the stream sink's database, or one replayed before replay saved
its state), or one written by anything else since the last replay (row counts and newest
write times differ from what that replay recorded). A rebuild needs every event the state
was built from; when the ``crm_events`` retention has removed some, a file with older
events is applied on top of the state instead, with a warning that ``intro_conversion``
may differ; with changed attribution settings it is refused. Two replays into one
database: the second waits for nothing and is refused
(:class:`sinks.exceptions.ReplayBusyError`); a running replay's claim is renewed in the
background (:class:`sinks.replay_store.ClaimKeeper`) for every step, however long.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from schemas.catalog import default_catalog
from schemas.epoch import EPOCH
from schemas.exceptions import CosellingError
from schemas.textformat import record_from_json
from sinks.background import BackgroundWrites
from sinks.clickhouse import ClickHouseWriter
from sinks.replay_store import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    WITHDRAWN,
    Claim,
    ClaimKeeper,
    Lock,
    ReplayStore,
    TableFingerprint,
)
from sinks.tables import CRM_EVENTS

from .core.attribution import AttributionConfig
from .core.eventlog import KIND as EVENT_LOG_KIND
from .core.pipeline import Pipeline
from .exceptions import ReplayRefusedError
from .replay import ReplayReport, event_time_order, replay_events

FRESH, CONTINUE, REBUILD = "fresh", "continue", "rebuild"

Event = tuple[str, dict[str, Any]]
#: Where an event falls in event-time order: (microseconds, version, event id).
Position = tuple[int, int, str]

class TrackedState(dict):
    """A state mapping that remembers which keys were assigned.

    The core assigns every key it changes (as a Faust table needs), so only those are saved.
    """

    def __init__(self, data: dict[str, Any] | None = None):
        super().__init__(data or {})
        self.changed: set[str] = set()

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changed.add(key)


@dataclass(frozen=True)
class Decision:
    """How this replay goes: fresh, continue or rebuild, and why."""

    mode: str
    reason: str
    warning: str | None = None


def position(event: Event) -> Position:
    """The event's place in event-time order (the order :func:`event_time_order` sorts)."""
    occurred, version, event_id = event_time_order(event)
    micros = (occurred - EPOCH) // dt.timedelta(microseconds=1) \
        if isinstance(occurred, dt.datetime) else int(occurred) * 1000
    return micros, version, event_id


def recorded_attribution(config: AttributionConfig) -> dict[str, float]:
    """The attribution settings as a run records them in its summary."""
    return {"window_days": float(config.window_days),
            "half_life_days": float(config.half_life_days)}


def attribution_change(then: dict[str, float] | None, now: dict[str, float]) -> str | None:
    """What differs between the recorded and the current attribution settings, or None."""
    if then is None:
        return "the last replay did not record them"
    names = {"window_days": "window", "half_life_days": "half-life"}
    changes = [f"{label} {_days(then.get(key))} -> {_days(now[key])}"
               for key, label in names.items() if then.get(key) != now[key]]
    return ", ".join(changes) or None


def _days(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g} days"


def decide(last: Claim | None, interrupted: list[Claim],
           tables: dict[str, TableFingerprint], late: int,
           attribution: dict[str, float]) -> Decision:
    """How to replay (pure).

    Given the last finished run, the runs that died after it, the tables now, how many
    new events fall before the newest one replayed (and are not already applied), and the
    attribution settings of this run (:func:`recorded_attribution`).
    """
    if last is None:
        if interrupted:
            return Decision(REBUILD, f"the replay {interrupted[-1].describe()} did not finish")
        written = sorted(name for name, t in tables.items() if t.rows)
        if written:
            raise ReplayRefusedError(
                f"the database holds rows no finished replay wrote (in {', '.join(written)}):"
                " the stream sink writes there, or it was replayed into before replay kept "
                "its state; replay into a new database (or empty this one)")
        return Decision(FRESH, "the database holds no results yet")
    recorded = {name: TableFingerprint(*v) for name, v in last.summary["tables"].items()}
    for name in tables.keys() - recorded.keys():  # a table added by a later migration
        recorded[name] = TableFingerprint(0, None)
    log_now, log_then = tables[CRM_EVENTS.name].rows, recorded[CRM_EVENTS.name].rows
    if interrupted:
        if log_now < log_then:
            raise ReplayRefusedError(
                f"the replay {interrupted[-1].describe()} did not finish, and crm_events no "
                f"longer holds every event replayed before ({log_now} of {log_then}; its "
                "retention removed some), so the results cannot be rebuilt: replay the "
                "whole history into a new database")
        return Decision(REBUILD, f"the replay {interrupted[-1].describe()} did not finish")
    changed = sorted(name for name, now in tables.items()
                     if (now.written_ms or 0) > (recorded[name].written_ms or 0)
                     or (now.rows > recorded[name].rows if name == CRM_EVENTS.name
                         else now.rows != recorded[name].rows))
    if changed:
        raise ReplayRefusedError(
            f"{', '.join(changed)} changed since the last replay ({last.describe()}): "
            "something else writes into this database (the stream sink?); replay into a "
            "database only replay writes to")
    if changed_settings := attribution_change(last.summary.get("attribution"), attribution):
        if log_now < log_then:
            raise ReplayRefusedError(
                f"the attribution settings changed since the last replay ({changed_settings})"
                f", and crm_events no longer holds every event replayed before ({log_now} of "
                f"{log_then}; its retention removed some), so the results cannot be rebuilt "
                "with the new settings: replay with the settings of the last replay "
                "(COSELLING_ATTRIBUTION_WINDOW_DAYS, COSELLING_ATTRIBUTION_HALF_LIFE_DAYS) or "
                "the whole history into a new database")
        return Decision(REBUILD, f"the attribution settings changed since the last replay "
                                 f"({changed_settings}): rebuilding from crm_events and the "
                                 "file")
    if not late:
        return Decision(CONTINUE, f"continuing from the replay {last.describe()}")
    if log_now < log_then:
        return Decision(
            CONTINUE, f"continuing from the replay {last.describe()}",
            warning=f"{late} events are older than the newest event replayed before, and "
            f"crm_events no longer holds every event replayed before ({log_now} of "
            f"{log_then}): applied on top of the saved state; current results are exact, "
            "intro_conversion may differ from one replay of all events")
    return Decision(REBUILD, f"{late} events are older than the newest event replayed "
                             "before: rebuilding from crm_events and the file")


@dataclass
class Outcome:
    """What a replay did and what the database holds after it."""

    decision: Decision
    report: ReplayReport
    file_events: int
    logged_events: int
    holdings: dict[str, int]
    elapsed: float


class IncrementalReplay:
    """One replay into a database, continuing from the replays before it (module doc).

    Claims the database on enter (refused if another replay holds it), decides how to
    replay in :meth:`plan`, runs in :meth:`run`; leaving the block without a finished run
    marks the claim failed (the next replay rebuilds) or withdrawn (nothing written).

    A new database (a chDB folder that holds none yet,
    :attr:`~sinks.clickhouse.ClickHouseWriter.new_database`) needs no waiting: given the
    future of its opening and migration, the replay plans a fresh run at once and the core
    runs while the database opens; it is claimed (and checked to be still empty) in the
    writes' thread before the first write.

    :param writer: a writer on a migrated database, or on one being opened and migrated.
    :param attribution: the attribution configuration.
    :param stale_after: seconds after which an unrenewed claim is one of a dead replay.
    :param opening: the opening and migration of a new database, under way.
    """

    def __init__(self, writer: ClickHouseWriter, *, attribution: AttributionConfig,
                 stale_after: float, opening: Future | None = None):
        self.store = ReplayStore(writer, stale_after=stale_after)
        self.writer = writer
        self.attribution = attribution
        self.lock: Lock | None = None
        self.decision: Decision | None = None
        self.events: list[Event] = []
        self._opening = opening
        self._claiming = threading.Lock()
        self._refused: BaseException | None = None
        self._file_events = 0
        self._logged: set[tuple] = set()
        self._pipeline: Pipeline | None = None
        self._wrote = False
        self._finished = False
        self._keeper: ClaimKeeper | None = None

    def __enter__(self) -> IncrementalReplay:
        if self._opening is None:
            self._claim()
        return self

    def _claim(self) -> None:
        self.lock = self.store.claim()
        self._keeper = ClaimKeeper(self.store, self.lock.claim).start()

    def __exit__(self, *exc_info) -> None:
        if self._keeper is not None:
            self._keeper.stop()
        if self.lock is not None and not self._finished:
            try:
                self.store.set_status(self.lock.claim, FAILED if self._wrote else WITHDRAWN)
            except CosellingError:
                pass  # the claim then goes stale; the next replay rebuilds

    def plan(self, events: list[Event]) -> Decision:
        """Decide how to replay ``events`` (in event-time order); set :attr:`events`."""
        if self._opening is not None:  # a new database: fresh, whatever the events
            self.decision = Decision(FRESH, "the database holds no results yet")
            self._file_events = len(events)
            self.events = events
            self._pipeline = _tracked_pipeline(self.attribution)
            return self.decision
        assert self.lock is not None, "use IncrementalReplay in a with block"
        last = self.lock.last
        tables = self.store.fingerprints()
        state = self.store.load_state(last.generation) if last else {}
        pipeline = _tracked_pipeline(self.attribution, state)
        late = self._late(events, last.summary.get("watermark") if last else None, pipeline)
        self.decision = decide(last, self.lock.interrupted, tables, late,
                               recorded_attribution(self.attribution))
        if self.decision.mode == CONTINUE and state.get("account") and not state.get("resolver"):
            self.decision = Decision(REBUILD, "the saved state was written before account "
                                     "matching kept state of its own")
        self._file_events = len(events)
        if self.decision.mode == REBUILD:
            logged = [_logged_event(t, r) for t, r in self.store.logged_events()]
            self._logged = {_identity(t, r) for t, r in logged}
            events = sorted(logged + events, key=event_time_order)
            pipeline = _tracked_pipeline(self.attribution)
        self.events, self._pipeline = events, pipeline
        return self.decision

    def _late(self, events: list[Event], mark: list | None, pipeline: Pipeline) -> int:
        """How many events fall before ``mark`` and were never replayed here.

        An event replayed before (its very version is in the state, or its row is in
        crm_events) already has its place in event-time order.
        """
        if mark is None:
            return 0
        late = [e for e in events if position(e) < tuple(mark) and not pipeline.holds(*e)]
        if not late:
            return 0
        logged = self.store.logged_identities(min(position(e) for e in late)[0] // 1000)
        return sum(1 for e in late if _identity(*e) not in logged)

    def run(self, progress: Callable[[int], None] | None = None) -> Outcome:
        """Replay :attr:`events`, save the state, record the run; return the outcome."""
        assert self.decision is not None and self._pipeline
        started = time.perf_counter()
        if self._opening is None:
            self._wrote = True
            if self.decision.mode == REBUILD:
                self.store.clear_results()
        sink = _RunWriter(self.writer, self._logged, first=self._claim_new)
        # The saved state is encoded while the last rows are written, in the same thread
        # of writes (after them, and not at all if they failed).
        with BackgroundWrites() as writes:
            report, pipeline = replay_events(self.events, sink, attribution=self.attribution,
                                             progress=progress, pipeline=self._pipeline,
                                             writes=writes)
            self._claim_new()  # done by the first write, unless nothing was written
            assert self.lock is not None
            last, claim = self.lock.last, self.lock.claim
            generation = (last.generation if last else 0) + 1
            saved = self.store.save_states([(store, _changed_items(state)) for store, state in (
                ("account", pipeline.account_state), ("company", pipeline.company_state),
                ("settings", pipeline.settings_state), ("resolver", pipeline.resolver_state))],
                generation, writes)
            writes.wait()
        report.rows_written += writes.rows - saved
        marks = [position(e) for e in self.events]
        if last and last.summary.get("watermark") and self.decision.mode == CONTINUE:
            marks.append(tuple(last.summary["watermark"]))
        summary = {"watermark": list(max(marks)) if marks else None, "mode": self.decision.mode,
                   "attribution": recorded_attribution(self.attribution),
                   "tables": {name: [t.rows, t.written_ms]
                              for name, t in self.store.fingerprints().items()}}
        assert self._keeper is not None
        self._keeper.stop()  # no renewal may follow the finished status
        self.store.set_status(claim, FINISHED, generation=generation, summary=summary)
        for dead in self.lock.interrupted:
            self.store.set_status(dead, INTERRUPTED)
        self._finished = True
        return Outcome(self.decision, report, self._file_events, len(self._logged),
                       self.store.holdings(), time.perf_counter() - started)


    def _claim_new(self) -> None:
        """Claim a new database before the first write (in the writes' thread), once.

        The database was new when the replay started (:meth:`plan` took it as fresh), so
        the claim must find it so too; if anything wrote there meanwhile, the replay is
        refused before it writes, and so is every later write. Called by each write and,
        for a run that wrote nothing, by :meth:`run`; the first call claims, the others
        wait for it.
        """
        if self._opening is None:
            return
        with self._claiming:  # the writes' thread, or the caller's once they are done
            if self._refused is not None:
                raise self._refused
            if self.lock is not None:
                return
            try:
                self._opening.result()  # opened and migrated, or its error
                self._claim()
                assert self.lock is not None
                found = decide(self.lock.last, self.lock.interrupted,
                               self.store.fingerprints(), 0,
                               recorded_attribution(self.attribution))
                if found.mode != FRESH:
                    raise ReplayRefusedError(
                        "the database was new when this replay started, but something else "
                        "wrote into it before the replay's first write; run the replay again")
            except BaseException as exc:
                self._refused = exc  # no later write may go ahead
                raise
            self._wrote = True


class _RunWriter:
    """The writer the core writes through.

    Calls ``first`` before the first write. Leaves the ``crm_events`` rows of events read
    back from there as they are (with their first ingest time).
    """

    def __init__(self, writer: ClickHouseWriter, logged: set[tuple],
                 first: Callable[[], None]):
        self.writer, self.logged, self.first = writer, logged, first

    def write(self, messages: list[dict[str, Any]]) -> int:
        self.first()
        if self.logged:
            messages = [m for m in messages if m["kind"] != EVENT_LOG_KIND
                        or _row_identity(m["row"]) not in self.logged]
        return self.writer.write(messages)


def _tracked_pipeline(attribution: AttributionConfig | None,
                      state: dict[str, dict[str, Any]] | None = None) -> Pipeline:
    """A pipeline over tracked copies of saved state (store -> key -> value; none: empty)."""
    state = state or {}
    return Pipeline(attribution, TrackedState(state.get("account")),
                    TrackedState(state.get("company")), TrackedState(state.get("settings")),
                    TrackedState(state.get("resolver")))


def _changed_items(state) -> Iterator[tuple[str, Any]]:
    """The keys (sorted) and values of a state that a run changed (all of a plain dict)."""
    changed = state.changed if isinstance(state, TrackedState) else state
    return ((key, state[key]) for key in sorted(changed))


def _logged_event(event_type: str, text: str) -> Event:
    """A ``crm_events`` row back as the event the core was given."""
    try:
        schema = default_catalog().current(event_type)
        return event_type, record_from_json(schema, json.loads(text, parse_float=Decimal))
    except (CosellingError, ValueError) as exc:
        raise ReplayRefusedError(
            f"a {event_type} event in crm_events cannot be read back ({exc}), so the results "
            "cannot be rebuilt: replay the whole history into a new database") from None


def _identity(event_type: str, record: dict[str, Any]) -> tuple:
    """The key of the event's ``crm_events`` row."""
    return (record["tenant_id"], event_type, record["record_id"], record["version"],
            record["event_id"])


def _row_identity(row: dict[str, Any]) -> tuple:
    return (row["tenant_id"], row["event_type"], row["record_id"], row["record_version"],
            row["event_id"])

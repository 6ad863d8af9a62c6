"""Every internal message the core makes on a run of events, by kind (see schemas.internal)."""

from __future__ import annotations

from typing import Any

from streams.core.accounts import SnapshotMessage
from streams.core.companies import ResultChange
from streams.core.pipeline import Pipeline


def kind_of(message: Any) -> str:
    """The internal schema kind of a core message."""
    return "snapshot" if isinstance(message, SnapshotMessage) else message.to_json()["kind"]


def core_messages(events: list[tuple[str, dict[str, Any]]]) -> dict[str, list[Any]]:
    """Kind -> the messages (and result changes) the core makes applying ``events``.

    The accounts stage's outputs and what it is given besides inbound events (the
    resolver's assignments and its own internal messages), in the order made.
    """
    pipeline = Pipeline()
    made: dict[str, list[Any]] = {}

    def recording(method, *, argument: bool = False):
        def record(state, *args):
            out = method(state, *args)
            for m in [args[-1]] if argument else list(out or ()):
                made.setdefault(kind_of(m), []).append(m)
            return out
        return record

    pipeline.accounts.apply = recording(pipeline.accounts.apply)
    pipeline.accounts.apply_internal = recording(pipeline.accounts.apply_internal,
                                                 argument=True)
    for change in pipeline.run(events):
        made.setdefault(change.kind, []).append(change)
    return made


def result_changes(made: dict[str, list[Any]]) -> list[ResultChange]:
    """The result changes of :func:`core_messages`."""
    return [m for ms in made.values() for m in ms if isinstance(m, ResultChange)]

"""``explain-match``: why two accounts did or did not match one company."""

from __future__ import annotations

import argparse
from typing import Any

from ..core.resolver import assignment_of, explain
from ..core.statekeys import account_key
from ..outbox import current_state
from .output import out
from .topic_reader import read_table


def cmd_explain_match(args: argparse.Namespace, settings) -> int:
    """Print why two accounts did or did not match, from the live state or an event file."""
    first = account_key(args.tenant_a, args.account_a)
    second = account_key(args.tenant_b, args.account_b)
    state = state_from_file(args, settings) if args.events else state_from_kafka(settings)
    out.print(explain(state, first, second), markup=False)
    companies = [assignment_of(state, key)[0] for key in (first, second)]
    return 0 if companies[0] and companies[0] == companies[1] else 1


def state_from_file(args: argparse.Namespace, settings) -> dict[str, Any]:
    """The resolver's state after the account and tenant settings events of a file.

    The events are applied in event-time order, as ``coselling replay`` applies them;
    the file's other events do not change how accounts match.
    """
    from ..core.pipeline import Pipeline
    from ..replay import event_time_order
    from .data import event_file, good_rows, report_rejects

    args.file = args.events
    source = event_file(args, settings.event_validator)
    rejects: list = []
    events = sorted((item[1:] for item in good_rows(source, f"reading {source.path.name}",
                                                    rejects)
                     if item[1] in ("account", "tenant_settings")), key=event_time_order)
    report_rejects(source.path, rejects)
    pipeline = Pipeline()
    pipeline.run(events)
    return pipeline.resolver_state


def state_from_kafka(settings) -> dict[str, Any]:
    """The live resolver's state, read from its table's changelog topic to its end.

    With the outboxes after its last checkpoint applied (see streams/outbox.py).
    """
    topic = f"{settings.app_id}-resolver-changelog"
    return current_state(read_table(
        settings, topic, f"no worker has run with app id {settings.app_id!r} "
        "(COSELLING_APP_ID); or use --events FILE"))

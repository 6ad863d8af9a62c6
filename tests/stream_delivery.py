"""The core's stages fed as the stream feeds them, for tests: at-least-once at its worst."""

from __future__ import annotations

import json

from streams.core.accounts import SnapshotMessage
from streams.core.opportunities import internal_message_from_json
from streams.core.pipeline import Pipeline
from streams.core.resolver import MatchInput, apply_settings_event, typo_index


def run_as_a_stream(events, rng) -> Pipeline:
    """A pipeline fed every message (inbound event, internal message, match input,
    assignment, snapshot) in random order, through JSON, some delivered twice.

    The resolver keeps its typo index apart, as the worker does, and now and then builds
    it again from its state (a rebalance) or is left with a name too many (a batch
    applied to the index whose state was not written)."""
    p = Pipeline(typos={})
    pending = [("in", e) for e in events]
    while pending:
        if rng.random() < 0.05:
            p.typos = typo_index(p.resolver_state.items())
        if rng.random() < 0.05:
            p.typos.setdefault("v:DE\x1facme widget", []).append("acme widgeta")
        kind, item = pending.pop(rng.randrange(len(pending)))
        if kind != "in" and rng.random() < 0.15:
            pending.append((kind, item))  # redelivered later
        if kind == "in" and item[0] == "partnership":
            p.companies.apply_partnership(p.company_state, 0, item[1])
            continue
        if kind == "in" and item[0] == "tenant_settings":
            out = apply_settings_event(p.resolver_state, item[1], p.typos)
        elif kind == "in":
            out = p.accounts.apply(p.account_state, *item)
        elif kind == "snapshot":
            p.companies.apply_snapshot(p.company_state, 0, item)
            continue
        else:
            out = p.step(item)
        for msg in out:
            data = json.loads(json.dumps(msg.to_json()))
            if isinstance(msg, SnapshotMessage):
                pending.append(("snapshot", SnapshotMessage.from_json(msg.company_key, data)))
            elif isinstance(msg, MatchInput):
                pending.append(("match", MatchInput.from_json(msg.key, data)))
            else:
                pending.append(("internal", internal_message_from_json(msg.key, data)))
    return p

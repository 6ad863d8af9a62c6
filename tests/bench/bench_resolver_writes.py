"""The resolver's state writes per inbound event, by key prefix (the core alone, no Kafka).

Run by hand (not collected by pytest):

    python tests/bench/bench_resolver_writes.py [--events 10000] [--batch 500]

The events are ``bench_streaming.py``'s (the generated scenario, same seed and size). They
go through ``Pipeline.apply`` with a resolver state that records every key assigned; a
batch of ``--batch`` events writes each key it assigned once (as the worker's batch loop
does, one changelog message per key per batch), so the count per batch estimates the
resolver's changelog on the streaming path. The indexes are kept apart from the
state, as the worker keeps them (``streams.resolver_index``: only account records and
tenant settings are table keys); ``--typos-in-state`` keeps them all in the state (as the
replay does), ``--indexes-in-state`` all but the typo index (as earlier workers did).
It prints, per prefix (see the module docstring of
``streams.core.resolver``), the assignments and the keys written per batch, per inbound
event, and how many assignments repeated the key's value.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from streams.core.pipeline import Pipeline  # noqa: E402
from streams.resolver_index import SplitState  # noqa: E402
from tests.scenario import scenario  # noqa: E402


class CountingState(dict):
    """A state mapping that counts assignments and keys written per batch, by prefix."""

    def __init__(self):
        super().__init__()
        self.assigned: Counter[str] = Counter()
        self.unchanged: Counter[str] = Counter()
        self.batched: Counter[str] = Counter()
        self._batch: set[str] = set()

    def __setitem__(self, key, value):
        self.assigned[key[:2]] += 1
        if dict.get(self, key) == value:
            self.unchanged[key[:2]] += 1
        self._batch.add(key)
        super().__setitem__(key, value)

    def end_batch(self) -> None:
        self.batched.update(k[:2] for k in self._batch)
        self._batch.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="events per batch")
    parser.add_argument("--typos-in-state", action="store_true",
                        help="keep every index in the state, as the replay does")
    parser.add_argument("--indexes-in-state", action="store_true",
                        help="keep the indexes but the typo index (v: keys) in the state, "
                             "as earlier workers did")
    args = parser.parse_args()
    events = scenario(companies=max(1, args.events // 18), seed=11)[: args.events]
    state = CountingState()
    if args.typos_in_state:
        pipeline = Pipeline(resolver_state=state)
    elif args.indexes_in_state:
        pipeline = Pipeline(resolver_state=state, typos={})
    else:
        index: dict = {}
        pipeline = Pipeline(resolver_state=SplitState(state, index), typos=index)
    for i, event in enumerate(events, 1):
        pipeline.apply(*event)
        if i % args.batch == 0:
            state.end_batch()
    state.end_batch()
    n = len(events)
    total = sum(state.batched.values())
    print(f"{n:,} events, batches of {args.batch}: {total / n:.3f} resolver keys written "
          f"per event ({total:,}); {sum(state.assigned.values()):,} assignments, "
          f"{sum(state.unchanged.values()):,} of them repeating the key's value")
    print("  prefix  keys/event   keys  assignments  unchanged  keys in state")
    held = Counter(k[:2] for k in state)
    for prefix, count in state.batched.most_common():
        print(f"  {prefix:6} {count / n:11.3f} {count:6,} {state.assigned[prefix]:12,} "
              f"{state.unchanged[prefix]:10,} {held[prefix]:14,}")


if __name__ == "__main__":
    main()

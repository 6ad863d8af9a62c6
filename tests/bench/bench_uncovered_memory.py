"""Memory of the values an agent keeps between checkpoints: as objects and encoded.

Run by hand (not collected by pytest):

    python tests/bench/bench_uncovered_memory.py [--events 50000]

Applies the scenario ``bench_streaming.py`` publishes (tests/scenario.py, same seed)
through the core, then, per table (accounts, companies, resolver), holds every key's
value as the batch loop keeps it until a checkpoint (key -> (value, event)): once as the
Python objects, once encoded (``streams.faust_state.encode_value``, as the worker keeps
them). Prints the keys, the mean encoded size and the bytes per key each way (measured
with tracemalloc), and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from streams.core.pipeline import Pipeline  # noqa: E402
from streams.faust_state import decode_value, encode_value  # noqa: E402
from tests.scenario import scenario  # noqa: E402


def _as_objects(keys: list, raws: list, event: object) -> dict:
    return {k: (decode_value(r), event) for k, r in zip(keys, raws, strict=True)}


def _encoded(keys: list, raws: list, event: object) -> dict:
    return {k: (bytes(bytearray(r)), event) for k, r in zip(keys, raws, strict=True)}


def _traced(build, *args) -> int:
    """Bytes still allocated by ``build(*args)`` (its result kept alive while measured)."""
    tracemalloc.start()
    kept = build(*args)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    events = scenario(companies=max(1, args.events // 18), seed=11)[: args.events]
    pipeline = Pipeline()
    pipeline.run(events)
    event = object()  # the batch loop keeps each value's event beside it
    print(f"Values kept between checkpoints, {len(events):,} events through the core:")
    for name, state in (("accounts", pipeline.account_state),
                        ("companies", pipeline.company_state),
                        ("resolver", pipeline.resolver_state)):
        keys = list(state)
        raws = [encode_value(state[k]) for k in keys]
        as_objects = _traced(_as_objects, keys, raws, event)
        encoded = _traced(_encoded, keys, raws, event)
        print(f"  {name:<10} {len(keys):>8,} keys, {sum(map(len, raws)) / len(raws):>7,.0f} "
              f"B of JSON each: as objects {as_objects / len(keys):>7,.0f} B per key, "
              f"encoded {encoded / len(keys):>7,.0f} B per key (x{encoded / as_objects:.2f})")


if __name__ == "__main__":
    main()

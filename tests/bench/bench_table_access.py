"""A worker table's reads and writes: Faust's Table against the app's ChangelogTable.

Run by hand (not collected by pytest):

    python tests/bench/bench_table_access.py [--keys 10000] [--rounds 5] [--store rocksdb]

One table (the app's table class, JSON keys and values) in a fresh folder, no broker: the
changelog messages wait in the producer's buffer, as they do until its next flush. Reads:
``2 x --keys`` keys, half of them present, through Faust's ``Table.get`` and through
``ChangelogTable.get``. Writes: ``--keys`` account-like values through ``table[key] =
value`` (Faust's write: changelog message, then store) and through ``ChangelogTable.put``.
Prints microseconds per operation (best of ``--rounds``, the machines are shared and
noisy) and the ratio of the two in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import faust  # noqa: E402

from streams.faust_state import ChangelogTable, set_current_event  # noqa: E402

VALUE = {"account": {"r1": {"v": 3, "t": 1733000000000,
                            "d": {"name": "Acme Widgets GmbH", "domain": "acme.example",
                                  "country": "DE", "relationship": "CUSTOMER"}}},
         "opps": {}, "contacts": {}, "touches": {}, "seq": 4, "company": "acme.example",
         "sent": [[["acme.example", "domain"]], "acme widgets", "DE"]}


class _Event:
    """What a table reads of the current event (it holds it by weak reference)."""

    message = SimpleNamespace(partition=0, topic="source")


def _best(rounds: int, n: int, run) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best / n


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as datadir:
        app = faust.App("bench-tables", broker="kafka://127.0.0.1:1",
                        store=f"{args.store}://", datadir=datadir, Table=ChangelogTable)
        table = app.Table("t", default=None, key_type=str, partitions=1)
        event = _Event()
        set_current_event(event)
        keys = [f"acme\x1faccount-{i}" for i in range(2 * args.keys)]
        for key in keys[:args.keys]:
            table.put(key, VALUE)
        table.take_changelog_sends()

        def faust_reads() -> None:
            for key in keys:
                faust.Table.get(table, key)

        def our_reads() -> None:
            for key in keys:
                table.get(key)

        def faust_writes() -> None:
            for key in keys[:args.keys]:
                table[key] = VALUE
            table.take_changelog_sends()

        def our_writes() -> None:
            for key in keys[:args.keys]:
                table.put(key, VALUE)
            table.take_changelog_sends()

        print(f"One table on the {args.store} store, {args.keys:,} keys present "
              f"(best of {args.rounds} rounds):")
        for what, faust_way, ours, n in (("read (half present)", faust_reads, our_reads,
                                          len(keys)),
                                         ("write", faust_writes, our_writes, args.keys)):
            theirs_s = _best(args.rounds, n, faust_way)
            ours_s = _best(args.rounds, n, ours)
            print(f"  {what:<20} Faust's Table {theirs_s * 1e6:6.2f} us, ChangelogTable "
                  f"{ours_s * 1e6:6.2f} us: x{ours_s / theirs_s:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--store", choices=("rocksdb", "memory"), default="rocksdb")
    asyncio.run(main(parser.parse_args()))

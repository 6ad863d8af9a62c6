"""The pure core (``Pipeline.apply``: no Kafka, no ClickHouse) as state and companies grow.

Run by hand (not collected by pytest):

    python tests/bench/bench_core.py [--sizes 10000,100000,1000000] [--updates 5000]
                                     [--state dict|packed|rocksdb] [--gc paced|default]
                                     [--stage all|accounts] [--events opportunity|account]
                                     [--compact]

Part 1, state size: each size runs in a fresh process. A history of that many accounts
(four tenants sharing a market of companies, partnered two by two at FULL, each account
with one open deal) is applied, then ``--updates`` opportunity updates on random accounts
are timed one by one. Per size it prints events per second, the per-event cost relative
to the smallest size (1.0 = flat) and to a same-run baseline (decoding the same events
from Avro with the pipeline's codec, what a bare consumer does per event), the longest single event (garbage collection
included: the collector runs inside the events it interrupts), the share of the timed
events spent in collections and the longest collection (also the longest one while the
history was applied), and the process's resident memory growth per account in state (RSS after the history minus RSS before it, from /proc/self/statm). ``--state``
keeps the state in dicts (the default), packed as bytes in a dict, or packed in RocksDB
(:mod:`streams.packed_state`); ``--gc paced`` (the default) uses the replay's collector
settings (:class:`streams.gc_tuning.Pacer`), ``--gc default`` CPython's own.
``--stage accounts`` times stage two alone: the same pipeline with a company stage that
drops every snapshot (what the account stage costs and holds, the company stage aside).
``--events account`` times account updates instead of opportunity updates, each changing
what the account is matched by, in turn: its relationship only (the match inputs stay),
its domain removed (matched by name and country), and its name with a one-letter typo
and no domain; the history's accounts then carry a country. That is the per-event cost of
matching as accounts grow. ``--compact`` (with ``--state rocksdb``) merges each RocksDB
store's files into one sorted run after the history is applied and before the updates are
timed: the history is written in minutes, faster than RocksDB's background compaction
merges it, so right after it a key may be looked up in several runs (see the README for
what that costs at 1,000,000 accounts).

Company size, partnership changes and many deals on one account: bench_company.py.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from schemas.codec import Codec  # noqa: E402
from streams.core.pipeline import Pipeline  # noqa: E402
from streams.gc_tuning import Pacer  # noqa: E402
from streams.packed_state import PackedState  # noqa: E402
from tests.factories import account, opportunity, partnership  # noqa: E402

TENANTS = ("acme", "globex", "initech", "umbrella")
FULL = {(t, p): "FULL" for t in TENANTS
        for p in ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY")}


def partnered(pipeline: Pipeline | None = None) -> Pipeline:
    pipeline = pipeline or Pipeline()
    for a, b in (("acme", "globex"), ("initech", "umbrella"), ("acme", "initech")):
        rules = {k: v for k, v in FULL.items() if k[0] in (a, b)}
        pipeline.apply(*partnership(f"{a}-{b}", a, b, rules))
    return pipeline


def time_updates(pipeline: Pipeline, targets: list[tuple[str, str]], updates: int,
                 rng: random.Random) -> float:
    """Seconds per opportunity update on random ``targets`` (new versions, new amounts)."""
    events = []
    for v in range(updates):
        tenant, acc = rng.choice(targets)
        events.append(opportunity(tenant, f"{acc}-o", acc, version=2 + v, day=2,
                                  amount=str(Decimal(10000 + v))))
    gc.collect()
    started = time.perf_counter()
    for event in events:
        pipeline.apply(*event)
    return (time.perf_counter() - started) / updates


def _target(tenant_account: int) -> tuple[str, str]:
    """(tenant, account id) of the n-th account of :func:`history`."""
    tenant = TENANTS[tenant_account % len(TENANTS)]
    return tenant, f"{tenant}-a{tenant_account}"


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _GcClock:
    """Time spent in collections, from ``gc.callbacks``."""

    def __init__(self):
        self.total, self.longest, self._started = 0.0, 0.0, 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            took = time.perf_counter() - self._started
            self.total += took
            self.longest = max(self.longest, took)


class _NoCompanies:
    """A company stage that drops every input (``--stage accounts``)."""

    def apply_snapshot(self, *args: object) -> list:
        return []

    apply_partnership = apply_snapshot


def _account_update(tenant: str, acc: str, company: int, version: int) -> tuple:
    """A new version of an account of ``company`` changing what it is matched by."""
    relationship = ("CUSTOMER", "PROSPECT")[version % 2]
    turn = version % 3
    if turn == 0:  # the match inputs stay
        return account(tenant, acc, version=version, day=2, domain=f"company{company}.com",
                       name=f"Company {company}", country="US", relationship=relationship)
    if turn == 1:  # no domain: the name and country are left
        return account(tenant, acc, version=version, day=2, name=f"Company {company}",
                       country="US", relationship=relationship)
    return account(tenant, acc, version=version, day=2, name=f"Compnay {company}",
                   country="US", relationship=relationship)


def one_size(size: int, updates: int, state: str, gc_mode: str, stage: str,
             kind: str = "opportunity", compact: bool = False) -> dict:
    """Part 1 for one size, in this process: what :func:`part1` prints for it."""
    with tempfile.TemporaryDirectory(prefix="bench-core-") as folder:
        stores = {"dict": lambda name: {}, "packed": lambda name: PackedState(),
                  "rocksdb": lambda name: PackedState(os.path.join(folder, name))}[state]
        pipeline = Pipeline(None, stores("accounts"), stores("companies"),
                            resolver_state=stores("resolver"))
        if stage == "accounts":
            pipeline.companies = _NoCompanies()
        partnered(pipeline)
        pacer = Pacer() if gc_mode == "paced" else None
        tick = pacer.tick if pacer else (lambda events=1: None)
        rng = random.Random(size)
        gc.collect()
        before = _rss()
        loading = _GcClock()
        companies = max(1, int(size / 1.5))
        homes: dict[str, int] = {}
        for n in range(size):
            tenant, acc = _target(n)
            company = rng.randrange(companies)
            pipeline.apply(*account(tenant, acc, domain=f"company{company}.com",
                                    name=f"Company {company}", relationship="CUSTOMER",
                                    country="US" if kind == "account" else None))
            homes[acc] = company
            pipeline.apply(*opportunity(tenant, f"{acc}-o", acc, day=1, amount="10000"))
            tick(2)
        grown = _rss() - before
        gc.callbacks.remove(loading._on)
        packed = [store for store in (pipeline.account_state, pipeline.company_state,
                                      pipeline.resolver_state)
                  if isinstance(store, PackedState)]
        if compact:
            for store in packed:
                store.compact()
        events = []
        for v in range(updates + 200):
            tenant, acc = _target(rng.randrange(size))
            if kind == "account":
                events.append(_account_update(tenant, acc, homes[acc], 2 + v))
            else:
                events.append(opportunity(tenant, f"{acc}-o", acc, version=2 + v, day=2,
                                          amount=str(Decimal(10000 + v))))
        for event in events[:200]:  # warm up
            pipeline.apply(*event)
            tick()
        codec = Codec()
        bodies = [codec.encode(*event) for event in events[200:]]
        started = time.perf_counter()
        for body in bodies:
            codec.decode(body)
        decoding = (time.perf_counter() - started) / updates
        clock = _GcClock()
        longest, started = 0.0, time.perf_counter()
        for event in events[200:]:
            at = time.perf_counter()
            pipeline.apply(*event)
            tick()
            longest = max(longest, time.perf_counter() - at)
        elapsed = time.perf_counter() - started
        for store in packed:
            store.close()
        return {"size": size, "cost": elapsed / updates, "decode": decoding, "longest": longest,
                "gc_share": clock.total / elapsed,
                "longest_gc": clock.longest, "longest_gc_loading": loading.longest, "bytes_per_account": grown / size}


def part1(args: argparse.Namespace) -> None:
    """Per-event cost, longest event and memory per account, one fresh process per size."""
    print(f"Part 1: per-event cost of {args.events} updates as accounts in state grow "
          f"(stages: {args.stage}, state: {args.state}, collector: {args.gc}"
          + (", compacted before timing)" if args.compact else ")"))
    base = None
    for size in [int(s) for s in args.sizes.split(",")]:
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--updates", str(args.updates),
             "--state", args.state, "--gc", args.gc, "--stage", args.stage,
             "--events", args.events, *(["--compact"] if args.compact else [])],
            check=True, capture_output=True, text=True)
        found = json.loads(child.stdout.splitlines()[-1])
        base = base or found["cost"]
        print(f"  {size:>9,} accounts: {1 / found['cost']:>8,.0f} ev/s, "
              f"{found['cost'] * 1e6:>7.1f} us/event, x{found['cost'] / base:.2f} of the "
              f"smallest, x{found['cost'] / found['decode']:.1f} of decoding the same "
              f"events ({1 / found['decode']:,.0f} ev/s); longest event {found['longest'] * 1e3:,.1f} ms, collections "
              f"{found['gc_share']:.1%} of the time (longest {found['longest_gc'] * 1e3:,.1f} "
              f"ms; {found['longest_gc_loading'] * 1e3:,.1f} ms while loading); "
              f"{found['bytes_per_account'] / 1024:,.2f} KB/account in process", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="accounts in state, comma-separated")
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--state", choices=("dict", "packed", "rocksdb"), default="dict")
    parser.add_argument("--gc", choices=("paced", "default"), default="paced")
    parser.add_argument("--stage", choices=("all", "accounts"), default="all")
    parser.add_argument("--events", choices=("opportunity", "account"), default="opportunity",
                        help="what the timed updates change (see above)")
    parser.add_argument("--compact", action="store_true",
                        help="merge RocksDB's files before timing (see above)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, JSON out
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.updates, args.state, args.gc, args.stage,
                                  args.events, args.compact)))
        return
    part1(args)


if __name__ == "__main__":
    main()

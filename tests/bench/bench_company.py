"""The company stage as companies, partnerships and deals grow. Run by hand:

    python tests/bench/bench_company.py [--updates 2000] [--companies 1000,100000]

Part 1, company size: one company held by 1, 100 and 1,000 accounts (four tenants,
partnered two by two at FULL, each account with one open deal), and one held by 32
tenants all partnered with each other at FULL (one account each). An update of one deal
there (``Pipeline.apply``: account and company stage; a new amount, so its intros change)
is timed, as a ratio to the 1-account company, with the number of result rows one such
update changes on average (none in the 1-account company: no partner holds it).

Part 2, partnership changes: companies in state where two tenants share a fixed number of
companies (the others are held by other tenants); a change of the two tenants'
partnership is timed with each number of companies, as a ratio to the smallest.

Part 3, many deals: one account holding 1,000 closed-won deals, each with a partner touch;
an update of one deal is timed, as a ratio to the same update on an account holding one.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from decimal import Decimal
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from streams.core.accounts import SnapshotMessage  # noqa: E402
from streams.core.pipeline import Pipeline  # noqa: E402
from tests.factories import account, opportunity, partnership, touch  # noqa: E402

POPULATIONS = ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY")
TENANTS = ("acme", "globex", "initech", "umbrella")
SHARED = 50  # companies the two tenants of part 2 share
REPEATS = 3  # each figure is the best of this many runs (the machine may be shared)


def full(a: str, b: str) -> dict[tuple[str, str], str]:
    return {(t, p): "FULL" for t in (a, b) for p in POPULATIONS}


def timed(pipeline: Pipeline, events: list) -> float:
    """Seconds per event, applying ``events`` in order."""
    return timed_rows(pipeline, events)[0]


def timed_rows(pipeline: Pipeline, events: list) -> tuple[float, float]:
    """Seconds per event, applying ``events`` in order, and result rows changed per event."""
    gc.collect()
    rows = 0
    started = time.perf_counter()
    for event in events:
        rows += len(pipeline.apply(*event))
    return (time.perf_counter() - started) / len(events), rows / len(events)


def deal_updates(targets: list[tuple[str, str]], count: int, rng: random.Random,
                 first_version: int) -> list:
    """``count`` new versions (new amounts) of the deals of random ``targets``."""
    return [opportunity(tenant, f"{acc}-o", acc, version=first_version + v, day=2,
                        amount=str(Decimal(10000 + v)))
            for v, (tenant, acc) in enumerate(rng.choice(targets) for _ in range(count))]


def company_of(holders: list[str], pairs: list[tuple[str, str]]) -> tuple[Pipeline, list]:
    """A pipeline where one company is held by one account (with a deal) per holder."""
    pipeline = Pipeline()
    for a, b in pairs:
        pipeline.apply(*partnership(f"{a}-{b}", a, b, full(a, b)))
    held = []
    for n, tenant in enumerate(holders):
        acc = f"{tenant}-big{n}"
        pipeline.apply(*account(tenant, acc, domain="bigco.com", name="BigCo",
                                relationship="CUSTOMER"))
        pipeline.apply(*opportunity(tenant, f"{acc}-o", acc, day=2))
        held.append((tenant, acc))
    return pipeline, held


def part1(updates: int) -> None:
    print("Part 1: an update of one deal in a company of N accounts")
    four = [("acme", "globex"), ("initech", "umbrella"), ("acme", "initech")]
    many = [f"tenant{n:02}" for n in range(32)]
    cases = [(f"{n:>5} accounts", [TENANTS[i % 4] for i in range(n)], four)
             for n in (1, 100, 1000)]
    cases.append(("32 tenants, all partnered", many, list(combinations(many, 2))))
    base = None
    for label, holders, pairs in cases:
        rng = random.Random(len(holders))
        pipeline, held = company_of(holders, pairs)
        count = max(20, min(updates, 20_000 // len(holders)))
        cost, rows = min(timed_rows(pipeline, deal_updates(held, count, rng, 2 + rep * count))
                         for rep in range(REPEATS))
        base = base or cost
        print(f"  {label:<26} {cost * 1e3:>8.3f} ms/event, x{cost / base:,.2f} "
              f"of a 1-account company ({rows:.1f} result rows changed per update)")


def snap(tenant: str, acc: str, name: str) -> dict:
    return {"tenant_id": tenant, "account_record_id": acc, "name": name,
            "relationship": "CUSTOMER", "match_method": "domain", "opportunities": [],
            "touches": [], "contacts": 0, "last_activity": 0}


def part2(sizes: list[int], changes: int) -> None:
    print(f"Part 2: a partnership change, two tenants sharing {SHARED} companies")
    others = [f"other{n}" for n in range(8)]
    base = None
    for size in sizes:
        pipeline = Pipeline()
        pipeline.apply(*partnership("ab", "alpha", "beta", full("alpha", "beta")))
        stage, state = pipeline.companies, pipeline.company_state
        for n in range(size):
            holders = ("alpha", "beta") if n < SHARED else \
                (others[n % 8], others[(n + 1 + n // 8) % 8])
            for tenant in holders:
                key = f"{tenant}\x1fa{n}"
                stage.apply_snapshot(state, 0, SnapshotMessage(
                    f"company{n}.com", key, 1, snap(tenant, f"a{n}", f"Company {n}")))
        cost = min(timed(pipeline, [
            partnership("ab", "alpha", "beta", {k: ("ACCOUNTS" if v % 2 else "FULL")
                                                for k in full("alpha", "beta")}, version=v)
            for v in range(2 + rep * changes, 2 + (rep + 1) * changes)])
            for rep in range(REPEATS))
        base = base or cost
        print(f"  {size:>9,} companies: {cost * 1e3:>9.3f} ms/change, x{cost / base:.2f} "
              "of the smallest")
        del pipeline, stage, state
        gc.collect()


def part3(deals: int, updates: int) -> None:
    print("Part 3: an update of one deal on an account holding N closed-won deals")
    base = None
    for count in (1, deals):
        pipeline = Pipeline()
        pipeline.apply(*partnership("ag", "acme", "globex", full("acme", "globex")))
        pipeline.apply(*account("globex", "g1", domain="wonco.com", relationship="CUSTOMER"))
        # deals and touches first: the account's one snapshot then carries them all
        for n in range(count):
            pipeline.apply(*opportunity("acme", f"o{n}", "a1", day=10, closed=True, won=True,
                                        amount="1000", created_day=1))
            pipeline.apply(*touch("acme", f"t{n}", "globex", opp_id=f"o{n}", day=5))
        pipeline.apply(*account("acme", "a1", domain="wonco.com", relationship="CUSTOMER"))
        rng = random.Random(count)
        cost = min(timed(pipeline, [
            opportunity("acme", f"o{rng.randrange(count)}", "a1", version=v, day=10,
                        closed=True, won=True, amount=str(2000 + v), created_day=1)
            for v in range(2 + rep * updates, 2 + (rep + 1) * updates)])
            for rep in range(REPEATS))
        base = base or cost
        print(f"  {count:>5} deals: {cost * 1e3:>9.3f} ms/event, x{cost / base:,.2f} of one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--companies", default="1000,100000",
                        help="companies in state for part 2, comma-separated")
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--deals", type=int, default=1000)
    args = parser.parse_args()
    part1(args.updates)
    part2([int(s) for s in args.companies.split(",")], args.changes)
    part3(args.deals, 20)


if __name__ == "__main__":
    main()

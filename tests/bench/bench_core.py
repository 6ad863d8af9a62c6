"""The pure core (``Pipeline.apply``: no Kafka, no ClickHouse) as state and companies grow.

Run by hand (not collected by pytest):

    python tests/bench/bench_core.py [--sizes 10000,100000] [--updates 5000]

Part 1, state size: for each size, a history of that many accounts (four tenants sharing
a market of companies, partnered two by two at FULL, each account with one open deal) is
applied, then ``--updates`` opportunity updates on random accounts are timed. It prints
events per second and the per-event cost relative to the smallest size (1.0 = flat).

Company size, partnership changes and many deals on one account: bench_company.py.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from streams.core.pipeline import Pipeline  # noqa: E402
from tests.factories import account, opportunity, partnership  # noqa: E402

TENANTS = ("acme", "globex", "initech", "umbrella")
FULL = {(t, p): "FULL" for t in TENANTS
        for p in ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY")}


def partnered() -> Pipeline:
    pipeline = Pipeline()
    for a, b in (("acme", "globex"), ("initech", "umbrella"), ("acme", "initech")):
        rules = {k: v for k, v in FULL.items() if k[0] in (a, b)}
        pipeline.apply(*partnership(f"{a}-{b}", a, b, rules))
    return pipeline


def history(pipeline: Pipeline, accounts: int, rng: random.Random) -> list[tuple[str, str]]:
    """Apply ``accounts`` accounts with a deal each; return (tenant, account id) of each."""
    companies = max(1, int(accounts / 1.5))
    held = []
    for n in range(accounts):
        tenant = TENANTS[n % len(TENANTS)]
        company = rng.randrange(companies)
        acc = f"{tenant}-a{n}"
        pipeline.apply(*account(tenant, acc, domain=f"company{company}.com",
                                name=f"Company {company}", relationship="CUSTOMER"))
        pipeline.apply(*opportunity(tenant, f"{acc}-o", acc, day=1, amount="10000"))
        held.append((tenant, acc))
    return held


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="accounts in state, comma-separated (1M needs >12 GB today)")
    parser.add_argument("--updates", type=int, default=5000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print("Part 1: per-event cost as accounts in state grow")
    base = None
    for size in sizes:
        rng = random.Random(size)
        pipeline = partnered()
        held = history(pipeline, size, rng)
        time_updates(pipeline, held, 200, rng)  # warm up
        cost = time_updates(pipeline, held, args.updates, rng)
        base = base or cost
        print(f"  {size:>9,} accounts: {1 / cost:>8,.0f} ev/s, {cost * 1e6:>8.1f} us/event, "
              f"x{cost / base:.2f} of the smallest")
        del pipeline, held
        gc.collect()


if __name__ == "__main__":
    main()

"""Account matching quality on a labelled corpus: precision and recall over account pairs.

    python tests/bench/bench_matching.py [--accounts 20000] [--seed 20260601]
        [--history 0.1] [--merges 10] [--examples 3]

Generates the corpus (``tests/matching_corpus.py``: six tenants, Salesforce-like and
HubSpot-like records, every account labelled with its true company and the kind of
variation it was generated for), applies every account event to a fresh
``streams.core.pipeline.Pipeline`` (one partnership per tenant pair, every population
shared at FULL) and reads each account's company key back from the account state.

Prints, in this order: the corpus; the FALSE MERGES (predicted companies holding accounts
of several true companies, most false pairs first, one account per true company shown);
precision and recall overall and per kind (a true pair counts for its company's kind; a
false pair against the kinds of both its accounts); the missed pairs per kind with a few
examples; the time per event applying the events, as a ratio to as many events that each
carry a distinct plain domain (measured in the same run), and the last quarter of the
events against the first (the cost as accounts grow). A share of the accounts (``--history``)
also gets an earlier version first (no site yet, a mailbox provider's domain, a typo, no
country), which the final version replaces: the labels are the final versions'.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from streams.core.pipeline import Pipeline  # noqa: E402
from tests.matching_corpus import (  # noqa: E402
    SEED,
    TENANTS,
    evaluate,
    full_partnerships,
    generate,
    report,
    run_matcher,
)


def baseline_seconds(corpus) -> float:
    """Seconds applying as many accounts, each with its own plain domain (no partner holds
    the company, nothing to merge): the cheapest matching there is."""
    pipeline = Pipeline()
    for event in full_partnerships():
        pipeline.apply(*event)
    events = [("account", {**record, "website": None, "domain": f"company{n}.com"})
              for n, (_, record) in enumerate(corpus.events())]
    gc.collect()
    started = time.perf_counter()
    for event in events:
        pipeline.apply(*event)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000, help="corpus size (at least)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--history", type=float, default=0.1,
                        help="share of accounts that also get an earlier version")
    parser.add_argument("--merges", type=int, default=10, help="false merges to list")
    parser.add_argument("--examples", type=int, default=3, help="missed pairs shown per kind")
    args = parser.parse_args()

    started = time.perf_counter()
    corpus = generate(args.accounts, args.seed, args.history)
    made = time.perf_counter() - started
    companies = {a.company for a in corpus.accounts}
    flavours = Counter(TENANTS[a.tenant] for a in corpus.accounts)
    held = Counter(a.company for a in corpus.accounts)
    print(f"Corpus (seed {args.seed}): {len(corpus.accounts):,} accounts of "
          f"{len(companies):,} companies over {len(TENANTS)} tenants "
          f"({', '.join(f'{f} {n:,}' for f, n in sorted(flavours.items()))}); "
          f"{sum(1 for n in held.values() if n == 1):,} companies held once; "
          f"{sum(1 for a in corpus.accounts if a.negative):,} accounts of hard negatives; "
          f"generated in {made:.1f} s")

    base = baseline_seconds(corpus)
    gc.collect()
    run = run_matcher(corpus)
    ev = evaluate(corpus, run.predicted, examples=args.examples)
    print()
    print("\n".join(report(ev, merges=args.merges)))
    n = run.events
    first, last = run.quarter_seconds[0], run.quarter_seconds[-1]
    print(f"Time applying the {n:,} account events ({len(corpus.history):,} of them earlier "
          f"versions): {run.seconds / n * 1e3:.3f} ms per event ({n / run.seconds:,.0f}/s), "
          f"x{run.seconds / base:.2f} of as many events each with its own plain domain "
          f"({base / n * 1e3:.3f} ms); last quarter of the events x{last / first:.2f} of "
          "the first")


if __name__ == "__main__":
    main()

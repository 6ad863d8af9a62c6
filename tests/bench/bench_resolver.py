"""The resolver alone (``streams.core.resolver.apply_input``) as the accounts it holds grow.

Run by hand (not collected by pytest):

    python tests/bench/bench_resolver.py [--sizes 10000,100000] [--updates 5000]

Per size, in a fresh process: a population of that many accounts (four tenants; about
half with a domain, the rest name and country only; brands over country domains, names
shared across tenants and one-character typos) is applied, then ``--updates`` account
changes (a new name, a typo, another domain, a delete and re-create) on random accounts
are timed one by one. Per size it prints the microseconds per update, the same relative to
the smallest size (1.0 = flat) and to a same-run baseline (normalizing the update's name
and domain, what the account stage does anyway for every account change), and the
assignments sent per update.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from streams.core.companykey import normalize_name, registrable_domain  # noqa: E402
from streams.core.resolver import MatchInput, apply_input  # noqa: E402
from streams.core.statekeys import account_key  # noqa: E402

TENANTS = ("acme", "globex", "initech", "umbrella")
SUFFIXES = ("com", "de", "co.uk", "fr", "com.au")
COUNTRIES = ("US", "DE", "GB", "FR", "AU")
WORDS = ("north", "blue", "river", "stone", "pixel", "solar", "quantum", "harbor", "maple",
         "vector", "cedar", "summit", "atlas", "nova", "orbit", "prime", "delta", "echo")


def company_name(rnd: random.Random, i: int) -> str:
    """A word of the list and a made-up one (distinct companies mostly differ by more
    than a character, as real ones do)."""
    made_up = "".join(rnd.choice("bcdfghklmnprstvz") + rnd.choice("aeiou")
                      for _ in range(rnd.randint(3, 5)))
    return f"{rnd.choice(WORDS)} {made_up}"


def typo(rnd: random.Random, name: str) -> str:
    letters = [k for k, c in enumerate(name) if c.isalpha()]
    k = rnd.choice(letters)
    return name[:k] + rnd.choice("abcdefghijklmnopqrstuvwxyz") + name[k + 1:]


def record(rnd: random.Random, companies: int) -> tuple[list, str, str]:
    i = rnd.randrange(companies)
    base = company_name(random.Random(i), i)
    country = COUNTRIES[i % len(COUNTRIES)]
    domains = []
    if rnd.random() < 0.5:
        label = base.replace(" ", "")
        domain = f"{label}.{SUFFIXES[i % len(SUFFIXES)] if rnd.random() < 0.8 else rnd.choice(SUFFIXES)}"
        domains.append(["www." + domain, "website"])
    name = typo(rnd, base) if rnd.random() < 0.1 else base
    return domains, name, country


def inputs(raw_domains: list, raw_name: str, country: str) -> tuple[list, str | None]:
    domains = [[registrable_domain(d), f] for d, f in raw_domains]
    return [d for d in domains if d[0]], normalize_name(raw_name)


def run(size: int, updates: int, seed: int) -> dict:
    rnd = random.Random(seed)
    companies = size // 2
    state: dict = {}
    seq: dict[str, int] = {}

    def send(key: str, tenant: str, domains, name, country) -> int:
        seq[key] = seq.get(key, 0) + 1
        return len(apply_input(state, MatchInput(key, tenant, domains, name, country,
                                                 seq[key])))

    keys = []
    for n in range(size):
        tenant = TENANTS[n % len(TENANTS)]
        key = account_key(tenant, f"r{n}")
        keys.append((key, tenant))
        raw = record(rnd, companies)
        domains, name = inputs(*raw)
        send(key, tenant, domains, name, raw[2])
    planned = []
    for _ in range(updates):
        key, tenant = rnd.choice(keys)
        raw = record(rnd, companies) if rnd.random() < 0.9 else ([], None, "")
        planned.append((key, tenant, raw))
    started = time.perf_counter()
    for _key, _tenant, raw in planned:
        inputs(*raw)
    baseline = (time.perf_counter() - started) / updates
    sent = 0
    prepared = [(key, tenant, *inputs(*raw), raw[2]) for key, tenant, raw in planned]
    started = time.perf_counter()
    for key, tenant, domains, name, country in prepared:
        sent += send(key, tenant, domains, name, country)
    per_update = (time.perf_counter() - started) / updates
    return {"size": size, "per_update_us": per_update * 1e6, "baseline_us": baseline * 1e6,
            "assignments_per_update": sent / updates, "keys": len(state)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run(args.one, args.updates, args.seed)))
        return
    first = None
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(size), "--updates",
                              str(args.updates), "--seed", str(args.seed)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        first = first or r["per_update_us"]
        print(f"{r['size']:>8} accounts ({r['keys']} state keys): "
              f"{r['per_update_us']:7.1f} us/update, x{r['per_update_us'] / first:.2f} "
              f"of the smallest size, x{r['per_update_us'] / r['baseline_us']:.2f} of "
              f"normalizing its inputs; {r['assignments_per_update']:.2f} assignments/update")


if __name__ == "__main__":
    main()

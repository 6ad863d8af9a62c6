"""Cost of ``company_key`` per account, against another checkout's in the same run.

Run by hand (not collected by pytest):

    python tests/bench/bench_companykey.py [--accounts 20000] [--rounds 5]
        [--baseline /path/to/other/checkout]

Times ``company_key`` over generated accounts of four kinds: a domain, a website URL, a
plain ASCII name with a legal form (no domain, so the name is normalized) and a name in
another script or with accents. Names are all distinct (every call normalizes; nothing
comes from the cache) unless ``--repeat`` is given. With ``--baseline`` the same accounts
go through that checkout's ``streams/core/companykey.py`` too and the ratio is printed.
Best of several rounds, since the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

WORDS = ("acme initrode globex umbrella hooli vandelay soylent stark wayne wonka tyrell "
         "north data systems labs partners solutions consulting software foods energy").split()
FORMS = ("Inc", "Inc.", "LLC", "Ltd", "Limited", "GmbH", "S.A.", "AG", "plc", "Corp.", "Co",
         "B.V.", "S.r.l.", "Oy", "AB", "Pty Ltd", "GmbH & Co. KG", "Holdings", "")
OTHER = ("株式会社{}ソリューションズ", "{}エナジー株式会社", "ООО «{}»", "{} Søren ApS",
         "Müller {} GmbH", "{}有限公司", "주식회사 {}", "Straße {} AG")


def accounts(n: int, seed: int = 7) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {"domain": [], "website": [], "name_ascii": [],
                                  "name_other": []}
    for i in range(n):
        word = f"{rng.choice(WORDS)}{i}"
        out["domain"].append(dict(domain=f"{word}.co.uk", website=None, name=None,
                                  country="GB"))
        out["website"].append(dict(domain=None, website=f"https://www.{word}.com/about",
                                   name=None, country="US"))
        out["name_ascii"].append(dict(
            domain=None, website=None, country="DE",
            name=f"{word.title()} {rng.choice(WORDS).title()} {rng.choice(FORMS)}".strip()))
        out["name_other"].append(dict(domain=None, website=None, country="JP",
                                      name=rng.choice(OTHER).format(word)))
    return out


def load(root: Path, label: str):
    spec = importlib.util.spec_from_file_location(
        f"companykey_{label}", root / "streams" / "core" / "companykey.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def time_kind(module, rows: list[dict], rounds: int, repeat: bool) -> float:
    """Best microseconds per call over ``rounds``."""
    key = module.company_key
    key(domain=None, website=None, name="Warm Up Ltd", country="GB")  # lazy loads
    best = float("inf")
    for _ in range(rounds):
        for fn in ("_normalize",):
            cached = getattr(module, fn, None)
            if cached is not None and not repeat:
                cached.cache_clear()
        t0 = time.perf_counter()
        for row in rows:
            key(**row)
        best = min(best, time.perf_counter() - t0)
    return best / len(rows) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path)
    parser.add_argument("--repeat", action="store_true",
                        help="keep the name cache between rounds (repeated names)")
    args = parser.parse_args()
    data = accounts(args.accounts)
    this = load(ROOT, "this")
    base = load(args.baseline, "baseline") if args.baseline else None
    for kind, rows in data.items():
        mine = time_kind(this, rows, args.rounds, args.repeat)
        line = f"{kind:<11} this {mine:6.2f} us/account"
        if base is not None:
            theirs = time_kind(base, rows, args.rounds, args.repeat)
            line += f"  baseline {theirs:6.2f} us/account  ratio {mine / theirs:4.2f}x"
        print(line)


if __name__ == "__main__":
    main()

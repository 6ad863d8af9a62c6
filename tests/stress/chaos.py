"""Run the chaos test (tests/integration/test_chaos.py) N times and count the passes.

    python tests/stress/chaos.py --runs 20

Each run starts a broker of its own in a fresh folder, streams about 20k events through
two workers (then three) and a sink while a worker joins, a worker and the sink are
SIGKILLed and the broker is restarted, and compares what the sink wrote with replay. Per
run it prints pass or fail, the rows lost, doubled and extra against replay and the
commits past an unprocessed event; at the end ``passed X of N``. The folder of a failed
run is kept (worker and sink logs, the broker's log, the commit audit) and named in the
output; a passed run's folder is removed unless ``--keep``. Exits 1 unless every run passed.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, for tests.*

from tests.integration.test_chaos import COMPANIES, run_chaos  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="how many runs (default 20)")
    parser.add_argument("--folder", type=Path, default=None,
                        help="where the runs' folders go (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the folders of passed runs")
    parser.add_argument("--companies", type=int, default=COMPANIES,
                        help=f"companies of the generated scenario (default {COMPANIES}, "
                             "about 20k events)")
    parser.add_argument("--verbose", action="store_true", help="print each run's progress")
    args = parser.parse_args(argv)
    # On SIGTERM, stop as on Ctrl-C: the run's processes and broker are stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    root = args.folder or Path(tempfile.mkdtemp(prefix="coselling-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"{args.runs} chaos runs in {root}", flush=True)
    passed = 0
    for run in range(1, args.runs + 1):
        folder = root / f"run-{run:02d}"
        started = time.monotonic()

        def say(line: str, run: int = run, started: float = started) -> None:
            if args.verbose:
                print(f"  run {run} {time.monotonic() - started:6.1f}s {line}", flush=True)

        try:
            outcome = run_chaos(folder, companies=args.companies, say=say)
        except Exception as exc:  # noqa: BLE001 - a failed run, reported and counted
            ok = False
            detail = "".join(traceback.format_exception_only(exc)).strip()
            detail = "\n".join(f"    {line}" for line in detail.splitlines()[:40])
            summary = f"error: {type(exc).__name__}"
        else:
            ok = outcome.passed
            summary = (f"lost {outcome.total('lost')}, doubled {outcome.total('doubled')}, "
                       f"extra {outcome.total('extra')}, commits past an unprocessed event "
                       f"{len(outcome.unprocessed)}")
            detail = "\n".join(f"    {line}" for line in outcome.report().splitlines())
        seconds = time.monotonic() - started
        passed += ok
        print(f"run {run}/{args.runs}: {'PASS' if ok else 'FAIL'} in {seconds:.0f}s: {summary}",
              flush=True)
        if ok and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"{detail}\n    logs in {folder}", flush=True)
    print(f"passed {passed} of {args.runs}", flush=True)
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())

"""``coselling replay`` throughput against a same-run baseline of the bare work underneath.

Run by hand (not collected by pytest):

    python tests/bench/bench_replay.py [--companies 2500] [--rounds 3]

The events are the demo's (``--companies`` sets the market's size), written as JSON Lines.
Each round runs, in fresh processes (chDB opens one folder per process) and alternating:

- the baseline: parse every line with ``json`` and insert the raw rows (tenant, type,
  record id, version, event time, the record as JSON) into a chDB MergeTree table in
  10,000-row batches;
- ``coselling replay FILE`` into a fresh chDB folder: read and check every row, run the
  core, write results and ``crm_events``, save the replay state.

It prints events per second of each (best of ``--rounds``, since the machines are shared
and noisy) and their ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from schemas.textformat import write_jsonl  # noqa: E402
from streams.demo_data import generate  # noqa: E402

BASELINE = r'''
import json, sys
import clickhouse_connect
path, folder = sys.argv[1], sys.argv[2]
client = clickhouse_connect.get_client(dsn=f"chdb://{folder}")
client.command("CREATE TABLE raw (tenant_id String, event_type String, record_id String, "
               "version Int64, event_time String, record String) "
               "ENGINE = MergeTree ORDER BY (tenant_id, record_id)")
columns = ["tenant_id", "event_type", "record_id", "version", "event_time", "record"]
batch = []
with open(path, encoding="utf-8") as lines:
    for line in lines:
        obj = json.loads(line)
        batch.append([obj["tenant_id"], obj["type"], obj["record_id"], obj["version"],
                      str(obj["occurred_at"]), line])
        if len(batch) == 10_000:
            client.insert("raw", batch, column_names=columns)
            batch = []
if batch:
    client.insert("raw", batch, column_names=columns)
'''


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=2500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        events = generate(companies=args.companies)
        path = work / "events.jsonl"
        with path.open("w", encoding="utf-8") as f:
            write_jsonl(f, events)
        best = {"baseline": float("inf"), "replay": float("inf")}
        for r in range(args.rounds):
            best["baseline"] = min(best["baseline"], timed(
                [sys.executable, "-c", BASELINE, str(path), str(work / f"raw{r}")]))
            best["replay"] = min(best["replay"], timed(
                [sys.executable, "-m", "streams.cli", "replay", str(path),
                 "--clickhouse", f"chdb://{work / f'replay{r}'}"]))
    n = len(events)
    rates = {name: n / seconds for name, seconds in best.items()}
    print(f"{n:,} events, best of {args.rounds} rounds, each in a fresh process")
    print(f"  baseline (json + raw insert into chDB): {rates['baseline']:>10,.0f} ev/s")
    print(f"  coselling replay:                       {rates['replay']:>10,.0f} ev/s")
    print(f"  replay / baseline:                      {rates['replay'] / rates['baseline']:>10.2f}")


if __name__ == "__main__":
    main()

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
and noisy) and their ratio, by wall time and by CPU time (every thread of the process,
which a loaded machine disturbs less). The replay runs with timers around its steps (reading and
parsing, validation, the core's ``Pipeline.apply``, building rows, inserts, migrating,
saving the state): it prints where the time of its best round went, and the ratio again
with the core's time taken out, which is what remains for everything around the core.
Writes and migrations run in threads beside the rest, so the steps do not add up to the
total; each step's CPU time (of the thread it ran in) shows its own work apart from
waiting for the machine or the GIL.
"""

from __future__ import annotations

import argparse
import json
import resource
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

#: ``coselling replay`` with timers around its steps; writes {step: [seconds, CPU seconds of
#: the thread it ran in]} to argv[1].
TIMED_REPLAY = r'''
import functools, json, sys, threading, time
from collections import Counter
spent, cpu, lock = Counter(), Counter(), threading.Lock()

def add(step, seconds, cpu_seconds):
    with lock:
        spent[step] += seconds
        cpu[step] += cpu_seconds

def timer(owner, name, step):
    fn = getattr(owner, name)
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            add(step, time.perf_counter() - started, time.thread_time() - started_cpu)
    setattr(owner, name, timed)

def generator_timer(owner, name, step):
    fn = getattr(owner, name)
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        items = fn(*args, **kwargs)
        while True:
            started, started_cpu = time.perf_counter(), time.thread_time()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                add(step, time.perf_counter() - started, time.thread_time() - started_cpu)
            yield item
    setattr(owner, name, timed)

import schemas.validation, sinks.clickhouse, sinks.replay_store, streams.core.companies
import streams.core.pipeline, streams.event_files, streams.replay
generator_timer(streams.event_files.EventFile, "_parsed", "read and parse")
timer(schemas.validation.EventValidator, "check", "validate")
timer(streams.core.pipeline.Pipeline, "apply", "core (Pipeline.apply)")
timer(streams.replay, "event_log_entry", "build rows")
timer(streams.core.companies.ResultChange, "to_json", "build rows")
timer(sinks.clickhouse, "table_columns", "build rows")
timer(sinks.clickhouse.ClickHouseWriter, "_insert", "inserts")
timer(sinks.clickhouse.ClickHouseWriter, "migrate", "open and migrate")
timer(sinks.replay_store.ReplayStore, "save_states", "save the state")
from streams.cli import main
out, sys.argv = sys.argv[1], ["coselling", *sys.argv[2:]]
try:
    main()
finally:
    with open(out, "w") as f:
        json.dump({step: [seconds, cpu[step]] for step, seconds in spent.items()}, f)
'''


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (every thread, user and system) of running ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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
        cpu = dict(best)
        steps: dict[str, list[float]] = {}
        for r in range(args.rounds):
            wall, used = timed([sys.executable, "-c", BASELINE, str(path), str(work / f"raw{r}")])
            best["baseline"], cpu["baseline"] = min(best["baseline"], wall), min(cpu["baseline"],
                                                                                 used)
            spent = work / f"steps{r}.json"
            wall, used = timed([sys.executable, "-c", TIMED_REPLAY, str(spent), "replay",
                                str(path), "--clickhouse", f"chdb://{work / f'replay{r}'}"])
            cpu["replay"] = min(cpu["replay"], used)
            if wall < best["replay"]:
                best["replay"], steps = wall, json.loads(spent.read_text())
    n = len(events)
    core, core_cpu = steps["core (Pipeline.apply)"]
    print(f"{n:,} events, best of {args.rounds} rounds, each in a fresh process")
    print(f"  {'':<28} {'ev/s':>8} {'ev/CPU s':>9}")
    rows = [("baseline (json + raw insert)", best["baseline"], cpu["baseline"]),
            ("coselling replay", best["replay"], cpu["replay"]),
            ("replay less the core's time", best["replay"] - core, cpu["replay"] - core_cpu)]
    for name, wall, used in rows:
        print(f"  {name:<28} {n / wall:>8,.0f} {n / used:>9,.0f}")
    print(f"  {'ratio to the baseline':<28} {'by wall':>8} {'by CPU':>9}")
    for name, wall, used in rows[1:]:
        print(f"  {name:<28} {best['baseline'] / wall:>8.2f} {cpu['baseline'] / used:>9.2f}")
    print(f"where the replay's {best['replay']:.2f} s went (threads overlap: no sum):")
    print(f"  {'step':<38} {'wall s':>7} {'CPU s':>7}")
    for step, (seconds, used) in sorted(steps.items(), key=lambda item: -item[1][0]):
        print(f"  {step:<38} {seconds:>7.2f} {used:>7.2f}")

if __name__ == "__main__":
    main()

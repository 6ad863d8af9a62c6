"""ClickHouse sink throughput into chDB, and analyst view query times on 1M overlap rows.

Run by hand (not collected by pytest):

    python tests/bench/bench_sink.py [--overlaps 1000000] [--rounds 3]

Part 1, the writer: sink messages (JSON, as they come off the sink topic) go through
``ClickHouseSink.add``/``flush`` (decode, validate, convert, insert with a deduplication
token) at batch sizes of 1k, 10k and 100k rows. The baseline, measured in the same run, is
a bare clickhouse-connect insert of the same rows already converted: the ratio shows what
the sink's own work costs. Best of ``--rounds``, since the machines are shared and noisy.

Part 2, the views: ``--overlaps`` overlap rows (plus a tenth as many intros, attributions
and raw events) are loaded, then each analyst view is read in full (``FORMAT Null``); the
baseline is a plain scan of ``overlap_state`` without ``FINAL``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sinks.base import Message  # noqa: E402
from sinks.clickhouse import ClickHouseSink, ClickHouseWriter  # noqa: E402
from sinks.rows import table_rows  # noqa: E402
from sinks.tables import OVERLAPS, TABLES, VIEWS  # noqa: E402

DAY = 86_400_000
T0 = 1_780_000_000_000
POPS = ["CUSTOMER", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY", "PROSPECT"]
TENANTS = [f"tenant{i:02d}" for i in range(20)]


def overlap(i: int, rnd: random.Random) -> dict:
    tenant, partner = rnd.sample(TENANTS, 2)
    counted = sorted(rnd.sample(POPS, rnd.randint(1, 2)))
    visible = counted[:1] if rnd.random() < 0.7 else []
    return {"kind": "overlap", "key": f"overlap|{tenant}|{partner}|c{i}.com",
            "version": 1 + i % 7, "active": rnd.random() < 0.9, "change": None, "row": {
                "tenant_id": tenant, "partner_tenant_id": partner, "company_key": f"c{i}.com",
                "partnership_id": f"{min(tenant, partner)}-{max(tenant, partner)}",
                "match_method": "domain", "tenant_populations": [rnd.choice(POPS)],
                "partner_populations": visible, "counted_partner_populations": counted,
                "visible": bool(visible), "partner_account_name": None,
                "occurred_at": T0 + rnd.randrange(365) * DAY}}


def intro(i: int, rnd: random.Random) -> dict:
    tenant, partner = rnd.sample(TENANTS, 2)
    return {"kind": "intro", "key": f"intro|{i}", "version": 1 + i % 3,
            "active": rnd.random() < 0.5, "change": None, "row": {
                "tenant_id": tenant, "partner_tenant_id": partner, "company_key": f"c{i}.com",
                "opportunity_record_id": f"o{i}", "account_record_id": f"a{i}",
                "partnership_id": "p", "score": rnd.random(), "reasons": ["r1", "r2"],
                "partner_populations": ["CUSTOMER"], "stage": "Discovery",
                "amount": str(rnd.randrange(1000, 500_000)), "currency": "USD",
                "occurred_at": T0 + rnd.randrange(365) * DAY}}


def attribution(i: int, rnd: random.Random) -> dict:
    tenant, partner = rnd.sample(TENANTS, 2)
    return {"kind": "attribution", "key": f"attr|{i}", "version": 1, "active": True,
            "change": None, "row": {
                "tenant_id": tenant, "partner_tenant_id": partner, "company_key": f"c{i}.com",
                "opportunity_record_id": f"o{i}", "model": rnd.choice(["linear", "first_touch"]),
                "credit": rnd.choice(["sourced", "influenced"]), "weight": 1.0,
                "attributed_amount": str(rnd.randrange(1000, 90_000)), "currency": "USD",
                "closed_at": T0 + rnd.randrange(365) * DAY, "touch_record_ids": ["t"],
                "occurred_at": T0 + rnd.randrange(365) * DAY}}


def crm_event(i: int, rnd: random.Random) -> dict:
    record = {"record_id": f"o{i}", "is_closed": rnd.random() < 0.5, "is_won": True}
    return {"kind": "crm_event", "row": {
        "tenant_id": rnd.choice(TENANTS), "event_type": "opportunity", "source": "bench",
        "record_id": f"o{i}", "record_version": 1, "op": "UPSERT", "event_id": f"e{i}",
        "event_time": T0 + rnd.randrange(365) * DAY, "ingest_time": T0,
        "record": json.dumps(record)}}


def bench_writer(writer: ClickHouseWriter, batch: int, rounds: int) -> tuple[float, float]:
    """Rows/s through the sink and through a bare insert (best of ``rounds``)."""
    rnd = random.Random(batch)
    messages = [Message("bench", 0, n, None, json.dumps(overlap(n, rnd)).encode())
                for n in range(batch)]
    converted = [table_rows(json.loads(m.value))[0][1] for m in messages]
    sink_best = bare_best = 0.0
    for r in range(rounds):
        writer.command("TRUNCATE TABLE overlap_state")
        sink = ClickHouseSink(writer, max_rows=batch, max_age=3600)
        started = time.perf_counter()
        for m in messages:
            sink.add(Message(m.topic, m.partition, m.offset + r * batch, m.key, m.value))
        result = sink.flush()
        sink_best = max(sink_best, result.rows / (time.perf_counter() - started))
        writer.command("TRUNCATE TABLE overlap_state")
        started = time.perf_counter()
        writer.client.insert(OVERLAPS.name, converted, column_names=OVERLAPS.column_names,
                             column_type_names=OVERLAPS.column_types)
        bare_best = max(bare_best, batch / (time.perf_counter() - started))
    return sink_best, bare_best


def load(writer: ClickHouseWriter, make, n: int, chunk: int = 100_000) -> None:
    rnd = random.Random(n)
    for start in range(0, n, chunk):
        writer.write([make(i, rnd) for i in range(start, min(n, start + chunk))])


def timed(writer: ClickHouseWriter, sql: str, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        writer.command(f"{sql} FORMAT Null")
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overlaps", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        writer = ClickHouseWriter(f"chdb://{folder}/chdb")
        writer.migrate()
        print(f"writer into chDB (overlap rows, best of {args.rounds}):")
        print(f"  {'batch':>7} {'sink rows/s':>12} {'bare insert rows/s':>19} {'ratio':>6}")
        for batch in (1_000, 10_000, 100_000):
            sink_rate, bare_rate = bench_writer(writer, batch, args.rounds)
            print(f"  {batch:>7,} {sink_rate:>12,.0f} {bare_rate:>19,.0f} "
                  f"{sink_rate / bare_rate:>6.2f}")
        writer.command("TRUNCATE TABLE overlap_state")

        started = time.perf_counter()
        extra = args.overlaps // 10
        load(writer, overlap, args.overlaps)
        load(writer, intro, extra)
        load(writer, attribution, extra)
        load(writer, crm_event, extra)
        loaded = time.perf_counter() - started
        sizes = {t: writer.query(f"SELECT count() FROM {t}")[0][0] for t in TABLES}
        print(f"\nloaded in {loaded:.1f}s ({args.overlaps / loaded:,.0f} overlap rows/s "
              f"through writer.write): " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
        base = timed(writer, "SELECT * FROM overlap_state", args.rounds)
        print(f"view query times (full read, FORMAT Null, best of {args.rounds}); baseline: "
              f"plain scan of overlap_state without FINAL {base * 1000:.0f} ms")
        print(f"  {'view':<28} {'rows':>9} {'ms':>8} {'x baseline':>11}")
        for view in VIEWS:
            seconds = timed(writer, f"SELECT * FROM {view}", args.rounds)
            rows = writer.query(f"SELECT count() FROM {view}")[0][0]
            print(f"  {view:<28} {rows:>9,} {seconds * 1000:>8.0f} {seconds / base:>11.2f}")
        writer.close()


if __name__ == "__main__":
    main()

"""Codec throughput: fastavro (the pipeline's codec) against the Apache avro package.

Run by hand (not collected by pytest):

    python tests/bench/bench_codec.py [--events 20000] [--rounds 5]

Both decode loops decode the same single-object-encoded opportunity events to Python
dicts; the avro loop strips the same 10-byte header and uses avro's DatumReader on the
body. Both encode loops encode the same records, each checking the record against the
schema first (``Codec.encode`` with its ``check_record``; avro's DatumWriter validates
before it writes). Prints events/second of each (best of several rounds, since the
machines are shared and noisy) and the ratios measured in this run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import avro.io  # noqa: E402
import avro.schema  # noqa: E402

from schemas.catalog import default_catalog  # noqa: E402
from schemas.codec import Codec  # noqa: E402


def make_records(n: int) -> list[dict]:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    out = []
    for i in range(n):
        out.append(
                {
                    "event_id": f"6f1c2d3e-{i:04x}-4000-8000-00000000{i:04x}",
                    "tenant_id": ("acme", "globex", "initech")[i % 3],
                    "source": "salesforce",
                    "record_id": f"006A{i:08d}",
                    "version": 1_760_000_000_000 + i,
                    "occurred_at": t0 + dt.timedelta(seconds=i),
                    "op": "UPSERT",
                    "account_record_id": f"001A{i % 5000:08d}",
                    "name": f"Platform expansion {i}",
                    "stage": ("Discovery", "Proposal", "Negotiation")[i % 3],
                    "is_closed": i % 7 == 0,
                    "is_won": i % 14 == 0,
                    "amount": (Decimal(10_000 + i) / 4).quantize(Decimal("0.0001")),  # avro does not rescale
                    "currency": "USD",
                    "close_date": dt.date(2026, 12, 1),
                    "created_at": t0,
                })
    return out


def make_payloads(records: list[dict]) -> list[bytes]:
    codec = Codec()
    return [codec.encode("opportunity", r) for r in records]


def bench(loops, rounds: int) -> list[float]:
    """Best events/second of each (fn, payloads) loop; rounds interleave the loops so both
    see the same machine load."""
    best = [float("inf")] * len(loops)
    for _ in range(rounds):
        for i, (fn, payloads) in enumerate(loops):
            start = time.perf_counter()
            for p in payloads:
                fn(p)
            best[i] = min(best[i], (time.perf_counter() - start) / len(payloads))
    return [1 / b for b in best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    records = make_records(args.events)
    payloads = make_payloads(records)
    codec = Codec()
    schema = default_catalog().current("opportunity")
    parsed = avro.schema.parse(json.dumps(schema.source))
    reader = avro.io.DatumReader(parsed)
    writer = avro.io.DatumWriter(parsed)

    def avro_decode(payload: bytes):
        return reader.read(avro.io.BinaryDecoder(io.BytesIO(payload[10:])))

    # Same answer from both before timing anything.
    assert codec.decode(payloads[1]).record["record_id"] == avro_decode(payloads[1])["record_id"]

    fast, slow = bench(
        [(codec.decode, payloads), (avro_decode, payloads[: max(1, args.events // 4)])],
        args.rounds,
    )
    print(f"opportunity decode, {args.events} events, best of {args.rounds} rounds")
    print(f"  fastavro (schemas.Codec.decode): {fast:>12,.0f} events/s")
    print(f"  avro package (DatumReader):      {slow:>12,.0f} events/s")
    print(f"  ratio fastavro / avro:           {fast / slow:>12.1f}x")

    def codec_encode(record: dict) -> bytes:
        return codec.encode("opportunity", record)

    def avro_encode(record: dict) -> bytes:
        out = io.BytesIO()
        writer.write(record, avro.io.BinaryEncoder(out))
        return out.getvalue()

    # The same body from both before timing anything.
    assert codec_encode(records[1])[10:] == avro_encode(records[1])
    fast, slow = bench(
        [(codec_encode, records), (avro_encode, records[: max(1, args.events // 4)])],
        args.rounds,
    )
    print(f"opportunity encode (record checked first), {args.events} events, best of "
          f"{args.rounds} rounds")
    print(f"  fastavro (schemas.Codec.encode): {fast:>12,.0f} events/s")
    print(f"  avro package (DatumWriter):      {slow:>12,.0f} events/s")
    print(f"  ratio fastavro / avro:           {fast / slow:>12.1f}x")


if __name__ == "__main__":
    main()

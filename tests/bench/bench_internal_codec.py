"""Internal messages: the Avro schemas (schemas/internal.py) against the JSON before.

Run by hand (not collected by pytest):

    python tests/bench/bench_internal_codec.py [--companies 600] [--rounds 5]

Collects every internal message the core makes on a generated scenario (tests/scenario.py),
then, per kind, encodes each message's ``to_json`` and decodes it again both ways: Avro
(``InternalCodec``: marker, schema id, schemaless body written by the compiled writer of
``schemas/avro_writer.py``, read by fastavro) and the stdlib ``json`` the workers used
before. Prints bytes per message and microseconds per message (best of ``--rounds``) and
the Avro / JSON ratios measured in this run; and the time fastavro's own writer
(``schemaless_writer``, what the codec used before) takes for the same bodies, with the
ratio compiled / fastavro.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fastavro import schemaless_writer  # noqa: E402

from schemas.internal import MARKER, internal_codec  # noqa: E402
from tests.internal_messages import core_messages  # noqa: E402
from tests.scenario import scenario  # noqa: E402


def best(rounds: int, run: Callable[[], object], count: int) -> float:
    """Microseconds per message of ``run`` (over ``count`` messages), best of ``rounds``."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    codec = internal_codec()
    made = core_messages(scenario(companies=args.companies, seed=11))
    print(f"{'kind':<12} {'msgs':>6} {'JSON B':>7} {'Avro B':>7} {'ratio':>6} | "
          f"{'enc JSON':>8} {'enc Avro':>8} {'ratio':>6} | {'dec JSON':>8} {'dec Avro':>8} "
          f"{'ratio':>6} | {'fastavro':>8} {'ratio':>6}  (microseconds per message)")
    totals = [0, 0, 0.0, 0.0, 0.0, 0.0, 0.0]
    for kind in sorted(made):
        data = [m.to_json() for m in made[kind]]
        n = len(data)
        as_json = [json.dumps(d).encode() for d in data]
        as_avro = [codec.encode(kind, d) for d in data]
        assert all(v[0] == MARKER for v in as_avro), f"a {kind} message went as JSON"
        assert [codec.decode(v) for v in as_avro] == [json.loads(v) for v in as_json]
        jb, ab = sum(map(len, as_json)), sum(map(len, as_avro))
        enc_j = best(args.rounds, lambda data=data: [json.dumps(d).encode() for d in data], n)
        enc_a = best(args.rounds, lambda data=data, kind=kind: [codec.encode(kind, d)
                                                               for d in data], n)
        dec_j = best(args.rounds, lambda vs=as_json: [json.loads(v) for v in vs], n)
        dec_a = best(args.rounds, lambda vs=as_avro: [codec.decode(v) for v in vs], n)
        schema = codec.current[kind]
        bodies = [{k: v for k, v in d.items() if k != "kind"} for d in data]

        def fastavro_writes(bodies=bodies, schema=schema):
            for body in bodies:
                out = io.BytesIO()
                out.write(schema.prefix)
                schemaless_writer(out, schema.parsed, body, strict=True)
                out.getvalue()

        enc_f = best(args.rounds, fastavro_writes, n)
        for i, value in enumerate((jb, ab, enc_j * n, enc_a * n, dec_j * n, dec_a * n,
                                   enc_f * n)):
            totals[i] += value
        print(f"{kind:<12} {n:>6,} {jb / n:>7.0f} {ab / n:>7.0f} {ab / jb:>6.2f} | "
              f"{enc_j:>8.1f} {enc_a:>8.1f} {enc_a / enc_j:>6.2f} | {dec_j:>8.1f} "
              f"{dec_a:>8.1f} {dec_a / dec_j:>6.2f} | {enc_f:>8.1f} {enc_a / enc_f:>6.2f}")
    jb, ab, enc_j, enc_a, dec_j, dec_a, enc_f = totals
    print(f"{'all':<12} {'':>6} {'':>7} {'':>7} {ab / jb:>6.2f} | {'':>8} {'':>8} "
          f"{enc_a / enc_j:>6.2f} | {'':>8} {'':>8} {dec_a / dec_j:>6.2f} | {'':>8} "
          f"{enc_a / enc_f:>6.2f}  (Avro / JSON: bytes, encode time, decode time; "
          "compiled / fastavro: encode time)")


if __name__ == "__main__":
    main()

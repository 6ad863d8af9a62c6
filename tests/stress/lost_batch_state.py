"""Stage-two batches cut short by a crash, in the core: what a SIGKILL inside a batch does.

    python tests/stress/lost_batch_state.py --examples 300 [--protocol sends-first]

Without Kafka: random histories (tests/unit/core/test_incremental_company.py) go through
the core as the stream feeds it (batches of one to four inbound events or internal
messages of the accounts stage; snapshots and match inputs delivered in between, in any
order). Now and then a crash cuts a batch short, and its events are read again later, in
another composition. The current results must equal what the replay path gives. Prints
``passed`` or the first (shrunk) history whose results differ, with the result keys
missing, extra and different; exits 1 then.

``--protocol outbox`` (the default) is the worker's batch loop: a crash leaves a batch
either whole (its outbox landed: the next owner writes its state and sends its messages)
or without a trace. ``--protocol sends-first`` is the loop before the outbox (messages
delivered, then the table state written): a crash between the two lost the state behind
delivered messages, and this fails; the per-key counters (snapshot, match input and
forwarded-touch sequence numbers) and the company an account last sent to lived in the
lost state, so the batch applied again could number newer content no higher than what
was delivered, or not retract a company the lost run sent a snapshot to.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, for tests.*

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from streams.core.accounts import SnapshotMessage  # noqa: E402
from streams.core.opportunities import internal_message_from_json  # noqa: E402
from streams.core.pipeline import Pipeline  # noqa: E402
from streams.core.resolver import MatchInput  # noqa: E402
from tests.unit.core.test_incremental_company import histories  # noqa: E402
from tests.unit.core.test_settle_here import active_results  # noqa: E402

STAGE_TWO = ("in", "internal")


def as_sent(msg) -> tuple[str, object]:
    """A message as the stream delivers it: through JSON, tagged with its stage."""
    data = json.loads(json.dumps(msg.to_json()))
    if isinstance(msg, SnapshotMessage):
        return "snapshot", SnapshotMessage.from_json(msg.company_key, data)
    if isinstance(msg, MatchInput):
        return "match", MatchInput.from_json(msg.key, data)
    return "internal", internal_message_from_json(msg.key, data)


def stream_with_lost_batches(events, rng: random.Random, loss: float,
                             protocol: str = "outbox") -> Pipeline:
    """The core fed as the stream feeds it; a batch cut short by a crash with ``loss``.

    ``protocol`` is what a crash can leave (the worker's batch loop, streams/app.py):

    - ``outbox`` (the worker's): the batch's outbox landed or it did not. If it did, the
      next owner of the partition writes the batch's state and sends its messages from
      it; if not, the batch wrote and sent nothing. Either way its events are read again.
    - ``sends-first`` (the loop before the outbox): the batch's messages were delivered
      and its account state was lost, then its events are read again.
    """
    p = Pipeline(typos={})
    for event in events:
        if event[0] == "partnership":
            p.apply(*event)
    pending = [("in", e) for e in events if e[0] != "partnership"]
    while pending:
        batch = []
        for _ in range(rng.randint(1, 4)):
            mine = [i for i, (kind, _) in enumerate(pending) if kind in STAGE_TWO]
            if not mine:
                break
            batch.append(pending.pop(rng.choice(mine)))
        crash = bool(batch) and rng.random() < loss
        saved = copy.deepcopy(p.account_state) if crash else None
        out = []
        for kind, item in batch:
            out += p.accounts.apply(p.account_state, *item) if kind == "in" else p.step(item)
        if crash:
            landed = protocol == "outbox" and rng.random() < 0.5  # completed from it
            if not landed:  # sends-first: state lost; outbox: nothing of the batch landed
                p.account_state = saved
                if protocol == "outbox":
                    out = []
            for item in batch:
                pending.insert(rng.randrange(len(pending) + 1), item)
        for _ in range(rng.randint(0, 3)):
            theirs = [i for i, (kind, _) in enumerate(pending) if kind not in STAGE_TWO]
            if not theirs:
                break
            kind, item = pending.pop(rng.choice(theirs))
            if kind == "snapshot":
                p.companies.apply_snapshot(p.company_state, 0, item)
            else:
                out += p.step(item)
        pending += [as_sent(msg) for msg in out]
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=300, help="histories (default 300)")
    parser.add_argument("--loss", type=float, default=0.3,
                        help="chance that a crash cuts a batch short (default 0.3; 0 "
                             "checks the harness itself)")
    parser.add_argument("--protocol", choices=("outbox", "sends-first"), default="outbox",
                        help="what a crash can leave: the worker's batch loop (outbox, the "
                             "default) or the loop before it (sends-first: fails)")
    args = parser.parse_args(argv)
    found: list[str] = []

    @settings(max_examples=args.examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(events=histories(), seed=st.integers(0, 10**6))
    def check(events, seed):
        replay = Pipeline(typos={})
        replay.run(events)
        want = active_results(replay)
        got = active_results(stream_with_lost_batches(events, random.Random(seed), args.loss,
                                                     args.protocol))
        found[:] = [f"missing: {sorted(want.keys() - got.keys())}",
                    f"extra: {sorted(got.keys() - want.keys())}",
                    f"different: {sorted(k for k in want.keys() & got.keys() if want[k] != got[k])}"]
        assert got == want

    try:
        check()
    except AssertionError:
        print("failed; the shrunk history's results:", *found, sep="\n  ")
        return 1
    print(f"passed ({args.examples} histories)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

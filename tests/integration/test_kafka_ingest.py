"""Encoded events through a real broker and a Faust worker: all arrive decoded, once."""

import datetime as dt
import random
import time
import urllib.request
from decimal import Decimal

import pytest
from kafka.partitioner.default import murmur2

from schemas.codec import Codec
from streams.core.opportunities import is_internal_payload
from streams.deadletter import HEADER_ERROR_TYPE, HEADER_SOURCE_TOPIC
from streams.routing import route
from tests.integration.conftest import consume_until, inbound_key

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def _events(n: int, seed: int = 1):
    rng = random.Random(seed)
    events = []
    for i in range(n):
        tenant = rng.choice(["acme", "globex", "initech"])
        env = {
            "event_id": f"ev-{i}",
            "tenant_id": tenant,
            "source": "salesforce",
            "version": rng.randint(1, 10**12),
            "occurred_at": T0 + dt.timedelta(minutes=i),
            "op": rng.choice(["UPSERT", "UPSERT", "DELETE"]),
        }
        account = f"acc-{rng.randint(1, 40)}"
        kind = i % 5
        if kind == 0:
            events.append(
                (
                    "account",
                    dict(
                        env,
                        record_id=account,
                        name=f"Company {account}",
                        website=f"https://www.c{account}.com",
                        domain=None,
                        country="US",
                        relationship="CUSTOMER",
                        industry=None,
                    ),
                )
            )
        elif kind == 1:
            events.append(
                (
                    "opportunity",
                    dict(
                        env,
                        record_id=f"opp-{i}",
                        account_record_id=account,
                        name="Deal",
                        stage="Proposal",
                        is_closed=False,
                        is_won=False,
                        amount=Decimal("1234.5"),
                        currency="USD",
                        close_date=dt.date(2026, 12, 1),
                        created_at=T0,
                    ),
                )
            )
        elif kind == 2:
            events.append(
                (
                    "contact",
                    dict(
                        env,
                        record_id=f"c-{i}",
                        account_record_id=account,
                        email_sha256="ab" * 32,
                        email_domain="c.com",
                        title="CTO",
                    ),
                )
            )
        elif kind == 3:
            events.append(
                (
                    "partner_touch",
                    dict(
                        env,
                        record_id=f"t-{i}",
                        opportunity_record_id=None,
                        account_record_id=account,
                        partner_tenant_id="globex",
                        touch_type="REFERRAL",
                        partner_sourced=True,
                        campaign=None,
                    ),
                )
            )
        else:
            events.append(
                (
                    "partnership",
                    dict(
                        env,
                        record_id=f"p-{i}",
                        partnership_id=f"p-{i}",
                        tenant_a="acme",
                        tenant_b="globex",
                        status="ACTIVE",
                        sharing=[
                            {"from_tenant": "acme", "population": "CUSTOMER", "level": "FULL"}
                        ],
                    ),
                )
            )
    return events


def _events_in(port: int) -> float:
    """The worker's ``coselling_events_in_total``, summed over its labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as page:
        text = page.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("coselling_events_in_total{"))


def wait_for(read, done, timeout: float = 30):
    """``read()`` until ``done`` of it holds or ``timeout`` seconds passed; the last read."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


BAD_MESSAGES = [
    b"",
    b"\x07not avro",
    b"\xc3\x01" + bytes(8) + b"xx",
    b"\x00\x00\x00\x00\x09",
    b"\xc3\x01",
]


def test_every_event_arrives_decoded_once(pipeline_settings, start_worker, producer):
    """Each accepted event is applied once: where it was read when its route key belongs to
    that partition, else forwarded under its route key (partnerships: to control)."""
    settings = pipeline_settings
    codec = Codec()
    events = _events(250)
    landed = {}  # event id -> the inbound partition it was published to
    for n, (event_type, record) in enumerate(events):
        sent = producer.send(settings.topic_inbound, key=inbound_key(n, event_type, record),
                             value=codec.encode(event_type, record))
        landed[record["event_id"]] = sent.get(timeout=30).partition
    for i, bad in enumerate(BAD_MESSAGES):
        producer.send(settings.topic_inbound, key=f"bad-{i}".encode(), value=bad)
    producer.flush()

    def forwarded_from_inbound(event_type, record):
        if event_type == "partnership":
            return True
        owner = (murmur2(route(event_type, record).key) & 0x7FFFFFFF) % \
            settings.topic_partitions  # Kafka's default partitioner, as the worker's
        return owner != landed[record["event_id"]]

    expected_forwards = {r["event_id"]: (t, r) for t, r in events
                         if forwarded_from_inbound(t, r)}
    assert 0 < len(expected_forwards) < len(events), "both ways in must be exercised"

    worker = start_worker()
    expected = len(expected_forwards) + len(BAD_MESSAGES)

    def check_alive():
        assert worker.alive(), f"worker exited:\n{worker.log()[-3000:]}"

    def routed(msgs):  # without the accounts stage's own messages on the by-account topic
        return [m for m in msgs if not is_internal_payload(m.value)]

    out = routed(consume_until(
        settings.kafka_bootstrap_servers,
        [settings.topic_by_account, settings.topic_control, settings.topic_dead_letter],
        lambda msgs: len(routed(msgs)) >= expected,
        on_idle=check_alive,
    ))
    assert len(out) == expected, f"got {len(out)} of {expected}:\n{worker.log()[-3000:]}"

    forwarded = [m for m in out if m.topic != settings.topic_dead_letter]
    decoded = {}
    for m in forwarded:
        d = codec.decode(m.value)
        assert d.record["event_id"] not in decoded, "an event arrived twice"
        decoded[d.record["event_id"]] = (d.event_type, d.record)
        expected_route = route(d.event_type, d.record)
        assert m.key == expected_route.key
        assert m.topic == (
            settings.topic_control if d.event_type == "partnership" else settings.topic_by_account
        )
    assert decoded == expected_forwards
    # The others were applied where they were read: every accepted event counted once.
    counted = wait_for(lambda: _events_in(worker.web_port), lambda c: c == len(events))
    assert counted == len(events)

    dead = [m for m in out if m.topic == settings.topic_dead_letter]
    assert sorted(m.value for m in dead) == sorted(BAD_MESSAGES)
    for m in dead:
        headers = dict(m.headers)
        assert headers[HEADER_SOURCE_TOPIC] == settings.topic_inbound.encode()
        assert headers[HEADER_ERROR_TYPE] in {
            b"TruncatedPayloadError",
            b"FramingError",
            b"UnknownSchemaError",
            b"SchemaMismatchError",
        }
    assert worker.alive(), "bad input must not stop the worker"

"""The streaming path (real Kafka, two Faust workers, the sink) equals the replay path."""

import random

import pytest

from schemas.codec import Codec
from schemas.textformat import write_jsonl
from sinks.clickhouse import ClickHouseWriter, views_snapshot
from sinks.tables import CURRENT_STATE_VIEWS
from streams.core.statekeys import account_key
from streams.deadletter import HEADER_ERROR_TYPE
from streams.replay import replay
from tests.factories import tenant_settings, touch
from tests.integration.conftest import (
    consume_until,
    inbound_key,
    topic_size,
    wait_for_no_lag,
    wait_until_assigned,
)
from tests.scenario import merges_and_splits, scenario

pytestmark = pytest.mark.integration


def test_two_workers_give_the_same_views_as_replay(pipeline_settings, start_worker, producer,
                                                   tmp_path):
    settings = pipeline_settings
    # The scenario has touches naming only their deal (arriving before or after it), deals
    # that move to another company, deletes; plus one touch naming neither deal nor account.
    events = scenario(companies=40)
    moved = {r["record_id"] for t, r in events if t == "opportunity" and r["version"] == 3}
    deal_only = {r["opportunity_record_id"] for t, r in events
                 if t == "partner_touch" and r["account_record_id"] is None}
    nowhere = touch("acme", "touch-on-nothing", "globex")
    events.insert(len(events) // 2, nowhere)
    # Tenant settings (control events): a tenant's ignored domains re-assign its accounts.
    settings_events = [tenant_settings("acme", ["acme.com"], version=2, day=1),
                       tenant_settings("acme", ["old.example.com"], version=1)]
    events[len(events) // 3:len(events) // 3] = settings_events
    # Accounts whose companies merge and split (brands, name joins, typos, an ignored
    # domain), delivered out of order among the rest.
    rng = random.Random(11)
    for event in merges_and_splits():
        events.insert(rng.randrange(len(events) + 1), event)

    # Oracle: the replay path over the same events, into its own chDB.
    path = tmp_path / "events.jsonl"
    with path.open("w") as f:
        write_jsonl(f, events)
    oracle = ClickHouseWriter(f"chdb://{tmp_path / 'chdb-replay'}")
    oracle.migrate()
    report, replayed = replay(path, oracle)
    line = events.index(nowhere) + 1
    assert report.rejected == [
        f"events.jsonl line {line}: field 'account_record_id': a partner touch must name its "
        "opportunity_record_id, its account_record_id or both (both are null)"]
    expected = views_snapshot(oracle, CURRENT_STATE_VIEWS)
    attributed = {(opp, company) for opp, company in oracle.query(
        "SELECT opportunity_record_id, company_key FROM attributions_current")}
    assert {opp for opp, _ in attributed} & moved & deal_only, \
        "some moved deal with a deal-only touch must be attributed"
    assert all(company == _company_of_last_version(events, opp, replayed)
               for opp, company in attributed if opp in moved)
    methods = {m for m, in oracle.query("SELECT DISTINCT match_method FROM overlaps_current")}
    assert {"brand", "name_domain", "name_typo"} <= methods, methods
    expected_events = oracle.query("SELECT count() FROM crm_events FINAL")
    oracle.close()
    assert all(expected[v] for v in expected), "the scenario must fill every view"

    # Streaming: two workers in one consumer group and the sink; once the group has
    # settled, publish in delivery order (out-of-order versions, duplicates).
    workers = [start_worker(), start_worker()]
    sink = start_worker(command=("sink", "-l", "info"))
    wait_until_assigned(workers)
    codec = Codec()
    for n, (event_type, record) in enumerate(events):
        producer.send(settings.topic_inbound, key=inbound_key(n, event_type, record),
                      value=codec.encode(event_type, record))
    producer.flush()
    wait_for_no_lag(settings, [*workers, sink])
    assert topic_size(settings.kafka_bootstrap_servers, settings.topic_dead_letter) == 1, \
        "only the touch on nothing may be dead-lettered:\n" + "\n".join(
            line for w in workers for line in w.log().splitlines() if "dead-letter" in line)
    dead, = consume_until(settings.kafka_bootstrap_servers, [settings.topic_dead_letter],
                          lambda msgs: len(msgs) > 0, timeout=20)
    assert codec.decode(dead.value).record["record_id"] == "touch-on-nothing"
    assert (HEADER_ERROR_TYPE, b"InvalidEventError") in dead.headers
    for proc in [*workers, sink]:
        proc.stop()
    for w in workers:  # both workers owned partitions of the inbound topic
        assert f"{settings.topic_inbound}" in w.log().split("Setting newly assigned")[-1]

    streamed = ClickHouseWriter(settings.clickhouse_dsn.get_secret_value())
    actual = views_snapshot(streamed, CURRENT_STATE_VIEWS)
    assert streamed.query("SELECT count() FROM crm_events FINAL") == expected_events
    assert streamed.query("SELECT record_version FROM crm_events FINAL "
                          "WHERE event_type = 'tenant_settings' ORDER BY 1") == [(1,), (2,)]
    streamed.close()
    for view in expected:
        assert actual[view] == expected[view], f"{view} differs between streaming and replay"

    # Outbound topics carry the announced changes, Avro-encoded.
    out = consume_until(settings.kafka_bootstrap_servers,
                        [settings.topic_overlaps, settings.topic_intros,
                         settings.topic_attributions], lambda msgs: len(msgs) > 0, timeout=20)
    assert {codec.decode(m.value).event_type for m in out} <= {"overlap", "intro",
                                                               "attribution"}


def _company_of_last_version(events, opp_id, pipeline):
    """The company key (as the replay assigned it) of the account with the deal's last version."""
    def latest(event_type, tenant, record_id):
        return max((r for t, r in events if t == event_type and r["tenant_id"] == tenant
                    and r["record_id"] == record_id), key=lambda r: r["version"])

    deal = next(r for t, r in events if t == "opportunity" and r["record_id"] == opp_id)
    deal = latest("opportunity", deal["tenant_id"], opp_id)
    return pipeline.account_state[account_key(deal["tenant_id"], deal["account_record_id"])][
        "company"]

"""The demo data set: valid events, realistic mix, the same for the same seed."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from schemas.codec import Codec
from streams.core.pipeline import Pipeline
from streams.demo_data import TENANTS, generate

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_the_demo_data_is_valid_varied_and_yields_every_kind_of_result():
    events = generate(companies=300, seed=3, now=NOW)
    assert events == generate(companies=300, seed=3, now=NOW)
    assert events != generate(companies=300, seed=4, now=NOW)
    kinds = Counter(t for t, _ in events)
    assert set(kinds) == {"partnership", "tenant_settings", "account", "opportunity", "contact",
                          "partner_touch"}
    assert kinds["account"] > 300
    assert {r["tenant_id"] for _, r in events} == {t.tenant_id for t in TENANTS}
    assert all(r["occurred_at"] <= NOW for _, r in events)
    codec = Codec()
    pipeline = Pipeline(None)
    for event_type, record in events:
        codec.decode(codec.encode(event_type, record))  # schema-valid
        pipeline.apply(event_type, record)
    results = Counter(key.split("|", 1)[0] for key in pipeline.current())
    assert results["overlap"] > 50 and results["intro"] > 5 and results["attribution"] > 50

"""Stage one, without Kafka: decode, route, dead-letter."""

import datetime as dt

import pytest

from schemas.codec import Codec
from schemas.raw_message import RawMessage
from schemas.validation import EventValidator
from streams.core.accounts import KEY_SEPARATOR
from streams.deadletter import HEADER_ERROR_MESSAGE, HEADER_ERROR_TYPE, HEADER_SOURCE_OFFSET
from streams.exceptions import NotAnInboundEventError
from streams.ingest import DeadLetter, Forward, triage
from streams.routing import Destination, route

VALIDATOR = EventValidator()

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
ENVELOPE = {
    "event_id": "e",
    "tenant_id": "acme",
    "source": "sf",
    "version": 1,
    "occurred_at": NOW,
    "op": "UPSERT",
}


def test_accounts_and_their_deals_share_a_key():
    account = route("account", dict(ENVELOPE, record_id="001"))
    opp = route("opportunity", dict(ENVELOPE, record_id="006", account_record_id="001"))
    assert account == opp
    assert account.destination is Destination.BY_ACCOUNT
    assert account.key == f"acme{KEY_SEPARATOR}001".encode()
    other_tenant = route("account", dict(ENVELOPE, tenant_id="globex", record_id="001"))
    assert other_tenant.key != account.key


def test_records_without_account_are_unroutable():
    from streams.exceptions import UnroutableEventError

    with pytest.raises(UnroutableEventError, match="no account_record_id"):
        route("contact", dict(ENVELOPE, record_id="c1", account_record_id=None))


def test_touches_and_contacts_go_under_their_own_key_whatever_they_name():
    only_deal = route("partner_touch", dict(ENVELOPE, record_id="t1", account_record_id=None,
                                            opportunity_record_id="006"))
    both = route("partner_touch", dict(ENVELOPE, record_id="t1", account_record_id="001",
                                       opportunity_record_id="006"))
    only_account = route("partner_touch", dict(ENVELOPE, record_id="t1",
                                               account_record_id="002",
                                               opportunity_record_id=None))
    assert only_deal == both == only_account
    assert only_deal.destination is Destination.BY_ACCOUNT
    assert only_deal.key == f"acme{KEY_SEPARATOR}partner_touch{KEY_SEPARATOR}t1".encode()
    contact = route("contact", dict(ENVELOPE, record_id="c1", account_record_id="001"))
    moved = route("contact", dict(ENVELOPE, record_id="c1", account_record_id="002"))
    assert contact == moved
    assert contact.key == f"acme{KEY_SEPARATOR}contact{KEY_SEPARATOR}c1".encode()
    assert len({contact.key, only_deal.key,
                route("account", dict(ENVELOPE, record_id="c1")).key}) == 3


def test_a_touch_naming_neither_deal_nor_account_is_dead_lettered_with_the_reason():
    codec = Codec()
    record = dict(ENVELOPE, record_id="t1", account_record_id=None, opportunity_record_id=None,
                  partner_tenant_id="globex", touch_type="INTRO", partner_sourced=False,
                  campaign=None)
    message = RawMessage("in", 0, 5, b"k", codec.encode("partner_touch", record))
    decision = triage(codec, VALIDATOR, message)
    assert isinstance(decision, DeadLetter)
    headers = dict(decision.headers)
    assert headers[HEADER_ERROR_TYPE] == b"InvalidEventError"
    assert b"must name its opportunity_record_id, its account_record_id or both" in \
        headers[HEADER_ERROR_MESSAGE]
    # The routing refuses it too, should anything reach it unchecked.
    from streams.exceptions import UnroutableEventError
    with pytest.raises(UnroutableEventError, match="names neither opportunity_record_id nor "
                       "account_record_id"):
        route("partner_touch", record)


def test_partnerships_go_to_control_and_outputs_are_refused():
    assert (
        route("partnership", dict(ENVELOPE, record_id="p", partnership_id="p1")).destination
        is Destination.CONTROL
    )
    with pytest.raises(NotAnInboundEventError):
        route("overlap", {})


def test_triage_forwards_good_and_dead_letters_bad():
    codec = Codec()
    record = dict(
        ENVELOPE,
        record_id="001",
        name="Initrode",
        website=None,
        domain=None,
        country=None,
        relationship="CUSTOMER",
        industry=None,
    )
    payload = codec.encode("account", record)
    good = triage(codec, VALIDATOR, RawMessage("in", 0, 5, b"k", payload))
    assert isinstance(good, Forward) and good.value == payload
    assert good.decoded.record == record

    bad = triage(codec, VALIDATOR, RawMessage("in", 3, 17, b"k", b"\x09garbage"))
    assert isinstance(bad, DeadLetter) and bad.value == b"\x09garbage" and bad.key == b"k"
    headers = dict(bad.headers)
    assert headers[HEADER_ERROR_TYPE] == b"FramingError"
    assert b"magic byte 0x09" in headers[HEADER_ERROR_MESSAGE]
    assert headers[HEADER_SOURCE_OFFSET] == b"17"

    tombstone = triage(codec, VALIDATOR, RawMessage("in", 0, 1, b"k", None))
    assert isinstance(tombstone, DeadLetter)

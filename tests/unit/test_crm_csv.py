"""CSV exports of Salesforce and HubSpot as events: mapping, detection, row errors."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

from schemas.codec import Codec
from schemas.exceptions import TextFormatError
from streams.crm_csv import CsvReader, detect_mapping
from streams.exceptions import StreamConfigError

SF_ACCOUNTS = """Id,Name,Website,Type,Industry,BillingCountry,SystemModstamp,IsDeleted
001A000001,Initrode Ltd,https://www.initrode.co.uk/about,Customer - Direct,Software,GB,2026-10-02T10:15:00.000Z,false
001A000002,,https://nameless.com,Prospect,,US,2026-10-02T10:15:00.000Z,false
001A000003,Umbrella Corp,umbrella.com,Prospect,,US,yesterday,false
001A000004,Hooli,hooli.com,Other,,US,2026-10-03 11:00:00,true
"""

HS_DEALS = """Record ID,Deal Name,Deal Stage,Amount,Close Date,Create Date,Last Modified Date,Associated Company IDs,Currency
9001,Big deal,closedwon,"120,000",2026-10-30,2026-09-01 10:00,2026-10-30 12:00,777;778,EUR
9002,Small deal,appointmentscheduled,abc,,2026-09-01 10:00,2026-10-30 12:00,777,
9003,Lost deal,closedlost,5000,10/30/2026,2026-09-01 10:00,2026-10-31 12:00,779,
"""


def read(text: str, **kwargs):
    return list(CsvReader("acme", **kwargs).read(io.StringIO(text)))


def test_salesforce_accounts_become_account_events_and_bad_rows_name_line_and_field():
    out = read(SF_ACCOUNTS)
    good = [x for x in out if not isinstance(x, Exception)]
    bad = [x for x in out if isinstance(x, TextFormatError)]
    assert [(lineno, t, r["record_id"], r["op"], r["relationship"]) for lineno, t, r in good] \
        == [(2, "account", "001A000001", "UPSERT", "CUSTOMER"),
            (5, "account", "001A000004", "DELETE", "OTHER")]
    first = good[0][2]
    assert first["website"] == "https://www.initrode.co.uk/about"
    assert first["occurred_at"] == dt.datetime(2026, 10, 2, 10, 15, tzinfo=dt.UTC)
    assert first["version"] == int(first["occurred_at"].timestamp() * 1000)
    assert first["event_id"] == f"salesforce:acme:001A000001:{first['version']}"
    assert [(e.line, e.field) for e in bad] == [(3, "name"), (4, "modified")]
    assert "line 4: modified 'yesterday' (column 'SystemModstamp')" in str(bad[1])
    for _, event_type, record in good:  # every good row is a valid Avro event
        Codec().encode(event_type, record)


def test_hubspot_deals_derive_closed_and_won_from_the_stage():
    out = read(HS_DEALS)
    good = {r["record_id"]: r for x in out if not isinstance(x, Exception) for r in [x[2]]}
    assert set(good) == {"9001", "9003"}
    won, lost = good["9001"], good["9003"]
    assert (won["is_closed"], won["is_won"], won["amount"], won["currency"]) == \
        (True, True, Decimal("120000"), "EUR")
    assert won["account_record_id"] == "777"  # the first associated company
    assert won["close_date"] == dt.date(2026, 10, 30)
    assert (lost["is_closed"], lost["is_won"], lost["currency"]) == (True, False, "USD")
    assert lost["close_date"] == dt.date(2026, 10, 30)
    errors = [x for x in out if isinstance(x, TextFormatError)]
    assert [(e.line, e.field) for e in errors] == [(3, "amount")]


def test_columns_can_be_remapped_and_the_mapping_named():
    text = "Id,Account Name,SystemModstamp\nA1,Hooli,2026-10-03T11:00:00Z\n"
    with pytest.raises(StreamConfigError, match="cannot tell which CRM export"):
        read(text)
    [(lineno, _, record)] = read(text, mapping="salesforce-account",
                                 overrides={"name": "Account Name"})
    assert (lineno, record["name"]) == (2, "Hooli")
    with pytest.raises(StreamConfigError, match="no field 'nme'"):
        read(text, mapping="salesforce-account", overrides={"nme": "Account Name"})


def test_detection_prefers_the_opportunity_mapping_over_the_account_one():
    header = ["Id", "AccountId", "Name", "StageName", "SystemModstamp", "Amount"]
    assert detect_mapping(header).name == "salesforce-opportunity"
    assert detect_mapping(["Record ID", "Company name", "Last Modified Date"]).name \
        == "hubspot-company"


def test_a_row_with_bytes_that_are_not_utf8_is_rejected_whatever_column_holds_them(tmp_path):
    from streams.event_files import EventFile

    path = tmp_path / "accounts.csv"
    path.write_bytes(b"Id,Name,Website,Type,SystemModstamp\n"
                     b"001A,Initech,initech.com,Cust\xe9mer,2026-10-01T10:00:00Z\n"
                     b"001B,Globex,globex.com,Customer,2026-10-01T10:00:00Z\n")
    items = list(EventFile(path, tenant="acme").read())
    bad, good = items
    assert isinstance(bad, TextFormatError) and bad.line == 2
    assert "not UTF-8 text in column 'Type'" in str(bad)
    assert good[2]["record_id"] == "001B"

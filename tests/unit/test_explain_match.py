"""``coselling explain-match --events``: why two accounts of an event file did or did not match."""

from __future__ import annotations

import json

import pytest

from streams.cli import main
from tests.factories import account, tenant_settings

pytestmark = pytest.mark.usefixtures("cli_environment")


def _write(path, events) -> str:
    lines = []
    for n, (event_type, record) in enumerate(events):
        row = {"type": event_type, **record, "event_id": f"e{n}",
               "occurred_at": f"2026-10-01T09:00:{n:02d}Z"}
        lines.append(json.dumps(row, default=str))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def events_file(tmp_path) -> str:
    return _write(tmp_path / "accounts.jsonl", [
        account("acme", "a1", name="Initrode GmbH", domain="initrode.de", country="DE"),
        account("globex", "g1", name="Initrode", website="https://www.initrode.co.uk/x",
                country="GB"),
        account("globex", "g2", name="Initrode GmbH", country="DE"),
        account("acme", "a3", name="Delta Air Lines", domain="delta.com", country="US"),
        account("globex", "g4", name="Delta Maschinenbau", domain="delta.de", country="DE"),
    ])


def _explain(capsys, *argv: str) -> tuple[int, str]:
    code = main(["explain-match", *argv])
    return code, capsys.readouterr().out


def test_a_brand_match_names_its_domains_and_the_name_they_share(events_file, capsys):
    code, text = _explain(capsys, "acme", "a1", "globex", "g1", "--events", events_file)
    assert code == 0
    assert text.startswith("matched: brand")
    assert "initrode.de" in text and "initrode.co.uk" in text and "'initrode'" in text


def test_a_record_without_a_domain_says_which_company_it_joined(events_file, capsys):
    code, text = _explain(capsys, "acme", "a1", "globex", "g2", "--events", events_file)
    assert code == 0
    assert "globex/g2: initrode.co.uk by name_domain" in text


def test_two_companies_of_one_label_and_other_names_stay_apart(events_file, capsys):
    code, text = _explain(capsys, "acme", "a3", "globex", "g4", "--events", events_file)
    assert code == 1
    assert text.startswith("not matched:")
    assert "acme/a3: delta.com by domain" in text and "globex/g4: delta.de by domain" in text


def test_an_unknown_account_is_not_matched(events_file, capsys):
    code, text = _explain(capsys, "acme", "a3", "globex", "nobody", "--events", events_file)
    assert code == 1
    assert "globex/nobody is unknown" in text


def test_a_domain_the_tenant_ignores_keys_nothing_and_the_explanation_says_so(tmp_path, capsys):
    events = _write(tmp_path / "ignored.jsonl", [
        account("acme", "a1", name="Reseller Partner", domain="bigreseller.com", country="US"),
        account("globex", "g1", name="Big Reseller", domain="bigreseller.com", country="US"),
        tenant_settings("acme", ["www.bigreseller.com"], day=1),
    ])
    code, text = _explain(capsys, "acme", "a1", "globex", "g1", "--events", events)
    assert code == 1
    assert text.startswith("not matched:")
    assert "tenant acme ignores bigreseller.com" in text
    assert "globex/g1: bigreseller.com by domain" in text

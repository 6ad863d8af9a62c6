"""The labelled matching corpus and its scoring, and today's matcher measured on it.

``tests/bench/bench_matching.py`` runs the same at 20,000 accounts and prints the false
merges and the missed pairs.
"""

import re
from collections import Counter, defaultdict
from itertools import combinations

import pytest

from schemas.catalog import default_catalog
from schemas.codec import check_record
from schemas.validation import EventValidator
from streams.core.companykey import registrable_domain
from tests.matching_corpus import (
    FREE_MAIL,
    KINDS,
    TENANTS,
    evaluate,
    generate,
    report,
    run_matcher,
)

SIZE = 2_500  # accounts in the corpus the matcher runs on here (the benchmark: 20,000)

#: What the matcher must reach on the corpus of SIZE accounts: overall (precision, recall)
#: and per kind. These are floors today's matcher meets (the kinds it gets right stay at
#: 1.0); the goal is precision 0.99 and recall 0.95 overall, recall 0.90 per kind: raise
#: these constants as the matcher gets there.
OVERALL_FLOOR = (0.99, 0.95)
KIND_FLOORS: dict[str, tuple[float, float]] = {
    "domain_variants": (1.0, 1.0),
    "email_in_domain": (1.0, 1.0),
    "name_country": (1.0, 1.0),
    "case_space": (1.0, 1.0),
    "other_country": (1.0, 1.0),
    "free_mail": (1.0, 1.0),
    "non_latin": (1.0, 1.0),
    "legal_forms": (1.0, 1.0),
    "punctuation": (1.0, 1.0),
    "domain_and_name": (1.0, 1.0),
    "brand_domains": (1.0, 1.0),
    "typo": (1.0, 1.0),
    "abbreviation": (1.0, 1.0),
    "hosted_site": (1.0, 1.0),
    "similar_names": (1.0, 1.0),
    "same_label": (1.0, 1.0),
    "conglomerate": (1.0, 1.0),
}
ISO_ALPHA2 = re.compile(r"^[A-Z]{2}$")


@pytest.fixture(scope="module")
def corpus():
    return generate(SIZE)


@pytest.fixture(scope="module")
def big():
    """The benchmark's default size: its structure is checked here, it is not run."""
    return generate(20_000)


def test_generation_is_deterministic(corpus):
    again = generate(SIZE)
    assert [(a.tenant, a.record_id, a.company, a.kind, a.record) for a in again.accounts] == \
        [(a.tenant, a.record_id, a.company, a.kind, a.record) for a in corpus.accounts]
    assert again.events() == corpus.events()
    other = generate(SIZE, seed=7)
    assert [a.record["name"] for a in other.accounts] != \
        [a.record["name"] for a in corpus.accounts]


def test_every_record_is_a_valid_account_event(big):
    schema = default_catalog().current("account")
    validator = EventValidator()
    ids = set()
    for a in big.accounts:
        assert (a.record["tenant_id"], a.record["record_id"]) == (a.tenant, a.record_id)
        ids.add((a.tenant, a.record_id))
    assert len(ids) == len(big.accounts) >= 20_000
    events = big.events()
    assert len(events) == len(big.accounts) + len(big.history)
    for event_type, record in events:
        assert event_type == "account"
        check_record(schema, record)
        validator.check("account", record)
        country = record["country"]
        assert country is None or ISO_ALPHA2.match(country), country
    assert len({r["event_id"] for _, r in events}) == len(events)
    times = [r["occurred_at"] for _, r in events]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_earlier_versions_come_first_and_differ_from_the_final_ones(big):
    assert len(big.history) > len(big.accounts) / 20
    final = {(a.tenant, a.record_id): a.record for a in big.accounts}
    seen = set()
    for _, record in big.events():
        key = (record["tenant_id"], record["record_id"])
        if record["version"] == 1:
            assert key not in seen and record != final[key]
            assert {f for f in record if record[f] != final[key][f]} - {
                "event_id", "occurred_at", "version"}
        else:
            assert record is final[key] and record["version"] == 2
            seen.add(key)
    assert len(seen) == len(final)


def test_both_crm_flavours_and_all_tenants(big):
    assert len(TENANTS) >= 4 and set(TENANTS.values()) == {"salesforce", "hubspot"}
    assert {a.tenant for a in big.accounts} == set(TENANTS)
    sf = [a.record for a in big.accounts if TENANTS[a.tenant] == "salesforce"]
    hs = [a.record for a in big.accounts if TENANTS[a.tenant] == "hubspot"]
    assert all(r["domain"] is None and r["source"] == "salesforce" for r in sf)
    assert sum(bool(r["website"]) for r in sf) > len(sf) / 3
    assert sum(bool(r["website"]) and r["website"].lower().startswith(("http", "www"))
               for r in sf) > len(sf) / 5
    assert sum(bool(r["domain"]) for r in hs) > len(hs) / 3
    assert all(r["source"] == "hubspot" for r in hs)


def test_every_kind_has_pairs_and_singly_held_companies_exist(corpus, big):
    for c in (corpus, big):
        held = Counter(a.company for a in c.accounts)
        pairs = Counter()
        for a in c.accounts:
            pairs[a.kind] += held[a.company] - 1
        assert set(pairs) == set(KINDS)
        assert all(n > 0 for n in pairs.values()), pairs
        assert any(n == 1 for n in held.values())
        assert len({a.tenant for a in c.accounts if held[a.company] > 1}) == len(TENANTS)


def _companies(c, kind):
    found = defaultdict(list)
    for a in c.accounts:
        if a.kind == kind:
            found[a.company].append(a.record)
    return found


def test_hard_negatives_are_present(big):
    # unrelated companies on the providers today's list misses, and on every provider
    providers = Counter()
    for _company, records in _companies(big, "free_mail").items():
        for p in {d for r in records for d, _ in FREE_MAIL
                  if d in f"{r['website'] or ''} {r['domain'] or ''}".lower()}:
            providers[p] += 1
    for p in ("yahoo.co.jp", "btinternet.com", "comcast.net", "bigpond.com", "gmail.com"):
        assert providers[p] >= 5, (p, providers[p])

    # one domain label, different names (delta.com / delta.de)
    labels = defaultdict(set)
    for company, records in _companies(big, "same_label").items():
        for r in records:
            if r["domain"] or r["website"]:
                d = registrable_domain(r["domain"] or r["website"])
                labels[d.split(".")[0]].add((company, d))
    assert sum(1 for v in labels.values() if len({d for _, d in v}) > 1
               and len({c for c, _ in v}) > 1) >= 10

    # distinct companies with one name in several countries, and acronym-sharing names
    other = _companies(big, "other_country")
    named = defaultdict(set)
    for _company, records in other.items():
        if not any(r["website"] or r["domain"] for r in records):
            named[records[0]["name"]].add(records[0]["country"])
    assert sum(1 for v in named.values() if len(v) > 1) >= 20
    acronyms = defaultdict(set)
    for company, records in _companies(big, "non_latin").items():
        m = re.match(r"^(?:株式会社)?([A-Z]{3,4})", records[0]["name"])
        if m:
            acronyms[m.group(1)].add(company)
    assert sum(1 for v in acronyms.values() if len(v) > 1) >= 10

    # names one character apart that are different companies
    names = {}
    for company, records in _companies(big, "similar_names").items():
        names.setdefault(company, records[0]["name"])
    close = sum(1 for x, y in combinations(sorted(set(names.values())), 2)
                if len(x) == len(y) and sum(p != q for p, q in zip(x, y, strict=True)) == 1)
    assert close >= 20


def _brute_force(c, predicted):
    """Pair counts by enumerating every pair (what evaluate must equal)."""
    overall = [0, 0, 0]  # true pairs, found, false
    kinds = defaultdict(lambda: [0, 0, 0])
    for a, b in combinations(c.accounts, 2):
        same = a.company == b.company
        ka, kb = predicted[(a.tenant, a.record_id)], predicted[(b.tenant, b.record_id)]
        joined = ka is not None and ka == kb
        if same:
            overall[0] += 1
            kinds[a.kind][0] += 1
            if joined:
                overall[1] += 1
                kinds[a.kind][1] += 1
        elif joined:
            overall[2] += 1
            for k in {a.kind, b.kind}:
                kinds[k][2] += 1
    return overall, kinds


@pytest.mark.parametrize("how", ["truth", "kind", "first_letter", "none", "today"])
def test_pair_counts_equal_enumerating_every_pair(how):
    c = generate(500, seed=11)
    predicted = {}
    today = run_matcher(c).predicted if how == "today" else None
    for a in c.accounts:
        key = (a.tenant, a.record_id)
        predicted[key] = {"truth": a.company, "kind": a.kind, "none": None,
                          "first_letter": a.record["name"][:1].lower() or None,
                          "today": today and today[key]}[how]
    ev = evaluate(c, predicted)
    overall, kinds = _brute_force(c, predicted)
    assert [ev.overall.true_pairs, ev.overall.found, ev.overall.false_pairs] == overall
    for kind, score in ev.kinds.items():
        assert [score.true_pairs, score.found, score.false_pairs] == kinds[kind], kind
    assert sum(false for false, _, _ in ev.false_merges) == overall[2]
    if how == "truth":
        assert (ev.overall.precision, ev.overall.recall) == (1.0, 1.0)
        assert not ev.false_merges and not any(ev.missed.values())
    if how == "none":
        assert (ev.overall.precision, ev.overall.recall) == (1.0, 0.0)


def test_todays_matcher_meets_the_floors(corpus):
    run = run_matcher(corpus)
    assert run.events == len(corpus.accounts) + len(corpus.history)
    # the earlier versions change nothing: the keys are those of the final versions
    assert run.predicted == run_matcher(generate(SIZE, history=0)).predicted
    ev = evaluate(corpus, run.predicted)
    text = "\n".join(report(ev))
    assert ev.overall.precision >= OVERALL_FLOOR[0] and ev.overall.recall >= OVERALL_FLOOR[1], \
        text
    assert set(KIND_FLOORS) == set(KINDS)
    for kind, (precision, recall) in KIND_FLOORS.items():
        score = ev.kinds[kind]
        assert score.precision >= precision and score.recall >= recall, (kind, score, text)


def test_report_lists_false_merges_first_with_their_records(corpus):
    predicted = {(a.tenant, a.record_id): a.kind for a in corpus.accounts}  # all wrong
    ev = evaluate(corpus, predicted)
    lines = report(ev, merges=2, per_merge=3)
    assert lines[0].startswith(f"False merges: {len(KINDS)} predicted companies")
    assert lines[1].startswith("  key ")
    first = next(a for a in corpus.accounts if a.kind == ev.false_merges[0][1])
    assert any(first.kind in line for line in lines[1:5])
    table_at = next(i for i, line in enumerate(lines) if line.startswith("| kind"))
    assert table_at > 2
    assert sum(line.startswith("| ") for line in lines) == len(KINDS) + 3
    assert "Missed pairs" in lines[table_at + len(KINDS) + 5]

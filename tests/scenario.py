"""A generated multi-tenant CRM scenario, shared by the integration test and benchmarks.

Three or more tenants, two partnerships with different sharing levels, accounts that
overlap by domain, website and name, open and closed deals, deals that move to another
account (at another company), partner touches on a deal (some naming only the deal, as
Salesforce campaign influence and HubSpot deal associations export them) or on an account,
contacts, touches and contacts whose later version names another deal or account (or is a
delete naming only some of the ids), deletes, several versions per record (delivered out of
order) and duplicates.
"""

from __future__ import annotations

import random
from typing import Any

from tests.factories import account, contact, opportunity, partnership, touch

TENANTS = ("acme", "globex", "initech")
POLICIES = [
    partnership("acme-globex", "acme", "globex", {
        ("acme", "CUSTOMER"): "FULL", ("acme", "OPEN_OPPORTUNITY"): "ACCOUNTS",
        ("acme", "PROSPECT"): "COUNTS",
        ("globex", "CUSTOMER"): "ACCOUNTS", ("globex", "PROSPECT"): "ACCOUNTS",
        ("globex", "FORMER_CUSTOMER"): "COUNTS"}),
    partnership("globex-initech", "globex", "initech", {
        ("globex", "CUSTOMER"): "COUNTS", ("initech", "CUSTOMER"): "ACCOUNTS",
        ("initech", "OPEN_OPPORTUNITY"): "FULL"}),
]


def scenario(companies: int = 40, seed: int = 7, *, shuffle: bool = True,
             duplicates: float = 0.1) -> list[tuple[str, dict[str, Any]]]:
    """Events of the scenario in delivery order (shuffled, with duplicates)."""
    rng = random.Random(seed)
    events: list[tuple[str, dict[str, Any]]] = list(POLICIES)
    relationships = ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OTHER")
    held: dict[str, list[str]] = {t: [] for t in TENANTS}  # accounts so far, per tenant
    for c in range(companies):
        domain = f"company{c}.com" if c % 3 else f"company{c}.co.uk"
        holders = [t for t in TENANTS if rng.random() < 0.7] or [TENANTS[c % 3]]
        for tenant in holders:
            acc = f"{tenant[:2]}-acc-{c}"
            where = rng.choice([{"domain": f"www.{domain}"}, {"website": f"https://{domain}/"},
                                {"domain": f"shop.{domain}"}])
            for v in range(1, rng.randint(2, 3) + 1):
                events.append(account(tenant, acc, version=v, day=v + c % 10,
                                      name=f"Company {c} Ltd",
                                      relationship=rng.choice(relationships), **where))
            if rng.random() < 0.08:
                events.append(account(tenant, acc, version=9, day=30, op="DELETE"))
            held[tenant].append(acc)
            for o in range(rng.randint(0, 2)):
                opp = f"{acc}-opp-{o}"
                amount = str(rng.randint(5, 500) * 1000)
                events.append(opportunity(tenant, opp, acc, day=2, amount=amount,
                                          created_day=2, stage="Discovery"))
                fate = rng.random()
                if fate < 0.35:
                    events.append(opportunity(tenant, opp, acc, version=2, day=40,
                                              amount=amount, created_day=2, closed=True,
                                              won=True, stage="Closed Won"))
                elif fate < 0.5:
                    events.append(opportunity(tenant, opp, acc, version=2, day=40,
                                              amount=amount, created_day=2, closed=True,
                                              won=False, stage="Closed Lost"))
                elif fate < 0.6:
                    events.append(opportunity(tenant, opp, acc, version=2, day=20, op="DELETE"))
                if fate < 0.35 and len(held[tenant]) > 1 and rng.random() < 0.3:
                    # moved to another of the tenant's accounts after it was won
                    events.append(opportunity(tenant, opp, rng.choice(held[tenant][:-1]),
                                              version=3, day=41, amount=amount,
                                              created_day=2, closed=True, won=True,
                                              stage="Closed Won"))
                for t in range(rng.randint(0, 2)):
                    partner = rng.choice([x for x in TENANTS if x != tenant])
                    events.append(touch(tenant, f"{opp}-t{t}", partner,
                                        account_id=acc if rng.random() < 0.6 else None,
                                        opp_id=opp, day=rng.randint(0, 35),
                                        touch_type=rng.choice(["INTRO", "REFERRAL",
                                                               "CO_MARKETING"])))
            if rng.random() < 0.2:  # on the account, no deal named
                events.append(touch(tenant, f"{acc}-t", rng.choice(
                    [x for x in TENANTS if x != tenant]), account_id=acc, day=30))
            for k in range(rng.randint(0, 3)):
                events.append(contact(tenant, f"{acc}-c{k}", acc, day=3))
    events += later_versions_elsewhere(events, random.Random(seed + 1))
    # a partnership narrowed later, and one ended and restarted
    events.append(partnership("acme-globex", "acme", "globex", {
        ("acme", "CUSTOMER"): "ACCOUNTS", ("globex", "CUSTOMER"): "ACCOUNTS",
        ("globex", "PROSPECT"): "COUNTS"}, version=2, day=50))
    events.append(partnership("globex-initech", "globex", "initech", {}, version=2, day=45,
                              status="ENDED"))
    events.append(partnership("globex-initech", "globex", "initech", {
        ("globex", "CUSTOMER"): "ACCOUNTS", ("initech", "CUSTOMER"): "ACCOUNTS",
        ("initech", "OPEN_OPPORTUNITY"): "FULL"}, version=3, day=46))
    if duplicates:
        events += rng.sample(events, int(len(events) * duplicates))
    if shuffle:
        rng.shuffle(events)
    return events


def later_versions_elsewhere(
    events: list[tuple[str, dict[str, Any]]], rng: random.Random
) -> list[tuple[str, dict[str, Any]]]:
    """Second versions of some touches and contacts that name another deal or account of
    their tenant, or delete them naming only one of the ids."""
    deals: dict[str, list[str]] = {t: [] for t in TENANTS}
    accounts: dict[str, list[str]] = {t: [] for t in TENANTS}
    for event_type, r in events:
        if r["version"] == 1 and event_type in ("opportunity", "account"):
            (deals if event_type == "opportunity" else accounts)[r["tenant_id"]].append(
                r["record_id"])
    out: list[tuple[str, dict[str, Any]]] = []
    for event_type, r in events:
        tenant, fate = r["tenant_id"], rng.random()
        if event_type == "contact" and fate < 0.15:
            out.append(contact(tenant, r["record_id"], rng.choice(accounts[tenant]),
                               version=2, day=33))
        elif event_type == "partner_touch" and fate < 0.25:
            named = {"opp_id": r["opportunity_record_id"], "account_id": r["account_record_id"]}
            kept = dict([rng.choice([(k, v) for k, v in named.items() if v])])
            moved = {"account_id": rng.choice(accounts[tenant])}
            if deals[tenant] and rng.random() < 0.7:
                moved = rng.choice([moved, {}]) | {"opp_id": rng.choice(deals[tenant])}
            delete = fate < 0.05
            out.append(touch(tenant, r["record_id"], r["partner_tenant_id"], version=2,
                             day=rng.randint(0, 38), op="DELETE" if delete else "UPSERT",
                             touch_type=r["touch_type"], **(kept if delete else moved)))
    return out


def merges_and_splits():
    """Accounts that join and leave companies through other accounts' records.

    A brand on two country domains joined by a shared name and split by a rename; a
    record without a domain joining the one domain company with its name, made ambiguous
    by a second one and joined again when that one is deleted; a typo cluster joined to a
    domain company; a merge undone by a delete. Versions are delivered out of order.
    """
    return [
        account("acme", "m-a1", domain="brandx.de", name="Brandx GmbH", country="DE",
                relationship="CUSTOMER"),
        account("globex", "m-g1", domain="brandx.co.uk", name="Brandx Ltd", country="GB",
                relationship="CUSTOMER"),
        account("globex", "m-g1", version=2, day=5, domain="brandx.co.uk",
                name="Brandx Retail", country="GB", relationship="CUSTOMER"),
        account("globex", "m-g1", version=3, day=6, domain="brandx.co.uk", name="Brandx",
                country="GB", relationship="CUSTOMER"),
        account("initech", "m-i1", name="Brandx", country="DE", relationship="CUSTOMER"),
        account("globex", "m-g2", domain="brandx-shop.de", name="Brandx", country="DE",
                relationship="PROSPECT"),
        account("globex", "m-g2", version=2, day=8, op="DELETE"),
        account("acme", "m-a2", name="Typoworks Ltd", country="US", relationship="CUSTOMER"),
        account("globex", "m-g3", name="Typowroks", country="US", relationship="CUSTOMER"),
        account("initech", "m-i2", name="Typoworks Inc", country="US",
                relationship="CUSTOMER"),
        account("initech", "m-i2", version=2, day=3, name="Other Works", country="US",
                relationship="CUSTOMER"),
        account("acme", "m-a3", domain="typoworks.com", name="Typoworks", country="US",
                relationship="PROSPECT"),
        account("acme", "m-a4", name="Typewriters", country="US", relationship="CUSTOMER"),
        account("globex", "m-g4", name="Typewritters", country="US", relationship="CUSTOMER"),
        account("acme", "m-a5", domain="solo.fr", name="Solo", country="FR",
                relationship="CUSTOMER"),
        account("globex", "m-g5", domain="solo.de", name="Solo", country="DE",
                relationship="CUSTOMER"),
        account("globex", "m-g5", version=2, day=9, op="DELETE"),
        # acme.com is acme's own domain (ignored when acme's tenant settings say so): its
        # account then keys by its website; globex's account on acme.com stays there.
        account("acme", "m-a6", domain="acme.com", website="https://www.hooli-labs.com/",
                name="Hooli Labs", relationship="CUSTOMER"),
        account("globex", "m-g6", domain="hooli-labs.com", name="Hooli", relationship="CUSTOMER"),
        account("globex", "m-g7", domain="acme.com", name="Acme", relationship="CUSTOMER"),
    ]


def with_merges_and_splits(events: list[tuple[str, dict[str, Any]]],
                           seed: int) -> list[tuple[str, dict[str, Any]]]:
    """``events`` with :func:`merges_and_splits` spread over them at random places."""
    events = list(events)
    rng = random.Random(seed)
    for event in merges_and_splits():
        events.insert(rng.randrange(len(events) + 1), event)
    return events

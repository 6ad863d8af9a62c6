"""A realistic, seeded multi-tenant CRM data set for the demo and the benchmarks.

Several partner companies (tenants) on Salesforce or HubSpot share one market of
companies: each holds a slice of it as customers, prospects or former customers, with
accounts keyed by domain, website or (sometimes) only a name, in the spellings CRMs
really hold (``www.``, shop subdomains, ``https://.../about``). Open deals sit on
prospects, closed deals (won and lost) spread over the past year, partners touch deals
(intros, referrals, co-marketing, deal registrations) before they close, contacts are
hashed, and some records are edited later (higher versions) or deleted. Partnerships
between tenants carry different sharing policies; one is narrowed half-way through and
one ends. Each tenant's settings name its own domain as one that never keys a company.

Pure: returns decoded events (the form the codec takes); nothing is written here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Event = tuple[str, dict[str, Any]]

_PREFIXES = ("Blue", "North", "Silver", "Bright", "Iron", "Green", "Summit", "Harbor", "Red",
             "Atlas", "Nova", "Pioneer", "Quantum", "Cedar", "Granite", "Swift", "Golden",
             "Polar", "Vertex", "Maple", "Orbit", "Crystal", "Falcon", "Beacon", "Cobalt")
_NOUNS = ("River", "Peak", "Field", "Stone", "Bridge", "Wave", "Forge", "Point", "Lake", "Path",
          "Ridge", "Gate", "Works", "Labs", "Systems", "Grove", "Line", "Bay", "Arc", "Core")
_TRADES = ("Logistics", "Health", "Foods", "Energy", "Software", "Analytics", "Retail",
           "Manufacturing", "Capital", "Media", "Robotics", "Telecom", "Pharma", "Mobility")
_SUFFIXES = ("Inc", "Ltd", "GmbH", "LLC", "Group", "SA", "plc", "")
_TLDS = ((".com", 0.62), (".io", 0.1), (".co.uk", 0.1), (".de", 0.08), (".fr", 0.05),
         (".com.au", 0.05))
_COUNTRY = {".co.uk": "GB", ".de": "DE", ".fr": "FR", ".com.au": "AU"}
_INDUSTRIES = ("Software", "Retail", "Healthcare", "Financial Services", "Manufacturing",
               "Media", "Logistics", "Energy")
_TITLES = ("CTO", "VP Engineering", "Head of Data", "CFO", "IT Director", "COO", "Buyer")
_OPEN_STAGES = ("Discovery", "Qualification", "Proposal", "Negotiation")


@dataclass(frozen=True)
class TenantSpec:
    """One partner company in the demo: its id, CRM and size."""

    tenant_id: str
    source: str
    share_of_market: float
    currency: str


TENANTS = (
    TenantSpec("northwind", "salesforce", 0.45, "USD"),
    TenantSpec("contoso", "hubspot", 0.35, "USD"),
    TenantSpec("fabrikam", "salesforce", 0.30, "EUR"),
    TenantSpec("globex", "hubspot", 0.25, "USD"),
    TenantSpec("initech", "salesforce", 0.20, "GBP"),
)

# (tenant a, tenant b, {(from tenant, population): level}) at the start of the year.
PARTNERSHIPS = (
    ("northwind", "contoso", {("northwind", "CUSTOMER"): "FULL",
                              ("northwind", "OPEN_OPPORTUNITY"): "ACCOUNTS",
                              ("northwind", "PROSPECT"): "COUNTS",
                              ("contoso", "CUSTOMER"): "FULL",
                              ("contoso", "OPEN_OPPORTUNITY"): "ACCOUNTS"}),
    ("northwind", "fabrikam", {("northwind", "CUSTOMER"): "ACCOUNTS",
                               ("fabrikam", "CUSTOMER"): "ACCOUNTS",
                               ("fabrikam", "OPEN_OPPORTUNITY"): "ACCOUNTS",
                               ("fabrikam", "PROSPECT"): "COUNTS"}),
    ("contoso", "globex", {("contoso", "CUSTOMER"): "COUNTS", ("globex", "CUSTOMER"): "FULL",
                           ("globex", "OPEN_OPPORTUNITY"): "ACCOUNTS",
                           ("contoso", "OPEN_OPPORTUNITY"): "ACCOUNTS"}),
    ("fabrikam", "initech", {("fabrikam", "CUSTOMER"): "FULL",
                             ("initech", "CUSTOMER"): "FULL",
                             ("initech", "OPEN_OPPORTUNITY"): "FULL",
                             ("fabrikam", "OPEN_OPPORTUNITY"): "FULL"}),
    ("northwind", "globex", {("northwind", "CUSTOMER"): "ACCOUNTS",
                             ("globex", "CUSTOMER"): "ACCOUNTS"}),
)


def generate(*, companies: int = 2500, seed: int = 42,
             now: dt.datetime | None = None) -> list[Event]:
    """The demo's events in event-time order, ending at ``now`` (default: this hour).

    ``companies`` is the size of the shared market; the tenants hold about 1.5 accounts
    per company between them, so 2,500 companies give some 3,900 accounts.
    """
    now = (now or dt.datetime.now(dt.UTC)).replace(minute=0, second=0, microsecond=0)
    return _Generator(random.Random(seed), now).run(companies)


class _Generator:
    def __init__(self, rng: random.Random, now: dt.datetime):
        self.rng = rng
        self.now = now
        self.start = now - dt.timedelta(days=365)
        self.events: list[Event] = []
        self.ids = 0
        self.closed_won: list[tuple[TenantSpec, str, str, dt.datetime]] = []

    def at(self, day: float) -> dt.datetime:
        return min(self.start + dt.timedelta(days=day), self.now)

    def emit(self, event_type: str, spec_or_tenant: TenantSpec | str, record_id: str,
             when: dt.datetime, fields: dict[str, Any], *, version: int | None = None,
             op: str = "UPSERT", source: str | None = None) -> None:
        tenant = spec_or_tenant if isinstance(spec_or_tenant, str) else spec_or_tenant.tenant_id
        if source is None:
            source = "cli" if isinstance(spec_or_tenant, str) else spec_or_tenant.source
        self.ids += 1
        stamp = int(when.timestamp() * 1000)
        self.events.append((event_type, {
            "event_id": f"demo-{self.ids:07d}", "tenant_id": tenant, "source": source,
            "record_id": record_id, "version": version or stamp, "occurred_at": when,
            "op": op, **fields}))

    def run(self, companies: int) -> list[Event]:
        self.partnerships()
        self.tenant_settings()
        for c in range(companies):
            self.company(c)
        self.events.sort(key=lambda e: (e[1]["occurred_at"], e[1]["event_id"]))
        return self.events

    def partnerships(self) -> None:
        for n, (a, b, rules) in enumerate(PARTNERSHIPS):
            self.emit("partnership", a, f"{a}-{b}", self.at(n * 0.1),
                      _partnership(a, b, "ACTIVE", rules))
        # half-way through the year one partnership is narrowed, and one ends for good
        a, b, rules = PARTNERSHIPS[1]
        narrowed = {k: v for k, v in rules.items() if k[1] != "OPEN_OPPORTUNITY"}
        self.emit("partnership", a, f"{a}-{b}", self.at(180), _partnership(a, b, "ACTIVE",
                                                                          narrowed))
        a, b, rules = PARTNERSHIPS[4]
        self.emit("partnership", a, f"{a}-{b}", self.at(300), _partnership(a, b, "ENDED", {}))

    def tenant_settings(self) -> None:
        for spec in TENANTS:  # a tenant's own domain: its staff's accounts name it
            self.emit("tenant_settings", spec.tenant_id, spec.tenant_id, self.at(0),
                      {"ignored_domains": [f"{spec.tenant_id}.com"]})

    def company(self, c: int) -> None:
        rng = self.rng
        name = f"{rng.choice(_PREFIXES)} {rng.choice(_NOUNS)} {rng.choice(_TRADES)}"
        stem = name.lower().replace(" ", "")[:18] + str(c)
        tld = rng.choices([t for t, _ in _TLDS], [w for _, w in _TLDS])[0]
        domain = stem + tld
        suffix = rng.choice(_SUFFIXES)
        industry = rng.choice(_INDUSTRIES)
        for spec in TENANTS:
            if rng.random() < spec.share_of_market:
                self.account(spec, c, f"{name} {suffix}".strip(), domain, industry)

    def account(self, spec: TenantSpec, c: int, name: str, domain: str, industry: str) -> None:
        rng = self.rng
        account_id = _record_id(spec, "acc", c)
        where = rng.choices(
            [{"domain": domain}, {"website": f"https://www.{domain}/"},
             {"website": f"http://{domain}/about"}, {"domain": f"shop.{domain}"}, {}],
            [0.4, 0.3, 0.12, 0.1, 0.08])[0]
        relationship = rng.choices(["CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OTHER"],
                                   [0.35, 0.45, 0.1, 0.1])[0]
        created = rng.uniform(0, 200)
        fields = {"name": name, "website": where.get("website"), "domain": where.get("domain"),
                  "country": _COUNTRY.get(domain[domain.index("."):], "US"),
                  "relationship": relationship, "industry": industry}
        self.emit("account", spec, account_id, self.at(created), fields)
        if relationship == "PROSPECT" and rng.random() < 0.25:  # won later in the year
            self.emit("account", spec, account_id, self.at(created + rng.uniform(60, 160)),
                      {**fields, "relationship": "CUSTOMER"})
        for k in range(rng.choice((0, 1, 1, 2, 3))):
            email = f"person{k}@{domain}"
            self.emit("contact", spec, f"{account_id}-c{k}", self.at(created + 1), {
                "account_record_id": account_id,
                "email_sha256": hashlib.sha256(email.encode()).hexdigest(),
                "email_domain": domain, "title": rng.choice(_TITLES)})
        deals = {"PROSPECT": (1, 2, 2), "CUSTOMER": (0, 1, 1), "FORMER_CUSTOMER": (0, 0, 1),
                 "OTHER": (0,)}[relationship]
        for o in range(rng.choice(deals)):
            self.deal(spec, account_id, f"{account_id}-opp{o}", created)
        if rng.random() < 0.02:
            self.emit("account", spec, account_id, self.at(created + rng.uniform(200, 330)),
                      fields, op="DELETE")

    def deal(self, spec: TenantSpec, account_id: str, opp_id: str, created_day: float) -> None:
        rng = self.rng
        opened = created_day + rng.uniform(1, 60)
        amount = Decimal(rng.choice((5, 8, 12, 20, 35, 50, 80, 120, 250)) * 1000
                         + rng.randint(0, 99) * 10)
        base = {"account_record_id": account_id, "name": f"{spec.tenant_id} deal {opp_id}",
                "amount": amount, "currency": spec.currency, "close_date": None,
                "created_at": self.at(opened)}
        self.emit("opportunity", spec, opp_id, self.at(opened), {
            **base, "stage": rng.choice(_OPEN_STAGES), "is_closed": False, "is_won": False})
        partners = [p for p in _partners_of(spec.tenant_id) if rng.random() < 0.3]
        for t, partner in enumerate(partners):
            kind = rng.choice(("INTRO", "REFERRAL", "CO_MARKETING", "DEAL_REGISTRATION"))
            self.emit("partner_touch", spec, f"{opp_id}-t{t}",
                      self.at(opened + rng.uniform(0, 40)), {
                          # every other touch names only its deal, as Salesforce campaign
                          # influence and HubSpot deal associations export them
                          "opportunity_record_id": opp_id,
                          "account_record_id": None if t % 2 else account_id,
                          "partner_tenant_id": partner, "touch_type": kind,
                          "partner_sourced": kind == "DEAL_REGISTRATION" and t == 0,
                          "campaign": "Q3 joint webinar" if kind == "CO_MARKETING" else None})
        fate = rng.random()
        close_day = opened + rng.uniform(20, 150)
        if close_day > 364 or fate < 0.4:
            return  # still open
        won = fate < 0.75
        closed = self.at(close_day)
        self.emit("opportunity", spec, opp_id, closed, {
            **base, "stage": "Closed Won" if won else "Closed Lost", "is_closed": True,
            "is_won": won, "close_date": closed.date()})


def _partners_of(tenant: str) -> list[str]:
    return [b if a == tenant else a for a, b, _ in PARTNERSHIPS if tenant in (a, b)]


def _partnership(a: str, b: str, status: str, rules: dict) -> dict[str, Any]:
    return {"partnership_id": f"{a}-{b}", "tenant_a": a, "tenant_b": b, "status": status,
            "sharing": [{"from_tenant": f, "population": p, "level": lvl}
                        for (f, p), lvl in rules.items()]}


def _record_id(spec: TenantSpec, kind: str, n: int) -> str:
    if spec.source == "salesforce":  # 18-character Salesforce ids
        prefix = {"acc": "001", "opp": "006"}[kind]
        return f"{prefix}{spec.tenant_id[:3].upper()}{n:012d}"
    return str(10_000_000 + n * 7 + len(spec.tenant_id))  # HubSpot numeric ids

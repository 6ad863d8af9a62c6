"""Stage 2b: the resolver, which decides every account's company from all accounts' inputs.

One record says too little to match it well: a record without a domain may belong to a
company another record names with its domain, one brand's country domains are one
company, a one-character typo in a name is the same company. So the company of an
account is a function of the *current* match inputs of every account (never of the order
they arrived in, so the stream and the replay agree). Per account ``a`` of tenant ``t``
the account stage sends a :class:`MatchInput`:

- D(a): the first of its domain candidates (registrable domain of ``domain``, then of
  ``website``) that tenant ``t`` does not ignore (:func:`apply_settings`);
- N(a): its normalized name; C(a): its country (stripped, upper case).

Rules (precision first):

1. *Domain companies.* Accounts with D join the company of D. Domains d1 != d2 with the
   same label (the registrable domain without its public suffix: ``acme.co.uk`` ->
   ``acme``) are joined when some account of d1 and some account of d2 have the same
   non-empty N (any country): a *brand*. The key of a connected set of domains is its
   smallest domain (a lone domain keeps key = domain).
2. *Typo clusters.* Names (N, C) of one country at Damerau-Levenshtein distance 1, both
   at least :data:`TYPO_MIN_LENGTH` characters long (spaces not counted), with the same
   digits and differing in letters of an alphabet (a CJK ideograph, kana or Hangul
   syllable is a word of its own, not a typo), are one name cluster (connected sets; key
   ``name:<smallest name>|C``, a lone name keeps ``name:N|C``). Candidates come from a
   deletion-neighbourhood index per country (a name and every string one deletion of a
   letter away), so finding a name's neighbours costs the same however many names there
   are.
3. *Name joins.* An account without D joins a domain company when exactly ONE domain
   company has an account whose (N, C) is in the account's name cluster; with none or
   several it stays on its name cluster's key.

Each account gets a method (``domain``, ``website``, ``brand``, ``name_country``,
``name_domain``, ``name_typo``) and a short evidence text. :func:`apply_input` answers
with an :class:`Assignment` for every account whose (company, method, evidence) changed,
and only for those: a merge or split re-assigns the accounts of the affected domains and
name clusters, so an input costs work in proportion to what it changes.

The state is a plain mapping (a Faust table in the stream, a dict in the replay) of many
small JSON values, every index a key of its own (no value grows with the number of
accounts, only with the accounts of one domain or name). Keys, by their first letters:

- ``a:<account key>``: the account's inputs, its effective domain and its assignment;
- ``d:<domain>``: one record per domain, its three parts written together: ``m`` the
  accounts whose D is the domain, with their (N, C); ``x`` the accounts that list the
  domain among their candidates at all; ``c`` the domain's company (key and brand
  evidence), kept to see changes;
- ``l:<label>``: the domains with that label that some account has as D;
- ``n:<C> US <N>``: the accounts with that name and country, with their D;
- ``v:<C> US <variant>``: the names of that country one deletion away from the variant
  (the *typo index*; it may be kept apart from the state, see below);
- ``t:<tenant>``: the tenant's settings (version, ignored domains).

Keys are never deleted (an emptied index keeps an empty value): the replay's saved state
and the table's changelog keep only what is written. A key is written only when its value
changes (every write is a changelog message in the stream). State of the earlier layout,
where ``d:`` held only the accounts and ``x:<domain>`` and ``c:<domain>`` were keys of
their own, is read as it is and written in this layout when the domain next changes.

The typo index is a function of the ``n:`` keys (:func:`typo_index`), and a new name
writes one key per letter there. The functions that change the state take it as
``typos``, a mapping of its own (by default the state itself): the stream keeps it in a
local store of the worker rebuilt from the state after every rebalance, so its keys are
not written to the table's changelog. A name found in the index is used only while some
account holds it, so an index that knows a name too many (a batch applied to it but not
to the state) clusters nothing wrongly; one that misses a name does, so rebuild it
whenever the state may have changed without it.

Every index (``d:``, ``l:``, ``n:`` and ``v:``) is a function of the ``a:`` keys
(:func:`derived_index`). The worker keeps only ``a:`` and ``t:`` keys in its table and
the indexes beside it, built again from the account records whenever the table may have
changed without them (``streams.resolver_index``); unlike the typo index, an index that
is ahead of the records there is wrong, not merely wasteful.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein

from .companykey import (
    METHOD_NAME_COUNTRY,
    CompanyMatch,
    domain_label,
    name_company_key,
    registrable_domain,
)
from .evidence import match_evidence

__all__ = [
    "METHOD_BRAND", "METHOD_NAME_DOMAIN", "METHOD_NAME_TYPO", "TYPO_MIN_LENGTH", "Assignment",
    "MatchInput", "apply_input", "apply_settings", "apply_settings_event", "assignment_of",
    "DERIVED_PREFIXES", "IndexBuilder", "derived_index", "explain", "typo_entries", "typo_index",
]

METHOD_BRAND = "brand"
METHOD_NAME_DOMAIN = "name_domain"
METHOD_NAME_TYPO = "name_typo"

#: Names shorter than this (spaces not counted) never join by a typo.
TYPO_MIN_LENGTH = 6
_SEP = "\x1f"
#: Scripts (Unicode name prefixes) whose letters a typo may change.
_ALPHABETS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "GEORGIAN", "HEBREW", "ARABIC")
#: How many other names or domains an evidence text lists.
_LISTED = 3
#: Prefixes of the keys that are a function of the ``a:`` keys (:func:`derived_index`):
#: the indexes, and the ``x:`` and ``c:`` keys of the earlier layout.
DERIVED_PREFIXES = ("d:", "l:", "n:", "v:", "x:", "c:")


@dataclass(slots=True)  # not frozen: see accounts.SnapshotMessage
class MatchInput:
    """Account stage -> resolver: an account's current match inputs (or none: deleted).

    ``domains``: [registrable domain, field] pairs in order of preference (field
    ``"domain"`` or ``"website"``; a website's with its text as a third item, which the
    evidence quotes); ``name``: the normalized name; ``country``: stripped,
    upper case. ``seq`` grows with every input the account sends (the highest wins).
    """

    account_key: str
    tenant_id: str
    domains: list[list[str]]
    name: str | None
    country: str
    seq: int

    @property
    def key(self) -> str:
        """The message key (the resolver has one partition; keyed for order per account)."""
        return self.account_key

    def to_json(self) -> dict[str, Any]:
        """The message as JSON data (what goes onto the matching topic)."""
        return {"kind": "match_input", "tenant_id": self.tenant_id, "domains": self.domains,
                "name": self.name, "country": self.country, "seq": self.seq}

    @classmethod
    def from_json(cls, key: str, data: dict[str, Any]) -> MatchInput:
        """Inverse of :meth:`to_json`, with the message key."""
        return cls(key, data["tenant_id"], [list(d) for d in data["domains"]], data["name"],
                   data["country"], data["seq"])


@dataclass(slots=True)  # not frozen: see accounts.SnapshotMessage
class Assignment:
    """Resolver -> account stage: the account's company now (None: no company).

    ``seq`` grows with every assignment of the account (the highest wins).
    """

    key: str
    company_key: str | None
    method: str | None
    evidence: str | None
    seq: int

    def to_json(self) -> dict[str, Any]:
        """The message as JSON data (what goes onto the by-account topic)."""
        return {"kind": "assigned", "company_key": self.company_key, "method": self.method,
                "evidence": self.evidence, "seq": self.seq}

    @classmethod
    def from_json(cls, key: str, data: dict[str, Any]) -> Assignment:
        """Inverse of :meth:`to_json`, with the message key."""
        return cls(key, data["company_key"], data["method"], data["evidence"], data["seq"])


# -- helpers ---------------------------------------------------------------------------


def _typo_eligible(name: str) -> bool:
    return len(name) - name.count(" ") >= TYPO_MIN_LENGTH


def _digits(name: str) -> str:
    return "".join(filter(str.isdigit, name))


def _variants(name: str) -> set[str]:
    """The name and every string one deletion of a non-digit away.

    Two names one typo apart with the same digits share one: a substituted letter
    deleted from both, an inserted one from the longer, a transposed pair's letter from
    both. Digits are never deleted, so names whose digits differ ("Route 66 Diner", "Route
    67 Diner") never meet in the index, however many such names a country has.
    """
    return {name} | {name[:i] + name[i + 1:] for i, c in enumerate(name) if not c.isdigit()}


def _is_typo(a: str, b: str) -> bool:
    return (a != b and _typo_eligible(a) and _typo_eligible(b) and _digits(a) == _digits(b)
            and DamerauLevenshtein.distance(a, b, score_cutoff=1) == 1
            and all(_spellable(c) for c in _differing(a, b)))


def _differing(a: str, b: str) -> str:
    """The characters of ``a`` and ``b`` between their common prefix and suffix."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return a[start:len(a) - end] + b[start:len(b) - end]


@cache
def _spellable(c: str) -> bool:
    """A letter one can mistype without naming another word (a space or digit too).

    Letters of alphabets are; a CJK ideograph, kana or Hangul syllable is a word or
    syllable of its own ("ＦＢＢＭ精機" and "ＦＢＢＭ電機" are two companies).
    """
    if c.isascii():  # a digit only moves: the digits of both names are the same
        return c == " " or c.isalnum()
    return c.isalpha() and unicodedata.name(c, "").startswith(_ALPHABETS)


def _name_key(country: str, name: str) -> str:
    return f"n:{country}{_SEP}{name}"


def _quote_list(items: Iterable[str]) -> str:
    items = sorted(items)
    shown = ", ".join(f"'{i}'" for i in items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _list(items: Iterable[str]) -> str:
    items = sorted(items)
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _get(state: MutableMapping[str, Any], key: str, default: Any) -> Any:
    value = state.get(key)
    return default if value is None else value


def _put(state: MutableMapping[str, Any], key: str, value: Any) -> None:
    """Write ``value`` unless the key holds it already."""
    if state.get(key) != value:
        state[key] = value


def _domain(state: MutableMapping[str, Any], domain: str) -> dict[str, Any]:
    """The domain's record: ``m`` accounts with D = domain, ``x`` listers, ``c`` company.

    A ``d:`` value of the earlier layout (only the accounts) takes ``x`` and ``c`` from
    the keys that held them then.
    """
    value = state.get(f"d:{domain}")
    if value is not None and "m" in value:
        return value
    return {"m": value or {}, "x": _get(state, f"x:{domain}", []),
            "c": state.get(f"c:{domain}")}


def _put_domain(state: MutableMapping[str, Any], domain: str, **parts: Any) -> None:
    """Replace parts of the domain's record (written once, if anything changed)."""
    current = _domain(state, domain)
    new = {**current, **parts}
    if new != current:
        state[f"d:{domain}"] = new


def _company(state: MutableMapping[str, Any], domain: str) -> dict[str, Any]:
    return _domain(state, domain)["c"] or {"k": domain, "e": None}


def _ignored(state: MutableMapping[str, Any], tenant: str) -> list[str]:
    return _get(state, f"t:{tenant}", {}).get("ignored", [])


def _effective(domains: list[list[str]], ignored: list[str]) -> tuple[str | None, str | None]:
    for domain, source, *_ in domains:
        if domain not in ignored:
            return domain, source
    return None, None


# -- indexes ---------------------------------------------------------------------------


@dataclass
class _Affected:
    """What an update touched: labels to regroup, names to recluster, accounts to assign."""

    labels: set[str] = field(default_factory=set)
    names: set[tuple[str, str]] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)


def _variant_key(country: str, variant: str) -> str:
    return f"v:{country}{_SEP}{variant}"


def _neighbours(state: MutableMapping[str, Any], typos: MutableMapping[str, Any],
                country: str, name: str) -> list[str]:
    """Names of ``country`` one typo from ``name`` that some account holds (sorted)."""
    if not _typo_eligible(name):
        return []
    found: set[str] = set()
    for variant in _variants(name):
        found.update(_get(typos, _variant_key(country, variant), ()))
    return sorted(n for n in found
                  if _is_typo(name, n) and state.get(_name_key(country, n)))


def _add_name(typos, country: str, name: str) -> None:
    if _typo_eligible(name):
        for variant in _variants(name):
            key = _variant_key(country, variant)
            names = _get(typos, key, [])
            if name not in names:
                typos[key] = sorted([*names, name])


def _drop_name(typos, country: str, name: str) -> None:
    if _typo_eligible(name):
        for variant in _variants(name):
            key = _variant_key(country, variant)
            names = _get(typos, key, [])
            if name in names:
                typos[key] = [n for n in names if n != name]


def typo_entries(key: str, holders: Any) -> list[tuple[str, str]]:
    """(typo index key, name) pairs that a state's ``n:`` key puts in the typo index."""
    if not key.startswith("n:") or not holders:
        return []
    country, name = key[2:].split(_SEP, 1)
    if not _typo_eligible(name):
        return []
    return [(_variant_key(country, variant), name) for variant in _variants(name)]


def typo_index(items: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    """The typo index (``v:`` key -> names) of a state's items (every key and value).

    What :func:`apply_input` keeps in ``typos`` when it starts from an empty one.
    """
    index: dict[str, set[str]] = {}
    for key, holders in items:
        for variant_key, name in typo_entries(key, holders):
            index.setdefault(variant_key, set()).add(name)
    return {key: sorted(names) for key, names in index.items()}


def derived_index(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The indexes (``d:``, ``l:``, ``n:`` and ``v:`` keys) of a state's ``a:`` keys.

    ``items``: a state's keys and values (keys of other prefixes are skipped); see
    :class:`IndexBuilder`.
    """
    builder = IndexBuilder()
    for key, value in items:
        builder.add(key, value)
    return builder.build()


class IndexBuilder:
    """Builds the indexes of a state from its ``a:`` keys, one item at a time.

    Every account record holds its inputs (``cand``, ``n``, ``c``) and its effective
    domain ``D``, which is all the indexes are made of; a domain's company (its ``c``
    part) is its brand group (:func:`_brand_groups`), which the resolver keeps current for
    every domain some account has as D. So the built values answer every read
    :func:`apply_input` and :func:`apply_settings` make as the indexes they maintained
    would: an emptied index is absent here rather than empty, and a domain no account
    has as D has no company here (the resolver reads a domain's company only through
    such accounts).
    """

    def __init__(self) -> None:
        self._domains: dict[str, tuple[dict[str, list[str]], set[str]]] = {}
        self._labels: dict[str, set[str]] = {}
        self._names: dict[str, dict[str, str]] = {}
        self.accounts = 0

    def add(self, key: str, rec: Any) -> None:
        """Take in one item of the state (only ``a:`` keys count)."""
        if not key.startswith("a:") or not rec:
            return
        self.accounts += 1
        account = key[2:]
        domain, name, country = rec.get("D"), rec.get("n"), rec.get("c", "")
        for candidate in rec.get("cand", []):
            self._domains.setdefault(candidate[0], ({}, set()))[1].add(account)
        if domain:
            self._domains.setdefault(domain, ({}, set()))[0][account] = [name or "", country]
            self._labels.setdefault(domain_label(domain), set()).add(domain)
        if name:
            self._names.setdefault(_name_key(country, name), {})[account] = domain or ""

    def build(self, typos: bool = True) -> dict[str, Any]:
        """The index keys and values of everything added.

        Without ``typos``, not the typo index's (:func:`typo_entries` of the ``n:`` keys
        make it).
        """
        index: dict[str, Any] = {
            f"d:{d}": {"m": members, "x": sorted(listers), "c": None}
            for d, (members, listers) in self._domains.items()}
        index.update((f"l:{label}", sorted(ds)) for label, ds in self._labels.items())
        index.update(self._names)
        for label in self._labels:
            for domain, company in _brand_groups(index, label).items():
                index[f"d:{domain}"]["c"] = company
        if typos:
            index.update(typo_index(self._names.items()))
        return index


def _unindex(state, typos, account: str, rec: dict[str, Any], affected: _Affected) -> None:
    """Take an account's effective inputs out of the indexes."""
    domain, name, country = rec.get("D"), rec.get("n"), rec.get("c", "")
    if domain:
        members = dict(_domain(state, domain)["m"])
        members.pop(account, None)
        _put_domain(state, domain, m=members)
        label = domain_label(domain)
        affected.labels.add(label)
        if not members:
            _put(state, f"l:{label}", [d for d in _get(state, f"l:{label}", []) if d != domain])
    if name:
        key = _name_key(country, name)
        holders = dict(_get(state, key, {}))
        holders.pop(account, None)
        _put(state, key, holders)
        affected.names.add((country, name))
        if not holders:
            # The name's cluster may split: every part holds one of its neighbours.
            affected.names.update(
                (country, n) for n in _neighbours(state, typos, country, name))
            _drop_name(typos, country, name)


def _index(state, typos, account: str, rec: dict[str, Any], affected: _Affected) -> None:
    """Put an account's effective inputs into the indexes."""
    domain, name, country = rec.get("D"), rec.get("n"), rec.get("c", "")
    if domain:
        members = dict(_domain(state, domain)["m"])
        if not members:
            label = domain_label(domain)
            _put(state, f"l:{label}", sorted({*_get(state, f"l:{label}", []), domain}))
        members[account] = [name or "", country]
        _put_domain(state, domain, m=members)
        affected.labels.add(domain_label(domain))
    if name:
        key = _name_key(country, name)
        holders = dict(_get(state, key, {}))
        if not holders:
            _add_name(typos, country, name)
        holders[account] = domain or ""
        _put(state, key, holders)
        affected.names.add((country, name))


# -- resolution ------------------------------------------------------------------------


def _brand_groups(state, label: str) -> dict[str, dict[str, Any]]:
    """Domain -> its company (key, brand evidence) for every domain of ``label``."""
    domains = _get(state, f"l:{label}", [])
    names_of = {d: {m[0] for m in _domain(state, d)["m"].values() if m[0]}
                for d in domains}
    parent = {d: d for d in domains}

    def root(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    by_name: dict[str, list[str]] = {}
    for d in domains:
        for n in names_of[d]:
            by_name.setdefault(n, []).append(d)
    for holders in by_name.values():
        for d in holders[1:]:
            a, b = root(holders[0]), root(d)
            if a != b:
                parent[max(a, b)] = min(a, b)
    members: dict[str, list[str]] = {}
    for d in domains:
        members.setdefault(root(d), []).append(d)
    out = {}
    for d in domains:
        group = members[root(d)]
        if len(group) == 1:
            out[d] = {"k": d, "e": None}
            continue
        joined = [f"{o}: both named '{min(names_of[d] & names_of[o])}'"
                  for o in sorted(group) if o != d and names_of[d] & names_of[o]]
        via = f" ({len(group)} domains: {_list(group)})" if len(group) > len(joined) + 1 else ""
        out[d] = {"k": min(group), "e": "brand with " + "; ".join(joined[:_LISTED]) + via}
    return out


def _cluster(state, typos, country: str, name: str) -> list[str]:
    """The names (sorted) of the typo cluster of (name, country)."""
    seen = {name}
    todo = [name]
    while todo:
        for n in _neighbours(state, typos, country, todo.pop()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return sorted(seen)


def _domain_assignment(state, rec: dict[str, Any]) -> tuple[str, str, str]:
    domain, source = rec["D"], rec["dm"]
    company = _company(state, domain)
    used = next(c for c in rec["cand"] if c[0] == domain)
    skipped = [c[0] for c in rec["cand"][:rec["cand"].index(used)]]
    website = {"website": used[2]} if len(used) > 2 else {}
    evidence = match_evidence(CompanyMatch(domain, source), website)
    if skipped:
        evidence += f" ({_list(skipped)} ignored by the tenant)"
    if company["e"]:
        return company["k"], METHOD_BRAND, f"{evidence}; {company['e']}"
    return company["k"], source, evidence


def _cluster_assignments(state, country: str, names: list[str]
                         ) -> dict[str, tuple[str, str, str]]:
    """Assignments of the accounts without a domain in one name cluster."""
    holders = {n: _get(state, _name_key(country, n), {}) for n in names}
    companies: dict[str, set[str]] = {}  # domain company -> its names in the cluster
    for n, accounts in holders.items():
        for domain in accounts.values():
            if domain:
                company = _company(state, domain)["k"]
                companies.setdefault(company, set()).add(n)
    out = {}
    for n, accounts in holders.items():
        others = [o for o in names if o != n]
        typo = f" (one character from {_quote_list(others)})" if others else ""
        head = f"name '{n}'|{country}{typo}"
        for account, domain in accounts.items():
            if domain:
                continue
            if len(companies) == 1:
                (company, via), = companies.items()
                agree = "that name" if via == {n} else \
                    f"a name of that cluster ({_quote_list(via)})"
                out[account] = (company, METHOD_NAME_DOMAIN,
                                f"{head}: the one domain company with {agree} and country "
                                f"is {company}")
                continue
            why = ""
            if companies:
                why = f"; not joined to a domain company: ambiguous between {_list(companies)}"
            out[account] = (name_company_key(names[0], country),
                            METHOD_NAME_TYPO if others else METHOD_NAME_COUNTRY, head + why)
    return out


def _resolve(state, typos, affected: _Affected) -> list[Assignment]:
    """Recompute what ``affected`` touched; the assignments that changed."""
    for label in sorted(affected.labels):
        for domain, company in _brand_groups(state, label).items():
            record = _domain(state, domain)
            if record["c"] != company:
                _put_domain(state, domain, c=company)
                for account, (name, country) in record["m"].items():
                    affected.accounts.add(account)
                    if name:
                        affected.names.add((country, name))
    found: dict[str, tuple[str | None, str | None, str | None]] = {}
    for account in affected.accounts:
        rec = state.get(f"a:{account}")
        if rec is not None and rec.get("D"):
            found[account] = _domain_assignment(state, rec)
    done: set[tuple[str, str]] = set()
    for country, name in sorted(affected.names):
        if (country, name) in done or not state.get(_name_key(country, name)):
            continue
        names = _cluster(state, typos, country, name)
        done.update((country, n) for n in names)
        found.update(_cluster_assignments(state, country, names))
    for account in affected.accounts:
        found.setdefault(account, (None, None, None))
    out = []
    for account in sorted(found):
        key = f"a:{account}"
        rec = state.get(key)
        if rec is None:
            continue
        company, method, evidence = found[account]
        if [rec.get("k"), rec.get("m"), rec.get("e")] == [company, method, evidence]:
            continue
        rec = {**rec, "k": company, "m": method, "e": evidence, "as": rec.get("as", 0) + 1}
        state[key] = rec
        out.append(Assignment(account, company, method, evidence, rec["as"]))
    return out


def _reinput(state, typos, account: str, rec: dict[str, Any], new: dict[str, Any],
             affected: _Affected) -> dict[str, Any]:
    """Replace an account's inputs; return its new record (written).

    Only the indexes whose part of the inputs changed are written.
    """
    new = {**rec, **new}
    domain, source = _effective(new.get("cand", []), _ignored(state, new.get("t", "")))
    new.update(D=domain, dm=source)
    before = {c[0] for c in rec.get("cand", [])}
    after = {c[0] for c in new.get("cand", [])}
    for candidate in sorted(before - after):
        listers = _domain(state, candidate)["x"]
        _put_domain(state, candidate, x=[a for a in listers if a != account])
    for candidate in sorted(after - before):
        _put_domain(state, candidate, x=sorted({*_domain(state, candidate)["x"], account}))
    if (rec.get("D"), rec.get("n"), rec.get("c", "")) != (domain, new.get("n"), new.get("c", "")):
        _unindex(state, typos, account, rec, affected)
        _index(state, typos, account, new, affected)
    state[f"a:{account}"] = new
    affected.accounts.add(account)
    if new.get("n"):
        affected.names.add((new.get("c", ""), new["n"]))
    return new


def apply_input(state: MutableMapping[str, Any], msg: MatchInput,
                typos: MutableMapping[str, Any] | None = None) -> list[Assignment]:
    """Apply an account's match inputs; return the assignments that changed.

    An input with a seq no higher than the account's last is stale or repeated: ignored.
    ``typos``: where the typo index is kept (by default in ``state``).
    """
    key = f"a:{msg.account_key}"
    rec = state.get(key) or {}
    if msg.seq <= rec.get("seq", 0):
        return []
    new = {"t": msg.tenant_id, "cand": [list(d) for d in msg.domains], "n": msg.name or None,
           "c": msg.country, "seq": msg.seq}
    typos = state if typos is None else typos
    affected = _Affected()
    _reinput(state, typos, msg.account_key, rec, new, affected)
    return _resolve(state, typos, affected)


def apply_settings(state: MutableMapping[str, Any], tenant_id: str, version: int,
                   ignored_domains: Iterable[str],
                   typos: MutableMapping[str, Any] | None = None) -> list[Assignment]:
    """Apply a tenant's settings (its ignored domains); return the assignments that changed.

    Settings with a version no higher than the tenant's last are ignored. A listed
    domain, host or URL counts as its registrable domain (``www.acme.com/x`` ignores
    ``acme.com``). Only the tenant's accounts that list a domain added to or removed from
    the list are looked at. ``typos``: as for :func:`apply_input`.
    """
    key = f"t:{tenant_id}"
    current = _get(state, key, {})
    if version <= current.get("v", 0):
        return []
    before = set(current.get("ignored", []))
    after = {registrable_domain(d) or d.strip().lower() for d in ignored_domains
             if d and d.strip()}
    _put(state, key, {"v": version, "ignored": sorted(after)})
    typos = state if typos is None else typos
    affected = _Affected()
    accounts = {a for d in before ^ after for a in _domain(state, d)["x"]}
    for account in sorted(accounts):
        rec = state.get(f"a:{account}")
        if rec is None or rec.get("t") != tenant_id:
            continue
        if _effective(rec["cand"], sorted(after)) != (rec.get("D"), rec.get("dm")):
            _reinput(state, typos, account, rec, {}, affected)
    return _resolve(state, typos, affected)


def apply_settings_event(state: MutableMapping[str, Any], record: dict[str, Any],
                         typos: MutableMapping[str, Any] | None = None) -> list[Assignment]:
    """:func:`apply_settings` for a ``tenant_settings`` event (a DELETE ignores nothing)."""
    ignored = [] if record.get("op") == "DELETE" else record.get("ignored_domains") or []
    return apply_settings(state, record["tenant_id"], record["version"], ignored, typos)


def assignment_of(state: MutableMapping[str, Any], account_key: str
                  ) -> tuple[str | None, str | None, str | None]:
    """(company key, method, evidence) the resolver gives the account now."""
    rec = state.get(f"a:{account_key}") or {}
    return rec.get("k"), rec.get("m"), rec.get("e")


# -- explain ---------------------------------------------------------------------------


def explain(state: MutableMapping[str, Any], account_a: str, account_b: str) -> str:
    """Why two accounts did or did not match: a short text, from the resolver state."""
    recs = [state.get(f"a:{a}") for a in (account_a, account_b)]
    shown = [a.replace(_SEP, "/") for a in (account_a, account_b)]
    for rec, name in zip(recs, shown, strict=True):
        if not rec or not rec.get("k"):
            why = "is unknown" if not rec else "has no usable domain or name"
            return f"not matched: account {name} {why}"
    a, b = recs
    lines = []
    if a["k"] == b["k"]:
        if a.get("D") and a.get("D") == b.get("D"):
            lead = f"matched: same domain {a['D']}"
        elif a.get("D") and b.get("D"):
            lead = f"matched: brand {a['k']} joins {a['D']} and {b['D']}"
        elif a.get("D") or b.get("D"):
            lead = f"matched: the account without a domain joined domain company {a['k']}"
        elif a.get("n") == b.get("n"):
            lead = f"matched: same name '{a['n']}' and country {a.get('c') or '(none)'}"
        else:
            lead = f"matched: typo cluster {a['k']}"
        lines.append(lead)
    else:
        lines.append("not matched: " + _why_not(state, a, b))
    for rec, name in zip(recs, shown, strict=True):
        lines.append(f"{name}: {rec['k']} by {rec['m']}: {rec['e']}")
    return "\n".join(lines)


def _why_not(state, a: dict[str, Any], b: dict[str, Any]) -> str:
    notes = []
    for rec in (a, b):
        ignored = [c[0] for c in rec.get("cand", []) if c[0] in _ignored(state, rec["t"])]
        if ignored:
            notes.append(f"tenant {rec['t']} ignores {_list(ignored)}")
    note = f" ({'; '.join(notes)})" if notes else ""
    if a.get("D") and b.get("D"):
        if domain_label(a["D"]) == domain_label(b["D"]):
            return (f"different domains {a['D']} and {b['D']} of one label, but no account "
                    f"of one has a name an account of the other has{note}")
        return (f"different domains {a['D']} and {b['D']} (names '{a.get('n')}' and "
                f"'{b.get('n')}'){note}")
    for rec in (a, b):
        if "ambiguous" in (rec.get("e") or ""):
            return f"the name of one account is {rec['e'].rsplit('; ', 1)[-1]}{note}"
    if a.get("c", "") != b.get("c", ""):
        return (f"different countries ({a.get('c') or 'none'} and {b.get('c') or 'none'})"
                + note)
    na, nb = a.get("n") or "", b.get("n") or ""
    if na != nb:
        if DamerauLevenshtein.distance(na, nb, score_cutoff=2) > 1:
            return f"names '{na}' and '{nb}' differ by more than one character{note}"
        if not (_typo_eligible(na) and _typo_eligible(nb)):
            return (f"names '{na}' and '{nb}' differ by one character, but typos count only "
                    f"in names of {TYPO_MIN_LENGTH} characters or more{note}")
        if _digits(na) != _digits(nb):
            return f"names '{na}' and '{nb}' differ in their digits{note}"
    return f"they are on different companies ({a['k']} and {b['k']}){note}"

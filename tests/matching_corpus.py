"""A labelled corpus of CRM account records for measuring account matching, and its scoring.

:func:`generate` builds, from a seed, CRM account events of several tenants in two CRM
flavours (Salesforce-like: the company's site in ``website`` as a URL, often with
``www.``, a path or capitals; HubSpot-like: a bare ``domain``). Every account carries the
id of the company it TRULY belongs to and the KIND of variation it was generated for
(:data:`KINDS`). Several tenants hold most companies (that makes the pairs to find); some
companies are held by one tenant only. Hard negatives are built in: companies that must
stay apart although their names, domains or providers look alike. Some accounts also get an
earlier version (no site yet, a mailbox provider's domain, a typo, no country) applied
before the final one; the labels describe the final versions.

:func:`run_matcher` applies the events to a fresh :class:`~streams.core.pipeline.Pipeline`
(every tenant pair partnered, all populations shared at FULL) and reads each account's
company key back (:func:`company_of`, the one place that knows where the key is kept).
:func:`evaluate` scores the keys over account pairs: a pair of accounts of one true company
is a true pair, a pair with one predicted key a predicted pair. Pairs are counted from group
sizes (never enumerated), so 100,000 accounts score in a second.

Per kind: a true pair belongs to the kind of its company (both accounts share it); a
predicted pair that is false counts against the kinds of both its accounts (once if they
share the kind). Precision of a kind = its true pairs found / (those + the false pairs
touching it); recall = its true pairs found / its true pairs.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import combinations
from math import comb
from typing import Any

from streams.core.pipeline import Pipeline
from streams.core.statekeys import account_key
from tests.factories import partnership

SEED = 20260601
T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
POPULATIONS = ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OPEN_OPPORTUNITY")
RELATIONSHIPS = ("CUSTOMER", "PROSPECT", "FORMER_CUSTOMER", "OTHER")
#: tenant -> CRM flavour
TENANTS: dict[str, str] = {
    "northwind": "salesforce", "globex": "salesforce", "hooli": "salesforce",
    "initech": "hubspot", "umbrella": "hubspot", "vandelay": "hubspot",
}

#: kind -> (what varies between the records, share of the companies generated).
KINDS: dict[str, tuple[str, float]] = {
    "domain_variants": ("exact domain; URL variants: www., subdomains, paths, case, "
                        "trailing dot", 0.11),
    "email_in_domain": ("an email address in the domain or website field", 0.03),
    "name_country": ("no domain; the same name and country", 0.07),
    "case_space": ("no domain; capitals, extra or non-breaking spaces, 'The' prefix, "
                   "trailing punctuation", 0.05),
    "other_country": ("same name in another country; subsidiaries with their own domain "
                      "(must stay apart)", 0.06),
    "free_mail": ("a free-mail or ISP domain as website or domain (many unrelated "
                  "companies must not merge)", 0.08),
    "non_latin": ("names in Japanese, Chinese, Cyrillic, Korean, full-width Latin; "
                  "distinct companies sharing a Latin acronym", 0.08),
    "legal_forms": ("legal forms: G.m.b.H., K.K./Kabushiki Kaisha, AB prefix, Co., Ltd., "
                    "S.A.R.L., Pty Limited, spol. s r.o., OOO ...", 0.08),
    "punctuation": ("apostrophes, dotted initials, letters such as o-slash or sharp s, "
                    "& / and / +, brackets", 0.06),
    "domain_and_name": ("one record with a domain, another without (same name and "
                        "country)", 0.07),
    "brand_domains": ("one brand on several country domains (acme.de, acme.co.uk), same "
                      "name", 0.06),
    "typo": ("one-character typos in names without a domain", 0.06),
    "abbreviation": ("no domain; abbreviated words: Intl / International, Mfg, Bros, "
                     "Svcs, Assoc, Labs", 0.04),
    "hosted_site": ("a shop, social or site-builder page as website (unrelated companies "
                    "on one host must not merge)", 0.03),
    "similar_names": ("distinct companies whose names differ by one character or digit, "
                      "or share a generic word (must stay apart)", 0.05),
    "same_label": ("one domain label, different companies (delta.com Delta Air Lines, "
                   "delta.de Delta Maschinenbau; must stay apart)", 0.03),
    "conglomerate": ("companies of one group with their own domains and names (must "
                     "stay apart)", 0.04),
}

COUNTRY_TLD = {
    "US": "com", "GB": "co.uk", "DE": "de", "FR": "fr", "JP": "co.jp", "AU": "com.au",
    "SE": "se", "NL": "nl", "ES": "es", "IT": "it", "CA": "ca", "IN": "in", "BR": "com.br",
    "CH": "ch", "AT": "at", "DK": "dk", "NO": "no", "CZ": "cz", "KR": "co.kr", "CN": "cn",
    "RU": "ru",
}
LATIN_COUNTRIES = ("US", "US", "US", "GB", "GB", "DE", "DE", "FR", "AU", "SE", "NL", "ES",
                   "IT", "CA", "IN", "BR", "CH", "AT", "DK", "NO")
INDUSTRIES = (
    "Systems", "Logistics", "Foods", "Dynamics", "Robotics", "Analytics", "Media", "Health",
    "Capital", "Software", "Pharma", "Textiles", "Motors", "Networks", "Retail", "Studios",
    "Bakery", "Plumbing", "Marine", "Aerospace", "Security", "Ventures", "Interiors",
    "Packaging", "Consulting", "Energy", "Solutions", "Partners", "Biotech", "Furniture",
)
_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
_ENDINGS = ("", "", "n", "r", "s", "x", "l", "m")

#: (provider domain, its country): mailbox and ISP domains seen in CRM website/domain fields.
FREE_MAIL = (
    ("gmail.com", None), ("yahoo.com", "US"), ("hotmail.com", None), ("outlook.com", None),
    ("aol.com", "US"), ("icloud.com", "US"), ("yahoo.co.jp", "JP"), ("btinternet.com", "GB"),
    ("comcast.net", "US"), ("bigpond.com", "AU"), ("orange.fr", "FR"),
    ("t-online.de", "DE"), ("web.de", "DE"), ("gmx.de", "DE"), ("libero.it", "IT"),
    ("wanadoo.fr", "FR"), ("sky.com", "GB"), ("virginmedia.com", "GB"),
    ("ntlworld.com", "GB"), ("talktalk.net", "GB"), ("verizon.net", "US"),
    ("att.net", "US"), ("sbcglobal.net", "US"), ("shaw.ca", "CA"), ("rogers.com", "CA"),
    ("optusnet.com.au", "AU"), ("bigpond.net.au", "AU"), ("ziggo.nl", "NL"),
    ("telenet.be", None), ("bluewin.ch", "CH"), ("laposte.net", "FR"), ("free.fr", "FR"),
    ("seznam.cz", "CZ"), ("naver.com", "KR"), ("hanmail.net", "KR"), ("ocn.ne.jp", "JP"),
    ("nifty.com", "JP"), ("rediffmail.com", "IN"), ("yahoo.co.in", "IN"),
    ("terra.com.br", "BR"), ("uol.com.br", "BR"), ("telia.com", "SE"), ("online.no", "NO"),
)
#: Sites where many companies have a page: (URL template, HubSpot's domain for it).
HOSTED = (
    ("https://www.facebook.com/{s}", "facebook.com"),
    ("https://www.linkedin.com/company/{s}/", "linkedin.com"),
    ("https://sites.google.com/view/{s}", "sites.google.com"),
    ("https://{s}.myshopify.com", "{s}.myshopify.com"),
    ("https://{s}.wixsite.com/home", "{s}.wixsite.com"),
    ("https://{s}.github.io/", "{s}.github.io"),
    ("http://{s}.blogspot.com", "{s}.blogspot.com"),
    ("https://www.instagram.com/{s}", "instagram.com"),
    ("https://{s}.squarespace.com", "{s}.squarespace.com"),
)

#: country -> legal forms; each tuple holds spellings of ONE form (a company has one form
#: and its records spell it in any of these ways, or leave it out).
LEGAL_FORMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "US": (("Inc.", "Inc", ", Inc.", "Incorporated", "INC."), ("LLC", "L.L.C.", ", LLC.", "Llc"),
           ("Corp.", "Corporation", "Corp")),
    "GB": (("Ltd", "Ltd.", "Limited", "LTD"), ("PLC", "plc", "Public Limited Company")),
    "DE": (("GmbH", "G.m.b.H.", "Gesellschaft mit beschränkter Haftung", "Gmbh"),
           ("AG", "Aktiengesellschaft"), ("GmbH & Co. KG", "GmbH & Co KG")),
    "AT": (("GmbH", "Ges.m.b.H.", "G.m.b.H.", "Ges.mbH"),),
    "JP": (("K.K.", "Kabushiki Kaisha", "KK", "Co., Ltd.", "Co.,Ltd."),),
    "FR": (("S.A.R.L.", "SARL", "Sarl"), ("SAS", "S.A.S."), ("S.A.", "SA")),
    "SE": (("AB", "Aktiebolag"),),
    "AU": (("Pty Ltd", "Pty. Ltd.", "Pty Limited", "Pty. Limited"),),
    "CZ": (("s.r.o.", "spol. s r.o.", "s. r. o."), ("a.s.", "akciová společnost")),
    "NL": (("B.V.", "BV", "Besloten Vennootschap"),),
    "IT": (("S.r.l.", "SRL", "s.r.l."), ("S.p.A.", "SpA")),
    "ES": (("S.L.", "SL", "Sociedad Limitada"), ("S.A.", "SA")),
    "IN": (("Pvt. Ltd.", "Private Limited", "Pvt Ltd"),),
    "BR": (("Ltda.", "Ltda", "Limitada"),),
    "CN": (("Co., Ltd.", "Co. Ltd", "Company Limited", "Co.,Ltd"),),
}
_RU_FORMS = (("ООО «{}»", 'ООО "{}"', "Общество с ограниченной ответственностью «{}»",
              "{} ООО"), ("АО «{}»", "Акционерное общество «{}»", 'АО "{}"'))

_KATAKANA = ("カ キ ク ケ コ サ シ ス セ ソ タ チ テ ト ナ ニ ノ ハ ヒ フ ホ マ ミ ム メ モ ヤ ユ ヨ "
             "ラ リ ル レ ロ ワ ガ ギ グ ゴ ダ デ ド バ ビ ブ ボ パ ピ プ ポ").split()
_JP_INDUSTRY = ("ソリューションズ", "エナジー", "商事", "電機", "工業", "製作所", "物産",
                "システムズ", "建設", "食品", "化学", "精機", "テクノロジー", "ロジスティクス")
_KANJI = "山田中村川本大東西北南日光星新明和栄富松竹梅桜青金銀高石岡島森林平安福丸岩橋沢野原井谷宮城"
_HANZI = "华中国东方海天金龙凤长城宏达信恒泰安盛鑫新美佳百联创智云祥瑞通远光明"
_CN_INDUSTRY = ("科技", "贸易", "电子", "物流", "实业", "软件", "医药", "机械", "化工", "能源")
_CYR = [c + v for c in "бвгдзклмнпрстф" for v in "аеиоуя"]
_RU_INDUSTRY = ("", "", "Технологии", "Логистика", "Строй", "Трейд", "Софт", "Энерго")
#: Hangul syllables of 14 initial consonants and 10 vowels, without a final consonant
_HANGUL = [chr(0xAC00 + (initial * 21 + vowel) * 28)
           for initial in (0, 2, 3, 5, 6, 7, 9, 11, 12, 14, 15, 16, 17, 18)
           for vowel in (0, 1, 4, 5, 8, 12, 13, 17, 18, 20)]
_KR_INDUSTRY = ("전자", "테크", "물산", "건설", "제약", "화학", "소프트", "통신")


def _full_width(text: str) -> str:
    """ASCII letters and digits as their full-width forms (what Japanese input produces)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else
                   ("\u3000" if c == " " else c) for c in text)


@dataclass(frozen=True, slots=True)
class Site:
    """Where a record points: ``how`` is host (a bare host), url or email."""

    how: str
    value: str


@dataclass(frozen=True, slots=True)
class Variant:
    """One record's view of a company, before a CRM flavour renders it."""

    name: str
    site: Site | None
    country: str | None


@dataclass(frozen=True, slots=True)
class LabelledAccount:
    """One generated account: its event and its label."""

    tenant: str
    record_id: str
    company: str  # the TRUE company id
    kind: str
    negative: bool  # generated as a hard negative (a company that must stay apart)
    record: dict[str, Any]


@dataclass
class Corpus:
    """The generated accounts (their final versions) and the events that build them.

    ``history`` holds earlier versions of some accounts, each placed somewhere before its
    account's final version: the labels are those of the final versions, so a matcher
    that depends on the current records only gives the same keys with or without them.
    """

    seed: int
    accounts: list[LabelledAccount]
    history: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (before, rec)

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """The account events in application order, earlier versions included."""
        before = defaultdict(list)
        for index, record in self.history:
            before[index].append(record)
        out = []
        for n, acc in enumerate(self.accounts):
            out.extend(("account", r) for r in before.get(n, ()))
            out.append(("account", acc.record))
        return out


def _neighbourhood(token: str) -> list[str]:
    """The token and every string one deletion away (finds Damerau-Levenshtein 1)."""
    return [token] + [token[:i] + token[i + 1:] for i in range(len(token))]


class _Gen:
    """Generator state: the random source, the names handed out, the companies made."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.taken: dict[str, set[str]] = defaultdict(set)  # deletion variant -> tokens
        self.companies: list[tuple[str, str, bool, list[Variant]]] = []
        self.counter = Counter()
        self.used: set[str] = set()  # words handed out without spread

    # -- names -------------------------------------------------------------------------
    def free(self, token: str, owner: str | None = None) -> bool:
        """No token other than ``owner`` is within one edit of ``token``."""
        return all(self.taken[v] <= {owner} for v in _neighbourhood(token) if v in self.taken)

    def claim(self, token: str) -> None:
        for v in _neighbourhood(token):
            self.taken[v].add(token)

    def word(self, syllables: Iterable[str], joiner: str = "", *, lo: int = 2, hi: int = 3,
             ending: Callable[[], str] = lambda: "", spread: bool = True) -> str:
        """A new word of ``lo`` to ``hi`` syllables; with ``spread``, two edits or more
        from every word handed out (else only new: short CJK names, which no typo rule
        may join, would run out of room)."""
        pool = list(syllables)
        for _ in range(10_000):
            token = joiner.join(self.rng.choice(pool)
                                for _ in range(self.rng.randint(lo, hi))) + ending()
            if token in self.taken or token in self.used:
                continue
            if not spread:
                self.used.add(token)
                return token
            if self.free(token):
                self.claim(token)
                return token
        raise RuntimeError(f"no new word left in {pool[:5]}...")

    def brand(self) -> str:
        """A new invented Latin brand word, two edits or more from every other one."""
        syl = [c + v for c in _CONSONANTS for v in _VOWELS]
        return self.word(syl, ending=lambda: self.rng.choice(_ENDINGS)).capitalize()

    def country(self) -> str:
        return self.rng.choice(LATIN_COUNTRIES)

    def industry(self) -> str:
        return self.rng.choice(INDUSTRIES)

    def holders(self, least: int = 1) -> int:
        n = self.rng.choices((1, 2, 3, 4, 5), (20, 35, 28, 12, 5))[0]
        return max(n, least)

    def domain(self, label: str, country: str) -> str:
        tld = COUNTRY_TLD[country] if self.rng.random() < 0.5 else "com"
        return f"{label.lower()}.{tld}"

    def add(self, kind: str, variants: list[Variant], negative: bool = False) -> None:
        self.counter[kind] += 1
        self.companies.append((f"{kind}-{self.counter[kind]:05d}", kind, negative, variants))

    def case(self, name: str) -> str:
        """The name as someone typed it: mostly as is, sometimes in capitals."""
        r = self.rng.random()
        return name.upper() if r < 0.1 else name


# -- one generator per kind: each adds one company or a family of companies -------------

def _domain_variants(g: _Gen) -> None:
    brand, country = g.brand(), g.country()
    base = g.domain(brand, country)
    name = f"{brand} {g.industry()}"
    hosts = (base, base, base, f"shop.{base}", f"eu.{base}", f"app.{base}", base.upper(),
             f"{base}.")
    names = (name, name, f"{name} {g.rng.choice(LEGAL_FORMS['US'][0])}", f"{brand}",
             f"{name} (EMEA)", name.upper())
    g.add("domain_variants", [
        Variant(g.rng.choice(names), Site("host", g.rng.choice(hosts)),
                g.rng.choice((country, country, country, None)))
        for _ in range(g.holders())])


def _email_in_domain(g: _Gen) -> None:
    brand, country = g.brand(), g.country()
    base = g.domain(brand, country)
    name = f"{brand} {g.industry()}"
    boxes = ("info", "sales", "j.doe", "accounts.payable", "Procurement")
    variants = [Variant(name, Site("email", f"{g.rng.choice(boxes)}@{base}"), country)]
    variants += [Variant(name, g.rng.choice((Site("host", base),
                                             Site("email", f"{g.rng.choice(boxes)}@{base}"),
                                             Site("email", f"{boxes[0]}@mail.{base}"))),
                         country) for _ in range(g.holders(2) - 1)]
    g.add("email_in_domain", variants)


def _name_country(g: _Gen) -> None:
    brand, country = g.brand(), g.country()
    name = f"{brand} {g.industry()}"
    g.add("name_country", [Variant(name, None, country) for _ in range(g.holders())])


def _case_space(g: _Gen) -> None:
    brand, country = g.brand(), g.country()
    name = f"{brand} {g.industry()}"
    forms = (name, name.upper(), name.lower(), name.replace(" ", "  "), f" {name} ",
             name.replace(" ", "\u00a0"), f"The {name}", f"THE {name.upper()}", f"{name}.",
             f"{name},", f"{name}\t")
    g.add("case_space", [Variant(g.rng.choice(forms), None, country)
                         for _ in range(g.holders(2))])


def _other_country(g: _Gen) -> None:
    brand = g.brand()
    if g.rng.random() < 0.5:
        # one name, two or three countries, no domain: different companies
        name = f"{brand} {g.industry()}"
        countries = g.rng.sample(sorted(set(LATIN_COUNTRIES)), g.rng.randint(2, 3))
        for country in countries:
            g.add("other_country", [Variant(name, None, country)
                                    for _ in range(g.holders())], negative=True)
        return
    # a parent and subsidiaries, each with its own domain and name
    parent_country = g.country()
    parent = f"{brand} {g.industry()}"
    g.add("other_country", [Variant(parent, Site("host", f"{brand.lower()}.com"),
                                    parent_country) for _ in range(g.holders())],
          negative=True)
    for n in range(g.rng.randint(1, 2)):
        country = g.rng.choice([c for c in sorted(set(LATIN_COUNTRIES)) if c != "US"])
        if n == 0:  # the brand's label on a country domain, with a name of its own
            sub = f"{brand} {g.rng.choice(('Deutschland', 'Nordic', 'Iberia', 'Benelux'))}"
            host = f"{brand.lower()}.{COUNTRY_TLD[country]}"
        else:
            sub = f"{brand} {g.industry()}"
            host = f"{brand.lower()}-{sub.split()[1].lower()}.com"
        g.add("other_country", [Variant(sub, Site("host", host), country)
                                for _ in range(g.holders())], negative=True)


def _free_mail(g: _Gen) -> None:
    provider, home = g.rng.choice(FREE_MAIL)
    country = home or g.country()
    name = f"{g.brand()} {g.rng.choice(('Plumbing', 'Bakery', 'Builders', 'Landscaping', 'Catering', 'Accounting', 'Electrical', 'Dental', 'Cleaning', 'Tutoring'))}"
    sites = (Site("host", provider), Site("host", f"www.{provider}"),
             Site("email", f"{name.split()[0].lower()}@{provider}"),
             Site("url", f"http://{provider}"), None)
    variants = [Variant(name, g.rng.choice(sites[:4]), country)]
    variants += [Variant(name, g.rng.choice(sites), country) for _ in range(g.holders() - 1)]
    g.add("free_mail", variants, negative=True)


def _jp_name(brand: str, industry: str, rng: random.Random) -> str:
    form = rng.choice(("株式会社{}", "{}株式会社", "{}", "{} 株式会社", "{}(株)", "有限会社{}"))
    return form.format(brand + industry)


def _non_latin(g: _Gen) -> None:
    r, rng = g.rng.random(), g.rng
    if r < 0.25:  # Japanese, katakana or kanji
        brand = g.word(_KATAKANA, lo=2, hi=4) if rng.random() < 0.6 else g.word(_KANJI, lo=2, hi=2, spread=False)
        industry = rng.choice(_JP_INDUSTRY)
        legal = rng.choice(("株式会社{}", "{}株式会社", "{}"))
        names = [legal.format(brand + industry),
                 rng.choice(("株式会社{}", "{}株式会社", "{}", "{}(株)", "㈱{}")).format(
                     brand + industry)]
        g.add("non_latin", [Variant(names[min(i, 1)] if rng.random() < 0.5 else names[0], None,
                                    "JP") for i in range(g.holders(2))])
    elif r < 0.45:  # distinct companies sharing a Latin acronym (hard negatives)
        acronym = g.word("ABCDEFGHKLMNPRSTUVWXYZ", lo=3, hi=4)
        for industry in rng.sample(_JP_INDUSTRY, rng.randint(2, 3)):
            forms = [f"{acronym}{industry}株式会社", f"株式会社{acronym}{industry}",
                     f"{_full_width(acronym)}{industry}株式会社", f"{acronym}{industry}"]
            g.add("non_latin", [Variant(rng.choice(forms), None, "JP")
                                for _ in range(g.holders())], negative=True)
    elif r < 0.6:  # Chinese
        brand = g.word(_HANZI, lo=2, hi=2, spread=False)
        full = brand + rng.choice(_CN_INDUSTRY)
        forms = (f"{full}有限公司", f"{full}有限公司", f"{full}", f"{full}股份有限公司")
        name = rng.choice(forms[:2])
        g.add("non_latin", [Variant(name if rng.random() < 0.6 else rng.choice(forms), None,
                                    "CN") for _ in range(g.holders(2))])
    elif r < 0.75:  # Cyrillic
        brand = g.word(_CYR, lo=2, hi=3).capitalize()
        core = f"{brand} {rng.choice(_RU_INDUSTRY)}".strip()
        forms = (f"ООО «{core}»", f'ООО "{core}"', core, f"{core} ООО", f"ООО {core}")
        g.add("non_latin", [Variant(rng.choice(forms), None, "RU")
                            for _ in range(g.holders(2))])
    elif r < 0.9:  # Korean
        full = g.word(_HANGUL, lo=2, hi=3) + rng.choice(_KR_INDUSTRY)
        forms = (f"주식회사 {full}", f"{full} 주식회사", full, f"(주){full}", f"{full}(주)")
        g.add("non_latin", [Variant(rng.choice(forms), None, "KR")
                            for _ in range(g.holders(2))])
    else:  # full-width Latin letters
        name = f"{g.brand().upper()} {rng.choice(('Trading', 'Denki', 'Shoji', 'Tech'))}"
        forms = (_full_width(name), name, _full_width(name.upper()), name.upper())
        g.add("non_latin", [Variant(forms[0], None, "JP")] + [
            Variant(rng.choice(forms), None, "JP") for _ in range(g.holders(2) - 1)])


def _legal_forms(g: _Gen) -> None:
    rng = g.rng
    if rng.random() < 0.12:  # Cyrillic legal forms
        core = g.word(_CYR, lo=2, hi=3).capitalize() + " " + rng.choice(_RU_INDUSTRY[2:])
        forms = rng.choice(_RU_FORMS) + ("{}",)
        g.add("legal_forms", [Variant(rng.choice(forms).format(core), None, "RU")
                              for _ in range(g.holders(2))])
        return
    country = rng.choice(sorted(LEGAL_FORMS))
    core = f"{g.brand()} {g.industry()}"
    forms = rng.choice(LEGAL_FORMS[country]) + ("",)
    variants = []
    for n in range(g.holders(2)):
        form = forms[n] if n < 2 else rng.choice(forms)  # two spellings at least
        if country == "SE" and rng.random() < 0.4:
            name = f"AB {core}"
        elif country == "JP" and rng.random() < 0.2:
            name = f"株式会社{core}" if rng.random() < 0.5 else f"{core} 株式会社"
        elif form.startswith(","):
            name = core + form
        else:
            name = f"{core} {form}".strip()
        variants.append(Variant(name, None, country))
    g.add("legal_forms", variants)


_PUNCT_LETTERS = (("ø", "o"), ("ß", "ss"), ("æ", "ae"), ("ł", "l"), ("đ", "d"), ("œ", "oe"))


def _punctuation(g: _Gen) -> None:
    rng, country = g.rng, g.country()
    brand, industry = g.brand(), g.industry()
    r = rng.random()
    if r < 0.2:
        forms = (f"O'{brand} {industry}", f"O{brand.lower()} {industry}",
                 f"O\u2019{brand} {industry}", f"O {brand} {industry}")
    elif r < 0.4:
        a, b = rng.sample("ABCDEFGHJKLMPRSTW", 2)
        forms = (f"{a}.{b}. {brand}", f"{a}{b} {brand}", f"{a}. {b}. {brand}",
                 f"{a}.{b}.{brand}")
    elif r < 0.6:
        fits = [(sp, pl) for sp, pl in _PUNCT_LETTERS if pl in brand[1:]]
        special, plain = rng.choice(fits or _PUNCT_LETTERS)
        if fits:
            cut = brand.index(plain, 1)
            odd = brand[:cut] + special + brand[cut + len(plain):]
        else:
            odd = brand + special
        forms = (f"{odd} {industry}", f"{odd.replace(special, plain)} {industry}")
    elif r < 0.8:
        other = g.brand()
        forms = (f"{brand} & {other}", f"{brand} and {other}", f"{brand} + {other}",
                 f"{brand}&{other}")
    else:
        forms = (f"{brand}-{industry}", f"{brand} {industry}", f"{brand} ({industry})",
                 f"{brand}, {industry}", f"{brand}/{industry}")
    variants = [Variant(forms[0], None, country), Variant(forms[1], None, country)]
    variants += [Variant(rng.choice(forms), None, country) for _ in range(g.holders(2) - 2)]
    g.add("punctuation", variants)


def _domain_and_name(g: _Gen) -> None:
    brand, country = g.brand(), g.country()
    base = g.domain(brand, country)
    name = f"{brand} {g.industry()}"
    variants = [Variant(name, Site("host", base), country), Variant(g.case(name), None,
                                                                    country)]
    variants += [Variant(name, Site("host", base) if g.rng.random() < 0.5 else None, country)
                 for _ in range(g.holders(2) - 2)]
    g.add("domain_and_name", variants)


def _brand_domains(g: _Gen) -> None:
    brand = g.brand()
    countries = g.rng.sample(sorted(set(LATIN_COUNTRIES) - {"US"}), g.rng.randint(2, 3))
    sites = [(c, f"{brand.lower()}.{COUNTRY_TLD[c]}") for c in countries]
    if g.rng.random() < 0.5:
        sites.append(("US", f"{brand.lower()}.com"))
    core = f"{brand} {g.industry()}" if g.rng.random() < 0.5 else brand
    def named(country: str) -> str:  # noqa: E306 - the brand's local legal form, or none
        forms = LEGAL_FORMS.get(country, (("",),))[0]
        return f"{core} {g.rng.choice(forms)}".strip() if g.rng.random() < 0.5 else core
    picks = sites[:2] + [g.rng.choice(sites) for _ in range(g.holders(2) - 2)]
    g.add("brand_domains", [Variant(named(c), Site("host", d), c) for c, d in picks])


_KEYBOARD = {row[i]: row[i + 1] if i + 1 < len(row) else row[i - 1]
             for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm") for i in range(len(row))}


def _typo(text: str, rng: random.Random) -> str:
    """One edit (substitution, deletion, doubling, transposition) on a letter of ``text``."""
    spots = [i for i, c in enumerate(text) if c.isalpha()]
    i = rng.choice(spots[1:-1])
    op = rng.randrange(4)
    if op == 0:
        c = text[i]
        repl = _KEYBOARD.get(c.lower(), "e")
        return text[:i] + (repl.upper() if c.isupper() else repl) + text[i + 1:]
    if op == 1:
        return text[:i] + text[i + 1:]
    if op == 2:
        return text[:i] + text[i] + text[i:]
    j = i + 1 if text[i + 1].isalpha() else i - 1
    a, b = sorted((i, j))
    return text[:a] + text[b] + text[a] + text[b + 1:]


def _typo_kind(g: _Gen) -> None:
    brand, country = g.brand(), g.country()
    name = f"{brand} {g.industry()}"
    variants = [Variant(name, None, country)]
    for n in range(g.holders(2) - 1):
        text = name
        if n == 0 or g.rng.random() < 0.5:
            for _ in range(20):
                text = _typo(name, g.rng)
                if text != name and g.free(text.split()[0].lower(), brand.lower()):
                    break
            else:
                text = name
        variants.append(Variant(text, None, country))
    g.add("typo", variants)


#: (word, its spellings: abbreviations first, the full word last)
_ABBREVIATIONS = (
    ("International", ("Intl", "Intl.", "Int'l", "International")),
    ("Manufacturing", ("Mfg", "Mfg.", "Manufacturing")),
    ("Brothers", ("Bros", "Bros.", "Brothers")),
    ("Services", ("Svcs", "Svcs.", "Services")),
    ("Associates", ("Assoc", "Assoc.", "Associates")),
    ("Laboratories", ("Labs", "Lab.", "Laboratories")),
    ("Technologies", ("Tech", "Tech.", "Technologies")),
    ("Distribution", ("Dist", "Distr.", "Distribution")),
)


def _abbreviation(g: _Gen) -> None:
    brand, country = g.brand(), g.country()
    full, shorts = g.rng.choice(_ABBREVIATIONS)
    variants = [Variant(f"{brand} {full}", None, country),
                Variant(f"{brand} {g.rng.choice(shorts[:-1])}", None, country)]
    variants += [Variant(f"{brand} {g.rng.choice(shorts)}", None, country)
                 for _ in range(g.holders(2) - 2)]
    g.add("abbreviation", variants)


def _hosted_site(g: _Gen) -> None:
    country = g.country()
    brand = g.brand()
    name = f"{brand} {g.rng.choice(('Bakery', 'Studio', 'Boutique', 'Coffee', 'Crafts', 'Yoga'))}"
    slug = brand.lower() + g.rng.choice(("", "shop", "official", "store"))
    def page() -> Site:  # noqa: E306
        url, _ = g.rng.choice(HOSTED)
        return Site("url", url.format(s=slug))
    g.add("hosted_site", [Variant(name, page() if g.rng.random() < 0.8 else None, country)
                          for _ in range(g.holders())], negative=True)


def _similar_names(g: _Gen) -> None:
    rng, country = g.rng, g.country()
    r = rng.random()
    if r < 0.4:  # one character apart, each with its own domain
        brand = g.brand()
        twin = brand[:-1] + rng.choice([c for c in "aeiouxyz" if c != brand[-1]])
        g.claim(twin.lower())
        industry = g.industry()
        for b in (brand, twin):
            base = g.domain(b, country)
            g.add("similar_names", [Variant(f"{b} {industry}", Site("host", base), country)
                                    for _ in range(g.holders())], negative=True)
    elif r < 0.6:  # names sharing a generic word, no domain
        a, b = rng.sample(("North", "South", "West", "East", "Royal", "Union", "Central",
                           "Pacific", "Atlantic", "Summit", "Pioneer", "Liberty"), 2)
        brand = g.brand()
        pattern = rng.choice(("{w} {b} Bank", "{b} {w} Star", "Bank of the {w} {b}"))
        for w in (a, b):
            g.add("similar_names", [Variant(pattern.format(w=w, b=brand), None, country)
                                    for _ in range(g.holders())], negative=True)
    elif r < 0.8:  # short names one letter apart, no domain
        first = g.word("BCDFGHKLMNPRSTVXZ", lo=3, hi=3, spread=False)
        second = next(s for s in (c + first[1:] for c in rng.sample("BCDFGHKLMNPRSTVXZ", 17))
                      if s not in g.used)
        g.used.add(second)
        for n in (first, second):
            g.add("similar_names", [Variant(n, None, country) for _ in range(g.holders())],
                  negative=True)
    else:  # one digit apart, no domain
        brand, number = g.brand(), rng.randint(10, 98)
        industry = rng.choice(("Diner", "Motors", "Studios", "Storage", "Fitness"))
        for n in (number, number + 1):
            g.add("similar_names", [Variant(f"{brand} {n} {industry}", None, country)
                                    for _ in range(g.holders())], negative=True)


_LABEL_PAIRS = (("Air Lines", "US"), ("Maschinenbau", "DE"), ("Faucet", "US"),
                ("Insurance", "GB"), ("Dental", "AU"), ("Hotels", "FR"), ("Pharma", "CH"),
                ("Print", "NL"))


def _same_label(g: _Gen) -> None:
    brand = g.brand()
    picks = g.rng.sample(_LABEL_PAIRS, 2)
    tlds = ("com", COUNTRY_TLD[picks[1][1]] if COUNTRY_TLD[picks[1][1]] != "com" else "net")
    for (industry, country), tld in zip(picks, tlds, strict=True):
        host = f"{brand.lower()}.{tld}"
        name = f"{brand} {industry}"
        variants = [Variant(name, Site("host", host), country)
                    for _ in range(g.holders())]
        if g.rng.random() < 0.3:  # and one record without a domain
            variants.append(Variant(name, None, country))
        g.add("same_label", variants, negative=True)


def _conglomerate(g: _Gen) -> None:
    brand, country = g.brand(), g.country()
    members = g.rng.sample(("Steel", "Motors", "Power", "Chemicals", "Consultancy Services",
                            "Capital", "Insurance", "Foods"), g.rng.randint(2, 4))
    for member in members:
        name = f"{brand} {member}"
        host = g.domain(f"{brand}{member.split()[0]}", country)
        variants = [Variant(name, Site("host", host), country)
                    for _ in range(g.holders())]
        if g.rng.random() < 0.3:
            variants.append(Variant(name, None, country))
        g.add("conglomerate", variants, negative=True)


_GENERATORS: dict[str, Callable[[_Gen], None]] = {
    "domain_variants": _domain_variants, "email_in_domain": _email_in_domain,
    "name_country": _name_country, "case_space": _case_space,
    "other_country": _other_country, "free_mail": _free_mail, "non_latin": _non_latin,
    "legal_forms": _legal_forms, "punctuation": _punctuation,
    "domain_and_name": _domain_and_name, "brand_domains": _brand_domains,
    "typo": _typo_kind, "abbreviation": _abbreviation, "hosted_site": _hosted_site,
    "similar_names": _similar_names, "same_label": _same_label,
    "conglomerate": _conglomerate,
}

_SF_URL = ("{h}", "www.{h}", "https://www.{h}", "http://{h}/", "https://www.{h}/en/about-us",
           "HTTPS://WWW.{H}", "https://{h}/?utm_source=crm", "www.{h}/contact", "http://www.{h}")
_SUB_URL = ("{h}", "https://{h}", "http://{h}/home", "https://{h}/")


def _render(site: Site | None, flavour: str, rng: random.Random) -> tuple[str | None,
                                                                          str | None]:
    """(website, domain) of a record of ``flavour`` pointing at ``site``."""
    if site is None:
        return None, None
    if site.how == "email":
        return (site.value, None) if flavour == "salesforce" else (None, site.value)
    if site.how == "url":
        if flavour == "salesforce":
            return site.value, None
        host = site.value.split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
        return site.value, host
    host = site.value
    sub = host.count(".") > 1 and not any(host.lower().endswith(f".{t}") and
                                          host.count(".") == t.count(".") + 1
                                          for t in COUNTRY_TLD.values())
    if flavour == "salesforce":
        template = rng.choice(_SUB_URL if sub else _SF_URL)
        return template.format(h=host, H=host.upper()), None
    return (None if rng.random() < 0.6 else f"https://{host}"), (
        f"www.{host}" if not sub and rng.random() < 0.1 else host)


def generate(size: int = 20_000, seed: int = SEED, history: float = 0.1) -> Corpus:
    """At least ``size`` labelled accounts, the same for the same ``size`` and ``seed``.

    A share ``history`` of the accounts also gets an earlier version (see
    :func:`_earlier`); the accounts themselves do not depend on ``history``.
    """
    rng = random.Random(seed)
    g = _Gen(rng)
    kinds = list(KINDS)
    weights = [KINDS[k][1] for k in kinds]
    accounts: list[LabelledAccount] = []
    tenants = list(TENANTS)
    per_tenant = Counter()
    total = 0
    # every kind at least once, then by weight until the size is reached
    order = iter(kinds)
    while total < size:
        kind = next(order, None) or rng.choices(kinds, weights)[0]
        start = len(g.companies)
        _GENERATORS[kind](g)
        for company, k, negative, variants in g.companies[start:]:
            holders = rng.sample(tenants, min(len(variants), len(tenants)))
            holders += [rng.choice(tenants) for _ in range(len(variants) - len(holders))]
            if len(variants) > 1 and rng.random() < 0.04:  # a tenant holding it twice
                holders[-1] = holders[0]
            for tenant, variant in zip(holders, variants, strict=True):
                per_tenant[tenant] += 1
                accounts.append(_account(tenant, per_tenant[tenant], company, k, negative,
                                         variant, rng))
            total += len(variants)
    rng.shuffle(accounts)  # tenants' events interleave, as on the topic
    past = random.Random(seed + 1)  # the history draws apart: the accounts stay the same
    earlier = [(past.randrange(n + 1), _earlier(acc, past))
               for n, acc in enumerate(accounts) if past.random() < history]
    corpus = Corpus(seed, accounts, earlier)
    for n, (_, record) in enumerate(corpus.events()):
        record["occurred_at"] = T0 + dt.timedelta(seconds=n)
    return corpus


def _earlier(acc: LabelledAccount, rng: random.Random) -> dict[str, Any]:
    """An earlier version of an account, as CRMs hold them before someone fixes them: no
    site yet, a mailbox provider's domain taken from a contact's address, a typo in the
    name, or no country."""
    final = acc.record
    record = dict(final, version=1,
                  event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    for how in rng.sample(range(4), 4):
        if how == 0:
            record["website"] = record["domain"] = None
        elif how == 1:
            provider = rng.choice(FREE_MAIL)[0]
            record["website"], record["domain"] = _render(Site("host", provider),
                                                          TENANTS[acc.tenant], rng)
        elif how == 2 and sum(c.isalpha() for c in record["name"]) >= 4:
            record["name"] = _typo(record["name"], rng)
        else:
            record["country"] = None
        if any(record[f] != final[f] for f in ("name", "website", "domain", "country")):
            return record
    record["name"] = f"{final['name']} (old)"
    return record


def _account(tenant: str, n: int, company: str, kind: str, negative: bool,
             variant: Variant, rng: random.Random) -> LabelledAccount:
    flavour = TENANTS[tenant]
    record_id = f"001{n:012d}AAA" if flavour == "salesforce" else str(4_000_000_000 + 7 * n)
    website, domain = _render(variant.site, flavour, rng)
    record = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "tenant_id": tenant, "source": flavour, "record_id": record_id, "version": 2,
        "occurred_at": T0, "op": "UPSERT", "name": variant.name, "website": website,
        "domain": domain, "country": variant.country,
        "relationship": rng.choice(RELATIONSHIPS),
        "industry": rng.choice((None, "Manufacturing", "Retail", "Technology", "Services")),
    }
    return LabelledAccount(tenant, record_id, company, kind, negative, record)


# -- running the matcher ----------------------------------------------------------------

def company_of(pipeline: Pipeline, tenant: str, record_id: str) -> str | None:
    """The company key the pipeline keeps for one account (None: matched to none)."""
    state = pipeline.account_state.get(account_key(tenant, record_id))
    return None if state is None else state.get("company")


def full_partnerships() -> list[tuple[str, dict[str, Any]]]:
    """One partnership per tenant pair, every population shared at FULL both ways."""
    return [partnership(f"{a}-{b}", a, b, {(t, p): "FULL" for t in (a, b)
                                           for p in POPULATIONS})
            for a, b in combinations(TENANTS, 2)]


@dataclass
class Run:
    """Predicted company keys and what applying the events cost."""

    predicted: dict[tuple[str, str], str | None]
    events: int  # account events applied (final and earlier versions)
    seconds: float  # applying them
    quarter_seconds: list[float] = field(default_factory=list)  # per quarter of the events


def run_matcher(corpus: Corpus) -> Run:
    """Apply the corpus to a fresh pipeline (all tenants partnered at FULL) and read keys."""
    pipeline = Pipeline()
    for event in full_partnerships():
        pipeline.apply(*event)
    events = corpus.events()
    quarters = [len(events) * q // 4 for q in range(5)]
    laps = []
    for lo, hi in zip(quarters, quarters[1:], strict=False):
        started = time.perf_counter()
        for event in events[lo:hi]:
            pipeline.apply(*event)
        laps.append(time.perf_counter() - started)
    predicted = {(a.tenant, a.record_id): company_of(pipeline, a.tenant, a.record_id)
                 for a in corpus.accounts}
    return Run(predicted, len(events), sum(laps), laps)


# -- scoring ----------------------------------------------------------------------------

@dataclass
class KindScore:
    """Pair counts of one kind (or of all accounts)."""

    accounts: int = 0
    true_pairs: int = 0
    found: int = 0  # true pairs with one predicted key
    false_pairs: int = 0  # predicted pairs of two companies touching this kind

    @property
    def precision(self) -> float:
        predicted = self.found + self.false_pairs
        return self.found / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.true_pairs if self.true_pairs else 1.0


@dataclass
class Evaluation:
    """Scores overall and per kind, the false merges (worst first) and missed pairs."""

    overall: KindScore
    kinds: dict[str, KindScore]
    false_merges: list[tuple[int, str, list[LabelledAccount]]]  # (false pairs, key, accounts)
    missed: dict[str, list[tuple[LabelledAccount, str | None, LabelledAccount, str | None]]]


def evaluate(corpus: Corpus, predicted: dict[tuple[str, str], str | None],
             examples: int = 3) -> Evaluation:
    """Precision and recall over account pairs, overall and per kind (see the module doc)."""
    kinds = {k: KindScore() for k in KINDS}
    overall = KindScore(accounts=len(corpus.accounts))
    by_company: dict[str, list[LabelledAccount]] = defaultdict(list)
    by_key: dict[str, list[LabelledAccount]] = defaultdict(list)
    for acc in corpus.accounts:
        kinds[acc.kind].accounts += 1
        by_company[acc.company].append(acc)
        key = predicted[(acc.tenant, acc.record_id)]
        if key is not None:  # unmatched accounts pair with nothing
            by_key[key].append(acc)
    for members in by_company.values():
        pairs = comb(len(members), 2)
        kinds[members[0].kind].true_pairs += pairs
        overall.true_pairs += pairs
    merges = []
    for key, members in by_key.items():
        cells = Counter(m.company for m in members)
        kind_of = {m.company: m.kind for m in members}
        found = sum(comb(n, 2) for n in cells.values())
        false = comb(len(members), 2) - found
        overall.found += found
        overall.false_pairs += false
        for company, n in cells.items():
            kinds[kind_of[company]].found += comb(n, 2)
        if not false:
            continue
        merges.append((false, key, members))
        per_kind = Counter(m.kind for m in members)
        same_kind_found = Counter()
        for company, n in cells.items():
            same_kind_found[kind_of[company]] += comb(n, 2)
        for kind, m in per_kind.items():
            others = len(members) - m
            # false pairs with at least one account of this kind: all false pairs minus
            # those among accounts of other kinds
            others_found = found - same_kind_found[kind]
            kinds[kind].false_pairs += false - (comb(others, 2) - others_found)
    merges.sort(key=lambda t: (-t[0], t[1]))
    missed: dict[str, list] = defaultdict(list)
    for company in sorted(by_company):
        members = by_company[company]
        kind = members[0].kind
        if len(members) < 2 or len(missed[kind]) >= examples:
            continue
        keys = [predicted[(m.tenant, m.record_id)] for m in members]
        first = next((i for i, k in enumerate(keys) if k is not None), 0)
        other = next((i for i, k in enumerate(keys) if i != first
                      and (k is None or k != keys[first])), None)
        if other is not None:
            missed[kind].append((members[first], keys[first], members[other], keys[other]))
    return Evaluation(overall, kinds, merges, dict(missed))


# -- printing ---------------------------------------------------------------------------

def describe(acc: LabelledAccount) -> str:
    """One account as a short line: tenant, name, website/domain, country, true company."""
    r = acc.record
    site = " ".join(f"{f}={r[f]!r}" for f in ("website", "domain") if r[f])
    return (f"{acc.tenant}/{acc.record_id} {r['name']!r} {site or 'no site'} "
            f"{r['country'] or '--'} [{acc.company}]")


def table(ev: Evaluation) -> list[str]:
    """The per-kind table (Markdown) with the overall line last."""
    lines = ["| kind | accounts | true pairs | precision | recall | what varies |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for kind, score in ev.kinds.items():
        lines.append(f"| {kind} | {score.accounts:,} | {score.true_pairs:,} | "
                     f"{score.precision:.3f} | {score.recall:.3f} | {KINDS[kind][0]} |")
    o = ev.overall
    lines.append(f"| **overall** | {o.accounts:,} | {o.true_pairs:,} | **{o.precision:.3f}** | "
                 f"**{o.recall:.3f}** | {o.found:,} true pairs found, {o.false_pairs:,} false |")
    return lines


def report(ev: Evaluation, merges: int = 10, per_merge: int = 6) -> list[str]:
    """False merges first (worst first), then the per-kind table, then missed pairs."""
    out = [f"False merges: {len(ev.false_merges):,} predicted companies hold accounts of "
           f"more than one true company ({ev.overall.false_pairs:,} false pairs). Worst "
           f"{min(merges, len(ev.false_merges))}:"]
    for false, key, members in ev.false_merges[:merges]:
        companies = Counter(m.company for m in members)
        out.append(f"  key {key!r}: {len(members)} accounts of {len(companies)} companies, "
                   f"{false:,} false pairs")
        shown = sorted(members, key=lambda m: (m.company, m.tenant, m.record_id))
        seen: set[str] = set()
        picked = [m for m in shown if not (m.company in seen or seen.add(m.company))]
        for m in picked[:per_merge]:
            out.append(f"    {describe(m)}")
        if len(picked) > per_merge:
            out.append(f"    ... and {len(picked) - per_merge} more companies")
    out.append("")
    out.extend(table(ev))
    out.append("A true pair counts for its company's kind; a false pair against the kinds of "
               "both its accounts.")
    out.append("")
    out.append("Missed pairs (two accounts of one company under different keys), per kind:")
    for kind, score in ev.kinds.items():
        lost = score.true_pairs - score.found
        if not lost:
            continue
        out.append(f"  {kind}: {lost:,} of {score.true_pairs:,} pairs missed")
        for a, ka, b, kb in ev.missed.get(kind, []):
            out.append(f"    {describe(a)} -> {ka!r}")
            out.append(f"    {describe(b)} -> {kb!r}")
            out.append("")
    return out


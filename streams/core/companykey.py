"""Account mapping: the canonical company key of a CRM account, and how it was found.

Order of preference:

1. ``domain``: the registrable domain (eTLD+1, from the public suffix list shipped with
   the ``publicsuffixlist`` package, never fetched at run time) of the account's domain;
2. ``website``: the same, from the website URL;
3. ``name_country``: a normalized name (case, accents, punctuation and legal suffixes
   such as Inc, LLC, Ltd, GmbH, S.A. removed) plus the country.

Subdomains and ``www.`` fold together: ``shop.initrode.co.uk`` and
``https://www.initrode.co.uk/x`` are both ``initrode.co.uk``. Free-mail domains
(gmail.com, outlook.com, ...) and hosting or social sites never key a company; such an
account falls through to the next method.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from functools import cache

from publicsuffixlist import PublicSuffixList

METHOD_DOMAIN = "domain"
METHOD_WEBSITE = "website"
METHOD_NAME_COUNTRY = "name_country"

#: Registrable domains of mailbox providers: an address there says nothing about a company.
FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com",
    "msn.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com", "aol.com", "icloud.com",
    "me.com", "mac.com", "proton.me", "protonmail.com", "pm.me", "gmx.com", "gmx.de",
    "gmx.net", "web.de", "mail.com", "mail.ru", "yandex.ru", "yandex.com", "qq.com",
    "163.com", "126.com", "zoho.com", "fastmail.com", "tutanota.com", "hey.com",
    "orange.fr", "free.fr", "t-online.de", "libero.it", "naver.com", "rediffmail.com",
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

_LEGAL_SUFFIXES = (
    "inc", "incorporated", "llc", "l l c", "ltd", "limited", "gmbh", "mbh", "sa", "s a", "ag",
    "plc", "corp", "corporation", "co", "company", "bv", "b v", "nv", "n v", "srl", "s r l",
    "spa", "s p a", "sarl", "sas", "s a s", "oy", "oyj", "ab", "as", "a s", "asa", "aps",
    "pty", "pty ltd", "kk", "kg", "gmbh co kg", "ohg", "se", "lp", "llp", "pllc", "pc",
    "ltda", "sl", "s l", "sro", "s r o", "sp z o o", "spzoo", "bhd", "sdn bhd", "pte",
    "pvt", "pvt ltd", "ag co kg", "holding", "holdings", "group",
)
_SUFFIX_TOKENS = sorted((tuple(s.split()) for s in _LEGAL_SUFFIXES), key=len, reverse=True)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True, slots=True)
class CompanyMatch:
    """A company key and the method that produced it."""

    key: str
    method: str


@cache
def _psl() -> PublicSuffixList:
    # Built once per process from the list bundled in the package (no network).
    return PublicSuffixList()


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

    None for IP addresses, single labels, public suffixes themselves, free-mail and
    hosting domains.
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
    if not domain or domain in FREE_MAIL_DOMAINS or domain in HOSTING_DOMAINS:
        return None
    return domain


def normalize_name(name: str | None) -> str | None:
    """Case, accents, punctuation and legal suffixes removed; None if nothing is left."""
    if not name:
        return None
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("&", " and ").replace("+", " and ")
    tokens = _NON_ALNUM.sub(" ", text).split()
    if tokens and tokens[0] == "the":
        tokens = tokens[1:]
    stripped = True
    while stripped and len(tokens) > 1:
        stripped = False
        for suffix in _SUFFIX_TOKENS:
            if len(tokens) > len(suffix) and tuple(tokens[-len(suffix):]) == suffix:
                tokens = tokens[: -len(suffix)]
                stripped = True
                break
        if tokens and tokens[-1] == "and":
            tokens = tokens[:-1]
    return " ".join(tokens) or None


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

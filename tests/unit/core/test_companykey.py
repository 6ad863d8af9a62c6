import pytest

from streams.core.companykey import (
    company_key,
    normalize_name,
    registrable_domain,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("shop.initrode.co.uk", "initrode.co.uk"),
        ("https://www.initrode.co.uk/x", "initrode.co.uk"),
        ("WWW.Initrode.CO.UK.", "initrode.co.uk"),
        ("http://user@eu.app.initrode.com:8443/path?q=1", "initrode.com"),
        ("jane@Initrode.com", "initrode.com"),
        ("initrode.com.au", "initrode.com.au"),
        ("acme.herokuapp.com", "acme.herokuapp.com"),  # private suffix: one company per app
        ("bücher.de", "xn--bcher-kva.de"),
    ],
)
def test_registrable_domain_folds_subdomains_and_www(text, expected):
    assert registrable_domain(text) == expected


@pytest.mark.parametrize(
    "text",
    ["gmail.com", "mail.Google.com@gmail.com", "https://outlook.com", "hotmail.co.uk",
     "co.uk", "herokuapp.com", "localhost", "10.1.2.3", "https://linkedin.com/company/acme",
     "https://sites.google.com/view/acme", "", None, "http://"],
)
def test_free_mail_hosting_and_unusable_domains_never_key(text):
    assert registrable_domain(text) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Initrode Ltd", "initrode"),
        ("Initrode, Inc.", "initrode"),
        ("INITRODE LLC", "initrode"),
        ("Société Générale S.A.", "societe generale"),
        ("Müller GmbH & Co. KG", "muller"),
        ("The Acme & Sons Corporation", "acme and sons"),
        ("Dunder-Mifflin Paper Co", "dunder mifflin paper"),
        ("GmbH", "gmbh"),  # a name that is only a suffix stays itself
        ("...", None),
    ],
)
def test_normalize_name(name, expected):
    assert normalize_name(name) == expected


def test_company_key_prefers_domain_then_website_then_name_country():
    m = company_key(domain="shop.initrode.co.uk", website="https://other.com", name="X",
                    country="GB")
    assert (m.key, m.method) == ("initrode.co.uk", "domain")
    m = company_key(domain="gmail.com", website="https://www.initrode.co.uk/x", name="X",
                    country="GB")
    assert (m.key, m.method) == ("initrode.co.uk", "website")
    m = company_key(domain="gmail.com", website=None, name="Initrode Ltd", country="gb")
    assert (m.key, m.method) == ("name:initrode|GB", "name_country")
    assert company_key(domain=None, website=None, name="Initrode Inc.", country="GB").key == \
        company_key(domain=None, website=None, name="initrode", country="GB").key
    assert company_key(domain=None, website=None, name="Initrode", country="US").key != \
        company_key(domain=None, website=None, name="Initrode", country="GB").key
    assert company_key(domain=None, website=None, name="", country=None) is None

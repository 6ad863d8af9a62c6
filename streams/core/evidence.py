"""Why an account matched its company: a short, human-readable evidence string. Pure.

Shown on overlap rows (``match_evidence``, and the partner's when it shares at FULL), so
it names what matched and in which field, never the whole record: ``domain acme.com
(domain field)``, ``domain acme.com (website field: https://www.acme.com/x)``, ``name
'acme'|DE``. A quoted field value is cut to :data:`MAX_QUOTED` characters.
"""

from __future__ import annotations

from typing import Any

from .companykey import METHOD_DOMAIN, METHOD_NAME_COUNTRY, METHOD_WEBSITE, CompanyMatch

#: The longest field value an evidence string quotes (longer ones end in "...").
MAX_QUOTED = 80

_NAME_PREFIX = "name:"


def match_evidence(match: CompanyMatch, account: dict[str, Any]) -> str:
    """The evidence of ``match``, the company match of the account record ``account``.

    ``""`` for a method this module does not know (its matcher gives its own evidence).
    """
    key, method = match.key, match.method
    if method == METHOD_DOMAIN:
        return f"domain {key} (domain field)"
    if method == METHOD_WEBSITE:
        return f"domain {key} (website field: {_quoted(account.get('website'))})"
    if method == METHOD_NAME_COUNTRY:
        name, _, country = key.removeprefix(_NAME_PREFIX).rpartition("|")
        return f"name '{name}'|{country}"
    return ""


def _quoted(value: Any) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 3] + "..."

"""Warm-intro opportunities: T has an open deal on K, partner P holds K and shares it.

One intro per (T, P, opportunity). P must share the population it holds K in with T at
ACCOUNTS or FULL (a population shared only as COUNTS never yields an intro). The score in
[0, 1] weighs, in order of importance: P's relationship with K (CUSTOMER above all), how
early T's deal is (an intro helps most early), the deal's size, P's contacts at K (only
when P shares at FULL) and how recent P's activity at K is relative to the deal's last
change (event time, never the wall clock). Every factor is given as a reason.
"""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .policy import CUSTOMER, FORMER_CUSTOMER, OPEN_OPPORTUNITY, PROSPECT, Partnership
from .tenants import TenantAtCompany

POPULATION_WEIGHT = {CUSTOMER: 1.0, FORMER_CUSTOMER: 0.6, OPEN_OPPORTUNITY: 0.5, PROSPECT: 0.3}
WEIGHTS = {"population": 0.45, "stage": 0.2, "amount": 0.15, "contacts": 0.1, "recency": 0.1}
_EARLY = ("prospect", "qualif", "discover", "lead", "new", "intro")
_MIDDLE = ("demo", "proposal", "evaluat", "solution", "proof", "poc", "quote", "value")
_LATE = ("negotiat", "contract", "commit", "legal", "procure", "closing", "verbal")
_W_POPULATION, _W_STAGE, _W_AMOUNT, _W_CONTACTS, _W_RECENCY = (
    WEIGHTS[k] for k in ("population", "stage", "amount", "contacts", "recency"))
RECENCY_HALF_LIFE_DAYS = 90.0
DAY_MS = 86_400_000


@lru_cache(maxsize=1024)  # CRMs use a handful of stage names
def stage_factor(stage: str) -> tuple[float, str]:
    """How much an intro helps a deal in this CRM stage, and the stage's phase."""
    text = stage.lower()
    for words, factor, phase in ((_LATE, 0.4, "late"), (_MIDDLE, 0.7, "mid"),
                                 (_EARLY, 1.0, "early")):
        if any(w in text for w in words):
            return factor, phase
    return 0.6, "unknown"


def amount_factor(amount: Decimal) -> float:
    """Log-scaled deal size: 1,000 -> 0.5, 1,000,000 -> 1.0."""
    if amount <= 0:
        return 0.0
    return min(1.0, math.log10(1 + float(amount)) / 6)


def deal_terms(opp: dict[str, Any]) -> tuple[Decimal, float, float, list[str]]:
    """What an intro takes from the deal alone: amount, stage and amount factors, reasons.

    The same for every partner, so computed once per deal when many partners can help
    (and once per amount, stage and currency while they recur: callers must not change
    the reasons list).
    """
    return _deal_terms(opp["amount"], opp["stage"], opp["currency"])


@lru_cache(maxsize=4096)
def _deal_terms(amount_text: str, stage_name: str,
                currency: str) -> tuple[Decimal, float, float, list[str]]:
    amount = Decimal(amount_text)
    stage, phase = stage_factor(stage_name)
    return amount, stage, amount_factor(amount), [
        f"deal in stage {stage_name!r} ({phase} stage)",
        f"deal amount {amount.normalize():f} {currency}",
    ]


def intro_row(
    company_key: str, viewer: str, partner: TenantAtCompany, partnership: Partnership,
    account_id: str, opp: dict[str, Any], visible: list[str], full: bool,
) -> dict[str, Any]:
    """The intro row for ``viewer``'s open deal ``opp`` (on its account ``account_id``).

    ``visible`` and ``full``: the partner's :func:`.overlaps.visibility` (not empty).
    """
    return IntroDeal(company_key, viewer, account_id, opp).row(
        partner.tenant_id, partnership.partnership_id, visible, full, partner.contacts,
        partner.last_activity)


class IntroDeal:
    """One open deal's side of its intros: derived once, then one row per partner.

    A deal's intros with many partners share everything the deal alone decides (its
    terms, reasons, score parts); :meth:`row` adds what each partner brings.
    """

    __slots__ = ("company_key", "viewer", "account_id", "opp", "occurred_at", "amount",
                 "deal_reasons", "deal_part", "_partial", "_recent", "_holds_text",
                 "_scores")

    def __init__(self, company_key: str, viewer: str, account_id: str, opp: dict[str, Any]):
        amount, stage, amount_part, self.deal_reasons = deal_terms(opp)
        self.company_key, self.viewer, self.account_id, self.opp = (
            company_key, viewer, account_id, opp)
        self.occurred_at: int = opp["occurred_at"]
        self.amount = str(amount)
        self.deal_part = (_W_STAGE * stage, _W_AMOUNT * amount_part)
        #: warmest population -> the score's first three terms, summed in order
        self._partial: dict[str, float] = {}
        #: partner's last activity -> the score's recency term, and its reason's end
        self._recent: dict[int, tuple[float, str]] = {}
        #: how the partner holds the company -> the first reason's end
        self._holds_text: dict[str, str] = {}
        #: (warmest population, contacts shown, last activity) -> the score
        self._scores: dict[tuple[str, int, int], float] = {}

    def row(self, partner_id: str, partnership_id: str, visible: list[str], full: bool,
            contacts: int, last_activity: int) -> dict[str, Any]:
        """The intro row with partner ``partner_id`` (``contacts``: all it has at K)."""
        return self.partner_row(partner_id, partnership_id, visible, full,
                                *holds_of(visible), contacts, last_activity)

    def partner_row(self, partner_id: str, partnership_id: str, visible: list[str],
                    full: bool, best: str, holds: str, contacts: int,
                    last_activity: int) -> dict[str, Any]:
        """:meth:`row`, given ``holds_of(visible)`` as ``best, holds``.

        ``visible`` becomes the row's list, not a copy: callers pass one nobody changes.
        """
        company_key = self.company_key
        contacts = contacts if full else 0
        # The factors weighed in WEIGHTS' order, summed left to right; the first three
        # (population, stage, amount) are the same for each partner of one population,
        # the last (recency) for each partner as recent.
        recent = self._recent.get(last_activity)
        if recent is None:
            age_days = abs(self.occurred_at - last_activity) / DAY_MS
            recent = self._recent[last_activity] = (
                _W_RECENCY * 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS),
                f"'s activity at {company_key} is {age_days:.0f} day(s) "
                "from the deal's last change")
        scored = (best, contacts, last_activity)
        score = self._scores.get(scored)
        if score is None:
            partial = self._partial.get(best)
            if partial is None:
                stage_part, amount_part = self.deal_part
                partial = self._partial[best] = (
                    _W_POPULATION * POPULATION_WEIGHT[best] + stage_part + amount_part)
            score = self._scores[scored] = round(
                partial + _W_CONTACTS * (contacts / 3 if contacts < 3 else 1.0) + recent[0], 4)
        holds_text = self._holds_text.get(holds)
        if holds_text is None:
            holds_text = self._holds_text[holds] = f" holds {company_key} as {holds}"
        reasons = [partner_id + holds_text, *self.deal_reasons]
        if full:
            reasons.append(f"{partner_id} has {contacts} contact(s) at {company_key}")
        reasons.append(partner_id + recent[1])
        opp = self.opp
        occurred_at = self.occurred_at
        return {
            "tenant_id": self.viewer,
            "partner_tenant_id": partner_id,
            "partnership_id": partnership_id,
            "company_key": company_key,
            "opportunity_record_id": opp["record_id"],
            "account_record_id": self.account_id,
            "score": score,
            "reasons": reasons,
            "partner_populations": visible,
            "stage": opp["stage"],
            "amount": self.amount,
            "currency": opp["currency"],
            "occurred_at": occurred_at if occurred_at >= last_activity else last_activity,
        }


def holds_of(visible: list[str]) -> tuple[str, str]:
    """The warmest of the ``visible`` populations, and how the first reason names them."""
    return _holds(tuple(visible))


@lru_cache(maxsize=64)  # a handful of population sets exist
def _holds(visible: tuple[str, ...]) -> tuple[str, str]:
    """:func:`holds_of`, cached."""
    best = max(visible, key=POPULATION_WEIGHT.__getitem__)
    return best, ", ".join(visible) + (
        " (a customer: the warmest intro)" if best == CUSTOMER else "")

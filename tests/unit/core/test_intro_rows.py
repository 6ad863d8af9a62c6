"""One deal's intros with many partners: each row as the scoring rules define it.

:class:`streams.core.intros.IntroDeal` derives the deal's side once and adds each
partner's part; these rows are checked against the score and reasons written out from the
module's rules (weights summed in their listed order), for partners that differ in every
part they bring.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.core.intros import (
    DAY_MS,
    POPULATION_WEIGHT,
    RECENCY_HALF_LIFE_DAYS,
    WEIGHTS,
    IntroDeal,
    amount_factor,
    stage_factor,
)

OPP = {"record_id": "o1", "stage": "Proposal", "amount": "25000.50", "currency": "EUR",
       "occurred_at": 40 * DAY_MS, "is_closed": False}


def expected(partner: str, visible: list[str], full: bool, contacts: int, last: int) -> dict:
    best = max(visible, key=POPULATION_WEIGHT.__getitem__)
    shown_contacts = contacts if full else 0
    age = abs(OPP["occurred_at"] - last) / DAY_MS
    parts = (WEIGHTS["population"] * POPULATION_WEIGHT[best],
             WEIGHTS["stage"] * stage_factor(OPP["stage"])[0],
             WEIGHTS["amount"] * amount_factor(Decimal(OPP["amount"])),
             WEIGHTS["contacts"] * min(1.0, shown_contacts / 3),
             WEIGHTS["recency"] * 0.5 ** (age / RECENCY_HALF_LIFE_DAYS))
    reasons = [f"{partner} holds acme.com as {', '.join(visible)}"
               + (" (a customer: the warmest intro)" if best == "CUSTOMER" else ""),
               "deal in stage 'Proposal' (mid stage)", "deal amount 25000.5 EUR"]
    if full:
        reasons.append(f"{partner} has {shown_contacts} contact(s) at acme.com")
    reasons.append(f"{partner}'s activity at acme.com is {age:.0f} day(s) from the deal's "
                   "last change")
    return {"tenant_id": "viewer", "partner_tenant_id": partner, "partnership_id": "p1",
            "company_key": "acme.com", "opportunity_record_id": "o1",
            "account_record_id": "a1", "score": round(sum(parts), 4),
            "reasons": reasons, "partner_populations": visible, "stage": "Proposal",
            "amount": "25000.50", "currency": "EUR",
            "occurred_at": max(OPP["occurred_at"], last)}


PARTNERS = [  # visible populations, full, contacts, last activity
    (["CUSTOMER"], True, 0, 0),
    (["CUSTOMER", "OPEN_OPPORTUNITY"], True, 2, 39 * DAY_MS),
    (["FORMER_CUSTOMER"], True, 3, 41 * DAY_MS),
    (["PROSPECT"], False, 7, 400 * DAY_MS),
    (["OPEN_OPPORTUNITY", "PROSPECT"], True, 9, 40 * DAY_MS + 5),
    (["CUSTOMER"], False, 1, 2 * DAY_MS),
]


def test_each_partner_row_is_the_rules_row() -> None:
    deal = IntroDeal("acme.com", "viewer", "a1", OPP)
    for n, (visible, full, contacts, last) in enumerate(PARTNERS):
        partner = f"partner{n}"
        row = deal.row(partner, "p1", visible, full, contacts, last)
        assert row == expected(partner, visible, full, contacts, last), partner
        assert list(row) == list(expected(partner, visible, full, contacts, last))


@pytest.mark.parametrize("contacts", [0, 1, 2, 3, 4, 30])
def test_contacts_count_up_to_three(contacts: int) -> None:
    deal = IntroDeal("acme.com", "viewer", "a1", OPP)
    row = deal.row("p", "p1", ["CUSTOMER"], True, contacts, OPP["occurred_at"])
    assert row["score"] == expected("p", ["CUSTOMER"], True, contacts,
                                    OPP["occurred_at"])["score"]

"""State keys of the by-account stage: per (tenant, account), per deal, per moving record.

An account key is ``tenant + US + account_record_id``; an opportunity key is
``tenant + US + "opportunity" + US + opportunity_record_id``; the *home* key of a partner
touch or contact (see :mod:`.homes`) is ``tenant + US + event type + US + record_id``.
Record ids never contain the separator, so the kinds cannot collide (an account key holds
one separator, the others two, told apart by their middle part).

:func:`target_key` is where a record counts (its account's key, or for a touch naming a
deal the deal's key); :func:`state_key` is where an inbound event is applied (its target,
or for a touch or contact its home, which places it at its target).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import UnroutableEventError

KEY_SEPARATOR = "\x1f"  # ASCII unit separator: never part of a tenant or record id
OPPORTUNITY_MARK = "opportunity"
#: Event types whose later versions may name another account or deal: applied at a home.
HOMED_TYPES = ("contact", "partner_touch")


def account_key(tenant_id: str, account_record_id: str) -> str:
    """State key of one tenant's account."""
    return f"{tenant_id}{KEY_SEPARATOR}{account_record_id}"


def opportunity_key(tenant_id: str, opportunity_record_id: str) -> str:
    """State key of one tenant's opportunity: its touches and which account holds it."""
    return f"{tenant_id}{KEY_SEPARATOR}{OPPORTUNITY_MARK}{KEY_SEPARATOR}{opportunity_record_id}"


def home_key(tenant_id: str, event_type: str, record_id: str) -> str:
    """State key of one partner touch or contact: its latest version and where it counts."""
    return f"{tenant_id}{KEY_SEPARATOR}{event_type}{KEY_SEPARATOR}{record_id}"


def opportunity_of(key: str) -> str | None:
    """The opportunity id of an opportunity key; None for any other key."""
    parts = key.split(KEY_SEPARATOR)
    return parts[2] if len(parts) == 3 and parts[1] == OPPORTUNITY_MARK else None


def target_key(event_type: str, record: dict[str, Any]) -> str:
    """The key a record counts under (record: a decoded event or its stored data).

    A partner touch that names an opportunity counts for the opportunity wherever the
    opportunity is; one that names only an account, for the account.
    """
    tenant = record["tenant_id"]
    if event_type == "partner_touch":
        if record.get("opportunity_record_id"):
            return opportunity_key(tenant, record["opportunity_record_id"])
        if not record.get("account_record_id"):
            raise UnroutableEventError(
                f"partner_touch {record['record_id']!r} of tenant {tenant!r} names neither "
                "opportunity_record_id nor account_record_id: it cannot be attributed"
            )
    account = record["record_id"] if event_type == "account" else record["account_record_id"]
    if not account:
        raise UnroutableEventError(
            f"{event_type} {record['record_id']!r} of tenant {tenant!r} has no "
            "account_record_id: it cannot be matched to a company"
        )
    return account_key(tenant, account)


def state_key(event_type: str, record: dict[str, Any]) -> str:
    """The state key an inbound event is applied under (its routing key).

    Raises :class:`UnroutableEventError` for a record that could count nowhere, whatever
    key it is applied under.
    """
    target = target_key(event_type, record)
    if event_type in HOMED_TYPES:
        return home_key(record["tenant_id"], event_type, record["record_id"])
    return target

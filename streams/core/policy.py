"""Populations, sharing levels and partnerships, as the core sees them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CUSTOMER = "CUSTOMER"
PROSPECT = "PROSPECT"
FORMER_CUSTOMER = "FORMER_CUSTOMER"
OPEN_OPPORTUNITY = "OPEN_OPPORTUNITY"
POPULATIONS = (CUSTOMER, PROSPECT, FORMER_CUSTOMER, OPEN_OPPORTUNITY)

#: Sharing levels, weakest first.
LEVELS = ("HIDDEN", "COUNTS", "ACCOUNTS", "FULL")
_RANK = {level: i for i, level in enumerate(LEVELS)}


def rank(level: str) -> int:
    """Position of a level in LEVELS (HIDDEN = 0)."""
    return _RANK[level]


@dataclass(frozen=True)
class Partnership:
    """An active or ended partnership with its policy, built from the control event."""

    partnership_id: str
    tenant_a: str
    tenant_b: str
    active: bool
    #: (from_tenant, population) -> level; what is missing is HIDDEN.
    levels: dict[tuple[str, str], str]

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Partnership:
        """From a stored (plain) partnership record."""
        levels: dict[tuple[str, str], str] = {}
        for rule in data.get("sharing") or []:
            key = (rule["from_tenant"], rule["population"])
            # Two rules for the same population: the stricter one applies.
            if key not in levels or rank(rule["level"]) < rank(levels[key]):
                levels[key] = rule["level"]
        return cls(
            partnership_id=data["partnership_id"],
            tenant_a=data["tenant_a"],
            tenant_b=data["tenant_b"],
            active=data["status"] == "ACTIVE" and data["tenant_a"] != data["tenant_b"],
            levels=levels,
        )

    def level(self, from_tenant: str, population: str) -> str:
        """What ``from_tenant`` shares of ``population`` with the other tenant."""
        return self.levels.get((from_tenant, population), "HIDDEN")

    def other(self, tenant: str) -> str:
        """The partner of ``tenant`` in this partnership."""
        return self.tenant_b if tenant == self.tenant_a else self.tenant_a

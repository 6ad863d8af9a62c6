"""Populations, sharing levels and partnerships, as the core sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CUSTOMER = "CUSTOMER"
PROSPECT = "PROSPECT"
FORMER_CUSTOMER = "FORMER_CUSTOMER"
OPEN_OPPORTUNITY = "OPEN_OPPORTUNITY"
POPULATIONS = (CUSTOMER, PROSPECT, FORMER_CUSTOMER, OPEN_OPPORTUNITY)

#: Sharing levels, weakest first.
LEVELS = ("HIDDEN", "COUNTS", "ACCOUNTS", "FULL")
_RANK = {level: i for i, level in enumerate(LEVELS)}
_COUNTS, _ACCOUNTS, _FULL = _RANK["COUNTS"], _RANK["ACCOUNTS"], _RANK["FULL"]


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
    #: (from_tenant, populations) -> :meth:`shares`; filled as asked (derived, not data).
    _shares: dict[tuple[str, frozenset[str]], tuple[list[str], list[str], bool]] = field(
        default_factory=dict, compare=False, repr=False)

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

    def shares(self, from_tenant: str,
               populations: frozenset[str]) -> tuple[list[str], list[str], bool]:
        """What ``from_tenant`` shares of the ``populations`` it holds at a company.

        The populations shared at COUNTS or better, those shared at ACCOUNTS or better
        (both sorted), and whether one of the latter is shared at FULL. Computed once per
        set of populations (a handful of them exist), then looked up: callers must not
        change the lists.
        """
        key = (from_tenant, populations)
        found = self._shares.get(key)
        if found is None:
            ranks = {pop: _RANK[self.levels.get((from_tenant, pop), "HIDDEN")]
                     for pop in populations}
            counted = sorted(pop for pop, r in ranks.items() if r >= _COUNTS)
            visible = sorted(pop for pop, r in ranks.items() if r >= _ACCOUNTS)
            found = self._shares[key] = (counted, visible,
                                         any(ranks[pop] >= _FULL for pop in visible))
        return found

    def other(self, tenant: str) -> str:
        """The partner of ``tenant`` in this partnership."""
        return self.tenant_b if tenant == self.tenant_a else self.tenant_a

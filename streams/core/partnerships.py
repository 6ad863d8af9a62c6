"""Partnerships as the company stage keeps them: per partition, parsed once, indexed.

Every partition of the company stream receives every partnership event, and keeps them
under ``~partnerships@<partition>`` (record id -> versioned entry, see :mod:`.records`).
Beside it, under ``~partnerships-digest@<partition>``, a digest of that bucket's content:
the parsed policies (:func:`pair_policies`) are cached per digest, so they are parsed
again only when a partnership changes, not per event, and a cache is never wrong about
a state (the same digest means the same partnerships).

For a partnership change to visit only the companies it concerns, each partition keeps
an index per pair of tenants of the companies where both are present, in
:data:`PAIR_SLICES` slices by a stable hash of the company key, under
``~pair@<partition>`` + US + tenant + US + tenant (the two ids in sorted order) + US +
slice, and ``~pairs-indexed@<partition>`` once that index is complete (state written
before the index existed is indexed in one pass, at the first partnership change). A
tenant arriving at a company rewrites one slice, so with RocksDB state (where every value
read is a fresh copy) it costs a 256th of the pair's companies, not all of them. State
written before the index was sliced keeps the pair's whole index under the key without a
slice; it is still read, and a company leaving is taken out of it too.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import MutableMapping
from typing import Any, NamedTuple

from .policy import Partnership
from .records import live

PARTNERSHIPS_PREFIX = "~partnerships@"
_DIGEST_PREFIX = "~partnerships-digest@"
_PAIR_PREFIX = "~pair@"
_INDEXED_PREFIX = "~pairs-indexed@"
_US = "\x1f"
_CACHED = 8  # digests kept (one per partition in use, and a few spare)
#: Slices of one pair's index of companies (see module doc).
PAIR_SLICES = 256

Pairs = dict[tuple[str, str], Partnership]
Partners = dict[str, frozenset[str]]


class Policies(NamedTuple):
    """The parsed partnerships of one bucket content, and what is derived from them alone."""

    #: (viewer, partner) -> partnership, see :func:`pair_policies`
    pairs: Pairs
    #: tenant -> the tenants it has an active partnership with
    partners: Partners
    #: free for callers to cache values that depend on these policies only (the cache
    #: ends with them)
    memo: dict[Any, Any]


def partnerships_key(partition: int) -> str:
    """State key of the partnerships known to one partition."""
    return f"{PARTNERSHIPS_PREFIX}{partition}"


def pair_key(partition: int, a: str, b: str) -> str:
    """State key of the companies of ``partition`` where tenants ``a`` and ``b`` are present."""
    low, high = sorted((a, b))
    return f"{_PAIR_PREFIX}{partition}{_US}{low}{_US}{high}"


def pair_slice_key(partition: int, a: str, b: str, company_key: str) -> str:
    """State key of the slice of the pair index of ``a`` and ``b`` that holds ``company_key``."""
    return f"{pair_key(partition, a, b)}{_US}{zlib.crc32(company_key.encode()) % PAIR_SLICES}"


def pair_index_keys(partition: int, a: str, b: str) -> list[str]:
    """Every state key that may name companies of the pair (see module doc).

    The slices, and the unsliced index of state written before there were slices.
    """
    whole = pair_key(partition, a, b)
    return [whole, *(f"{whole}{_US}{i}" for i in range(PAIR_SLICES))]


def indexed_key(partition: int) -> str:
    """State key saying that the pair index of ``partition`` is complete."""
    return f"{_INDEXED_PREFIX}{partition}"


def pair_policies(bucket: dict[str, Any]) -> Pairs:
    """(viewer T, partner P) -> the active partnership between them, both directions.

    If several active partnerships join the same two tenants, the one with the smallest id
    applies (deterministic, whatever order they arrived in).
    """
    pairs: Pairs = {}
    parsed = (Partnership.from_record(d) for d in live(bucket).values())
    for p in sorted(parsed, key=lambda p: p.partnership_id):
        if p.active:
            for viewer, partner in ((p.tenant_a, p.tenant_b), (p.tenant_b, p.tenant_a)):
                pairs.setdefault((viewer, partner), p)
    return pairs


def partners_of(pairs: Pairs) -> Partners:
    """Tenant -> the tenants it has an active partnership with (from :func:`pair_policies`)."""
    found: dict[str, set[str]] = {}
    for viewer, partner in pairs:
        found.setdefault(viewer, set()).add(partner)
    return {tenant: frozenset(partners) for tenant, partners in found.items()}


def tenants_of(record: dict[str, Any] | None) -> tuple[str, str] | None:
    """The two tenants of a stored partnership record, sorted (None: none or the same)."""
    if record is None or record["tenant_a"] == record["tenant_b"]:
        return None
    low, high = sorted((record["tenant_a"], record["tenant_b"]))
    return low, high


class PolicyCache:
    """Parsed partnerships per bucket digest (see module doc)."""

    def __init__(self) -> None:
        self._by_digest: dict[str, Policies] = {}
        self._digest_keys: dict[int, str] = {}  # partition -> its digest's state key

    def pairs(self, state: MutableMapping[str, Any], partition: int) -> Pairs:
        """The pair policies of ``partition``'s partnerships."""
        return self.policies(state, partition).pairs

    def policies(self, state: MutableMapping[str, Any], partition: int) -> Policies:
        """:meth:`pairs` with what derives from them (see :class:`Policies`)."""
        digest_key = self._digest_keys.get(partition)
        if digest_key is None:
            digest_key = self._digest_keys[partition] = f"{_DIGEST_PREFIX}{partition}"
        digest = state.get(digest_key)
        bucket = None
        if digest is None:  # state written before digests were kept
            bucket = state.get(partnerships_key(partition)) or {}
            digest = bucket_digest(bucket)
        found = self._by_digest.get(digest)
        if found is None:
            if bucket is None:
                bucket = state.get(partnerships_key(partition)) or {}
            pairs = pair_policies(bucket)
            found = Policies(pairs, partners_of(pairs), {})
            if len(self._by_digest) >= _CACHED:
                self._by_digest.pop(next(iter(self._by_digest)))
            self._by_digest[digest] = found
        return found

    @staticmethod
    def changed(state: MutableMapping[str, Any], partition: int, bucket: dict[str, Any]) -> None:
        """Store ``bucket`` (changed) and its digest."""
        state[partnerships_key(partition)] = bucket
        state[f"{_DIGEST_PREFIX}{partition}"] = bucket_digest(bucket)


def bucket_digest(bucket: dict[str, Any]) -> str:
    """A digest of a partnership bucket's content (same content, same digest)."""
    text = json.dumps(bucket, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

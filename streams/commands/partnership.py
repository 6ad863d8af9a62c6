"""``partnership create|update|end|list``: partnership control events and what is in force.

A partnership event carries the whole sharing policy (``--share`` rules replace the
previous ones), a version that only grows (the publish time in epoch milliseconds, or one
more than the newest seen) and goes to the control topic keyed by partnership id.
``list`` reads the control topic from its beginning (it keeps every event) and shows the
newest version of each partnership.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from typing import Any

from rich.table import Table

from schemas.catalog import default_catalog
from schemas.exceptions import CosellingError

from ..exceptions import RetryableError
from .output import out
from .topic_reader import read_to_end


def _enum(name: str) -> list[str]:
    named = default_catalog().current("partnership").named
    [symbols] = [v["symbols"] for k, v in named.items() if k.rsplit(".", 1)[-1] == name]
    return list(symbols)


def parse_rules(items: list[str], tenants: tuple[str, str]) -> list[dict[str, str]]:
    """``TENANT:POPULATION=LEVEL`` items as sharing rules (checked against the schema)."""
    populations, levels = _enum("Population"), _enum("SharingLevel")
    rules: dict[tuple[str, str], str] = {}
    for item in items:
        left, sep, level = item.partition("=")
        tenant, sep2, population = left.partition(":")
        if not sep or not sep2:
            raise CosellingError(f"--share {item!r}: expected TENANT:POPULATION=LEVEL, e.g. "
                                 f"{tenants[0]}:CUSTOMER=ACCOUNTS")
        population, level = population.strip().upper(), level.strip().upper()
        if tenant not in tenants:
            raise CosellingError(f"--share {item!r}: {tenant!r} is not in this partnership "
                                 f"({tenants[0]}, {tenants[1]})")
        if population not in populations:
            raise CosellingError(f"--share {item!r}: population must be one of "
                                 + ", ".join(populations))
        if level not in levels:
            raise CosellingError(f"--share {item!r}: level must be one of " + ", ".join(levels))
        rules[(tenant, population)] = level
    return [{"from_tenant": t, "population": p, "level": lvl}
            for (t, p), lvl in sorted(rules.items())]


def current_partnerships(settings) -> dict[str, dict[str, Any]]:
    """The newest version of every partnership on the control topic."""
    codec = settings.codec()
    found: dict[str, dict[str, Any]] = {}
    for r in read_to_end(settings, settings.topic_control, "run `coselling init`"):
        try:
            decoded = codec.decode(r.value)
        except CosellingError:
            continue  # dead-lettered by the workers; not a partnership
        record = decoded.record
        if decoded.event_type != "partnership":
            continue
        pid = record["partnership_id"]
        if pid not in found or record["version"] > found[pid]["version"]:
            found[pid] = record
    return found


def _send(settings, record: dict[str, Any]) -> None:
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    settings.event_validator.check("partnership", record)
    payload = settings.codec().encode("partnership", record)
    try:
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
                                 acks="all", retries=5)
        try:
            producer.send(settings.topic_control, key=record["partnership_id"].encode(),
                          value=payload).get(timeout=30)
        finally:
            producer.close()
    except KafkaError as exc:
        raise RetryableError(f"sending the partnership to {settings.topic_control}: {exc}") \
            from None


def _event(pid: str, a: str, b: str, status: str, sharing: list, previous: dict | None):
    now = dt.datetime.now(dt.UTC)
    version = int(time.time() * 1000)
    if previous is not None:
        version = max(version, previous["version"] + 1)
    return {"event_id": str(uuid.uuid4()), "tenant_id": a, "source": "cli", "record_id": pid,
            "version": version, "occurred_at": now, "op": "UPSERT", "partnership_id": pid,
            "tenant_a": a, "tenant_b": b, "status": status, "sharing": sharing}


def cmd_partnership(args: argparse.Namespace, settings) -> int:
    """Dispatch ``partnership`` actions."""
    if args.action == "list":
        return _list(settings)
    existing = current_partnerships(settings).get(args.partnership_id)
    if args.action == "create":
        if existing is not None and existing["status"] == "ACTIVE":
            raise CosellingError(f"partnership {args.partnership_id} exists and is active; "
                                 "use `coselling partnership update`")
        if args.tenant_a == args.tenant_b:
            raise CosellingError("a partnership needs two different tenants")
        tenants = (args.tenant_a, args.tenant_b)
        record = _event(args.partnership_id, *tenants, "ACTIVE",
                        parse_rules(args.share or [], tenants), existing)
    else:
        if existing is None:
            raise CosellingError(f"no partnership {args.partnership_id} on "
                                 f"{settings.topic_control} (`coselling partnership list`)")
        tenants = (existing["tenant_a"], existing["tenant_b"])
        if args.action == "update":
            record = _event(args.partnership_id, *tenants, "ACTIVE",
                            parse_rules(args.share or [], tenants), existing)
        else:
            record = _event(args.partnership_id, *tenants, "ENDED", [], existing)
    _send(settings, record)
    rules = ", ".join(f"{r['from_tenant']}:{r['population']}={r['level']}"
                      for r in record["sharing"]) or "nothing shared"
    out.print(f"partnership {record['partnership_id']} ({tenants[0]} <-> {tenants[1]}) "
              f"{record['status'].lower()}, version {record['version']}: {rules}",
              markup=False)
    return 0


def _list(settings) -> int:
    partnerships = current_partnerships(settings)
    table = Table(title=f"Partnerships on {settings.topic_control}")
    for name in ("partnership", "tenant a", "tenant b", "status", "sharing", "since"):
        table.add_column(name)
    for pid, r in sorted(partnerships.items()):
        rules = "\n".join(f"{x['from_tenant']}: {x['population']} = {x['level']}"
                          for x in r["sharing"]) or "-"
        table.add_row(pid, r["tenant_a"], r["tenant_b"], r["status"], rules,
                      f"{r['occurred_at']:%Y-%m-%d %H:%M}")
    out.print(table)
    if not partnerships:
        out.print("no partnerships yet: `coselling partnership create ID --tenant-a A "
                  "--tenant-b B --share A:CUSTOMER=ACCOUNTS`", markup=False)
    return 0

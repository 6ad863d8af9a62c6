"""``migrate``, ``tenant-access`` and ``report``: the ClickHouse side."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from schemas.exceptions import CosellingError

from .output import out


def cmd_migrate(args: argparse.Namespace, settings) -> int:
    """Apply pending ClickHouse migrations."""
    from sinks.clickhouse import ClickHouseWriter, redact
    from sinks.migrate import discover

    target = settings.clickhouse_target()
    if args.print:
        for m in discover():
            print(f"-- {m.path.name}")
            for statement in m.statements(target):
                print(f"{statement};\n")
        return 0
    dsn = settings.clickhouse_dsn.get_secret_value()
    writer = ClickHouseWriter(dsn, target)
    try:
        result = writer.migrate(ttl_days=settings.crm_events_ttl_days)
    finally:
        writer.close()
    where = redact(dsn) + (f" (cluster {target.cluster})" if target.cluster else "")
    if result.applied:
        out.print(f"{where}: applied {', '.join(result.applied)}; "
                  f"{len(result.already)} already applied", markup=False)
    else:
        out.print(f"{where}: up to date ({len(result.already)} migrations already applied)",
                  markup=False)
    return 0


def cmd_tenant_access(args: argparse.Namespace, settings) -> int:
    """Create or update a tenant's ClickHouse user and row policies."""
    from sinks.access import access_statements, tenant_user
    from sinks.clickhouse import ClickHouseWriter, redact

    target = settings.clickhouse_target()
    user = args.user or tenant_user(args.tenant)
    generated = args.password_file is None
    if generated:
        password = secrets.token_urlsafe(18)
    else:
        path = Path(args.password_file)
        if not path.is_file():
            raise CosellingError(f"{path}: no such password file")
        password = path.read_text(encoding="utf-8").strip()
        if len(password) < 12:
            raise CosellingError(f"{path}: the password must have at least 12 characters")
    dsn = settings.clickhouse_dsn.get_secret_value()
    if dsn.startswith("chdb://") and not args.print:
        raise CosellingError("chDB keeps no SQL-created users; run this against a ClickHouse "
                             "server (--clickhouse http://...) or add --print")
    writer = ClickHouseWriter(dsn, target)
    try:
        database = args.database or writer.query("SELECT currentDatabase()")[0][0]
        statements = access_statements(args.tenant, user=user, password=password,
                                       database=database, target=target)
        if args.print:
            print(";\n".join(statements) + ";")
            return 0
        for statement in statements:
            writer.command(statement)
    finally:
        writer.close()
    out.print(f"{redact(dsn)}: user {user} reads only tenant {args.tenant!r}'s rows "
              f"({len(statements)} statements)", markup=False)
    if generated:
        out.print(f"password (shown once, store it now): {password}", markup=False)
    return 0


def write_report(settings, *, tenant: str | None, model: str, top: int,
                 html: Path | None) -> None:
    """Print the report and write its HTML form (shared by ``report`` and ``demo``)."""
    from sinks.clickhouse import ClickHouseWriter
    from sinks.report import build_report
    from sinks.report_render import print_report, render_html

    writer = ClickHouseWriter(settings.clickhouse_dsn.get_secret_value(),
                              settings.clickhouse_target(), create=False)
    try:
        report = build_report(writer.query, tenant=tenant, model=model, top=top)
    finally:
        writer.close()
    print_report(report, out)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(report), encoding="utf-8")
        out.print(f"HTML report with charts: {html.resolve()}", markup=False)


def cmd_report(args: argparse.Namespace, settings) -> int:
    """Overlap matrix, top intros and influenced revenue, in the terminal and as HTML."""
    write_report(settings, tenant=args.tenant, model=args.model, top=args.top,
                 html=None if args.no_html else Path(args.html))
    return 0

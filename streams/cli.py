"""The ``coselling`` command line.

Errors are one clear line on stderr with what to do (exit 2); ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from pathlib import Path

from schemas.catalog import SCHEMA_DIR
from schemas.codec import Codec, Framing
from schemas.exceptions import CosellingError
from schemas.textformat import read_jsonl

SAMPLE_FILE = SCHEMA_DIR.parent / "samples" / "events.jsonl"


def _settings(args: argparse.Namespace):
    from .settings import Settings

    overrides = {}
    if getattr(args, "bootstrap_servers", None):
        overrides["kafka_bootstrap_servers"] = args.bootstrap_servers
    if getattr(args, "registry_url", None):
        overrides["schema_registry_url"] = args.registry_url
    if getattr(args, "clickhouse", None):
        overrides["clickhouse_dsn"] = args.clickhouse
    if getattr(args, "framing", None):
        overrides["wire_format"] = args.framing
    if getattr(args, "cluster", None):
        overrides["clickhouse_cluster"] = args.cluster
    return Settings(**overrides)


def cmd_roundtrip(args: argparse.Namespace) -> int:
    """Encode every event of a JSON Lines file and decode it back; report what happened."""
    settings = _settings(args)
    codec = Codec(framing=settings.wire_format, registry=settings.registry)
    path = Path(args.file)
    if not path.is_file():
        raise CosellingError(f"{path}: no such file (give a JSON Lines event file)")
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    total_bytes = 0
    with path.open(encoding="utf-8") as lines:
        for lineno, event_type, record in read_jsonl(lines):
            payload = codec.encode(event_type, record)
            decoded = codec.decode(payload)
            if decoded.event_type != event_type or decoded.record != record:
                raise CosellingError(f"line {lineno}: {event_type} did not survive the round trip")
            counts[event_type] += 1
            total_bytes += len(payload)
    elapsed = time.perf_counter() - started
    n = sum(counts.values())
    print(
        f"{path}: {n} events round-tripped through Avro ({codec.framing.value} framing), "
        f"{total_bytes} bytes, all equal after decoding, in {elapsed * 1000:.1f} ms"
    )
    for event_type, count in sorted(counts.items()):
        print(f"  {event_type:<14} {count}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Run the core over an event file into ClickHouse, without Kafka."""
    from sinks.clickhouse import ClickHouseWriter, redact

    from .replay import replay

    settings = _settings(args)
    path = Path(args.file)
    if not path.is_file():
        raise CosellingError(f"{path}: no such file (give a JSON Lines or Avro event file)")
    dsn = settings.clickhouse_dsn.get_secret_value()
    writer = ClickHouseWriter(dsn, settings.clickhouse_target())
    writer.migrate(ttl_days=settings.crm_events_ttl_days)
    started = time.perf_counter()
    report, pipeline = replay(path, writer, attribution=settings.attribution())
    elapsed = time.perf_counter() - started
    for problem in report.rejected[:20]:
        print(f"  rejected: {problem}", file=sys.stderr)
    if len(report.rejected) > 20:
        print(f"  ... and {len(report.rejected) - 20} more rejected", file=sys.stderr)
    current = pipeline.current()
    kinds = Counter(key.split("|", 1)[0] for key in current)
    print(f"{path}: {report.events} events replayed in {elapsed:.1f}s "
          f"({len(report.rejected)} rejected); {report.rows_written} rows written to "
          f"{redact(dsn)}")
    print(f"  current: {kinds['overlap']} overlaps, {kinds['intro']} intros, "
          f"{kinds['attribution']} attributions")
    writer.close()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending ClickHouse migrations."""
    from sinks.clickhouse import ClickHouseWriter, redact
    from sinks.migrate import discover

    settings = _settings(args)
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
        print(f"{where}: applied {', '.join(result.applied)}; "
              f"{len(result.already)} already applied")
    else:
        print(f"{where}: up to date ({len(result.already)} migrations already applied)")
    return 0


def cmd_tenant_access(args: argparse.Namespace) -> int:
    """Create or update a tenant's ClickHouse user and row policies."""
    import secrets

    from sinks.access import access_statements, tenant_user
    from sinks.clickhouse import ClickHouseWriter, redact

    settings = _settings(args)
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
    print(f"{redact(dsn)}: user {user} reads only tenant {args.tenant!r}'s rows "
          f"({len(statements)} statements)")
    if generated:
        print(f"password (shown once, store it now): {password}")
    return 0


def cmd_sink(args: argparse.Namespace) -> int:
    """Consume result rows into ClickHouse until stopped."""
    import signal
    import threading

    from sinks.runner import run_sink

    logging.basicConfig(level=args.loglevel.replace("warn", "warning").upper(),
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_sink(_settings(args), stop=stop)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run a stream worker until stopped."""
    from .worker import run_worker

    run_worker(_settings(args), loglevel=args.loglevel)
    return 0


def _kafka_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap servers (host:port,...)")


def _clickhouse_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clickhouse", metavar="DSN",
                        help="http(s)://user:pass@host:port/db or chdb://PATH "
                        "(default: COSELLING_CLICKHOUSE_DSN)")


def _loglevel_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-l", "--loglevel", default="warn",
                        choices=["debug", "info", "warn", "error", "critical"])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="coselling",
        description="Event-driven co-selling pipeline: partner account overlaps, warm intros "
        "and partner attribution from CRM change events. Every setting can also come from "
        "an environment variable COSELLING_<SETTING>; flags override.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rt = sub.add_parser(
        "roundtrip",
        help="encode and decode every event of a JSON Lines file (a codec check)",
        description="Read a JSON Lines event file, encode each event with Avro in the chosen "
        "framing, decode it back and check it is unchanged. Without FILE, uses the sample "
        "file shipped with the package.",
    )
    rt.add_argument("file", nargs="?", default=str(SAMPLE_FILE), help="JSON Lines event file")
    rt.add_argument(
        "--framing",
        choices=[f.value for f in Framing],
        help="wire framing (default: COSELLING_WIRE_FORMAT or single-object)",
    )
    rt.add_argument("--registry-url", help="schema registry URL, needed for confluent framing")
    rt.set_defaults(func=cmd_roundtrip)

    rp = sub.add_parser(
        "replay",
        help="run the pipeline over an event file into ClickHouse, without Kafka",
        description="Read a JSON Lines or Avro container event file, process it in event-time "
        "order with the same core the stream workers run, and write overlaps, intros and "
        "attributions to ClickHouse. Use a fresh database.",
    )
    rp.add_argument("file", help="JSON Lines or Avro container file of events")
    _clickhouse_option(rp)
    rp.set_defaults(func=cmd_replay)

    mg = sub.add_parser(
        "migrate",
        help="create or upgrade the ClickHouse schema",
        description="Apply the versioned SQL migrations not applied yet (recorded in "
        "coselling_migrations; re-running is a no-op) and set the crm_events TTL "
        "(COSELLING_CRM_EVENTS_TTL_DAYS). With --cluster (or COSELLING_CLICKHOUSE_CLUSTER) "
        "tables are created ON CLUSTER as replicated tables behind Distributed ones.",
    )
    _clickhouse_option(mg)
    mg.add_argument("--cluster", help="ClickHouse cluster name (default: single server)")
    mg.add_argument("--print", action="store_true",
                    help="print the rendered statements instead of running them")
    mg.set_defaults(func=cmd_migrate)

    ta = sub.add_parser(
        "tenant-access",
        help="create a ClickHouse user that sees only one tenant's rows",
        description="Create (or update) a ClickHouse user for TENANT with SELECT on the "
        "analyst views and the tenant's own tables, and row policies on every table and view "
        "so it reads only rows where TENANT is the viewing tenant. Needs a ClickHouse "
        "server with SQL-managed access (chDB has no user storage; use --print there).",
    )
    ta.add_argument("tenant", help="tenant id (as in the events' tenant_id)")
    _clickhouse_option(ta)
    ta.add_argument("--cluster", help="ClickHouse cluster name (default: single server)")
    ta.add_argument("--user", help="user name (default: coselling_tenant_<tenant>)")
    ta.add_argument("--database", help="database (default: the DSN's)")
    ta.add_argument("--password-file", help="file holding the password (default: generate "
                    "one and print it once)")
    ta.add_argument("--print", action="store_true",
                    help="print the statements instead of running them")
    ta.set_defaults(func=cmd_tenant_access)

    sk = sub.add_parser(
        "sink",
        help="write result rows from Kafka into ClickHouse",
        description="Consume the sink topic and write result rows to ClickHouse in batches, "
        "committing offsets after each successful write. With chDB run exactly one.",
    )
    _kafka_option(sk)
    _clickhouse_option(sk)
    _loglevel_option(sk)
    sk.set_defaults(func=cmd_sink)

    wk = sub.add_parser(
        "worker",
        help="run a stream worker",
        description="Run a Faust stream worker: consumes the inbound CRM topic, keeps account "
        "and company state, and sends overlaps, intros and attributions to their outbound "
        "topics and the sink topic (run `coselling sink` to write them to ClickHouse); bad "
        "messages go to the dead-letter topic. Creates missing topics first.",
    )
    _kafka_option(wk)
    _loglevel_option(wk)
    wk.set_defaults(func=cmd_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coselling`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CosellingError as exc:
        if args.debug:
            raise
        print(f"coselling: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

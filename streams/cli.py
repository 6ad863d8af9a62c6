"""The ``coselling`` command line: one entry point, a subcommand per job.

Every setting comes from ``COSELLING_<SETTING>`` environment variables or a TOML config
file (``--config``, or ``COSELLING_CONFIG``); flags override both (``coselling settings``
lists them). Errors are one line on stderr saying what to do (exit 2); ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from schemas.catalog import SCHEMA_DIR
from schemas.codec import Framing
from schemas.exceptions import CosellingError, RetryableError

from .commands.clickhouse import cmd_migrate, cmd_report, cmd_tenant_access
from .commands.data import cmd_publish, cmd_replay, cmd_roundtrip
from .commands.demo import cmd_demo
from .commands.matching import cmd_explain_match
from .commands.partnership import cmd_partnership
from .commands.pipeline import cmd_init, cmd_sink, cmd_status, cmd_worker
from .settings import Settings

SAMPLE_FILE = SCHEMA_DIR.parent / "samples" / "events.jsonl"

#: flag destination -> setting it overrides
FLAG_SETTINGS = {
    "bootstrap_servers": "kafka_bootstrap_servers",
    "registry_url": "schema_registry_url",
    "clickhouse": "clickhouse_dsn",
    "framing": "wire_format",
    "cluster": "clickhouse_cluster",
}


def load_settings(args: argparse.Namespace) -> Settings:
    """The settings for this invocation: flags over environment over config file."""
    overrides = {setting: getattr(args, flag) for flag, setting in FLAG_SETTINGS.items()
                 if getattr(args, flag, None) is not None}
    return Settings.load(args.config, **overrides)


def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    """Every setting, its environment variable and the value in force (credentials masked)."""
    from rich.table import Table

    from .commands.output import out

    table = Table(title="Settings (flags > environment > config file > default)")
    for name in ("environment variable", "value", "meaning"):
        table.add_column(name, overflow="fold")
    for name, field in Settings.model_fields.items():
        table.add_row(f"COSELLING_{name.upper()}", settings.shown(name), field.description or "")
    out.print(table)
    return 0


def exit_statuses(done: str, refusals: str = "") -> str:
    """The exit statuses of a command that reads an event file (its help epilog)."""
    return (f"Exit status: 0 every row was accepted and {done}; 1 some rows were rejected: "
            "each is listed with its line number, field and reason, their count is printed, "
            f"and the good rows were still {done}; 2 an error stopped it: the file is missing "
            f"or not text, a setting is wrong{refusals} or a service did not answer (one line "
            "on stderr); 130 interrupted.")


def _file_options(p: argparse.ArgumentParser, *, csv_options: bool = True) -> None:
    p.add_argument("--format", choices=["jsonl", "avro", "csv"],
                   help="file format (default: Avro by its magic bytes, .csv as a CRM "
                   "export, otherwise JSON Lines)")
    if csv_options:
        p.add_argument("--tenant", help="tenant a CSV export belongs to (required for CSV)")
        p.add_argument("--mapping", choices=["salesforce-account", "salesforce-opportunity",
                                             "hubspot-company", "hubspot-deal"],
                       help="CSV column mapping (default: detected from the header row)")
        p.add_argument("--map", action="append", metavar="FIELD=COLUMN",
                       help="read FIELD from another CSV column (repeatable), e.g. "
                       "--map name='Account Name'")
        p.add_argument("--currency", help="currency of CSV deals without a currency column "
                       "(default USD)")


def _kafka_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap-servers", metavar="HOSTS",
                   help="Kafka bootstrap servers host:port,... "
                   "(default: COSELLING_KAFKA_BOOTSTRAP_SERVERS or localhost:9092)")


def _clickhouse_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--clickhouse", metavar="DSN",
                   help="http(s)://user:pass@host:port/db or chdb://PATH "
                   "(default: COSELLING_CLICKHOUSE_DSN or chdb://./.coselling-data/chdb)")


def _cluster_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", help="ClickHouse cluster name (default: "
                   "COSELLING_CLICKHOUSE_CLUSTER; unset: a single server or chDB)")


def _loglevel_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("-l", "--loglevel", default="warn",
                   choices=["debug", "info", "warn", "error", "critical"],
                   help="log level (default warn); logs are JSON when not on a terminal "
                   "(COSELLING_LOG_FORMAT)")


def _report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="linear",
                   choices=["first_touch", "last_touch", "linear", "time_decay"],
                   help="attribution model for the revenue figures (default linear)")
    p.add_argument("--top", type=int, default=15, help="intro opportunities to list "
                   "(default 15)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="coselling",
        description="Event-driven co-selling pipeline: partner account overlaps, warm intros "
        "and partner attribution from CRM change events, written to ClickHouse within "
        "seconds. Start with `coselling demo`. Every setting also comes from an "
        "environment variable COSELLING_<SETTING> or a config file; flags override "
        "(`coselling settings` lists them).",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error, not just its message")
    parser.add_argument("--config", metavar="FILE",
                        help="TOML file of settings (keys: setting names in lower case; "
                        "default: COSELLING_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dm = sub.add_parser(
        "demo", help="generate a multi-tenant CRM data set, run it, print the report",
        description="Generate a realistic data set (five partner companies on Salesforce "
        "and HubSpot, thousands of accounts with shared customers, open and closed deals, "
        "partner touches, partnerships with different sharing policies), run it through "
        "the pipeline into embedded chDB and print the overlap matrix, the top intro "
        "opportunities with their reasons and partner-influenced revenue; the HTML report "
        "with charts goes to OUT/report.html. Needs no Kafka and no ClickHouse server. "
        "With --streaming the same data goes through a local Kafka broker, a worker and a "
        "sink instead (needs Java and Maven; run from a clone).")
    dm.add_argument("--out", default="coselling-demo",
                    help="folder for the data, the chDB database and the report "
                    "(default ./coselling-demo)")
    dm.add_argument("--companies", type=int, default=2500,
                    help="companies in the shared market (default 2500: ~3,900 accounts)")
    dm.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    dm.add_argument("--streaming", action="store_true",
                    help="run through local Kafka, a worker and a sink")
    _report_options(dm)
    dm.set_defaults(func=cmd_demo)

    it = sub.add_parser(
        "init", help="create topics, register schemas, apply ClickHouse migrations",
        description="Create the pipeline's Kafka topics that are missing (partitions and "
        "replication from the settings; retention COSELLING_TOPIC_RETENTION_DAYS, the "
        "dead-letter topic COSELLING_DEAD_LETTER_RETENTION_DAYS, the control topic keeps "
        "everything, the workers' state topics are compacted), register every Avro schema "
        "when COSELLING_SCHEMA_REGISTRY_URL is set, and apply pending ClickHouse "
        "migrations. Safe to run again.")
    _kafka_option(it)
    _clickhouse_option(it)
    _cluster_option(it)
    it.add_argument("--registry-url", help="schema registry URL (default: "
                    "COSELLING_SCHEMA_REGISTRY_URL; unset: no registration)")
    it.add_argument("--skip-clickhouse", action="store_true", help="only Kafka (and registry)")
    it.set_defaults(func=cmd_init)

    wk = sub.add_parser(
        "worker", help="run a stream worker",
        description="Run a Faust stream worker: consumes the inbound CRM topic, keeps account "
        "and company state (RocksDB in COSELLING_DATA_DIR), and sends overlaps, intros and "
        "attributions to their outbound topics and the sink topic (run `coselling sink` to "
        "write them to ClickHouse); bad messages go to the dead-letter topic. Serves "
        "/metrics, /healthz and /readyz on COSELLING_WEB_PORT. Creates missing topics "
        "first. Stop with SIGTERM or Ctrl-C.")
    _kafka_option(wk)
    _loglevel_option(wk)
    wk.set_defaults(func=cmd_worker)

    sk = sub.add_parser(
        "sink", help="write result rows from Kafka into ClickHouse",
        description="Consume the sink topic and write result rows and raw events to "
        "ClickHouse in batches (COSELLING_SINK_BATCH_ROWS or COSELLING_SINK_BATCH_SECONDS), "
        "committing offsets after each successful write; pauses and retries while "
        "ClickHouse is unavailable; rows ClickHouse rejects go to the dead-letter topic. "
        "Applies pending migrations at start. Metrics on COSELLING_SINK_WEB_PORT. With chDB "
        "run exactly one.")
    _kafka_option(sk)
    _clickhouse_option(sk)
    _cluster_option(sk)
    _loglevel_option(sk)
    sk.set_defaults(func=cmd_sink)

    pb = sub.add_parser(
        "publish", help="send the events of a file (JSON Lines, Avro, CRM CSV) to Kafka",
        description="Read FILE, validate every row against the Avro schemas and send the "
        "good ones to the inbound topic; bad rows are reported with their line number and "
        "reason and skipped. FILE is JSON Lines (one event per line, see "
        "schemas/samples/events.jsonl), an Avro container file, or a CSV export of "
        "Salesforce accounts/opportunities or HubSpot companies/deals (give --tenant; the "
        "column mapping is in the README and can be overridden with --map).",
        epilog=exit_statuses("sent (only checked with --dry-run)"))
    pb.add_argument("file", help="event file")
    _file_options(pb)
    _kafka_option(pb)
    pb.add_argument("--dry-run", action="store_true",
                    help="validate and count only; send nothing")
    pb.set_defaults(func=cmd_publish)

    pt = sub.add_parser(
        "partnership", help="create, update, end or list partnerships",
        description="Publish partnership control events with their sharing policy. A rule "
        "TENANT:POPULATION=LEVEL says what TENANT shares with the other tenant: POPULATION "
        "is CUSTOMER, PROSPECT, FORMER_CUSTOMER or OPEN_OPPORTUNITY, LEVEL is HIDDEN, "
        "COUNTS, ACCOUNTS or FULL; populations not named are hidden.")
    pt_sub = pt.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (("create", "start a partnership between two tenants"),
                         ("update", "replace a partnership's sharing rules"),
                         ("end", "end a partnership (everything derived is retracted)")):
        p = pt_sub.add_parser(action, help=text, description=text + ".")
        p.add_argument("partnership_id", metavar="ID", help="partnership id, e.g. acme-globex")
        if action == "create":
            p.add_argument("--tenant-a", required=True, help="first tenant")
            p.add_argument("--tenant-b", required=True, help="second tenant")
        if action != "end":
            p.add_argument("--share", action="append", metavar="TENANT:POPULATION=LEVEL",
                           help="a sharing rule (repeatable), e.g. acme:CUSTOMER=ACCOUNTS")
        _kafka_option(p)
        p.set_defaults(func=cmd_partnership)
    ls = pt_sub.add_parser("list", help="the partnerships in force",
                           description="List the newest version of every partnership on "
                           "the control topic.")
    _kafka_option(ls)
    ls.set_defaults(func=cmd_partnership)

    rp = sub.add_parser(
        "replay", help="run the pipeline over an event file into ClickHouse, without Kafka",
        description="Read an event file (JSON Lines, Avro or CRM CSV), process it in "
        "event-time order with the same core the stream workers run, and write overlaps, "
        "intros, attributions and raw events to ClickHouse (migrating first). For "
        "backfills and trials. A database replayed into before continues from what that "
        "replay left (files may come cut by time or in any order); a database the stream "
        "sink writes to is refused.",
        epilog=exit_statuses("written", ", the replay was refused (the reason is "
                             "printed), another replay holds the database"))
    rp.add_argument("file", help="event file")
    _file_options(rp)
    _clickhouse_option(rp)
    rp.set_defaults(func=cmd_replay)

    em = sub.add_parser(
        "explain-match", help="why two accounts did or did not match one company",
        description="Say how two accounts were matched to one company (method and "
        "evidence), or why they were not (different domains whose names differ, a name "
        "that could join several domain companies, names more than one letter apart, "
        "another country, a domain the tenant ignores ...). Reads the live matching state "
        "from Kafka (the resolver's changelog topic), or with --events replays the account "
        "and tenant_settings events of an event file.",
        epilog="Exit status: 0 the two accounts are matched to one company; 1 they are not "
        "(or one is unknown); 2 an error stopped it (one line on stderr); 130 interrupted.")
    em.add_argument("tenant_a", metavar="TENANT_A", help="tenant of the first account")
    em.add_argument("account_a", metavar="ACCOUNT_A", help="its account record id")
    em.add_argument("tenant_b", metavar="TENANT_B", help="tenant of the second account")
    em.add_argument("account_b", metavar="ACCOUNT_B", help="its account record id")
    em.add_argument("--events", metavar="FILE",
                    help="explain from this event file instead of the live state")
    _file_options(em)
    _kafka_option(em)
    em.set_defaults(func=cmd_explain_match)

    rep = sub.add_parser(
        "report", help="overlap matrix, top intros, influenced revenue (terminal + HTML)",
        description="Read the analyst views and print the partner overlap matrix, the top "
        "intro opportunities with their reasons and partner-influenced revenue; also write "
        "a self-contained HTML report with a heat map of the overlap matrix and revenue by "
        "partner over time. With chDB, stop the sink first (one process per folder).")
    _clickhouse_option(rep)
    rep.add_argument("--tenant", help="show it as this tenant sees it")
    rep.add_argument("--html", default="coselling-report.html",
                     help="HTML file to write (default coselling-report.html)")
    rep.add_argument("--no-html", action="store_true", help="terminal only")
    _report_options(rep)
    rep.set_defaults(func=cmd_report)

    st = sub.add_parser(
        "status", help="consumer lag per topic and partition, last events, sink backlog",
        description="Show the workers' and the sink's committed offsets, end offsets and "
        "lag per topic and partition, when the last inbound event was published, the sink "
        "backlog, and the newest event in ClickHouse.")
    _kafka_option(st)
    _clickhouse_option(st)
    st.add_argument("--all", action="store_true", help="also list empty partitions")
    st.add_argument("--no-clickhouse", action="store_true", help="do not query ClickHouse")
    st.set_defaults(func=cmd_status)

    mg = sub.add_parser(
        "migrate", help="create or upgrade the ClickHouse schema",
        description="Apply the versioned SQL migrations not applied yet (recorded in "
        "coselling_migrations; re-running is a no-op) and set the crm_events TTL "
        "(COSELLING_CRM_EVENTS_TTL_DAYS). With --cluster tables are created ON CLUSTER as "
        "replicated tables behind Distributed ones.")
    _clickhouse_option(mg)
    _cluster_option(mg)
    mg.add_argument("--print", action="store_true",
                    help="print the rendered statements instead of running them")
    mg.set_defaults(func=cmd_migrate)

    ta = sub.add_parser(
        "tenant-access", help="create a ClickHouse user that sees only one tenant's rows",
        description="Create (or update) a ClickHouse user for TENANT with SELECT on the "
        "analyst views and the tenant's own tables, and row policies on every table and view "
        "so it reads only rows where TENANT is the viewing tenant. Needs a ClickHouse "
        "server with SQL-managed access (chDB has no user storage; use --print there).")
    ta.add_argument("tenant", help="tenant id (as in the events' tenant_id)")
    _clickhouse_option(ta)
    _cluster_option(ta)
    ta.add_argument("--user", help="user name (default: coselling_tenant_<tenant>)")
    ta.add_argument("--database", help="database (default: the DSN's)")
    ta.add_argument("--password-file", help="file holding the password (default: generate "
                    "one and print it once)")
    ta.add_argument("--print", action="store_true",
                    help="print the statements instead of running them")
    ta.set_defaults(func=cmd_tenant_access)

    rt = sub.add_parser(
        "roundtrip", help="encode and decode every event of a file (a codec check)",
        description="Read an event file, encode each event with Avro in the chosen framing, "
        "decode it back and check it is unchanged. Without FILE, uses the sample file "
        "shipped with the package.")
    rt.add_argument("file", nargs="?", default=str(SAMPLE_FILE), help="event file")
    _file_options(rt, csv_options=False)
    rt.add_argument("--framing", choices=[f.value for f in Framing],
                    help="wire framing (default: COSELLING_WIRE_FORMAT or single-object)")
    rt.add_argument("--registry-url", help="schema registry URL, needed for confluent framing")
    rt.set_defaults(func=cmd_roundtrip)

    se = sub.add_parser("settings", help="list every setting and its value in force",
                        description="List every setting with its environment variable, "
                        "the value in force (credentials masked) and what it means.")
    se.set_defaults(func=cmd_settings)
    return parser


def _what_to_do(exc: Exception) -> str:
    from sinks.exceptions import ChdbFolderBusyError

    from .exceptions import KafkaUnreachableError

    if isinstance(exc, ChdbFolderBusyError | KafkaUnreachableError):
        return ""  # their messages say what to do
    if isinstance(exc, RetryableError):
        return getattr(exc, "what_to_do",
                       " (a service did not answer; check it runs and try again)")
    return ""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``coselling`` command."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args)
        return args.func(args, settings)
    except ValidationError as exc:
        if args.debug:
            raise
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        where = f"setting {name} (COSELLING_{name.upper()})" if name else "settings"
        message = first["msg"].removeprefix("Value error, ")
        print(f"coselling: error: {where}: {message}", file=sys.stderr)
        return 2
    except CosellingError as exc:
        if args.debug:
            raise
        print(f"coselling: error: {exc}{_what_to_do(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

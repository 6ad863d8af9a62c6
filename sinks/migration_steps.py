"""One statement of a migration file and the directives that guard it.

A statement may start with comment lines that tell migrate how to run it, so that a
migration which restructures a table can be run again after failing at any step, and by
two processes at once, and still finish the job:

- ``-- only if: SELECT ...``: run the statement only when the query returns non-zero;
- ``-- require: SELECT ...``: the query must return non-zero, else the run stops with
  :class:`~sinks.exceptions.MigrationNotDoneError` (retryable: running migrate again
  continues there);
- ``-- wait until: SELECT ...``: first poll the query until it returns non-zero
  (``$waited`` is replaced by the seconds waited so far, so the query can ask for
  queries that started before the wait did); not done in time: ``MigrationNotDoneError``;
- ``-- for each: SELECT ...``: run the statement once per value of the query's first
  column, with ``$value`` replaced by the value as a string literal; ``-- then: SQL``
  runs after each of them with the same value. The query is asked again after every
  pass, until it returns nothing (the statement is expected to remove the value).

Each directive is one line. Without directives a statement runs once, as it always did. A
guarded statement that fails while its ``only if`` condition no longer holds was done by
another run meanwhile (e.g. its rename): that is not an error.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from .exceptions import MigrationError, MigrationNotDoneError

log = logging.getLogger(__name__)

_DIRECTIVE = re.compile(r"^\s*--\s*(only if|require|wait until|for each|then):\s*(.+?)\s*$")

#: How long a ``wait until`` polls before giving up, and how often.
WAIT_SECONDS = 600.0
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Step:
    """A statement and its directives (queries, already rendered for the target)."""

    sql: str
    only_if: str | None = None
    require: str | None = None
    wait_until: str | None = None
    for_each: str | None = None
    then: str | None = None


def parse_step(statement: str) -> Step:
    """Split the directive lines off ``statement``; the rest is the SQL to run."""
    found: dict[str, str] = {}
    body = []
    for line in statement.splitlines():
        m = _DIRECTIVE.match(line)
        if not m:
            body.append(line)
            continue
        key = m.group(1).replace(" ", "_")
        if key in found:
            raise MigrationError(f"directive '-- {m.group(1)}:' given twice in one statement")
        found[key] = m.group(2)
    if "then" in found and "for_each" not in found:
        raise MigrationError("'-- then:' needs a '-- for each:' in the same statement")
    return Step(sql="\n".join(body).strip(), **found)


def literal(value: object) -> str:
    """``value`` as a ClickHouse string literal."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def run_step(step: Step, *, command: Callable[[str], None],
             rows: Callable[[str], list[tuple]], wait_seconds: float = WAIT_SECONDS) -> None:
    """Run ``step``: ``command`` runs a statement, ``rows`` returns a query's rows."""

    def scalar(query: str) -> object:
        found = rows(query)
        return found[0][0] if found else None

    if step.only_if and not scalar(step.only_if):
        log.info("skipped, condition not met: %s", step.sql.splitlines()[0][:80])
        return
    if step.wait_until:
        _wait(step.wait_until, scalar, wait_seconds)
    if step.require and not scalar(step.require):
        raise MigrationNotDoneError(
            f"not yet possible ({step.require[:120]} is false); run migrate again")
    try:
        _execute(step, command, rows)
    except MigrationError:
        if step.only_if and not scalar(step.only_if):
            # Another migrate run did this step between the check and the statement.
            log.info("done meanwhile by another run: %s", step.sql.splitlines()[0][:80])
            return
        raise


def _execute(step: Step, command: Callable[[str], None],
             rows: Callable[[str], list[tuple]]) -> None:
    if not step.for_each:
        command(step.sql)
        return
    previous: list[str] | None = None
    while values := [str(row[0]) for row in rows(step.for_each)]:
        if values == previous:
            raise MigrationError(f"{step.for_each[:120]} still returns {values[:5]} after "
                                 "a pass over them: the statement does not remove them")
        for value in values:
            command(step.sql.replace("$value", literal(value)))
            if step.then:
                command(step.then.replace("$value", literal(value)))
        previous = values


def _wait(query: str, scalar: Callable[[str], object], wait_seconds: float) -> None:
    started = time.monotonic()
    while True:
        waited = time.monotonic() - started
        if scalar(query.replace("$waited", f"{waited:.3f}")):
            return
        if waited > wait_seconds:
            raise MigrationNotDoneError(
                f"still waiting after {wait_seconds:.0f}s for {query[:120]}; "
                "run migrate again")
        time.sleep(POLL_SECONDS)

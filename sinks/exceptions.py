"""Errors of the ClickHouse sink; all derive from the project's root error."""

from __future__ import annotations

from schemas.exceptions import PermanentError, RetryableError


class SinkUnavailableError(RetryableError):
    """ClickHouse could not be reached or answered with a retryable error."""


class SinkDataError(PermanentError):
    """ClickHouse rejected the rows themselves (bad data); retrying will not help."""


class SinkConfigError(PermanentError):
    """The ClickHouse DSN or target is unusable."""


class MigrationError(SinkConfigError):
    """A migration file is malformed, was edited after it was applied, or failed."""


class MigrationNotDoneError(SinkUnavailableError):
    """A migration step cannot finish yet (inserts still running, rows left to move).

    Retryable: what ran is kept, and running migrate again continues there.
    """


class ReplayBusyError(RetryableError):
    """Another replay is writing into the same database; try again when it is done."""

    #: The message says what to do (no service failed).
    what_to_do = ""


class ChdbPathError(SinkConfigError):
    """A ``chdb://PATH`` that names no usable database folder (missing, a file, a typo)."""


class ChdbFolderBusyError(SinkUnavailableError):
    """Another process has the chDB folder open (chDB opens a folder in one process at a time)."""


class UnknownTenantError(SinkConfigError):
    """A report was asked for a tenant the database holds nothing of."""

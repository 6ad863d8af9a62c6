"""Errors of the streaming layer; all derive from the project's root error."""

from __future__ import annotations

from schemas.exceptions import CosellingError, PermanentError, RetryableError

__all__ = [
    "CommitAuditError",
    "CosellingError",
    "InternalMessageError",
    "KafkaUnreachableError",
    "NotAnInboundEventError",
    "PermanentError",
    "ReplayRefusedError",
    "RetryableError",
    "StreamConfigError",
    "UnroutableEventError",
]


class NotAnInboundEventError(PermanentError):
    """An event of a type that may not be published as input (e.g. an outbound result)."""


class UnroutableEventError(PermanentError):
    """An inbound event that cannot reach any company.

    It names no account, or (a partner touch) neither an opportunity nor an account.
    """


class InternalMessageError(PermanentError):
    """A message on an internal topic that is not what the pipeline writes there."""


class StreamConfigError(PermanentError):
    """The worker's configuration cannot work (bad broker address, missing topics)."""


class ReplayRefusedError(PermanentError):
    """A replay that cannot give what one replay of all events would (the reason says why)."""


class CommitAuditError(PermanentError):
    """A commit audit file (``COSELLING_COMMIT_AUDIT_FILE``) holds a line it cannot have."""


class KafkaUnreachableError(RetryableError):
    """No Kafka bootstrap server accepts a connection."""

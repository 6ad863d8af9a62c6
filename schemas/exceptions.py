"""The project's error family.

Every error the pipeline raises on purpose derives from :class:`CosellingError`. Two
branches say what a caller should do with it:

- :class:`PermanentError`: the input is wrong (bad bytes, unknown schema, a missing
  field). Retrying will not help; the message goes to the dead-letter path.
- :class:`RetryableError`: a service did not answer or answered with a transient error.
  Retry with backoff.

Each package adds its own subclasses in its own ``exceptions`` module; this module holds
the root and the codec's errors (the schemas package is the one every other imports).
"""

from __future__ import annotations


class CosellingError(Exception):
    """Root of every error raised by the co-selling pipeline."""


class PermanentError(CosellingError):
    """Bad input or configuration: retrying the same thing fails the same way."""


class RetryableError(CosellingError):
    """A transient failure of a service: the same call may succeed later."""


class CodecError(PermanentError):
    """An event could not be encoded or decoded."""


class UnknownSchemaError(CodecError):
    """The payload names a schema (fingerprint or registry id) this codec does not know."""


class FramingError(CodecError):
    """The payload's header is not the expected framing (wrong magic byte or marker)."""


class TruncatedPayloadError(CodecError):
    """The payload ends before the header or the Avro body is complete."""


class SchemaMismatchError(CodecError):
    """A value does not match its field's type (on encode), or the body does not decode."""


class MissingFieldError(CodecError):
    """A required field is absent."""


class UnknownEventTypeError(CodecError):
    """An event type name that has no schema."""


class TextFormatError(CodecError):
    """A line of a JSON Lines (or other text) event file is not a valid event.

    ``line`` is the 1-based line number and ``field`` the offending field, when known.
    """

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None):
        self.line = line
        self.field = field
        self.reason = message
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{message}")


class InvalidEventError(PermanentError):
    """A well-formed event that breaks a rule of the event contract (see schemas.validation).

    ``field`` names the offending field and ``reason`` says what is wrong with it.
    """

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"field {field!r}: {reason}")


class SchemaCompatibilityError(PermanentError):
    """A schema change would break readers of data written with an earlier version."""


class RegistryError(RetryableError):
    """The schema registry could not be reached or answered with a server error."""


class RegistryRequestError(PermanentError):
    """The schema registry rejected a request (4xx): bad schema, unknown subject or id.

    ``status`` is the HTTP status and ``error_code`` the registry's own error code.
    """

    def __init__(self, message: str, *, status: int, error_code: int | None = None):
        self.status = status
        self.error_code = error_code
        super().__init__(message)


class InternalMessageFormatError(CodecError):
    """An internal message (worker to worker, worker to sink) that does not decode.

    Neither JSON nor a known internal Avro schema, or a body that does not fit its schema.
    """

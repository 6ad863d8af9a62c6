"""Dead-letter records: a message that failed, unchanged, with the reason in its headers.

Pure: builds the headers; the agent sends them. A rejected event's field is in
``coselling.error.field`` and the reason in ``coselling.error.message``. Header names are
stable so tooling can filter on them (``kafka-console-consumer --property
print.headers=true`` shows them).
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.exceptions import PermanentError

HEADER_ERROR_TYPE = "coselling.error.type"
HEADER_ERROR_MESSAGE = "coselling.error.message"
HEADER_ERROR_KIND = "coselling.error.kind"
HEADER_ERROR_FIELD = "coselling.error.field"
HEADER_SOURCE_TOPIC = "coselling.source.topic"
HEADER_SOURCE_PARTITION = "coselling.source.partition"
HEADER_SOURCE_OFFSET = "coselling.source.offset"

_MAX_MESSAGE = 2000


def dead_letter_headers(
    error: BaseException, *, topic: str, partition: int, offset: int
) -> Sequence[tuple[str, bytes]]:
    """Headers that say why and where a message failed."""
    kind = "permanent" if isinstance(error, PermanentError) else "unexpected"
    headers = [
        (HEADER_ERROR_TYPE, type(error).__name__.encode()),
        (HEADER_ERROR_KIND, kind.encode()),
        (HEADER_ERROR_MESSAGE, str(error)[:_MAX_MESSAGE].encode("utf-8", "replace")),
        (HEADER_SOURCE_TOPIC, topic.encode()),
        (HEADER_SOURCE_PARTITION, str(partition).encode()),
        (HEADER_SOURCE_OFFSET, str(offset).encode()),
    ]
    field = getattr(error, "field", None)
    if isinstance(field, str):
        headers.append((HEADER_ERROR_FIELD, field.encode("utf-8", "replace")))
    return headers

"""Event schemas and the codec: the pipeline's public data contract.

The Avro schemas live in ``schemas/avro``; :class:`Codec` encodes and decodes them in
single-object or Confluent framing, :mod:`schemas.textformat` reads and writes the JSON
Lines form, :mod:`schemas.compat` checks that schema changes stay backward compatible.
"""

from .catalog import EVENT_TYPES, INBOUND_TYPES, OUTBOUND_TYPES, Catalog, default_catalog
from .codec import Codec, Decoded, Framing
from .exceptions import CodecError, CosellingError, PermanentError, RetryableError

__all__ = [
    "EVENT_TYPES",
    "INBOUND_TYPES",
    "OUTBOUND_TYPES",
    "Catalog",
    "Codec",
    "CodecError",
    "CosellingError",
    "Decoded",
    "Framing",
    "PermanentError",
    "RetryableError",
    "default_catalog",
]

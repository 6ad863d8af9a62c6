"""Avro record schemas compiled into writers: the internal messages' fast path of encoding.

fastavro's writer decides a union's branch by validating the value against each branch in
turn, and a record in a union (an account's snapshot, or null) is validated whole, nested
records and all, before it is written field by field, which checks every nested union
again. An internal snapshot took 38 us to encode that way, ten times its JSON. Here a
schema is compiled once (:func:`compile_writer`) into nested functions, one per field,
that pick a union's branch by the value's Python type: 4-5 times faster on the
internal messages (``tests/bench/bench_internal_codec.py``).

The bytes are fastavro's (``schemaless_writer``, checked message by message in the
tests), for every value fastavro writes without changing it. A value the schema cannot
hold exactly raises :class:`Unfit` (a ``ValueError``), where fastavro raised or, for some,
wrote something else: a field the record does not declare or a missing one (as fastavro's
``strict`` mode), a value of no branch's type, an integer beyond a long's 64 bits (fastavro
writes it to a ``double`` branch if there is one, which reads back as another number), a
boolean for a long (fastavro writes 1 or 0, which reads back as an integer).

Schemas with what this does not compile (enums, fixed, logical types, a union of a record
and a map, named types defined elsewhere) raise :class:`UnsupportedSchema` from
:func:`compile_writer`: the caller writes them with fastavro.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

#: A compiled writer: appends the Avro encoding of a value to a bytearray.
Writer = Callable[[Any, bytearray], None]

_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")


class Unfit(ValueError):
    """The value does not fit the schema exactly (the caller writes it another way)."""


class UnsupportedSchema(ValueError):
    """The schema uses what :func:`compile_writer` does not compile."""


def _varint(buf: bytearray, value: int) -> None:
    """Append ``value`` (within a long) zig-zag encoded as a variable-length integer."""
    if not _LONG_MIN <= value <= _LONG_MAX:
        raise Unfit(f"{value} is beyond a long's 64 bits")
    n = (value << 1) ^ (value >> 63)
    while n > 0x7F:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def _write_null(value: Any, buf: bytearray) -> None:
    if value is not None:
        raise Unfit(f"{type(value).__name__} value for null")


def _write_boolean(value: Any, buf: bytearray) -> None:
    if value is True:
        buf.append(1)
    elif value is False:
        buf.append(0)
    else:
        raise Unfit(f"{type(value).__name__} value for boolean")


def _write_long(value: Any, buf: bytearray) -> None:
    if type(value) is not int:  # not bool either: it would read back as 1 or 0
        raise Unfit(f"{type(value).__name__} value for long")
    if 0 <= value < 64:
        buf.append(value << 1)
    else:
        _varint(buf, value)


def _write_int(value: Any, buf: bytearray) -> None:
    if type(value) is not int or not _INT_MIN <= value <= _INT_MAX:
        raise Unfit(f"{value!r} is not an int")
    _varint(buf, value)


def _write_double(value: Any, buf: bytearray) -> None:
    if type(value) is not float and type(value) is not int:
        raise Unfit(f"{type(value).__name__} value for double")
    buf += _DOUBLE.pack(value)


def _write_float(value: Any, buf: bytearray) -> None:
    if type(value) is not float and type(value) is not int:
        raise Unfit(f"{type(value).__name__} value for float")
    buf += _FLOAT.pack(value)


def _write_string(value: Any, buf: bytearray) -> None:
    if not isinstance(value, str):
        raise Unfit(f"{type(value).__name__} value for string")
    encoded = value.encode()
    n = len(encoded)
    if n < 64:
        buf.append(n << 1)
    else:
        _varint(buf, n)
    buf += encoded


def _write_bytes(value: Any, buf: bytearray) -> None:
    if not isinstance(value, bytes):
        raise Unfit(f"{type(value).__name__} value for bytes")
    _varint(buf, len(value))
    buf += value


_PRIMITIVES: dict[str, tuple[Writer, tuple[type, ...]]] = {
    # type name -> (writer, the Python types that pick it in a union)
    "null": (_write_null, (type(None),)),
    "boolean": (_write_boolean, (bool,)),
    "int": (_write_int, (int,)),
    "long": (_write_long, (int,)),
    "float": (_write_float, (float, int)),  # an int too, unless an earlier branch takes it
    "double": (_write_double, (float, int)),
    "string": (_write_string, (str,)),
    "bytes": (_write_bytes, (bytes,)),
}


def compile_writer(schema: Any, *, ignore: Iterable[str] = ()) -> Writer:
    """The writer of ``schema`` (parsed by ``fastavro.parse_schema`` or plain JSON).

    ``ignore``: keys of the top-level record that are not written (a message's ``kind``,
    which its schema id says); they must not be fields of it.
    """
    named: dict[str, Writer] = {}
    if isinstance(schema, dict) and schema.get("type") == "record":
        fields = {f["name"] for f in schema["fields"]}
        if fields & set(ignore):
            raise UnsupportedSchema(f"ignored keys {sorted(fields & set(ignore))} are fields")
        return _record(schema, named, frozenset(ignore))
    if ignore:
        raise UnsupportedSchema("only a record's keys can be ignored")
    return _compile(schema, named)


def _compile(schema: Any, named: dict[str, Writer]) -> Writer:
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema][0]
        if schema in named:
            return named[schema]
        raise UnsupportedSchema(f"type {schema!r} is not defined in this schema")
    if isinstance(schema, list):
        return _union(schema, named)
    if not isinstance(schema, dict):
        raise UnsupportedSchema(f"not a schema: {schema!r}")
    if "logicalType" in schema:
        raise UnsupportedSchema(f"logical type {schema['logicalType']!r}")
    kind = schema.get("type")
    if kind == "record":
        return _record(schema, named, frozenset())
    if kind == "map":
        return _map(_compile(schema["values"], named))
    if kind == "array":
        return _array(_compile(schema["items"], named))
    if isinstance(kind, str) and kind in _PRIMITIVES:
        return _PRIMITIVES[kind][0]
    raise UnsupportedSchema(f"type {kind!r}")


def _record(schema: dict[str, Any], named: dict[str, Writer],
            ignore: frozenset[str]) -> Writer:
    name = schema["name"]
    pairs: list[tuple[str, Writer]] = []
    count = len(schema["fields"])

    def write_record(value: Any, buf: bytearray) -> None:
        n = len(value)
        if n != count:  # more keys than fields: ignored ones, else undeclared ones
            if ignore:
                n -= sum(1 for key in ignore if key in value)
            if n != count:
                _check_keys(name, value, pairs, ignore)
        for field, write in pairs:
            write(value[field], buf)  # a missing field: KeyError

    named[name] = write_record  # before the fields: a field may name the record
    for f in schema["fields"]:
        pairs.append((f["name"], _compile(f["type"], named)))
    return write_record


def _check_keys(name: str, value: Any, pairs: list[tuple[str, Writer]],
                ignore: frozenset[str]) -> None:
    """Raise :class:`Unfit` unless ``value``'s keys are the fields (and ignored keys)."""
    if not isinstance(value, dict):
        raise Unfit(f"{type(value).__name__} value for record {name}")
    fields = {field for field, _ in pairs}
    extra = set(value) - fields - ignore
    missing = fields - set(value)
    if extra or missing:
        raise Unfit(f"record {name}: fields not in the schema {sorted(extra)}, "
                    f"missing {sorted(missing)}")


def _map(write_value: Writer) -> Writer:
    def write_map(value: Any, buf: bytearray) -> None:
        if not isinstance(value, dict):
            raise Unfit(f"{type(value).__name__} value for map")
        if value:
            _varint(buf, len(value))
            for key, item in value.items():
                _write_string(key, buf)
                write_value(item, buf)
        buf.append(0)

    return write_map


def _array(write_item: Writer) -> Writer:
    def write_array(value: Any, buf: bytearray) -> None:
        if not isinstance(value, (list, tuple)):
            raise Unfit(f"{type(value).__name__} value for array")
        if value:
            _varint(buf, len(value))
            for item in value:
                write_item(item, buf)
        buf.append(0)

    return write_array


def _union(branches: list[Any], named: dict[str, Writer]) -> Writer:
    """A union: the branch is the first whose type the value's Python type is (as fastavro).

    fastavro takes the first branch the value validates against; for the branch types
    compiled here that is the first branch whose Python types (:data:`_PRIMITIVES`; a
    dict for a record or map, a list or tuple for an array) include the value's type.
    """
    if len(branches) > 63:
        raise UnsupportedSchema("a union of more than 63 branches")
    if len(branches) == 2 and "null" in branches:  # most unions: null or one type
        return _nullable(branches, named)
    by_type: dict[type, tuple[int, Writer]] = {}
    loose: list[tuple[type, int, Writer]] = []  # str and bytes subclasses, by isinstance
    for index, branch in enumerate(branches):
        write = _compile(branch, named)
        kind = branch if isinstance(branch, str) else branch.get("type")
        if kind in _PRIMITIVES:
            types = _PRIMITIVES[kind][1]
        elif kind in ("record", "map") or kind in named:  # a record, or one named
            types = (dict,)
        elif kind == "array":
            types = (list, tuple)
        else:
            raise UnsupportedSchema(f"union branch {branch!r}")
        for t in types:
            if t in by_type:
                if t is dict or t in (list, tuple):
                    raise UnsupportedSchema(f"union of two branches taking a {t.__name__}")
                continue  # an earlier branch takes it, as in fastavro
            by_type[t] = (index, write)
            if t in (str, bytes):
                loose.append((t, index, write))

    def write_union(value: Any, buf: bytearray) -> None:
        found = by_type.get(type(value))
        if found is None:
            for t, index, write in loose:
                if isinstance(value, t):
                    found = (index, write)
                    break
            else:
                raise Unfit(f"{type(value).__name__} value for union {branches!r}")
        buf.append(found[0] << 1)
        found[1](value, buf)

    return write_union


def _nullable(branches: list[Any], named: dict[str, Writer]) -> Writer:
    """A union of null and one other type: None is null, anything else the other's."""
    null_tag = branches.index("null") << 1
    other = branches[1 - branches.index("null")]
    if other == "null":
        raise UnsupportedSchema("a union of null and null")
    tag = (1 - branches.index("null")) << 1
    write = _compile(other, named)

    def write_nullable(value: Any, buf: bytearray) -> None:
        if value is None:
            buf.append(null_tag)
        else:
            buf.append(tag)
            write(value, buf)  # raises Unfit for a value of another type

    return write_nullable

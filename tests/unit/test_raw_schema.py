"""The worker's topics hand agents the messages' bytes, as Faust's own schema did."""

from __future__ import annotations

import asyncio

import faust
from faust.types import Message

from streams.raw_schema import RawSchema


def message(key, value):
    return Message("t", 0, 7, 0.0, 0, [("h", b"1")], key, value, None)


def test_events_carry_the_same_key_value_and_headers_as_with_faust_s_schema():
    app = faust.App("raw-schema-test", autodiscover=False)
    ours = RawSchema().compile(app)
    faust_s = faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                           value_serializer="raw").compile(app)

    async def both(m):
        return await ours(m), await faust_s(m)

    for key, value in [(b"k", b"\x00\xca\x01v"), (None, b"v"), (b"k", b""), (b"k", None)]:
        m = message(key, value)
        event, expected = asyncio.run(both(m))
        assert (event.key, event.value) == (expected.key, expected.value) == (key, value)
        assert event.headers == expected.headers and event.message is m

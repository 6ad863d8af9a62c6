"""A fresh chDB database per test (one chDB folder per process at a time: closed after)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sinks.clickhouse import ClickHouseWriter


@pytest.fixture
def chdb_writer(tmp_path) -> Iterator[ClickHouseWriter]:
    """A writer on an empty chDB folder, not migrated."""
    writer = ClickHouseWriter(f"chdb://{tmp_path / 'chdb'}")
    yield writer
    writer.close()


@pytest.fixture
def migrated(chdb_writer: ClickHouseWriter) -> ClickHouseWriter:
    """A writer on a chDB folder with every migration applied."""
    chdb_writer.migrate(ttl_days=365)
    return chdb_writer

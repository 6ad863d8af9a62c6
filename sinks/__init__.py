"""ClickHouse sinks: migrations, the batching idempotent writer, analyst views."""

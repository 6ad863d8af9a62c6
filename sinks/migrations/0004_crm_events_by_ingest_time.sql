-- crm_events keeps every accepted event for its retention counted from when the pipeline
-- received it (ingest_time), not from when it happened: a backfill of old history is kept
-- like any other event instead of being dropped on arrival. Partitions follow the month
-- of ingest_time too, so a backfill spanning decades lands in one or two partitions
-- instead of one per month of history (too many partitions for one insert).
-- ClickHouse cannot change a partition key in place: build the new table, copy the rows,
-- swap the names, drop the old table. The TTL is set again on ingest_time by migrate. On
-- a cluster the copy reads and writes the sharded tables of both names, which share their
-- sharding key, so every row stays on its shard.
-- Same columns as crm_events; only the partition key differs.
CREATE TABLE IF NOT EXISTS {{ local("crm_events_by_ingest") }} {{ on_cluster }}
AS {{ local("crm_events") }}
ENGINE = {{ replacing("crm_events_by_ingest", "") }}
PARTITION BY toYYYYMM(ingest_time)
ORDER BY (tenant_id, event_type, record_id, record_version, event_id)
{{ dedup_settings }};

{{ distributed("crm_events_by_ingest", "cityHash64(tenant_id, record_id)") }};

INSERT INTO crm_events_by_ingest
SETTINGS max_partitions_per_insert_block = 0, distributed_foreground_insert = 1
SELECT tenant_id, event_type, source, record_id, record_version, op, event_id, event_time,
       ingest_time, record
FROM crm_events;

RENAME TABLE {{ local("crm_events") }} TO {{ local("crm_events_by_event_time") }},
  {{ local("crm_events_by_ingest") }} TO {{ local("crm_events") }} {{ on_cluster }};

DROP TABLE IF EXISTS {{ local("crm_events_by_event_time") }} {{ on_cluster }} SYNC;

{% if on_cluster %}DROP TABLE IF EXISTS crm_events_by_ingest {{ on_cluster }} SYNC{% endif %};

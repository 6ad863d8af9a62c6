-- crm_events keeps every accepted event for its retention counted from when the pipeline
-- received it (ingest_time), not from when it happened: a backfill of old history is kept
-- like any other event instead of being dropped on arrival. Partitions follow the month
-- of ingest_time too, so a backfill spanning decades lands in one or two partitions
-- instead of one per month of history (too many partitions for one insert).
--
-- ClickHouse cannot change a partition key in place, and sinks keep writing crm_events
-- while this runs (every sink migrates on start; replicas roll one by one). So the new
-- table takes the name first and the old rows follow:
--   1. create crm_events_0004_new with the new partition key;
--   2. rename crm_events to crm_events_0004_old, then crm_events_0004_new to crm_events:
--      from here on every insert goes to the new table (an insert arriving in the
--      moment between the two renames fails and the sink retries it; nothing is lost);
--   3. wait for inserts that started before the rename (they still write into the old
--      table), then move the old rows over one partition at a time: copy a partition,
--      drop it from the old table; repeat until the old table holds no partition;
--   4. drop the old table once it is empty (still holding rows stops the run: run again).
-- Every step is guarded by a condition on the tables (`-- only if:` and the other
-- directives of sinks/migration_steps.py), so a run that failed or timed out at any step finishes the
-- job when migrate runs again, and two runs at the same time cannot undo each other: a
-- rename fails when its source is gone or its target exists, and copying a partition
-- twice only writes rows that replace themselves (same key). One partition per copy keeps
-- each statement short; a copy still running after a client timeout is waited for.
-- The TTL is set again on ingest_time by migrate. On a cluster the copy reads and writes
-- the sharded tables, which share their sharding key, so every row stays on its shard.

-- only if: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '{{ local("crm_events") }}' AND partition_key = 'toYYYYMM(event_time)'
CREATE TABLE IF NOT EXISTS {{ local("crm_events_0004_new") }} {{ on_cluster }}
AS {{ local("crm_events") }}
ENGINE = {{ replacing("crm_events_0004_new", "") }}
PARTITION BY toYYYYMM(ingest_time)
ORDER BY (tenant_id, event_type, record_id, record_version, event_id)
{{ dedup_settings }};

-- only if: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '{{ local("crm_events") }}' AND partition_key = 'toYYYYMM(event_time)'
RENAME TABLE {{ local("crm_events") }} TO {{ local("crm_events_0004_old") }} {{ on_cluster }};

-- only if: SELECT count() = 0 FROM system.tables WHERE database = currentDatabase() AND name = '{{ local("crm_events") }}'
RENAME TABLE {{ local("crm_events_0004_new") }} TO {{ local("crm_events") }} {{ on_cluster }};

{% if on_cluster %}
-- only if: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '{{ local("crm_events_0004_old") }}'
{{ distributed("crm_events_0004_old", "cityHash64(tenant_id, record_id)") }};
{% endif %}

-- only if: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '{{ local("crm_events_0004_old") }}'
-- wait until: SELECT count() = 0 FROM {{ all_replicas("system.processes") }} WHERE query_kind = 'Insert' AND positionCaseInsensitive(query, 'crm_events') > 0 AND elapsed >= $waited
-- for each: SELECT DISTINCT partition_id FROM {{ all_replicas("system.parts") }} WHERE database = currentDatabase() AND table = '{{ local("crm_events_0004_old") }}' AND active ORDER BY partition_id
-- then: ALTER TABLE {{ local("crm_events_0004_old") }} {{ on_cluster }} DROP PARTITION ID $value
INSERT INTO crm_events
SETTINGS max_partitions_per_insert_block = 0, distributed_foreground_insert = 1
SELECT tenant_id, event_type, source, record_id, record_version, op, event_id, event_time,
       ingest_time, record
FROM crm_events_0004_old
WHERE _partition_id = $value;

{% if on_cluster %}DROP TABLE IF EXISTS crm_events_0004_old {{ on_cluster }} SYNC{% endif %};

-- require: SELECT count() = 0 FROM {{ all_replicas("system.parts") }} WHERE database = currentDatabase() AND table = '{{ local("crm_events_0004_old") }}' AND active AND rows > 0
DROP TABLE IF EXISTS {{ local("crm_events_0004_old") }} {{ on_cluster }} SYNC;

-- State of the replay path, so that `coselling replay` continues where the last replay
-- into this database stopped (see sinks/replay_store.py).
-- replay_state: the core's state (account and company state, plain JSON per key) as of
-- the end of each finished replay; the row of the highest generation up to the last
-- finished run is current.
CREATE TABLE IF NOT EXISTS {{ local("replay_state") }} {{ on_cluster }} (
  store LowCardinality(String),
  key String,
  value String,
  generation UInt64
)
ENGINE = {{ replacing("replay_state", "generation") }}
ORDER BY (store, key)
{{ dedup_settings }};

{{ distributed("replay_state", "cityHash64(store, key)") }};

-- replay_runs: one row per replay (its latest status wins): the lock that keeps two
-- replays out of one database, and what a finished run left (generation, high-water
-- mark, row counts that tell whether something else wrote since). The server stamps
-- claimed_at when the claim is inserted, so claims are ordered as they arrived.
CREATE TABLE IF NOT EXISTS {{ local("replay_runs") }} {{ on_cluster }} (
  run_id String,
  status LowCardinality(String),
  host String,
  pid UInt32,
  generation UInt64,
  summary String,
  claimed_at DateTime64(6, 'UTC') DEFAULT now64(6),
  updated_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = {{ replacing("replay_runs", "updated_at") }}
ORDER BY run_id
{{ dedup_settings }};

{{ distributed("replay_runs", "cityHash64(run_id)") }};

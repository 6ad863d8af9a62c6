-- crm_events: every decoded inbound event (the audit trail). Partitioned by month of
-- event time; old months are dropped whole by the TTL (COSELLING_CRM_EVENTS_TTL_DAYS,
-- applied again by every `coselling migrate`). A redelivered event replaces itself.
CREATE TABLE IF NOT EXISTS {{ local("crm_events") }} {{ on_cluster }} (
  tenant_id String,
  event_type LowCardinality(String),
  source LowCardinality(String),
  record_id String,
  record_version UInt64,
  op LowCardinality(String),
  event_id String,
  event_time DateTime64(3, 'UTC'),
  ingest_time DateTime64(3, 'UTC'),
  record String
)
ENGINE = {{ replacing("crm_events", "") }}
PARTITION BY toYYYYMM(event_time)
ORDER BY (tenant_id, event_type, record_id, record_version, event_id)
{{ dedup_settings }};

{{ distributed("crm_events", "cityHash64(tenant_id, record_id)") }};

-- intro_events: every version of every intro (raised, updated, withdrawn), so analysts
-- can see when an intro was first raised. intro_state keeps only the latest version.
CREATE TABLE IF NOT EXISTS {{ local("intro_events") }} {{ on_cluster }} (
  tenant_id String,
  partner_tenant_id String,
  company_key String,
  opportunity_record_id String,
  active UInt8,
  version UInt64,
  score Float64,
  stage String,
  amount Decimal(18, 4),
  currency LowCardinality(String),
  occurred_at DateTime64(3, 'UTC')
)
ENGINE = {{ replacing("intro_events", "") }}
ORDER BY (tenant_id, partner_tenant_id, opportunity_record_id, company_key, version)
{{ dedup_settings }};

{{ distributed("intro_events", "cityHash64(company_key)") }};

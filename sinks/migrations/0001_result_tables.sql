-- Result tables: one row per result key, the highest version wins (ReplacingMergeTree).
-- active = 0 marks a result that ended; it is kept so an end is never lost. Every view
-- reads with FINAL. overlap_state is internal: it also holds overlaps a partner shares
-- only as COUNTS (with the company key); analysts and tenants read the views.

CREATE TABLE IF NOT EXISTS {{ local("overlap_state") }} {{ on_cluster }} (
  tenant_id String,
  partner_tenant_id String,
  company_key String,
  partnership_id String,
  match_method LowCardinality(String),
  tenant_populations Array(LowCardinality(String)),
  partner_populations Array(LowCardinality(String)),
  counted_partner_populations Array(LowCardinality(String)),
  visible UInt8,
  partner_account_name Nullable(String),
  active UInt8,
  version UInt64,
  occurred_at DateTime64(3, 'UTC'),
  written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{ replacing("overlap_state", "version") }}
ORDER BY (tenant_id, partner_tenant_id, company_key)
{{ dedup_settings }};

{{ distributed("overlap_state", "cityHash64(company_key)") }};

CREATE TABLE IF NOT EXISTS {{ local("intro_state") }} {{ on_cluster }} (
  tenant_id String,
  partner_tenant_id String,
  company_key String,
  opportunity_record_id String,
  account_record_id String,
  partnership_id String,
  score Float64,
  reasons Array(String),
  partner_populations Array(LowCardinality(String)),
  stage String,
  amount Decimal(18, 4),
  currency LowCardinality(String),
  active UInt8,
  version UInt64,
  occurred_at DateTime64(3, 'UTC'),
  written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{ replacing("intro_state", "version") }}
ORDER BY (tenant_id, partner_tenant_id, opportunity_record_id, company_key)
{{ dedup_settings }};

{{ distributed("intro_state", "cityHash64(company_key)") }};

CREATE TABLE IF NOT EXISTS {{ local("attribution_state") }} {{ on_cluster }} (
  tenant_id String,
  partner_tenant_id String,
  opportunity_record_id String,
  company_key String,
  model LowCardinality(String),
  credit LowCardinality(String),
  weight Float64,
  attributed_amount Decimal(18, 4),
  currency LowCardinality(String),
  closed_at DateTime64(3, 'UTC'),
  touch_record_ids Array(String),
  active UInt8,
  version UInt64,
  occurred_at DateTime64(3, 'UTC'),
  written_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{ replacing("attribution_state", "version") }}
ORDER BY (tenant_id, opportunity_record_id, partner_tenant_id, model, company_key)
{{ dedup_settings }};

{{ distributed("attribution_state", "cityHash64(company_key)") }};

-- The analysts' views. All read current state only (FINAL or argMax), never the
-- duplicates ReplacingMergeTree keeps until it merges. Documented in the README.
-- SQL SECURITY DEFINER: they run with the rights of the user who migrated, so a tenant
-- user (`coselling tenant-access`) reads them without any grant on overlap_state, whose
-- COUNTS-only rows name companies the partner shares only as a number. Row policies on
-- the views themselves keep each tenant to its own rows.

CREATE OR REPLACE VIEW overlaps_current {{ on_cluster }} SQL SECURITY DEFINER AS
SELECT tenant_id, partner_tenant_id, company_key, partnership_id, match_method,
       tenant_populations, partner_populations, partner_account_name, occurred_at
FROM overlap_state FINAL
WHERE active AND visible;

CREATE OR REPLACE VIEW overlap_counts {{ on_cluster }} SQL SECURITY DEFINER AS
SELECT tenant_id, partner_tenant_id,
       count() AS overlapping_accounts,
       countIf(visible) AS visible_accounts,
       countIf(NOT visible) AS counted_only_accounts
FROM overlap_state FINAL
WHERE active
GROUP BY tenant_id, partner_tenant_id;

CREATE OR REPLACE VIEW partner_overlap_matrix {{ on_cluster }} SQL SECURITY DEFINER AS
SELECT tenant_id, partner_tenant_id, tenant_population, partner_population,
       uniqExact(company_key) AS overlapping_accounts
FROM overlap_state FINAL
ARRAY JOIN tenant_populations AS tenant_population
ARRAY JOIN counted_partner_populations AS partner_population
WHERE active
GROUP BY tenant_id, partner_tenant_id, tenant_population, partner_population;

CREATE OR REPLACE VIEW intros_current {{ on_cluster }} SQL SECURITY DEFINER AS
SELECT tenant_id, partner_tenant_id, company_key, opportunity_record_id, account_record_id,
       partnership_id, score, reasons, partner_populations, stage, amount, currency,
       occurred_at
FROM intro_state FINAL
WHERE active;

CREATE OR REPLACE VIEW attributions_current {{ on_cluster }} SQL SECURITY DEFINER AS
SELECT tenant_id, partner_tenant_id, opportunity_record_id, company_key, model, credit,
       weight, attributed_amount, currency, closed_at, touch_record_ids, occurred_at
FROM attribution_state FINAL
WHERE active;

CREATE OR REPLACE VIEW partner_influenced_revenue {{ on_cluster }} SQL SECURITY DEFINER AS
SELECT tenant_id, partner_tenant_id, toStartOfMonth(closed_at) AS month, model, currency,
       sumIf(attributed_amount, credit = 'sourced') AS sourced_revenue,
       sumIf(attributed_amount, credit = 'influenced') AS influenced_revenue,
       sum(attributed_amount) AS attributed_revenue,
       uniqExact(opportunity_record_id) AS opportunities
FROM attribution_state FINAL
WHERE active
GROUP BY tenant_id, partner_tenant_id, month, model, currency;

CREATE OR REPLACE VIEW intro_conversion {{ on_cluster }} SQL SECURITY DEFINER AS
WITH
  raised AS (
    SELECT tenant_id, partner_tenant_id, opportunity_record_id, company_key,
           minIf(occurred_at, active = 1) AS raised_at
    FROM intro_events
    GROUP BY tenant_id, partner_tenant_id, opportunity_record_id, company_key
  ),
  deals AS (
    SELECT tenant_id, record_id AS opportunity_record_id,
           argMax(op, record_version) != 'DELETE'
             AND argMax(JSONExtractBool(record, 'is_closed'), record_version) AS closed,
           argMax(JSONExtractBool(record, 'is_won'), record_version) AS won,
           argMax(event_time, record_version) AS changed_at
    FROM crm_events
    WHERE event_type = 'opportunity'
    GROUP BY tenant_id, record_id
  )
SELECT i.tenant_id AS tenant_id, i.partner_tenant_id AS partner_tenant_id,
       count() AS intros_raised,
       countIf(i.active = 1) AS still_open,
       countIf(i.active = 0 AND d.closed AND d.won) AS won,
       countIf(i.active = 0 AND d.closed AND NOT d.won) AS lost,
       medianIf(dateDiff('day', r.raised_at, d.changed_at), i.active = 0 AND d.closed)
         AS median_days_to_close
FROM intro_state AS i FINAL
LEFT JOIN raised AS r
  ON r.tenant_id = i.tenant_id AND r.partner_tenant_id = i.partner_tenant_id
 AND r.opportunity_record_id = i.opportunity_record_id AND r.company_key = i.company_key
LEFT JOIN deals AS d
  ON d.tenant_id = i.tenant_id AND d.opportunity_record_id = i.opportunity_record_id
GROUP BY i.tenant_id, i.partner_tenant_id;

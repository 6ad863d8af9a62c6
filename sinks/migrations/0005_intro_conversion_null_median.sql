-- intro_conversion as in 0003, but a median over no closed intros is NULL, not nan:
-- medianIf over zero rows gives nan, which analysts' tools show as a number. The
-- OrNull combinator makes the column Nullable(Float64) and NULL where nothing closed.

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
       medianIfOrNull(dateDiff('day', r.raised_at, d.changed_at), i.active = 0 AND d.closed)
         AS median_days_to_close
FROM intro_state AS i FINAL
LEFT JOIN raised AS r
  ON r.tenant_id = i.tenant_id AND r.partner_tenant_id = i.partner_tenant_id
 AND r.opportunity_record_id = i.opportunity_record_id AND r.company_key = i.company_key
LEFT JOIN deals AS d
  ON d.tenant_id = i.tenant_id AND d.opportunity_record_id = i.opportunity_record_id
GROUP BY i.tenant_id, i.partner_tenant_id;

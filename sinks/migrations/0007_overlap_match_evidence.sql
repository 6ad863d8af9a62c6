-- Overlap rows say how their accounts were matched: the tenant's match evidence (a short
-- text such as "domain acme.com (website field: https://www.acme.com/x)"), and the
-- partner's match method and evidence when the partner shares at FULL (NULL otherwise,
-- as partner_account_name). Rows written before have '' and NULL. overlaps_current keeps
-- its columns and shows the three new ones after them.

ALTER TABLE {{ local("overlap_state") }} {{ on_cluster }}
  ADD COLUMN IF NOT EXISTS match_evidence String DEFAULT '' AFTER partner_account_name,
  ADD COLUMN IF NOT EXISTS partner_match_method LowCardinality(Nullable(String))
    AFTER match_evidence,
  ADD COLUMN IF NOT EXISTS partner_match_evidence Nullable(String)
    AFTER partner_match_method;

{% if on_cluster %}
ALTER TABLE overlap_state {{ on_cluster }}
  ADD COLUMN IF NOT EXISTS match_evidence String DEFAULT '' AFTER partner_account_name,
  ADD COLUMN IF NOT EXISTS partner_match_method LowCardinality(Nullable(String))
    AFTER match_evidence,
  ADD COLUMN IF NOT EXISTS partner_match_evidence Nullable(String)
    AFTER partner_match_method
{% endif %};

CREATE OR REPLACE VIEW overlaps_current {{ on_cluster }} SQL SECURITY DEFINER AS
SELECT tenant_id, partner_tenant_id, company_key, partnership_id, match_method,
       tenant_populations, partner_populations, partner_account_name, occurred_at,
       match_evidence, partner_match_method, partner_match_evidence
FROM overlap_state FINAL
WHERE active AND visible;

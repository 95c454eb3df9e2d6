-- Limits at every level: one rate limit per scope, unit and window; guardrails; the organization's
-- webhook (secret sealed like provider credentials); budget threshold alerts (once per budget,
-- window and threshold) and the durable outbox their webhook deliveries are retried from.

CREATE UNIQUE INDEX rate_limits_natural_key ON rate_limits (scope, scope_id, unit, window_seconds);

ALTER TABLE organizations ADD COLUMN webhook_url text;
ALTER TABLE organizations ADD COLUMN webhook_secret_ciphertext bytea;
ALTER TABLE organizations ADD COLUMN webhook_secret_nonce bytea;
ALTER TABLE organizations ADD COLUMN webhook_secret_tag bytea;

CREATE TABLE guardrails (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  scope text NOT NULL CHECK (scope IN ('ORGANIZATION', 'VIRTUAL_KEY')),
  scope_id text NOT NULL,
  rules jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (scope, scope_id)
);

CREATE TABLE budget_alerts (
  id text PRIMARY KEY,
  organization_id text NOT NULL,
  budget_id text NOT NULL,
  window_start_ms bigint NOT NULL,
  threshold_percent integer NOT NULL CHECK (threshold_percent > 0),
  used bigint NOT NULL,
  limit_amount bigint NOT NULL,
  created_at timestamptz NOT NULL,
  UNIQUE (budget_id, window_start_ms, threshold_percent)
);
CREATE INDEX budget_alerts_org_idx ON budget_alerts (organization_id, id);

CREATE TABLE webhook_outbox (
  id text PRIMARY KEY,
  organization_id text NOT NULL,
  alert_id text,
  event_type text NOT NULL,
  payload text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at_ms bigint NOT NULL,
  delivered_at timestamptz,
  failed_at timestamptz,
  last_error text,
  created_at timestamptz NOT NULL
);
CREATE INDEX webhook_outbox_due_idx ON webhook_outbox (next_attempt_at_ms) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_outbox_alert_idx ON webhook_outbox (alert_id);

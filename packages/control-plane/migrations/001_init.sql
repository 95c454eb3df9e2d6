-- Tollgate control plane: initial schema. Money is bigint micro-dollars; ledger times are epoch ms.

CREATE TABLE settings (
  key text PRIMARY KEY,
  value text NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE policy_revision (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  revision bigint NOT NULL
);
INSERT INTO policy_revision (id, revision) VALUES (true, 1);

CREATE TABLE organizations (
  id text PRIMARY KEY,
  slug text NOT NULL UNIQUE,
  name text NOT NULL,
  allowed_models text[] NOT NULL DEFAULT '{}',
  denied_models text[] NOT NULL DEFAULT '{}',
  fallback_input_price_micros bigint,
  fallback_output_price_micros bigint,
  fallback_cached_input_price_micros bigint,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE teams (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  slug text NOT NULL,
  name text NOT NULL,
  allowed_models text[] NOT NULL DEFAULT '{}',
  denied_models text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (organization_id, slug)
);

CREATE TABLE users (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  email text NOT NULL,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('ADMIN', 'MEMBER')),
  active boolean NOT NULL DEFAULT true,
  allowed_models text[] NOT NULL DEFAULT '{}',
  denied_models text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (organization_id, email)
);

CREATE TABLE user_teams (
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  team_id text NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, team_id)
);

CREATE TABLE api_tokens (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  prefix text NOT NULL,
  created_at timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz
);

CREATE TABLE provider_accounts (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name text NOT NULL,
  provider text NOT NULL CHECK (provider IN ('OPENAI', 'ANTHROPIC', 'GOOGLE', 'AZURE_OPENAI', 'OPENAI_COMPATIBLE')),
  base_url text NOT NULL,
  api_key_ciphertext bytea NOT NULL,
  api_key_nonce bytea NOT NULL,
  api_key_tag bytea NOT NULL,
  api_key_hint text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (organization_id, name)
);

CREATE TABLE models (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  provider_account_id text NOT NULL REFERENCES provider_accounts (id) ON DELETE CASCADE,
  name text NOT NULL,
  upstream_model text NOT NULL,
  input_price_micros bigint,
  output_price_micros bigint,
  cached_input_price_micros bigint,
  max_output_tokens integer NOT NULL DEFAULT 4096,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (provider_account_id, name)
);

CREATE TABLE virtual_keys (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('PERSONAL', 'SERVICE')),
  team_id text REFERENCES teams (id) ON DELETE SET NULL,
  user_id text REFERENCES users (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('ACTIVE', 'PAUSED', 'REVOKED')),
  format text NOT NULL CHECK (format IN ('OPAQUE', 'JWT')),
  prefix text NOT NULL,
  last4 text NOT NULL,
  allowed_models text[] NOT NULL DEFAULT '{}',
  denied_models text[] NOT NULL DEFAULT '{}',
  max_cost_per_request_micros bigint,
  expires_at timestamptz,
  metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX virtual_keys_org_idx ON virtual_keys (organization_id, id);

CREATE TABLE key_secrets (
  hmac text PRIMARY KEY,
  key_id text NOT NULL REFERENCES virtual_keys (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  valid_until timestamptz
);
CREATE INDEX key_secrets_key_idx ON key_secrets (key_id);

CREATE TABLE budgets (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  scope text NOT NULL CHECK (scope IN ('ORGANIZATION', 'TEAM', 'USER', 'VIRTUAL_KEY')),
  scope_id text NOT NULL,
  unit text NOT NULL CHECK (unit IN ('USD', 'TOKENS', 'REQUESTS')),
  budget_window text NOT NULL CHECK (budget_window IN ('DAY', 'WEEK', 'MONTH', 'TOTAL')),
  limit_amount bigint NOT NULL CHECK (limit_amount >= 0),
  mode text NOT NULL CHECK (mode IN ('HARD', 'SOFT')),
  enforcement text NOT NULL CHECK (enforcement IN ('CAP_OUTPUT', 'STRICT', 'ESTIMATE')),
  alert_thresholds integer[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  UNIQUE (scope, scope_id, unit, budget_window)
);

CREATE TABLE rate_limits (
  id text PRIMARY KEY,
  organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  scope text NOT NULL CHECK (scope IN ('ORGANIZATION', 'TEAM', 'USER', 'VIRTUAL_KEY')),
  scope_id text NOT NULL,
  unit text NOT NULL CHECK (unit IN ('REQUESTS', 'TOKENS')),
  limit_amount integer NOT NULL CHECK (limit_amount > 0),
  window_seconds integer NOT NULL CHECK (window_seconds > 0),
  created_at timestamptz NOT NULL
);
CREATE INDEX rate_limits_scope_idx ON rate_limits (scope, scope_id);

CREATE TABLE audit_log (
  id text PRIMARY KEY,
  organization_id text,
  actor text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  before jsonb,
  after jsonb,
  created_at timestamptz NOT NULL
);
CREATE INDEX audit_log_org_idx ON audit_log (organization_id, id);

CREATE TABLE usage_records (
  request_id text PRIMARY KEY,
  node_id text NOT NULL,
  boot_id text NOT NULL,
  sequence bigint NOT NULL,
  started_at_ms bigint NOT NULL,
  duration_ms bigint NOT NULL,
  first_byte_ms bigint NOT NULL,
  organization_id text NOT NULL,
  virtual_key_id text NOT NULL,
  user_id text NOT NULL,
  team_id text NOT NULL,
  model text NOT NULL,
  model_id text NOT NULL,
  provider_account_id text NOT NULL,
  upstream_model text NOT NULL,
  route text NOT NULL,
  stream boolean NOT NULL,
  input_tokens bigint NOT NULL,
  cached_input_tokens bigint NOT NULL,
  output_tokens bigint NOT NULL,
  usage_source text NOT NULL,
  cost_micros bigint NOT NULL,
  outcome text NOT NULL,
  status integer NOT NULL,
  error_code text NOT NULL,
  charges jsonb NOT NULL,
  received_at timestamptz NOT NULL
);
CREATE INDEX usage_records_org_time_idx ON usage_records (organization_id, started_at_ms);

CREATE TABLE usage_hourly (
  organization_id text NOT NULL,
  hour_start_ms bigint NOT NULL,
  virtual_key_id text NOT NULL,
  user_id text NOT NULL,
  team_id text NOT NULL,
  model text NOT NULL,
  provider_account_id text NOT NULL,
  requests bigint NOT NULL,
  blocked bigint NOT NULL,
  input_tokens bigint NOT NULL,
  cached_input_tokens bigint NOT NULL,
  output_tokens bigint NOT NULL,
  cost_micros bigint NOT NULL,
  PRIMARY KEY (organization_id, hour_start_ms, virtual_key_id, user_id, team_id, model, provider_account_id)
);

CREATE TABLE budget_usage (
  budget_id text NOT NULL,
  window_start_ms bigint NOT NULL,
  used bigint NOT NULL,
  PRIMARY KEY (budget_id, window_start_ms)
);

CREATE TABLE budget_grants (
  budget_id text NOT NULL,
  window_start_ms bigint NOT NULL,
  holder text NOT NULL,
  granted bigint NOT NULL,
  consumed bigint NOT NULL,
  expires_at_ms bigint NOT NULL,
  PRIMARY KEY (budget_id, window_start_ms, holder)
);

CREATE TABLE data_plane_nodes (
  id text PRIMARY KEY,
  boot_id text NOT NULL,
  connected boolean NOT NULL,
  policy_version bigint NOT NULL DEFAULT 0,
  applied_at timestamptz,
  last_seen_at timestamptz NOT NULL,
  address text NOT NULL
);

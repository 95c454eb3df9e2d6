-- Exact money (issue 9): every USD amount becomes integer pico-dollars (10^-12 $), in which a price
-- of up to six decimals per million tokens times a token count is exact. Prices stay micro-dollars
-- per million tokens (= pico-dollars per token) and per-request caps stay micro-dollars: they are
-- settings an admin types with at most six decimals. Sums that can pass int8 (rollups, settled use,
-- consumed grants, alert snapshots) become numeric(38,0).

-- usage records: the exact cost; USD charges (kept as strings in the JSON) scaled by their budget's unit.
ALTER TABLE usage_records ADD COLUMN cost_picos bigint;
UPDATE usage_records SET cost_picos = cost_micros * 1000000;
ALTER TABLE usage_records ALTER COLUMN cost_picos SET NOT NULL;
ALTER TABLE usage_records DROP COLUMN cost_micros;
UPDATE usage_records r SET charges = (
  SELECT COALESCE(jsonb_agg(CASE WHEN b.unit = 'USD'
      THEN jsonb_set(e.c, '{amount}', to_jsonb(((e.c->>'amount')::numeric * 1000000)::text))
      ELSE e.c END ORDER BY e.ord), '[]'::jsonb)
  FROM jsonb_array_elements(r.charges) WITH ORDINALITY AS e(c, ord)
  LEFT JOIN budgets b ON b.id = e.c->>'budgetId')
WHERE jsonb_array_length(r.charges) > 0;

-- the hourly rollup
ALTER TABLE usage_hourly ALTER COLUMN cost_micros TYPE numeric(38, 0) USING cost_micros::numeric * 1000000;
ALTER TABLE usage_hourly RENAME COLUMN cost_micros TO cost_picos;

-- budget limits: USD in pico-dollars, at most $9,000,000 (MAX_USD_BUDGET_PICOS) so grants fit int64
UPDATE budgets SET limit_amount = LEAST(limit_amount::numeric * 1000000, 9000000000000000000)::bigint WHERE unit = 'USD';

-- the ledger: settled use and grants of USD budgets
ALTER TABLE budget_usage ALTER COLUMN used TYPE numeric(38, 0);
UPDATE budget_usage u SET used = u.used * 1000000 FROM budgets b WHERE b.id = u.budget_id AND b.unit = 'USD';
ALTER TABLE budget_grants ALTER COLUMN granted TYPE numeric(38, 0);
ALTER TABLE budget_grants ALTER COLUMN consumed TYPE numeric(38, 0);
UPDATE budget_grants g SET granted = g.granted * 1000000, consumed = g.consumed * 1000000 FROM budgets b WHERE b.id = g.budget_id AND b.unit = 'USD';

-- alerts keep what the window had used and its limit when they fired
ALTER TABLE budget_alerts ALTER COLUMN used TYPE numeric(38, 0);
ALTER TABLE budget_alerts ALTER COLUMN limit_amount TYPE numeric(38, 0);
UPDATE budget_alerts a SET used = a.used * 1000000, limit_amount = a.limit_amount * 1000000 FROM budgets b WHERE b.id = a.budget_id AND b.unit = 'USD';

-- Every billed token kind has a price (issue 9): cache writes. A model's cache-write price per
-- million (micro-dollars); NULL = the provider's default (1.25x input for ANTHROPIC accounts, with
-- 1-hour writes at 2x; the input price elsewhere). Usage records keep the written tokens.
ALTER TABLE models ADD COLUMN cache_write_input_price_micros bigint;
ALTER TABLE usage_records ADD COLUMN cache_write_input_tokens bigint NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN cache_write_1h_input_tokens bigint NOT NULL DEFAULT 0;

-- Audio token prices per million (micro-dollars); a model without both serves no audio.
ALTER TABLE models ADD COLUMN audio_input_price_micros bigint;
ALTER TABLE models ADD COLUMN audio_output_price_micros bigint;

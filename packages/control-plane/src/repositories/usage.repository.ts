/** SQL of `usage_records` (deduplicated by request_id) and the `usage_hourly` rollup. */
import { isoOf, toBigInt, type Queryable } from "../db/database.js";

/** One usage record as stored (enums as their names). */
export interface UsageRecordRow {
  requestId: string;
  nodeId: string;
  bootId: string;
  sequence: bigint;
  startedAtMs: bigint;
  durationMs: number;
  firstByteMs: number;
  organizationId: string;
  virtualKeyId: string;
  userId: string;
  teamId: string;
  model: string;
  modelId: string;
  providerAccountId: string;
  upstreamModel: string;
  route: string;
  stream: boolean;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  usageSource: string;
  /** The exact cost in pico-dollars. */
  costPicos: bigint;
  outcome: string;
  status: number;
  errorCode: string;
  charges: ReadonlyArray<{ budgetId: string; windowStartMs: string; amount: string }>;
  /** Upstream attempts (1 = no retry, 0 = none); absent = 0. */
  attempts?: number;
  /** Input tokens written to the provider's prompt cache, and the 1-hour part of them; absent = 0. */
  cacheWriteInputTokens?: number;
  cacheWrite1hInputTokens?: number;
}

/** Inserts a record unless its request_id is stored; resolves true when inserted now. */
export async function insertUsageRecord(q: Queryable, r: UsageRecordRow, nowMs: number): Promise<boolean> {
  const rows = await q.query<{ request_id: string }>(
    `INSERT INTO usage_records (request_id, node_id, boot_id, sequence, started_at_ms, duration_ms, first_byte_ms, organization_id, virtual_key_id,
       user_id, team_id, model, model_id, provider_account_id, upstream_model, route, stream, input_tokens, cached_input_tokens, output_tokens,
       usage_source, cost_picos, outcome, status, error_code, charges, received_at, attempts, cache_write_input_tokens, cache_write_1h_input_tokens)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26::jsonb, $27, $28, $29, $30)
     ON CONFLICT (request_id) DO NOTHING RETURNING request_id`,
    [
      r.requestId,
      r.nodeId,
      r.bootId,
      r.sequence.toString(),
      r.startedAtMs.toString(),
      r.durationMs,
      r.firstByteMs,
      r.organizationId,
      r.virtualKeyId,
      r.userId,
      r.teamId,
      r.model,
      r.modelId,
      r.providerAccountId,
      r.upstreamModel,
      r.route,
      r.stream,
      r.inputTokens,
      r.cachedInputTokens,
      r.outputTokens,
      r.usageSource,
      r.costPicos.toString(),
      r.outcome,
      r.status,
      r.errorCode,
      JSON.stringify(r.charges),
      isoOf(nowMs),
      r.attempts ?? 0,
      r.cacheWriteInputTokens ?? 0,
      r.cacheWrite1hInputTokens ?? 0,
    ],
  );
  return rows.length > 0;
}

/** Adds one record to its hour of the rollup. */
export async function addToHourlyRollup(q: Queryable, r: UsageRecordRow, hourStartMs: number, blocked: boolean): Promise<void> {
  await q.query(
    `INSERT INTO usage_hourly (organization_id, hour_start_ms, virtual_key_id, user_id, team_id, model, provider_account_id,
       requests, blocked, input_tokens, cached_input_tokens, output_tokens, cost_picos)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (organization_id, hour_start_ms, virtual_key_id, user_id, team_id, model, provider_account_id) DO UPDATE SET
       requests = usage_hourly.requests + EXCLUDED.requests, blocked = usage_hourly.blocked + EXCLUDED.blocked,
       input_tokens = usage_hourly.input_tokens + EXCLUDED.input_tokens, cached_input_tokens = usage_hourly.cached_input_tokens + EXCLUDED.cached_input_tokens,
       output_tokens = usage_hourly.output_tokens + EXCLUDED.output_tokens, cost_picos = usage_hourly.cost_picos + EXCLUDED.cost_picos`,
    [
      r.organizationId,
      hourStartMs,
      r.virtualKeyId,
      r.userId,
      r.teamId,
      r.model,
      r.providerAccountId,
      blocked ? 0 : 1,
      blocked ? 1 : 0,
      r.inputTokens,
      r.cachedInputTokens,
      r.outputTokens,
      r.costPicos.toString(),
    ],
  );
}

/** A usage grouping dimension. */
export type UsageDimension = "VIRTUAL_KEY" | "USER" | "TEAM" | "MODEL" | "PROVIDER_ACCOUNT" | "DAY" | "HOUR";

/** A usage query over the hourly rollup. */
export interface UsageQuery {
  organizationId: string;
  fromMs: number;
  toMs: number;
  groupBy: readonly UsageDimension[];
  filter: { virtualKeyId?: string | null; userId?: string | null; teamId?: string | null; model?: string | null; providerAccountId?: string | null };
}

/** One aggregated usage row; group fields are null unless grouped by. */
export interface UsageAggregate {
  virtualKeyId: string | null;
  virtualKeyName: string | null;
  userId: string | null;
  teamId: string | null;
  model: string | null;
  providerAccountId: string | null;
  dayMs: number | null;
  hourMs: number | null;
  requests: bigint;
  blocked: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  /** The exact sum of the costs, in pico-dollars (numeric in the database: no int8 overflow). */
  costPicos: bigint;
}

const DIMENSION_SQL: Readonly<Record<UsageDimension, readonly string[]>> = {
  VIRTUAL_KEY: ["h.virtual_key_id", "vk.name"],
  USER: ["h.user_id"],
  TEAM: ["h.team_id"],
  MODEL: ["h.model"],
  PROVIDER_ACCOUNT: ["h.provider_account_id"],
  DAY: ["(h.hour_start_ms / 86400000) * 86400000"],
  HOUR: ["h.hour_start_ms"],
};

const SELECT_AS: Readonly<Record<string, string>> = {
  "h.virtual_key_id": "virtual_key_id",
  "vk.name": "virtual_key_name",
  "h.user_id": "user_id",
  "h.team_id": "team_id",
  "h.model": "model",
  "h.provider_account_id": "provider_account_id",
  "(h.hour_start_ms / 86400000) * 86400000": "day_ms",
  "h.hour_start_ms": "hour_ms",
};

/** Aggregates the rollup of an organization in [from, to) (hour granularity), grouped and filtered. */
export async function queryUsage(q: Queryable, u: UsageQuery): Promise<UsageAggregate[]> {
  const params: unknown[] = [u.organizationId, Math.floor(u.fromMs / 3_600_000) * 3_600_000, u.toMs];
  const where = ["h.organization_id = $1", "h.hour_start_ms >= $2", "h.hour_start_ms < $3"];
  const filters: Array<[string, string | null | undefined]> = [
    ["h.virtual_key_id", u.filter.virtualKeyId],
    ["h.user_id", u.filter.userId],
    ["h.team_id", u.filter.teamId],
    ["h.model", u.filter.model],
    ["h.provider_account_id", u.filter.providerAccountId],
  ];
  for (const [column, value] of filters) {
    if (value === null || value === undefined) continue;
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  const columns = [...new Set(u.groupBy)].flatMap((d) => DIMENSION_SQL[d]);
  const select = columns.map((c) => `${c} AS ${SELECT_AS[c]}`);
  const sql = `SELECT ${[
    ...select,
    "COALESCE(SUM(h.requests), 0)::bigint AS requests",
    "COALESCE(SUM(h.blocked), 0)::bigint AS blocked",
    "COALESCE(SUM(h.input_tokens), 0)::bigint AS input_tokens",
    "COALESCE(SUM(h.output_tokens), 0)::bigint AS output_tokens",
    "COALESCE(SUM(h.cost_picos), 0) AS cost_picos",
  ].join(", ")}
    FROM usage_hourly h LEFT JOIN virtual_keys vk ON vk.id = h.virtual_key_id
    WHERE ${where.join(" AND ")}
    ${columns.length > 0 ? `GROUP BY ${columns.join(", ")} ORDER BY ${columns.map((c) => `${c} NULLS FIRST`).join(", ")}` : ""}`;
  const rows = await q.query<Record<string, unknown>>(sql, params);
  const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
  const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => ({
    virtualKeyId: str(r.virtual_key_id),
    virtualKeyName: str(r.virtual_key_name),
    userId: str(r.user_id),
    teamId: str(r.team_id),
    model: str(r.model),
    providerAccountId: str(r.provider_account_id),
    dayMs: num(r.day_ms),
    hourMs: num(r.hour_ms),
    requests: toBigInt(r.requests),
    blocked: toBigInt(r.blocked),
    inputTokens: toBigInt(r.input_tokens),
    outputTokens: toBigInt(r.output_tokens),
    costPicos: toBigInt(r.cost_picos),
  }));
}

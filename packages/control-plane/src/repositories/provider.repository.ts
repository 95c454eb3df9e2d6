/** SQL of `provider_accounts` (credential sealed with AES-256-GCM) and `models`. */
import type { ProviderKind } from "@tollgate/policy";
import { isoOf, toBigIntOrNull, toMsOrNull, type Queryable } from "../db/database.js";
import type { ModelRecord, ProviderAccountRecord } from "../records.js";
import type { SealedSecret } from "../security/crypto.js";

interface AccountRow {
  id: string;
  organization_id: string;
  name: string;
  provider: ProviderKind;
  base_url: string;
  api_key_hint: string;
  created_at: Date;
  updated_at: Date;
}
interface ModelRow {
  id: string;
  organization_id: string;
  provider_account_id: string;
  name: string;
  upstream_model: string;
  input_price_micros: string | null;
  output_price_micros: string | null;
  cached_input_price_micros: string | null;
  cache_write_input_price_micros: string | null;
  audio_input_price_micros: string | null;
  audio_output_price_micros: string | null;
  max_output_tokens: number;
  weight: number;
  priority: number;
  created_at: Date;
  updated_at: Date;
  image_input_tokens: number | null;
  max_input_tokens_per_attachment: number | null;
}

const ms = (d: Date): number => toMsOrNull(d) ?? 0;
const ACCOUNT_COLUMNS = "id, organization_id, name, provider, base_url, api_key_hint, created_at, updated_at";
const toAccount = (r: AccountRow): ProviderAccountRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  name: r.name,
  provider: r.provider,
  baseUrl: r.base_url,
  apiKeyHint: r.api_key_hint,
  createdAt: ms(r.created_at),
  updatedAt: ms(r.updated_at),
});

/** Fields written for a provider account. */
export interface AccountWrite {
  id: string;
  organizationId: string;
  name: string;
  provider: ProviderKind;
  baseUrl: string;
  apiKeyHint: string;
  sealed: SealedSecret;
}

const ACCOUNT_INSERT = `INSERT INTO provider_accounts (id, organization_id, name, provider, base_url, api_key_ciphertext, api_key_nonce, api_key_tag, api_key_hint, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`;
const accountParams = (a: AccountWrite, nowMs: number): unknown[] => [
  a.id,
  a.organizationId,
  a.name,
  a.provider,
  a.baseUrl,
  a.sealed.ciphertext,
  a.sealed.nonce,
  a.sealed.tag,
  a.apiKeyHint,
  isoOf(nowMs),
];

/** Inserts a provider account (unique name in its organization). */
export async function insertProviderAccount(q: Queryable, a: AccountWrite, nowMs: number): Promise<ProviderAccountRecord> {
  const rows = await q.query<AccountRow>(`${ACCOUNT_INSERT} RETURNING ${ACCOUNT_COLUMNS}`, accountParams(a, nowMs));
  return toAccount(rows[0] as AccountRow);
}

/** Updates an account's settings and credential in place. */
export async function updateProviderAccount(q: Queryable, a: AccountWrite, nowMs: number): Promise<ProviderAccountRecord> {
  const rows = await q.query<AccountRow>(
    `UPDATE provider_accounts SET provider = $2, base_url = $3, api_key_ciphertext = $4, api_key_nonce = $5, api_key_tag = $6, api_key_hint = $7, updated_at = $8
     WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`,
    [a.id, a.provider, a.baseUrl, a.sealed.ciphertext, a.sealed.nonce, a.sealed.tag, a.apiKeyHint, isoOf(nowMs)],
  );
  return toAccount(rows[0] as AccountRow);
}

/** One account, or null. */
export async function findProviderAccount(q: Queryable, id: string): Promise<ProviderAccountRecord | null> {
  const rows = await q.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM provider_accounts WHERE id = $1`, [id]);
  return rows[0] ? toAccount(rows[0]) : null;
}

/** The account of an organization with this name, locked for update, or null. */
export async function findProviderAccountByNameForUpdate(q: Queryable, organizationId: string, name: string): Promise<ProviderAccountRecord | null> {
  const rows = await q.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM provider_accounts WHERE organization_id = $1 AND name = $2 FOR UPDATE`, [organizationId, name]);
  return rows[0] ? toAccount(rows[0]) : null;
}

/** Accounts of an organization ordered by name. */
export async function listProviderAccounts(q: Queryable, organizationId: string): Promise<ProviderAccountRecord[]> {
  const rows = await q.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM provider_accounts WHERE organization_id = $1 ORDER BY name`, [organizationId]);
  return rows.map(toAccount);
}

/** Every account with its sealed credential (the snapshot builder decrypts them). */
export async function listSealedProviderAccounts(q: Queryable): Promise<Array<ProviderAccountRecord & { sealed: SealedSecret }>> {
  const rows = await q.query<AccountRow & { api_key_ciphertext: Uint8Array; api_key_nonce: Uint8Array; api_key_tag: Uint8Array }>(
    `SELECT ${ACCOUNT_COLUMNS}, api_key_ciphertext, api_key_nonce, api_key_tag FROM provider_accounts ORDER BY id`,
  );
  return rows.map((r) => ({
    ...toAccount(r),
    sealed: { ciphertext: Buffer.from(r.api_key_ciphertext), nonce: Buffer.from(r.api_key_nonce), tag: Buffer.from(r.api_key_tag) },
  }));
}

const MODEL_COLUMNS =
  "id, organization_id, provider_account_id, name, upstream_model, input_price_micros, output_price_micros, cached_input_price_micros, max_output_tokens, weight, priority, created_at, updated_at" +
  ", image_input_tokens, max_input_tokens_per_attachment, cache_write_input_price_micros, audio_input_price_micros, audio_output_price_micros";
const toModel = (r: ModelRow): ModelRecord => ({
  id: r.id,
  organizationId: r.organization_id,
  providerAccountId: r.provider_account_id,
  name: r.name,
  upstreamModel: r.upstream_model,
  inputPricePerMillion: toBigIntOrNull(r.input_price_micros),
  outputPricePerMillion: toBigIntOrNull(r.output_price_micros),
  cachedInputPricePerMillion: toBigIntOrNull(r.cached_input_price_micros),
  maxOutputTokens: Number(r.max_output_tokens),
  cacheWriteInputPricePerMillion: toBigIntOrNull(r.cache_write_input_price_micros),
  audioInputPricePerMillion: toBigIntOrNull(r.audio_input_price_micros),
  audioOutputPricePerMillion: toBigIntOrNull(r.audio_output_price_micros),
  weight: Number(r.weight),
  priority: Number(r.priority),
  createdAt: ms(r.created_at),
  updatedAt: ms(r.updated_at),
  imageInputTokens: r.image_input_tokens === null ? null : Number(r.image_input_tokens),
  maxInputTokensPerAttachment: r.max_input_tokens_per_attachment === null ? null : Number(r.max_input_tokens_per_attachment),
});

/** Fields written for a model. */
export interface ModelWrite {
  id: string;
  organizationId: string;
  providerAccountId: string;
  name: string;
  upstreamModel: string;
  inputPricePerMillion: bigint | null;
  outputPricePerMillion: bigint | null;
  cachedInputPricePerMillion: bigint | null;
  maxOutputTokens: number;
  /** Route-group share within its priority (default 1) and order (lower first; default 0). */
  weight?: number;
  priority?: number;
  /** Input bounds (null = the provider's default per image / not set per unsizable part). */
  imageInputTokens?: number | null;
  maxInputTokensPerAttachment?: number | null;
  /** Cache-write price; null or absent = the provider's default. */
  cacheWriteInputPricePerMillion?: bigint | null;
  /** Audio token prices; null or absent = no audio. */
  audioInputPricePerMillion?: bigint | null;
  audioOutputPricePerMillion?: bigint | null;
}

const modelParams = (m: ModelWrite, nowMs: number): unknown[] => [
  m.id,
  m.organizationId,
  m.providerAccountId,
  m.name,
  m.upstreamModel,
  m.inputPricePerMillion?.toString() ?? null,
  m.outputPricePerMillion?.toString() ?? null,
  m.cachedInputPricePerMillion?.toString() ?? null,
  m.maxOutputTokens,
  isoOf(nowMs),
  m.weight ?? 1,
  m.priority ?? 0,
  m.imageInputTokens ?? null,
  m.maxInputTokensPerAttachment ?? null,
  m.cacheWriteInputPricePerMillion?.toString() ?? null,
  m.audioInputPricePerMillion?.toString() ?? null,
  m.audioOutputPricePerMillion?.toString() ?? null,
];
const MODEL_INSERT = `INSERT INTO models (id, organization_id, provider_account_id, name, upstream_model, input_price_micros, output_price_micros, cached_input_price_micros, max_output_tokens, created_at, updated_at, weight, priority,
    image_input_tokens, max_input_tokens_per_attachment, cache_write_input_price_micros, audio_input_price_micros, audio_output_price_micros)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14, $15, $16, $17)`;

/** Inserts a model (unique name per provider account). */
export async function insertModel(q: Queryable, m: ModelWrite, nowMs: number): Promise<ModelRecord> {
  const rows = await q.query<ModelRow>(`${MODEL_INSERT} RETURNING ${MODEL_COLUMNS}`, modelParams(m, nowMs));
  return toModel(rows[0] as ModelRow);
}

/** Inserts or updates (by provider account + name) a model. */
export async function upsertModelByName(q: Queryable, m: ModelWrite, nowMs: number): Promise<ModelRecord> {
  const rows = await q.query<ModelRow>(
    `${MODEL_INSERT} ON CONFLICT (provider_account_id, name) DO UPDATE SET upstream_model = EXCLUDED.upstream_model,
       input_price_micros = EXCLUDED.input_price_micros, output_price_micros = EXCLUDED.output_price_micros,
       cached_input_price_micros = EXCLUDED.cached_input_price_micros, max_output_tokens = EXCLUDED.max_output_tokens,
       weight = EXCLUDED.weight, priority = EXCLUDED.priority, updated_at = EXCLUDED.updated_at,
       image_input_tokens = EXCLUDED.image_input_tokens, max_input_tokens_per_attachment = EXCLUDED.max_input_tokens_per_attachment,
       cache_write_input_price_micros = EXCLUDED.cache_write_input_price_micros,
       audio_input_price_micros = EXCLUDED.audio_input_price_micros, audio_output_price_micros = EXCLUDED.audio_output_price_micros
     RETURNING ${MODEL_COLUMNS}`,
    modelParams(m, nowMs),
  );
  return toModel(rows[0] as ModelRow);
}

/** A model, locked for update; null when missing. */
export async function findModelForUpdate(q: Queryable, id: string): Promise<ModelRecord | null> {
  const rows = await q.query<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM models WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0] ? toModel(rows[0]) : null;
}

/** Rewrites every field of an existing model but its id, organization, account and name. */
export async function updateModel(q: Queryable, m: ModelWrite, nowMs: number): Promise<ModelRecord> {
  const rows = await q.query<ModelRow>(
    `UPDATE models SET upstream_model = $5, input_price_micros = $6, output_price_micros = $7, cached_input_price_micros = $8,
       max_output_tokens = $9, updated_at = $10, weight = $11, priority = $12, image_input_tokens = $13, max_input_tokens_per_attachment = $14,
       cache_write_input_price_micros = $15, audio_input_price_micros = $16, audio_output_price_micros = $17
     WHERE id = $1 AND organization_id = $2 AND provider_account_id = $3 AND name = $4 RETURNING ${MODEL_COLUMNS}`,
    modelParams(m, nowMs),
  );
  return toModel(rows[0] as ModelRow);
}

/** Models of an organization (all when null) ordered by name. */
export async function listModels(q: Queryable, organizationId: string | null): Promise<ModelRecord[]> {
  const rows =
    organizationId === null
      ? await q.query<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM models ORDER BY id`)
      : await q.query<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM models WHERE organization_id = $1 ORDER BY name, id`, [organizationId]);
  return rows.map(toModel);
}

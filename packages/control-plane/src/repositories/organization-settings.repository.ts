/** SQL of an organization's settings: name, fallback prices and webhook (its secret sealed, never read back by the API). */
import { isoOf, toBigIntOrNull, type Queryable } from "../db/database.js";
import type { SealedSecret } from "../security/crypto.js";

/** An organization's settings as stored. */
export interface OrganizationSettingsRecord {
  readonly id: string;
  readonly name: string;
  /** Micro-dollars per million tokens; null = not set. */
  readonly fallbackInputPerMillion: bigint | null;
  readonly fallbackOutputPerMillion: bigint | null;
  readonly webhookUrl: string | null;
  /** The sealed webhook secret; null when none. */
  readonly webhookSecret: SealedSecret | null;
}

interface Row {
  id: string;
  name: string;
  fi: string | null;
  fo: string | null;
  webhook_url: string | null;
  wc: Uint8Array | null;
  wn: Uint8Array | null;
  wt: Uint8Array | null;
}

const toRecord = (r: Row): OrganizationSettingsRecord => ({
  id: r.id,
  name: r.name,
  fallbackInputPerMillion: toBigIntOrNull(r.fi),
  fallbackOutputPerMillion: toBigIntOrNull(r.fo),
  webhookUrl: r.webhook_url,
  webhookSecret: r.wc && r.wn && r.wt ? { ciphertext: Buffer.from(r.wc), nonce: Buffer.from(r.wn), tag: Buffer.from(r.wt) } : null,
});

const COLUMNS = `id, name, fallback_input_price_micros AS fi, fallback_output_price_micros AS fo, webhook_url,
  webhook_secret_ciphertext AS wc, webhook_secret_nonce AS wn, webhook_secret_tag AS wt`;

/** One organization's settings, or null; `forUpdate` locks the row. */
export async function findOrganizationSettings(q: Queryable, id: string, forUpdate = false): Promise<OrganizationSettingsRecord | null> {
  const rows = await q.query<Row>(`SELECT ${COLUMNS} FROM organizations WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** Writes every setting of an organization (the caller merged unchanged fields in). */
export async function writeOrganizationSettings(
  q: Queryable,
  s: Omit<OrganizationSettingsRecord, "webhookSecret"> & { readonly webhookSecret: SealedSecret | null },
  nowMs: number,
): Promise<OrganizationSettingsRecord> {
  const rows = await q.query<Row>(
    `UPDATE organizations SET name = $2, fallback_input_price_micros = $3, fallback_output_price_micros = $4, webhook_url = $5,
       webhook_secret_ciphertext = $6, webhook_secret_nonce = $7, webhook_secret_tag = $8, updated_at = $9
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      s.id,
      s.name,
      s.fallbackInputPerMillion?.toString() ?? null,
      s.fallbackOutputPerMillion?.toString() ?? null,
      s.webhookUrl,
      s.webhookSecret?.ciphertext ?? null,
      s.webhookSecret?.nonce ?? null,
      s.webhookSecret?.tag ?? null,
      isoOf(nowMs),
    ],
  );
  return toRecord(rows[0] as Row);
}

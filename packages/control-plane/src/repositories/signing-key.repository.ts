/** SQL of `signing_keys`: the Ed25519 keys JWT virtual keys are signed with (private key sealed). */
import { isoOf, toMsOrNull, type Queryable } from "../db/database.js";
import type { SealedSecret } from "../security/crypto.js";

/** A signing key without its private material. */
export interface SigningKeyRecord {
  /** The JWT `kid`. */
  readonly id: string;
  readonly algorithm: "EdDSA";
  /** The public key as a JWK JSON string. */
  readonly publicJwk: string;
  /** True for the one key that signs new tokens. */
  readonly active: boolean;
  readonly createdAt: number;
  /** Epoch ms after which tokens signed with it are refused; null = no end (the active key). */
  readonly notAfter: number | null;
}

/** Fields written for a new (active) signing key. */
export interface SigningKeyInsert {
  readonly id: string;
  readonly publicJwk: string;
  /** The private JWK, sealed with the master key. */
  readonly sealed: SealedSecret;
}

interface Row {
  id: string;
  algorithm: "EdDSA";
  public_jwk: string;
  active: boolean;
  created_at: Date;
  not_after: Date | null;
}
interface SealedRow extends Row {
  private_key_ciphertext: Uint8Array;
  private_key_nonce: Uint8Array;
  private_key_tag: Uint8Array;
}

const COLUMNS = "id, algorithm, public_jwk, active, created_at, not_after";
const toRecord = (r: Row): SigningKeyRecord => ({
  id: r.id,
  algorithm: r.algorithm,
  publicJwk: r.public_jwk,
  active: r.active,
  createdAt: toMsOrNull(r.created_at) ?? 0,
  notAfter: toMsOrNull(r.not_after),
});

/**
 * Inserts an active key unless one is already active (the partial unique index decides between
 * concurrent starts). Resolves to the inserted key, or null when another key was active.
 */
export async function insertActiveSigningKey(q: Queryable, k: SigningKeyInsert, nowMs: number): Promise<SigningKeyRecord | null> {
  const rows = await q.query<Row>(
    `INSERT INTO signing_keys (id, algorithm, public_jwk, private_key_ciphertext, private_key_nonce, private_key_tag, active, created_at, not_after)
     VALUES ($1, 'EdDSA', $2, $3, $4, $5, true, $6, NULL) ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
    [k.id, k.publicJwk, k.sealed.ciphertext, k.sealed.nonce, k.sealed.tag, isoOf(nowMs)],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/** The active key with its sealed private JWK, or null; `forUpdate` locks the row. */
export async function findActiveSigningKey(q: Queryable, forUpdate = false): Promise<(SigningKeyRecord & { sealed: SealedSecret }) | null> {
  const rows = await q.query<SealedRow>(`SELECT ${COLUMNS}, private_key_ciphertext, private_key_nonce, private_key_tag FROM signing_keys WHERE active${forUpdate ? " FOR UPDATE" : ""}`);
  const r = rows[0];
  if (!r) return null;
  return {
    ...toRecord(r),
    sealed: { ciphertext: Buffer.from(r.private_key_ciphertext), nonce: Buffer.from(r.private_key_nonce), tag: Buffer.from(r.private_key_tag) },
  };
}

/** Takes the active key out of signing: it verifies until `notAfterMs`. */
export async function retireSigningKey(q: Queryable, id: string, notAfterMs: number): Promise<SigningKeyRecord> {
  const rows = await q.query<Row>(`UPDATE signing_keys SET active = false, not_after = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [id, isoOf(notAfterMs)]);
  return toRecord(rows[0] as Row);
}

/** Every key, oldest first (public parts only). */
export async function listSigningKeys(q: Queryable): Promise<SigningKeyRecord[]> {
  const rows = await q.query<Row>(`SELECT ${COLUMNS} FROM signing_keys ORDER BY created_at, id`);
  return rows.map(toRecord);
}

/** Keys that still verify at `nowMs` (active, or retired later than now), public parts only: what the snapshot carries. */
export async function listPublishedSigningKeys(q: Queryable, nowMs: number): Promise<SigningKeyRecord[]> {
  const rows = await q.query<Row>(`SELECT ${COLUMNS} FROM signing_keys WHERE not_after IS NULL OR not_after > $1 ORDER BY created_at, id`, [isoOf(nowMs)]);
  return rows.map(toRecord);
}

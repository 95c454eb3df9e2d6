/**
 * First-start secrets: the master key (embedded mode), the HMAC pepper and the admin token.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Database } from "../db/database.js";
import { getSetting, insertSettingIfAbsent, putSetting } from "../repositories/settings.repository.js";
import { generateToken, hashToken } from "./crypto.js";

/** Settings keys. */
export const SETTING_HMAC_PEPPER = "hmac_pepper";
/** Settings key of the SHA-256 of the platform-admin token. */
export const SETTING_ADMIN_TOKEN_HASH = "admin_token_hash";

/** The configured master key, or the one in `${dataDir}/master.key` (generated 0600 on first start). */
export function loadOrCreateMasterKey(configured: Buffer | null, dataDir: string): Buffer {
  if (configured) return configured;
  const path = join(dataDir, "master.key");
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, "utf8").trim(), "base64");
    if (key.length !== 32) throw new Error(`${path} does not hold a base64 32-byte key`);
    return key;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  return key;
}

/** The HMAC pepper (hex), generated once into settings. */
export async function ensurePepper(db: Database, nowMs: number): Promise<string> {
  return insertSettingIfAbsent(db, SETTING_HMAC_PEPPER, randomBytes(32).toString("hex"), nowMs);
}

/**
 * Makes sure an admin token hash is stored. With a configured token its hash replaces the stored
 * one; otherwise a token is generated on first start. Resolves to the token only when generated now.
 */
export async function ensureAdminToken(db: Database, configured: string | null, nowMs: number): Promise<string | null> {
  if (configured !== null) {
    await putSetting(db, SETTING_ADMIN_TOKEN_HASH, hashToken(configured), nowMs);
    return null;
  }
  if ((await getSetting(db, SETTING_ADMIN_TOKEN_HASH)) !== null) return null;
  const token = generateToken("tg_admin_");
  const stored = await insertSettingIfAbsent(db, SETTING_ADMIN_TOKEN_HASH, hashToken(token), nowMs);
  return stored === hashToken(token) ? token : null;
}

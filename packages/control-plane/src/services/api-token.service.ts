/**
 * Admin-API tokens: issued to a user (`tg_api_` + 43 base64url chars, shown once), stored as an
 * HMAC-SHA256 under the pepper, and resolved on every request to that user's current rights: a
 * revoked token, or a token of a deactivated or removed user, stops working at once.
 */
import type { Database } from "../db/database.js";
import { badInput, notFound } from "../errors.js";
import * as repo from "../repositories/api-token.repository.js";
import type { ApiTokenRecord } from "../repositories/api-token.repository.js";
import { findUser } from "../repositories/organization.repository.js";
import { generateToken, hmacSecret } from "../security/crypto.js";
import { assertCanManage, assertCanSee, type Actor } from "./actor.js";
import type { MutationRunner } from "./mutation-runner.js";
import { requireOrganization } from "./organization.service.js";
import { requireName } from "./validate.js";

/** Prefix of every admin-API token. */
export const API_TOKEN_PREFIX = "tg_api_";

/** How many leading characters of a token are kept for display. */
export const API_TOKEN_DISPLAY_LENGTH = 12;

/** `lastUsedAt` is written at most this often per token (ms). */
export const TOKEN_TOUCH_INTERVAL_MS = 60_000;

/** A token with its secret (shown once). */
export interface ApiTokenWithSecret {
  readonly token: ApiTokenRecord;
  readonly secret: string;
}

/** Admin-API token operations and bearer-token resolution. */
export class ApiTokenService {
  constructor(
    private readonly db: Database,
    private readonly runner: MutationRunner,
    private readonly pepper: string,
    private readonly now: () => number,
  ) {}

  /** Issues a token bound to a user of the organization (organization admins only). */
  create(actor: Actor, input: { organizationId: string; userId: string; name: string }): Promise<ApiTokenWithSecret> {
    assertCanManage(actor, input.organizationId);
    const name = requireName("name", input.name);
    return this.runner.run(actor, false, async (m) => {
      await requireOrganization(m.tx, actor, input.organizationId);
      const user = await findUser(m.tx, input.userId);
      if (!user || user.organizationId !== input.organizationId) throw notFound("user", input.userId);
      if (!user.active) throw badInput(`userId: user ${input.userId} is deactivated`);
      const secret = generateToken(API_TOKEN_PREFIX);
      const token = await repo.insertApiToken(
        m.tx,
        {
          id: m.newId("tok"),
          organizationId: input.organizationId,
          userId: user.id,
          name,
          tokenHash: hmacSecret(this.pepper, secret),
          prefix: secret.slice(0, API_TOKEN_DISPLAY_LENGTH),
        },
        m.nowMs,
      );
      await m.audit({ organizationId: token.organizationId, action: "api_token.create", target: token.id, after: { name, userId: user.id, role: user.role, prefix: token.prefix } });
      return { token, secret };
    });
  }

  /** Revokes a token for good (idempotent). */
  revoke(actor: Actor, id: string): Promise<ApiTokenRecord> {
    return this.runner.run(actor, false, async (m) => {
      const before = await repo.findApiToken(m.tx, id, true);
      if (!before) throw notFound("api token", id);
      assertCanManage(actor, before.organizationId, "api token", id);
      const token = await repo.revokeApiTokenRow(m.tx, id, m.nowMs);
      await m.audit({
        organizationId: token.organizationId,
        action: "api_token.revoke",
        target: id,
        before: { revoked: before.revokedAt !== null },
        after: { revoked: true, userId: token.userId },
      });
      return token;
    });
  }

  /** Tokens of an organization, of one user when `userId` is given (organization admins only). */
  async list(actor: Actor, organizationId: string, userId: string | null): Promise<ApiTokenRecord[]> {
    assertCanSee(actor, organizationId);
    return repo.listApiTokens(this.db, organizationId, userId);
  }

  /** The actor a bearer token stands for, or null (unknown, revoked, or its user deactivated). */
  async authenticate(token: string): Promise<Actor | null> {
    if (!token.startsWith(API_TOKEN_PREFIX)) return null;
    const holder = await repo.findTokenHolder(this.db, hmacSecret(this.pepper, token));
    if (holder === null || !holder.active) return null;
    const nowMs = this.now();
    if (holder.lastUsedAt === null || nowMs - holder.lastUsedAt >= TOKEN_TOUCH_INTERVAL_MS) await repo.touchApiToken(this.db, holder.tokenId, nowMs);
    return { kind: "user", userId: holder.userId, organizationId: holder.organizationId, role: holder.role };
  }
}

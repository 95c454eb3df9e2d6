/** Virtual keys: create (secret shown once, stored as HMAC), update, pause/resume/revoke, rotate. */
import { randomBytes } from "node:crypto";
import { generateOpaqueSecret, secretLast4, secretPrefix, type KeyKind } from "@tollgate/policy";
import type { Database } from "../db/database.js";
import { badInput, notFound } from "../errors.js";
import type { KeyFormat, RateLimitRecord, VirtualKeyRecord } from "../records.js";
import { deleteBudget, listBudgetsOf, listRateLimitsOf, replaceRateLimits } from "../repositories/budget.repository.js";
import { findTeam, findUser } from "../repositories/organization.repository.js";
import * as repo from "../repositories/virtual-key.repository.js";
import { hmacSecret } from "../security/crypto.js";
import { assertCanManageKey, memberUserId, type Actor, type KeyOwnership } from "./actor.js";
import { budgetTerms, checkBudgetSpecs, writeBudget, type BudgetSpec } from "./budget.service.js";
import { assertMayCreateKey, assertModelsWithinMemberAccess, scopeKeyFilter } from "./key-rights.js";
import { assertMemberTightens, budgetsLoosening, costCapLoosening, expiryLoosening, modelAccessLoosening, rateLimitsLoosening } from "./member-limits.js";
import type { MutationContext, MutationRunner } from "./mutation-runner.js";
import type { TokenSubject, VirtualKeyTokenSigner } from "./signing-key.service.js";
import { requireOrganization } from "./organization.service.js";
import { requireInt, requireModelPatterns, requireName } from "./validate.js";

/** A rate limit as asked for. */
export interface RateLimitSpec {
  unit: "REQUESTS" | "TOKENS";
  limit: number;
  windowSeconds: number;
}

/** Input of createVirtualKey. */
export interface CreateKeyInput {
  organizationId: string;
  name: string;
  kind: KeyKind;
  teamId?: string | null;
  userId?: string | null;
  allowedModels?: readonly string[] | null;
  deniedModels?: readonly string[] | null;
  budgets?: readonly BudgetSpec[] | null;
  rateLimits?: readonly RateLimitSpec[] | null;
  maxCostPerRequest?: bigint | null;
  expiresAt?: number | null;
  format?: KeyFormat | null;
  metadata?: Record<string, unknown> | null;
}

/** Fields of updateVirtualKey; undefined = unchanged, null = cleared. */
export interface UpdateKeyInput {
  name?: string | null;
  teamId?: string | null;
  allowedModels?: readonly string[] | null;
  deniedModels?: readonly string[] | null;
  budgets?: readonly BudgetSpec[] | null;
  rateLimits?: readonly RateLimitSpec[] | null;
  maxCostPerRequest?: bigint | null;
  expiresAt?: number | null;
  metadata?: Record<string, unknown> | null;
}

/** A key with its new secret (shown once). */
export interface KeyWithSecret {
  readonly key: VirtualKeyRecord;
  readonly secret: string;
}

/** A page of keys. */
export interface KeyPage {
  readonly keys: VirtualKeyRecord[];
  readonly hasNextPage: boolean;
}

const MAX_WINDOW_SECONDS = 31 * 24 * 3600;

function checkRateLimits(v: readonly RateLimitSpec[]): void {
  const seen = new Set<string>();
  for (const r of v) {
    requireInt("rateLimits.limit", r.limit, 1, 2_147_483_647);
    requireInt("rateLimits.windowSeconds", r.windowSeconds, 1, MAX_WINDOW_SECONDS);
    const k = `${r.unit}/${r.windowSeconds}`;
    if (seen.has(k)) throw badInput(`rateLimits: two limits with unit ${r.unit} and windowSeconds ${r.windowSeconds}`);
    seen.add(k);
  }
}

function checkCost(v: bigint | null | undefined): void {
  if (v !== null && v !== undefined && v <= 0n) throw badInput("maxCostPerRequest must be positive");
}

/** Virtual key operations. */
export class VirtualKeyService {
  constructor(
    private readonly db: Database,
    private readonly runner: MutationRunner,
    private readonly pepper: string,
    private readonly now: () => number,
    private readonly signer: VirtualKeyTokenSigner,
  ) {}

  /** A new secret of the key's format and its HMAC: opaque, or a JWT signed with the active signing key. */
  private async newSecret(m: MutationContext, format: KeyFormat, subject: TokenSubject): Promise<{ secret: string; hmac: string }> {
    let secret: string;
    switch (format) {
      case "OPAQUE":
        secret = generateOpaqueSecret(randomBytes(32));
        break;
      case "JWT":
        secret = await this.signer.signVirtualKeyToken(m.tx, subject, m.nowMs);
        break;
    }
    return { secret, hmac: hmacSecret(this.pepper, secret) };
  }

  private async checkOwner(m: MutationContext, organizationId: string, kind: KeyKind, teamId: string | null, userId: string | null): Promise<void> {
    if (kind === "PERSONAL" && userId === null) throw badInput("userId is required for a PERSONAL key");
    if (kind === "SERVICE" && userId !== null) throw badInput("a SERVICE key has no userId (it belongs to a team or the organization)");
    if (userId !== null) {
      const user = await findUser(m.tx, userId);
      if (!user || user.organizationId !== organizationId) throw badInput(`userId: user ${userId} not found in this organization`);
      if (!user.active) throw badInput(`userId: user ${userId} is deactivated`);
    }
    if (teamId !== null) {
      const team = await findTeam(m.tx, teamId);
      if (!team || team.organizationId !== organizationId) throw badInput(`teamId: team ${teamId} not found in this organization`);
    }
  }

  private async writeLimits(m: MutationContext, key: VirtualKeyRecord, budgets: readonly BudgetSpec[] | null | undefined, rateLimits: readonly RateLimitSpec[] | null | undefined): Promise<void> {
    if (budgets !== null && budgets !== undefined) {
      const kept = new Set<string>();
      for (const spec of budgets) kept.add((await writeBudget(m, key.organizationId, "VIRTUAL_KEY", key.id, spec)).id);
      for (const old of await listBudgetsOf(m.tx, "VIRTUAL_KEY", key.id)) if (!kept.has(old.id)) await deleteBudget(m.tx, old.id);
    }
    if (rateLimits !== null && rateLimits !== undefined) {
      await replaceRateLimits(
        m.tx,
        "VIRTUAL_KEY",
        key.id,
        rateLimits.map((r) => ({
          id: m.newId("rl"),
          organizationId: key.organizationId,
          scope: "VIRTUAL_KEY" as const,
          scopeId: key.id,
          unit: r.unit,
          limit: r.limit,
          windowSeconds: r.windowSeconds,
        })),
        m.nowMs,
      );
    }
  }

  /** Creates a key; resolves to it and its secret (never stored in clear). */
  create(actor: Actor, input: CreateKeyInput): Promise<KeyWithSecret> {
    assertMayCreateKey(actor, input);
    const name = requireName("name", input.name);
    const format = input.format ?? "OPAQUE";
    const allowedModels = requireModelPatterns("allowedModels", input.allowedModels ?? []);
    const deniedModels = requireModelPatterns("deniedModels", input.deniedModels ?? []);
    checkBudgetSpecs(input.budgets ?? []);
    checkRateLimits(input.rateLimits ?? []);
    checkCost(input.maxCostPerRequest);
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt !== null && expiresAt <= this.now()) throw badInput("expiresAt must be in the future");
    return this.runner.run(actor, true, async (m) => {
      await requireOrganization(m.tx, actor, input.organizationId);
      const teamId = input.teamId ?? null;
      const userId = input.userId ?? null;
      await this.checkOwner(m, input.organizationId, input.kind, teamId, userId);
      await assertModelsWithinMemberAccess(m.tx, actor, input.organizationId, allowedModels);
      const id = m.newId("vk");
      const { secret, hmac } = await this.newSecret(m, format, { id, organizationId: input.organizationId, expiresAt });
      const key = await repo.insertVirtualKey(
        m.tx,
        {
          id,
          organizationId: input.organizationId,
          name,
          kind: input.kind,
          teamId,
          userId,
          format,
          prefix: secretPrefix(secret),
          last4: secretLast4(secret),
          allowedModels,
          deniedModels,
          maxCostPerRequest: input.maxCostPerRequest ?? null,
          expiresAt,
          metadata: input.metadata ?? {},
        },
        m.nowMs,
      );
      await repo.insertKeySecret(m.tx, key.id, hmac, null, m.nowMs);
      await this.writeLimits(m, key, input.budgets ?? [], input.rateLimits ?? []);
      await m.audit({ organizationId: key.organizationId, action: "virtual_key.create", target: key.id, after: { name, kind: key.kind, teamId, userId, prefix: key.prefix } });
      return { key, secret };
    });
  }

  /** Updates the given fields of a key (budgets/rateLimits, when given, replace the key's own). */
  update(actor: Actor, id: string, input: UpdateKeyInput): Promise<VirtualKeyRecord> {
    const allowed = input.allowedModels === undefined || input.allowedModels === null ? undefined : requireModelPatterns("allowedModels", input.allowedModels);
    const denied = input.deniedModels === undefined || input.deniedModels === null ? undefined : requireModelPatterns("deniedModels", input.deniedModels);
    if (input.budgets) checkBudgetSpecs(input.budgets);
    if (input.rateLimits) checkRateLimits(input.rateLimits);
    checkCost(input.maxCostPerRequest);
    return this.runner.run(actor, true, async (m) => {
      const before = await this.loadForUpdate(m, actor, id);
      await this.assertLimitsOnlyTighten(m, actor, before, input, { allow: allowed ?? before.allowedModels, deny: denied ?? before.deniedModels });
      const teamId = input.teamId === undefined ? before.teamId : input.teamId;
      if (teamId !== before.teamId) assertMayCreateKey(actor, { ...before, teamId });
      if (allowed !== undefined) await assertModelsWithinMemberAccess(m.tx, actor, before.organizationId, allowed);
      if (teamId !== before.teamId) await this.checkOwner(m, before.organizationId, before.kind, teamId, before.userId);
      const key = await repo.updateVirtualKeyRow(
        m.tx,
        id,
        {
          name: input.name === undefined || input.name === null ? before.name : requireName("name", input.name),
          teamId,
          allowedModels: allowed ?? before.allowedModels,
          deniedModels: denied ?? before.deniedModels,
          maxCostPerRequest: input.maxCostPerRequest === undefined ? before.maxCostPerRequest : input.maxCostPerRequest,
          expiresAt: input.expiresAt === undefined ? before.expiresAt : input.expiresAt,
          metadata: input.metadata === undefined || input.metadata === null ? before.metadata : input.metadata,
        },
        m.nowMs,
      );
      await this.writeLimits(m, key, input.budgets, input.rateLimits);
      await m.audit({ organizationId: key.organizationId, action: "virtual_key.update", target: id, before: { name: before.name }, after: { name: key.name } });
      return key;
    });
  }

  /** The member rule (`member-limits.ts`) over every limit an update can change. */
  private async assertLimitsOnlyTighten(
    m: MutationContext,
    actor: Actor,
    before: VirtualKeyRecord,
    input: UpdateKeyInput,
    access: { allow: readonly string[]; deny: readonly string[] },
  ): Promise<void> {
    assertMemberTightens(actor, [
      modelAccessLoosening({ allow: before.allowedModels, deny: before.deniedModels }, access),
      input.maxCostPerRequest === undefined ? null : costCapLoosening(before.maxCostPerRequest, input.maxCostPerRequest),
      input.expiresAt === undefined ? null : expiryLoosening(before.expiresAt, input.expiresAt),
      input.budgets ? budgetsLoosening(await listBudgetsOf(m.tx, "VIRTUAL_KEY", before.id), input.budgets.map(budgetTerms)) : null,
      input.rateLimits ? rateLimitsLoosening(await listRateLimitsOf(m.tx, "VIRTUAL_KEY", before.id), input.rateLimits) : null,
    ]);
  }

  private async loadForUpdate(m: MutationContext, actor: Actor, id: string): Promise<VirtualKeyRecord> {
    const key = await repo.findVirtualKey(m.tx, id, true);
    if (!key) throw notFound("virtual key", id);
    assertCanManageKey(actor, key);
    return key;
  }

  private setStatus(actor: Actor, id: string, action: "pause" | "resume" | "revoke"): Promise<VirtualKeyRecord> {
    return this.runner.run(actor, true, async (m) => {
      const before = await this.loadForUpdate(m, actor, id);
      if (before.status === "REVOKED" && action !== "revoke") throw badInput(`virtual key ${id} is revoked`);
      const next = action === "pause" ? "PAUSED" : action === "resume" ? "ACTIVE" : "REVOKED";
      if (action === "resume" && before.status === "PAUSED") assertMemberTightens(actor, [(await repo.isPausedByAdmin(m.tx, id)) ? "resumes a key an admin paused" : null]);
      const key = before.status === next ? before : await repo.setVirtualKeyStatus(m.tx, id, next, m.nowMs, action === "pause" && memberUserId(actor) === null);
      if (action === "revoke") await repo.endKeySecrets(m.tx, id, m.nowMs);
      await m.audit({ organizationId: key.organizationId, action: `virtual_key.${action}`, target: id, before: { status: before.status }, after: { status: key.status } });
      return key;
    });
  }

  /** Pauses a key (refused with key_paused until resumed). */
  pause(actor: Actor, id: string): Promise<VirtualKeyRecord> {
    return this.setStatus(actor, id, "pause");
  }

  /** Resumes a paused key. */
  resume(actor: Actor, id: string): Promise<VirtualKeyRecord> {
    return this.setStatus(actor, id, "resume");
  }

  /** Revokes a key for good (its secrets end now). */
  revoke(actor: Actor, id: string): Promise<VirtualKeyRecord> {
    return this.setStatus(actor, id, "revoke");
  }

  /** Gives a key a new secret; the old ones keep working for `graceSeconds`. */
  rotate(actor: Actor, id: string, graceSeconds: number): Promise<KeyWithSecret> {
    requireInt("gracePeriodSeconds", graceSeconds, 0, 30 * 24 * 3600);
    return this.runner.run(actor, true, async (m) => {
      const before = await this.loadForUpdate(m, actor, id);
      if (before.status === "REVOKED") throw badInput(`virtual key ${id} is revoked`);
      await repo.endKeySecrets(m.tx, id, m.nowMs + graceSeconds * 1000);
      const { secret, hmac } = await this.newSecret(m, before.format, before);
      await repo.insertKeySecret(m.tx, id, hmac, null, m.nowMs);
      const key = await repo.setVirtualKeyDisplay(m.tx, id, secretPrefix(secret), secretLast4(secret), m.nowMs);
      await m.audit({
        organizationId: key.organizationId,
        action: "virtual_key.rotate",
        target: id,
        before: { prefix: before.prefix },
        after: { prefix: key.prefix, gracePeriodSeconds: graceSeconds },
      });
      return { key, secret };
    });
  }

  /** One key the actor may see. */
  async get(actor: Actor, id: string): Promise<VirtualKeyRecord> {
    const key = await repo.findVirtualKey(this.db, id);
    if (!key) throw notFound("virtual key", id);
    assertCanManageKey(actor, key);
    return key;
  }

  /** A page of an organization's keys after the key `afterId`. */
  async list(actor: Actor, organizationId: string, filter: repo.KeyFilter, first: number, afterId: string | null): Promise<KeyPage> {
    const scoped = scopeKeyFilter(actor, organizationId, filter);
    requireInt("first", first, 1, 500);
    const rows = await repo.listVirtualKeys(this.db, organizationId, scoped, afterId, first + 1, this.now());
    return { keys: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  /** The rate limits of a key the actor may see. */
  async rateLimitsOf(actor: Actor, key: KeyOwnership): Promise<RateLimitRecord[]> {
    assertCanManageKey(actor, key);
    return listRateLimitsOf(this.db, "VIRTUAL_KEY", key.id);
  }
}

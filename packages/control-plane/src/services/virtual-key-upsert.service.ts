/**
 * upsertVirtualKey: the infrastructure-as-code twin of createVirtualKey, keyed by (organizationId,
 * name) among the organization's keys that are not revoked.
 *
 * - No such key: created exactly as createVirtualKey does; the secret is returned (once).
 * - One such key: updated as updateVirtualKey does (fields left out are unchanged, null clears,
 *   budgets and rate limits when given replace the key's own); no secret is returned. Its kind,
 *   owner (userId) and format cannot change: BAD_USER_INPUT (revoke it and upsert again).
 * - Several such keys (createVirtualKey allows duplicate names): CONFLICT.
 * Rights are those of create and update (a MEMBER upserts only their own personal keys).
 * Known limit: two concurrent upserts of a new name may both create a key; the next upsert of that
 * name then answers CONFLICT.
 */
import type { Database } from "../db/database.js";
import { badInput, conflict } from "../errors.js";
import type { VirtualKeyRecord } from "../records.js";
import { findLiveKeyIdsByName } from "../repositories/membership.repository.js";
import { findVirtualKey } from "../repositories/virtual-key.repository.js";
import { assertCanManageKey, type Actor } from "./actor.js";
import { assertMayCreateKey } from "./key-rights.js";
import { requireName } from "./validate.js";
import type { CreateKeyInput, VirtualKeyService } from "./virtual-key.service.js";

/** The answer of upsertVirtualKey: the secret only when the key was created now. */
export interface UpsertedKey {
  readonly key: VirtualKeyRecord;
  readonly secret: string | null;
  readonly created: boolean;
}

/** upsertVirtualKey on top of the key service. */
export class VirtualKeyUpsertService {
  constructor(
    private readonly db: Database,
    private readonly keys: VirtualKeyService,
  ) {}

  /** Creates or updates the organization's live key with this name. */
  async upsert(actor: Actor, input: CreateKeyInput): Promise<UpsertedKey> {
    assertMayCreateKey(actor, input);
    const name = requireName("name", input.name);
    const ids = await findLiveKeyIdsByName(this.db, input.organizationId, name);
    if (ids.length > 1) throw conflict(`several live virtual keys are named "${name}" in this organization; upsertVirtualKey needs a unique name`);
    const existingId = ids[0];
    if (existingId === undefined) {
      const { key, secret } = await this.keys.create(actor, { ...input, name });
      return { key, secret, created: true };
    }
    const existing = await findVirtualKey(this.db, existingId);
    if (existing) {
      assertCanManageKey(actor, existing);
      const changes: string[] = [];
      if (existing.kind !== input.kind) changes.push(`kind (${existing.kind})`);
      if (existing.userId !== (input.userId ?? null)) changes.push("userId");
      if (existing.format !== (input.format ?? "OPAQUE")) changes.push(`format (${existing.format})`);
      if (changes.length > 0) throw badInput(`upsertVirtualKey cannot change the ${changes.join(", ")} of virtual key "${name}"; revoke it and upsert again`);
    }
    const key = await this.keys.update(actor, existingId, {
      teamId: input.teamId,
      allowedModels: input.allowedModels,
      deniedModels: input.deniedModels,
      budgets: input.budgets,
      rateLimits: input.rateLimits,
      maxCostPerRequest: input.maxCostPerRequest,
      expiresAt: input.expiresAt,
      metadata: input.metadata,
    });
    return { key, secret: null, created: false };
  }
}

/** Provider accounts (credential write-only, sealed at rest) and models with their prices. */
import type { ProviderKind } from "@tollgate/policy";
import type { Database } from "../db/database.js";
import { badInput, notFound } from "../errors.js";
import type { ModelRecord, ProviderAccountRecord } from "../records.js";
import * as repo from "../repositories/provider.repository.js";
import { apiKeyHint, providerKeyAssociatedData, sealSecret } from "../security/crypto.js";
import { assertCanManage, assertCanSee, type Actor } from "./actor.js";
import type { MutationRunner } from "./mutation-runner.js";
import { requireOrganization, withConflict } from "./organization.service.js";
import { requireBaseUrl, requireInt, requireModelName, requireName } from "./validate.js";

/** Default base URL per provider, as that provider's own SDK writes it; null = must be given. */
export function defaultBaseUrl(provider: ProviderKind): string | null {
  switch (provider) {
    case "OPENAI":
      return "https://api.openai.com/v1";
    case "ANTHROPIC":
      return "https://api.anthropic.com";
    case "GOOGLE":
      return "https://generativelanguage.googleapis.com";
    case "AZURE_OPENAI":
    case "OPENAI_COMPATIBLE":
      return null;
  }
}

/** Input of createProviderAccount/upsertProviderAccount. */
export interface ProviderAccountInput {
  organizationId: string;
  name: string;
  provider: ProviderKind;
  baseUrl?: string | null;
  apiKey: string;
}

/** Input of createModel/upsertModel (prices in micro-dollars per million tokens). */
export interface ModelInput {
  providerAccountId: string;
  name: string;
  upstreamModel?: string | null;
  inputPricePerMillion?: bigint | null;
  outputPricePerMillion?: bigint | null;
  cachedInputPricePerMillion?: bigint | null;
  maxOutputTokens?: number | null;
  /** Route-group share within its priority (default 1; 0 = standby). */
  weight?: number | null;
  /** Route-group order, lower first (default 0). */
  priority?: number | null;
  /** Cache-write price; unset = 1.25x input for ANTHROPIC accounts (1-hour writes 2x), the input price elsewhere. */
  cacheWriteInputPricePerMillion?: bigint | null;
  /** Audio token prices (both or neither); unset = the model serves no audio (such requests are refused). */
  audioInputPricePerMillion?: bigint | null;
  audioOutputPricePerMillion?: bigint | null;
  /** Tokens one image may count (default null: the provider's default). */
  imageInputTokens?: number | null;
  /** Tokens one part the gateway cannot size may count (default null: not set, refused under hard limits). */
  maxInputTokensPerAttachment?: number | null;
}

/** Input of updateModel: the model's id and the fields to change (absent = unchanged, null = back to the default). */
export type ModelUpdateInput = { id: string } & Omit<ModelInput, "providerAccountId" | "name">;

/** The largest input bound a model may set per image or per part. */
const MAX_INPUT_BOUND = 10_000_000;

/** Validates a model's fields (defaults applied) into the row to write, apart from its identity. */
function modelFieldsOf(input: ModelInput): Omit<repo.ModelWrite, "id" | "organizationId" | "providerAccountId"> {
  const name = requireModelName("name", input.name);
  const upstreamModel = requireName("upstreamModel", input.upstreamModel ?? name);
  const inputPrice = input.inputPricePerMillion ?? null;
  const outputPrice = input.outputPricePerMillion ?? null;
  const cachedPrice = input.cachedInputPricePerMillion ?? null;
  if ((inputPrice === null) !== (outputPrice === null)) throw badInput("inputPricePerMillion and outputPricePerMillion must be given together (or neither: unpriced)");
  if (cachedPrice !== null && inputPrice === null) throw badInput("cachedInputPricePerMillion needs inputPricePerMillion");
  const cacheWritePrice = input.cacheWriteInputPricePerMillion ?? null;
  if (cacheWritePrice !== null && inputPrice === null) throw badInput("cacheWriteInputPricePerMillion needs inputPricePerMillion");
  const audioIn = input.audioInputPricePerMillion ?? null;
  const audioOut = input.audioOutputPricePerMillion ?? null;
  if ((audioIn === null) !== (audioOut === null)) throw badInput("audioInputPricePerMillion and audioOutputPricePerMillion must be given together (or neither: no audio)");
  if (audioIn !== null && inputPrice === null) throw badInput("audio prices need inputPricePerMillion");
  const imageInputTokens = input.imageInputTokens == null ? null : requireInt("imageInputTokens", input.imageInputTokens, 1, MAX_INPUT_BOUND);
  const perAttachment = input.maxInputTokensPerAttachment;
  const maxInputTokensPerAttachment = perAttachment == null ? null : requireInt("maxInputTokensPerAttachment", perAttachment, 1, MAX_INPUT_BOUND);
  return {
    name,
    upstreamModel,
    inputPricePerMillion: inputPrice,
    outputPricePerMillion: outputPrice,
    cachedInputPricePerMillion: cachedPrice,
    maxOutputTokens: requireInt("maxOutputTokens", input.maxOutputTokens ?? 4096, 1, 10_000_000),
    weight: requireInt("weight", input.weight ?? 1, 0, 1_000_000),
    priority: requireInt("priority", input.priority ?? 0, -1_000_000, 1_000_000),
    cacheWriteInputPricePerMillion: cacheWritePrice,
    audioInputPricePerMillion: audioIn,
    audioOutputPricePerMillion: audioOut,
    imageInputTokens,
    maxInputTokensPerAttachment,
  };
}

/** What the audit row shows of a model. */
function auditOf(m: ModelRecord): Record<string, unknown> {
  const price = (v: bigint | null): string | null => v?.toString() ?? null;
  return {
    name: m.name,
    upstreamModel: m.upstreamModel,
    inputPricePerMillion: price(m.inputPricePerMillion),
    outputPricePerMillion: price(m.outputPricePerMillion),
    cachedInputPricePerMillion: price(m.cachedInputPricePerMillion),
    cacheWriteInputPricePerMillion: price(m.cacheWriteInputPricePerMillion),
    audioInputPricePerMillion: price(m.audioInputPricePerMillion),
    audioOutputPricePerMillion: price(m.audioOutputPricePerMillion),
    maxOutputTokens: m.maxOutputTokens,
    weight: m.weight,
    priority: m.priority,
    imageInputTokens: m.imageInputTokens,
    maxInputTokensPerAttachment: m.maxInputTokensPerAttachment,
  };
}

/** Provider account and model operations. */
export class ProviderService {
  /** `allowLinkLocalOutbound`: base URLs may target link-local / cloud-metadata addresses (operator setting). */
  constructor(
    private readonly db: Database,
    private readonly runner: MutationRunner,
    private readonly masterKey: Buffer,
    private readonly allowLinkLocalOutbound = false,
  ) {}

  /** Creates an account; CONFLICT when the name exists in the organization. */
  createProviderAccount(actor: Actor, input: ProviderAccountInput): Promise<ProviderAccountRecord> {
    return this.writeAccount(actor, input, false);
  }

  /** Creates or updates (by name) an account; the credential is replaced. */
  upsertProviderAccount(actor: Actor, input: ProviderAccountInput): Promise<ProviderAccountRecord> {
    return this.writeAccount(actor, input, true);
  }

  private writeAccount(actor: Actor, input: ProviderAccountInput, upsert: boolean): Promise<ProviderAccountRecord> {
    assertCanManage(actor, input.organizationId);
    const name = requireName("name", input.name);
    const given = input.baseUrl ?? defaultBaseUrl(input.provider);
    if (given === null) throw badInput(`baseUrl is required for provider ${input.provider}`);
    const baseUrl = requireBaseUrl(given, this.allowLinkLocalOutbound);
    const apiKey = input.apiKey.trim();
    if (apiKey.length === 0) throw badInput("apiKey must not be empty");
    return this.runner.run(actor, true, async (m) => {
      await requireOrganization(m.tx, actor, input.organizationId);
      const existing = upsert ? await repo.findProviderAccountByNameForUpdate(m.tx, input.organizationId, name) : null;
      const id = existing?.id ?? m.newId("pa");
      const sealed = sealSecret(this.masterKey, apiKey, providerKeyAssociatedData(input.organizationId, id));
      const row = { id, organizationId: input.organizationId, name, provider: input.provider, baseUrl, apiKeyHint: apiKeyHint(apiKey), sealed };
      const account = existing
        ? await repo.updateProviderAccount(m.tx, row, m.nowMs)
        : await withConflict(`provider account "${name}" already exists in this organization`, () => repo.insertProviderAccount(m.tx, row, m.nowMs));
      await m.audit({
        organizationId: account.organizationId,
        action: upsert ? "provider_account.upsert" : "provider_account.create",
        target: account.id,
        after: { name, provider: input.provider, baseUrl, apiKeyHint: account.apiKeyHint },
      });
      return account;
    });
  }

  /** Accounts of an organization. */
  async listProviderAccounts(actor: Actor, organizationId: string): Promise<ProviderAccountRecord[]> {
    assertCanSee(actor, organizationId);
    return repo.listProviderAccounts(this.db, organizationId);
  }

  /** Models of an organization. */
  async listModels(actor: Actor, organizationId: string): Promise<ModelRecord[]> {
    assertCanSee(actor, organizationId);
    return repo.listModels(this.db, organizationId);
  }

  /** Creates a model; CONFLICT when the name exists on the account. */
  createModel(actor: Actor, input: ModelInput): Promise<ModelRecord> {
    return this.writeModel(actor, input, false);
  }

  /** Creates or updates (by account + name) a model. */
  upsertModel(actor: Actor, input: ModelInput): Promise<ModelRecord> {
    return this.writeModel(actor, input, true);
  }

  /** Changes some fields of a model (absent ones keep their value); NOT_FOUND for a model of another organization. */
  updateModel(actor: Actor, input: ModelUpdateInput): Promise<ModelRecord> {
    return this.runner.run(actor, true, async (m) => {
      const existing = await repo.findModelForUpdate(m.tx, input.id);
      if (!existing) throw notFound("model", input.id);
      assertCanManage(actor, existing.organizationId, "model", existing.id);
      const changes = Object.fromEntries(Object.entries(input).filter(([field, value]) => field !== "id" && value !== undefined));
      const fields = modelFieldsOf({ ...existing, ...changes, name: existing.name, providerAccountId: existing.providerAccountId });
      const model = await repo.updateModel(m.tx, { ...fields, id: existing.id, organizationId: existing.organizationId, providerAccountId: existing.providerAccountId }, m.nowMs);
      await m.audit({ organizationId: model.organizationId, action: "model.update", target: model.id, before: auditOf(existing), after: auditOf(model) });
      return model;
    });
  }

  private writeModel(actor: Actor, input: ModelInput, upsert: boolean): Promise<ModelRecord> {
    const fields = modelFieldsOf(input);
    return this.runner.run(actor, true, async (m) => {
      const account = await repo.findProviderAccount(m.tx, input.providerAccountId);
      if (!account) throw notFound("provider account", input.providerAccountId);
      assertCanManage(actor, account.organizationId, "provider account", account.id);
      const row = { ...fields, id: m.newId("mdl"), organizationId: account.organizationId, providerAccountId: account.id };
      const model = upsert
        ? await repo.upsertModelByName(m.tx, row, m.nowMs)
        : await withConflict(`model "${fields.name}" already exists on provider account "${account.name}"`, () => repo.insertModel(m.tx, row, m.nowMs));
      await m.audit({ organizationId: model.organizationId, action: upsert ? "model.upsert" : "model.create", target: model.id, after: auditOf(model) });
      return model;
    });
  }
}

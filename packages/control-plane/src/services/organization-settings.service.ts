/**
 * An organization's settings: name, fallback prices for unpriced models, and the webhook budget
 * alerts are delivered to. The webhook secret is write-only: sealed at rest (AES-256-GCM, bound
 * to the organization), generated when a webhook is set without one, and shown only then.
 */
import { randomBytes } from "node:crypto";
import type { Database } from "../db/database.js";
import { badInput, notFound } from "../errors.js";
import * as repo from "../repositories/organization-settings.repository.js";
import type { OrganizationSettingsRecord } from "../repositories/organization-settings.repository.js";
import { openSecret, sealSecret } from "../security/crypto.js";
import { assertCanManage, assertCanSee, type Actor } from "./actor.js";
import type { MutationRunner } from "./mutation-runner.js";
import { requireName, requireOutboundUrl } from "./validate.js";

/** Fields of updateOrganization; undefined = unchanged, null = cleared. */
export interface OrganizationUpdate {
  name?: string | null;
  /** http(s) URL budget alerts are POSTed to; null removes the webhook (and its secret). */
  webhookUrl?: string | null;
  /** The signing secret to use (`whsec_` + base64); omitted with a webhook and none stored: one is generated. */
  webhookSecret?: string | null;
  /** Micro-dollars per million tokens; both set or both null. */
  fallbackInputPricePerMillion?: bigint | null;
  fallbackOutputPricePerMillion?: bigint | null;
}

/** An organization's settings as the API shows them (no secret). */
export interface OrganizationSettingsView {
  readonly id: string;
  readonly name: string;
  readonly webhookUrl: string | null;
  readonly hasWebhookSecret: boolean;
  readonly fallbackInputPricePerMillion: bigint | null;
  readonly fallbackOutputPricePerMillion: bigint | null;
}

/** The answer of updateOrganization: the settings and, only when one was generated now, the webhook secret. */
export interface OrganizationUpdated {
  readonly settings: OrganizationSettingsView;
  readonly generatedWebhookSecret: string | null;
}

/** The associated data binding a webhook secret to its organization. */
export function webhookSecretAssociatedData(organizationId: string): string {
  return `${organizationId}/webhook`;
}

/** A new webhook signing secret in the Standard Webhooks form: `whsec_` + 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** A Standard Webhooks secret an admin chose: `whsec_` + base64 of 24 to 64 bytes (BAD_USER_INPUT otherwise). */
export function requireWebhookSecret(v: string): string {
  const body = v.startsWith("whsec_") ? v.slice(6) : null;
  const key = body !== null && /^[A-Za-z0-9+/]+={0,2}$/.test(body) ? Buffer.from(body, "base64") : null;
  if (key === null || key.toString("base64") !== body || key.length < 24 || key.length > 64) {
    throw badInput("webhookSecret must be whsec_ followed by the base64 of 24 to 64 random bytes (e.g. `echo whsec_$(openssl rand -base64 32)`)");
  }
  return v;
}

function requireWebhookUrl(v: string, allowLinkLocal: boolean): string {
  const url = requireOutboundUrl("webhookUrl", v, allowLinkLocal);
  if (url.username !== "" || url.password !== "") throw badInput("webhookUrl must not carry credentials; the body is signed with the webhook secret");
  return v;
}

function viewOf(r: OrganizationSettingsRecord): OrganizationSettingsView {
  return {
    id: r.id,
    name: r.name,
    webhookUrl: r.webhookUrl,
    hasWebhookSecret: r.webhookSecret !== null,
    fallbackInputPricePerMillion: r.fallbackInputPerMillion,
    fallbackOutputPricePerMillion: r.fallbackOutputPerMillion,
  };
}

/** Organization settings operations. */
export class OrganizationSettingsService {
  /** `allowLinkLocalOutbound`: webhook URLs may target link-local / cloud-metadata addresses (operator setting). */
  constructor(
    private readonly db: Database,
    private readonly runner: MutationRunner,
    private readonly masterKey: Buffer,
    private readonly allowLinkLocalOutbound = false,
  ) {}

  /** Updates the given settings of an organization (platform admin or its ADMIN). */
  updateOrganization(actor: Actor, id: string, input: OrganizationUpdate): Promise<OrganizationUpdated> {
    assertCanManage(actor, id);
    const webhookUrl = input.webhookUrl === undefined || input.webhookUrl === null ? input.webhookUrl : requireWebhookUrl(input.webhookUrl, this.allowLinkLocalOutbound);
    if (input.webhookSecret !== undefined && input.webhookSecret !== null) requireWebhookSecret(input.webhookSecret);
    return this.runner.run(actor, true, async (m) => {
      const before = await repo.findOrganizationSettings(m.tx, id, true);
      if (!before) throw notFound("organization", id);
      const fallbackInputPerMillion = input.fallbackInputPricePerMillion === undefined ? before.fallbackInputPerMillion : input.fallbackInputPricePerMillion;
      const fallbackOutputPerMillion = input.fallbackOutputPricePerMillion === undefined ? before.fallbackOutputPerMillion : input.fallbackOutputPricePerMillion;
      if ((fallbackInputPerMillion === null) !== (fallbackOutputPerMillion === null)) {
        throw badInput("fallbackInputPricePerMillion and fallbackOutputPricePerMillion are set together (or both cleared)");
      }
      const url = webhookUrl === undefined ? before.webhookUrl : webhookUrl;
      let sealed = before.webhookSecret;
      let generated: string | null = null;
      if (url === null) sealed = null;
      else if (input.webhookSecret !== undefined && input.webhookSecret !== null) sealed = sealSecret(this.masterKey, input.webhookSecret, webhookSecretAssociatedData(id));
      else if (sealed === null) {
        generated = generateWebhookSecret();
        sealed = sealSecret(this.masterKey, generated, webhookSecretAssociatedData(id));
      }
      if (url === null && input.webhookSecret !== undefined && input.webhookSecret !== null) throw badInput("webhookSecret needs a webhookUrl");
      const name = input.name === undefined || input.name === null ? before.name : requireName("name", input.name);
      const after = await repo.writeOrganizationSettings(m.tx, { id, name, fallbackInputPerMillion, fallbackOutputPerMillion, webhookUrl: url, webhookSecret: sealed }, m.nowMs);
      const redacted = (r: OrganizationSettingsRecord) => ({
        name: r.name,
        webhookUrl: r.webhookUrl,
        webhookSecret: r.webhookSecret === null ? null : "[redacted]",
        fallbackInputPricePerMillion: r.fallbackInputPerMillion?.toString() ?? null,
        fallbackOutputPricePerMillion: r.fallbackOutputPerMillion?.toString() ?? null,
      });
      await m.audit({ organizationId: id, action: "organization.update", target: id, before: redacted(before), after: redacted(after) });
      return { settings: viewOf(after), generatedWebhookSecret: generated };
    });
  }

  /** The settings of an organization the actor administers. */
  async getSettings(actor: Actor, id: string): Promise<OrganizationSettingsView> {
    assertCanSee(actor, id);
    const r = await repo.findOrganizationSettings(this.db, id);
    if (!r) throw notFound("organization", id);
    return viewOf(r);
  }

  /** The webhook URL and plaintext secret of an organization (for the dispatcher); null when none. */
  async webhookOf(organizationId: string): Promise<{ url: string; secret: string } | null> {
    const r = await repo.findOrganizationSettings(this.db, organizationId);
    if (!r || r.webhookUrl === null || r.webhookSecret === null) return null;
    return { url: r.webhookUrl, secret: openSecret(this.masterKey, r.webhookSecret, webhookSecretAssociatedData(organizationId)) };
  }
}

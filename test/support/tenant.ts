/**
 * Test helpers on top of a running stack: one organization with the mock provider and a priced
 * model ($1 / $2 per million input / output tokens, i.e. 1 and 2 micro-dollars per token), keys,
 * raw chat calls that report status and error code, and GraphQL reads of usage and budgets.
 */
import { eventually } from "./processes.js";
import type { graphqlClient } from "./graphql.js";

type Gql = ReturnType<typeof graphqlClient>;

/** The organization a fault test works in. */
export interface Tenant {
  readonly orgId: string;
  readonly accountId: string;
  /** The public model name (`gpt-4o-mini`). */
  readonly model: string;
}

/** A created key. */
export interface TestKey {
  readonly id: string;
  readonly secret: string;
}

/** Creates an organization, a provider account on the mock provider and a priced model. */
export async function setupTenant(gql: Gql, mockUrl: string, slug = "acme"): Promise<Tenant> {
  const org = await gql<{ createOrganization: { organization: { id: string } } }>(`mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }`, {
    input: { name: slug, slug },
  });
  const orgId = org.createOrganization.organization.id;
  const account = await gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
    `mutation($input: CreateProviderAccountInput!) { createProviderAccount(input: $input) { providerAccount { id } } }`,
    { input: { organizationId: orgId, name: "mock", provider: "OPENAI_COMPATIBLE", baseUrl: `${mockUrl}/v1`, apiKey: "sk-upstream-secret-0123456789" } },
  );
  const accountId = account.createProviderAccount.providerAccount.id;
  await gql(`mutation($input: CreateModelInput!) { createModel(input: $input) { model { id } } }`, {
    input: { providerAccountId: accountId, name: "gpt-4o-mini", upstreamModel: "gpt-4o-mini-upstream", inputPricePerMillion: "1.00", outputPricePerMillion: "2.00", maxOutputTokens: 1000 },
  });
  return { orgId, accountId, model: "gpt-4o-mini" };
}

/** Creates a SERVICE key with the given extra fields (budgets, rateLimits, ...). */
export async function createKey(gql: Gql, orgId: string, name: string, extra: Record<string, unknown> = {}): Promise<TestKey> {
  const data = await gql<{ createVirtualKey: { virtualKey: { id: string }; secret: string } }>(
    `mutation($input: CreateVirtualKeyInput!) { createVirtualKey(input: $input) { virtualKey { id } secret } }`,
    { input: { organizationId: orgId, name, kind: "SERVICE", ...extra } },
  );
  return { id: data.createVirtualKey.virtualKey.id, secret: data.createVirtualKey.secret };
}

/** The outcome of one raw call. */
export interface CallResult {
  readonly status: number;
  /** `error.code` of a refusal; "" on success; "network" when the call itself failed. */
  readonly code: string;
  /** Cost in micro-dollars at the tenant's prices (1 per prompt token, 2 per completion token); 0 unless 200. */
  readonly costMicros: number;
}

/** One chat completion through a node with fetch (no SDK retries). */
export async function chat(nodeUrl: string, secret: string, prompt: string, maxTokens = 20, timeoutMs = 15_000): Promise<CallResult> {
  try {
    const res = await fetch(`${nodeUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }], max_tokens: maxTokens }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as { error?: { code?: string }; usage?: { prompt_tokens?: number; completion_tokens?: number } };
    const costMicros = res.status === 200 ? (body.usage?.prompt_tokens ?? 0) + 2 * (body.usage?.completion_tokens ?? 0) : 0;
    return { status: res.status, code: res.status === 200 ? "" : (body.error?.code ?? "unknown"), costMicros };
  } catch {
    return { status: 0, code: "network", costMicros: 0 };
  }
}

/** GET /v1/models with the key: 200 while the node accepts it, 401 once refused. */
export async function modelsStatus(nodeUrl: string, secret: string): Promise<number> {
  try {
    const res = await fetch(`${nodeUrl}/v1/models`, { headers: { authorization: `Bearer ${secret}` }, signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Resolves once every node accepts `secret`. */
export async function acceptedEverywhere(nodeUrls: readonly string[], secret: string, timeoutMs = 10_000): Promise<void> {
  await Promise.all(nodeUrls.map((u) => eventually(async () => ((await modelsStatus(u, secret)) === 200 ? true : undefined), timeoutMs, `key accepted by ${u}`)));
}

/** Usage of one key in this month: requests served, refused, cost. */
export async function keyUsage(gql: Gql, orgId: string, keyId: string): Promise<{ requests: number; blocked: number; cost: string }> {
  const d = await gql<{ usage: { group: { virtualKeyId: string | null }; requests: number; blocked: number; cost: string }[] }>(
    `query($org: ID!) { usage(organizationId: $org, groupBy: [VIRTUAL_KEY]) { group { virtualKeyId } requests blocked cost } }`,
    { org: orgId },
  );
  const row = d.usage.find((r) => r.group.virtualKeyId === keyId);
  return { requests: row?.requests ?? 0, blocked: row?.blocked ?? 0, cost: row?.cost ?? "0.00" };
}

/** The key's first budget as the control plane sees it (Decimal strings). */
export async function keyBudget(gql: Gql, keyId: string): Promise<{ id: string; limit: string; used: string; remaining: string }> {
  const d = await gql<{ virtualKey: { budgets: { id: string; limit: string; used: string; remaining: string }[] } }>(
    `query($id: ID!) { virtualKey(id: $id) { budgets { id limit used remaining } } }`,
    { id: keyId },
  );
  const b = d.virtualKey.budgets[0];
  if (!b) throw new Error(`key ${keyId} has no budget`);
  return b;
}

/** Decimal dollars ("0.0042") to integer micro-dollars. */
export function toMicros(usd: string): number {
  const [whole = "0", frac = ""] = usd.split(".");
  return Number(whole) * 1_000_000 + Number((frac + "000000").slice(0, 6));
}

/** Micro-dollars as "$0.000000". */
export function formatMicros(micros: number): string {
  return `$${(micros / 1e6).toFixed(6)}`;
}

/** The p-th percentile (0-100) of `values` (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Runs `fn` for every item with at most `concurrency` at once. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

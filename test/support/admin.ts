/**
 * Admin-side helpers for end-to-end tests of the policy model: waiting until every node applied
 * the current policy, creating teams, users, models and keys through GraphQL, and capturing the
 * error a client call raises.
 */
import OpenAI from "openai";
import type { graphqlClient } from "./graphql.js";

type Gql = ReturnType<typeof graphqlClient>;

/** The OpenAI SDK's error class (with `status`, `code` and `headers`). */
export type OpenAIApiError = InstanceType<typeof OpenAI.APIError>;

/**
 * Resolves once every connected node ACKed the current policy revision (GraphQL
 * `policyPropagation`, waiting up to 5 s); throws when a node is still behind then.
 */
export async function policyApplied(gql: Gql, expectedNodes: number): Promise<void> {
  const d = await gql<{ policyPropagation: { nodesApplied: number; nodesPending: number; pendingNodeIds: string[] } }>(
    `{ policyPropagation(waitMs: 5000) { nodesApplied nodesPending pendingNodeIds } }`,
  );
  const p = d.policyPropagation;
  if (p.nodesPending !== 0 || p.nodesApplied < expectedNodes) {
    throw new Error(`policy not applied everywhere: ${p.nodesApplied} applied, pending ${p.pendingNodeIds.join(", ")}`);
  }
}

/** An OpenAI client on a node (no retries: every refusal reaches the test). */
export function openaiClient(nodeUrl: string, apiKey: string, timeoutMs = 15_000): OpenAI {
  return new OpenAI({ baseURL: `${nodeUrl}/v1`, apiKey, maxRetries: 0, timeout: timeoutMs });
}

/** `error.message` of an OpenAI-shaped refusal's body (the SDK's own `message` is prefixed with the status). */
export function refusalMessage(e: OpenAIApiError | undefined): string {
  const body = e?.error;
  return typeof body === "object" && body !== null && "message" in body ? String(body.message) : "";
}

/** The error `call` rejects with; throws when it succeeds. */
export async function failureOf(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    (v) => {
      throw new Error(`expected a refusal, got a success: ${JSON.stringify(v).slice(0, 200)}`);
    },
    (e: unknown) => e,
  );
}

/** One small chat completion through the OpenAI SDK (resolves to the answer's text). */
export async function sdkChat(client: OpenAI, model: string, prompt = "hi", maxTokens = 20): Promise<string> {
  const res = await client.chat.completions.create({ model, messages: [{ role: "user", content: prompt }], max_tokens: maxTokens });
  return res.choices[0]?.message.content ?? "";
}

/** Creates a team; returns its id. */
export async function createTeam(gql: Gql, orgId: string, slug: string): Promise<string> {
  const d = await gql<{ createTeam: { team: { id: string } } }>(`mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }`, {
    input: { organizationId: orgId, name: slug, slug },
  });
  return d.createTeam.team.id;
}

/** Creates a user of the organization; returns their id. */
export async function createUser(gql: Gql, orgId: string, email: string, role: "ADMIN" | "MEMBER", teamIds: string[] = []): Promise<string> {
  const d = await gql<{ createUser: { user: { id: string; role: string; active: boolean } } }>(`mutation($input: CreateUserInput!) { createUser(input: $input) { user { id role active } } }`, {
    input: { organizationId: orgId, email, name: email.split("@")[0], role, teamIds },
  });
  return d.createUser.user.id;
}

/** Issues an admin-API token carrying a user's rights; returns its secret. */
export async function createApiToken(gql: Gql, orgId: string, userId: string, name: string): Promise<string> {
  const d = await gql<{ createApiToken: { secret: string } }>(`mutation($input: CreateApiTokenInput!) { createApiToken(input: $input) { apiToken { id } secret } }`, {
    input: { organizationId: orgId, userId, name },
  });
  return d.createApiToken.secret;
}

/** Creates a provider account speaking OpenAI at `baseUrl`; returns its id. */
export async function createOpenAIAccount(gql: Gql, orgId: string, name: string, baseUrl: string): Promise<string> {
  const d = await gql<{ createProviderAccount: { providerAccount: { id: string } } }>(
    `mutation($input: CreateProviderAccountInput!) { createProviderAccount(input: $input) { providerAccount { id } } }`,
    { input: { organizationId: orgId, name, provider: "OPENAI_COMPATIBLE", baseUrl, apiKey: `sk-${name}-0123456789` } },
  );
  return d.createProviderAccount.providerAccount.id;
}

/** Creates a model on an account ($1 / $2 per million tokens unless `prices` is null: unpriced). */
export async function createModel(gql: Gql, accountId: string, name: string, prices: { input: string; output: string } | null = { input: "1.00", output: "2.00" }): Promise<string> {
  const priceFields = prices === null ? {} : { inputPricePerMillion: prices.input, outputPricePerMillion: prices.output };
  const d = await gql<{ createModel: { model: { id: string } } }>(`mutation($input: CreateModelInput!) { createModel(input: $input) { model { id } } }`, {
    input: { providerAccountId: accountId, name, upstreamModel: `${name}-upstream`, maxOutputTokens: 1000, ...priceFields },
  });
  return d.createModel.model.id;
}

/**
 * `GET /v1/models`: the models a key may call, in OpenAI's list shape. The key is checked by the
 * decision core's own `authenticateKey` (the first step of `decide`), so a revoked, expired or
 * paused key is refused exactly as on the chat route.
 */
import { authenticateKey, listCallableModels } from "@tollgate/policy";
import { GatewayError } from "./gateway-error.js";
import type { RequestHeaders } from "./key-auth.js";
import { beginRequest, type RequestPathDeps } from "./request-context.js";

/** One entry of OpenAI's model list. */
export interface OpenAIModelEntry {
  readonly id: string;
  readonly object: "model";
  readonly created: number;
  readonly owned_by: string;
}

/** OpenAI's model list. */
export interface OpenAIModelList {
  readonly object: "list";
  readonly data: OpenAIModelEntry[];
}

/** Lists the models the presented key may call; throws `GatewayError` when the key is refused. */
export function listModelsForKey(deps: RequestPathDeps, headers: RequestHeaders, query: unknown): OpenAIModelList {
  const ctx = beginRequest(deps, "/v1/models", headers, query);
  const { index } = ctx.state;
  const now = deps.now();
  const auth = authenticateKey(index, ctx.keyHmac, now);
  if (!auth.ok) throw new GatewayError(auth.code, auth.message);
  const created = Math.floor(now / 1000);
  // A route group (one public name on several accounts) is listed once.
  const seen = new Set<string>();
  const callable = listCallableModels(index, auth.key).filter((m) => {
    if (seen.has(m.name)) return false;
    seen.add(m.name);
    return true;
  });
  const data = callable.map((m) => ({
    id: m.name,
    object: "model" as const,
    created,
    owned_by: index.account(m.providerAccountId)?.name ?? "tollgate",
  }));
  return { object: "list", data };
}

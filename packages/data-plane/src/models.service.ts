/**
 * `GET /v1/models`: the models a key may call, in OpenAI's list shape. The key is checked by the
 * decision core itself (a dry run naming no model), so a revoked, expired or paused key is refused
 * exactly as on the chat route.
 */
import { decide, listCallableModels } from "@tollgate/policy";
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
  const { index, connectedNodes } = ctx.state;
  const probe = decide(
    index,
    deps.ledger,
    deps.limiter,
    { keyHmac: ctx.keyHmac, request: { model: "", inputTokensUpperBound: 0, requestedMaxOutputTokens: null, operation: "chat" }, now: deps.now(), dryRun: true, allowPartial: true, grantsUnavailable: false },
    connectedNodes,
  );
  if (!probe.allow && probe.code !== "model_not_found") throw new GatewayError(probe.code, probe.message, probe.retryAfterMs);
  const key = probe.key;
  if (key === null) throw new GatewayError("invalid_api_key", "the API key is not valid");
  const created = Math.floor(deps.now() / 1000);
  const data = listCallableModels(index, key).map((m) => ({
    id: m.name,
    object: "model" as const,
    created,
    owned_by: index.account(m.providerAccountId)?.name ?? "tollgate",
  }));
  return { object: "list", data };
}

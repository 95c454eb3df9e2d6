import { create } from "@bufbuild/protobuf";
import type { RateLimitPolicy } from "@tollgate/policy";
import { Outcome, UsageBatchSchema, UsageRecordSchema } from "@tollgate/proto";
import { describe, expect, it } from "vitest";
import { toUsageRecords } from "../grpc/grpc.server.js";
import { RateShareService } from "./rate-share.service.js";

const requests: RateLimitPolicy = { id: "rl_req", organizationId: "org_1", scope: "VIRTUAL_KEY", scopeId: "vk_1", unit: "REQUESTS", limit: 60, windowSeconds: 10, scopeLabel: "key" };
const tokens: RateLimitPolicy = { id: "rl_tok", organizationId: "org_1", scope: "TEAM", scopeId: "team_1", unit: "TOKENS", limit: 10_000, windowSeconds: 60, scopeLabel: "team" };
const idle: RateLimitPolicy = { id: "rl_idle", organizationId: "org_1", scope: "VIRTUAL_KEY", scopeId: "vk_2", unit: "REQUESTS", limit: 10, windowSeconds: 10, scopeLabel: "key" };
const limits = [requests, tokens, idle];

let seq = 0;
/** A wire batch of `n` records from `nodeId`, as ReportUsage receives it. */
function batch(nodeId: string, n: number, at: number, opts: { refused?: boolean; tokens?: number } = {}) {
  return toUsageRecords(
    create(UsageBatchSchema, {
      nodeId,
      bootId: "boot",
      records: Array.from({ length: n }, () =>
        create(UsageRecordSchema, {
          requestId: `req_${++seq}`,
          startedAtMs: BigInt(at),
          organizationId: "org_1",
          virtualKeyId: "vk_1",
          teamId: "team_1",
          inputTokens: opts.refused ? 0 : (opts.tokens ?? 100),
          outputTokens: 0,
          outcome: opts.refused ? Outcome.REFUSED : Outcome.SUCCESS,
          errorCode: opts.refused ? "rate_limit_exceeded" : "",
        }),
      ),
    }),
  );
}

describe("RateShareService", () => {
  it("splits each limit with demand by the nodes' ingested requests (refusals included); idle limits get no share", () => {
    let now = 1_000_000;
    const svc = new RateShareService({ now: () => now });
    for (const n of ["node-a", "node-b", "node-c"]) svc.attachNode(n);
    // 80% of the traffic on node-a, half of it refused by the rate limit: still demand
    svc.recordUsage(batch("node-a", 40, now - 500));
    svc.recordUsage(batch("node-a", 40, now - 400, { refused: true }));
    svc.recordUsage(batch("node-b", 10, now - 300));
    svc.recordUsage(batch("node-c", 10, now - 200));
    now += 1_000;
    const a = svc.sharesFor("node-a", limits, 3);
    const b = svc.sharesFor("node-b", limits, 3);
    const c = svc.sharesFor("node-c", limits, 3);
    expect([a.get("rl_req"), b.get("rl_req"), c.get("rl_req")]).toEqual([46, 7, 7]);
    expect(a.has("rl_idle")).toBe(false);
    // TOKENS: node-a's 40 refusals count the admitted average (100 tokens): demand 8000 / 1000 / 1000;
    // minimum floor(10000 / 60) = 166 each, the other 9502 by demand (7601.6 / 950.2 / 950.2)
    expect([a, b, c].map((s) => s.get("rl_tok"))).toEqual([7768, 1116, 1116]);
  });

  it("forgets demand older than the window and ignores nodes of other replicas", () => {
    let now = 5_000_000;
    const svc = new RateShareService({ now: () => now, windowMs: 10_000 });
    svc.attachNode("node-a");
    svc.attachNode("node-b");
    svc.recordUsage(batch("node-a", 50, now));
    svc.recordUsage(batch("node-x", 500, now)); // connected to another replica
    svc.recordUsage(batch("node-b", 50, now - 60_000)); // a spool replayed after an outage: too old
    expect(svc.sharesFor("node-a", limits, 2).get("rl_req")).toBe(59);
    expect(svc.sharesFor("node-b", limits, 2).get("rl_req")).toBe(1);
    now += 11_000;
    expect(svc.sharesFor("node-a", limits, 2).size).toBe(0);
  });

  it("splits only this replica's part of the limit when other replicas hold nodes", () => {
    const now = 9_000_000;
    const svc = new RateShareService({ now: () => now });
    svc.attachNode("node-a");
    svc.attachNode("node-b");
    svc.recordUsage(batch("node-a", 30, now));
    svc.recordUsage(batch("node-b", 10, now));
    // 2 of 3 connected nodes here: this replica splits floor(60 * 2 / 3) = 40
    const a = svc.sharesFor("node-a", limits, 3).get("rl_req") as number;
    const b = svc.sharesFor("node-b", limits, 3).get("rl_req") as number;
    expect(a + b).toBe(40);
    expect(a).toBe(30);
    svc.detachNode("node-b");
    expect(svc.localNodes()).toEqual(["node-a"]);
  });
});

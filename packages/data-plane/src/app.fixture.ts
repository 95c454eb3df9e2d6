/**
 * Test fixtures (used only by `*.test.ts`): an in-memory usage sink and a data-plane app built
 * on the fixture policy, wired to a real upstream client (pointed at a mock provider).
 */
import { BudgetLedger, RateLimiter } from "@tollgate/policy";
import type { UsageRecord } from "@tollgate/proto";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildApp } from "./app.js";
import type { BudgetUsageSource } from "./budget-usage.client.js";
import type { GrantSource } from "./grant-manager.js";
import type { RateUnitSource } from "./rate-allocator.js";
import { silentLogger } from "./grpc.fixture.js";
import { buildPolicyFixture, createFixtureGrantSource, toFullUpdate, type FixtureKeyName, type PolicyFixture } from "./policy.fixture.js";
import { PolicyStore } from "./policy-store.js";
import type { ShutdownGate } from "./shutdown-gate.js";
import type { UpstreamSend } from "./upstream.client.js";

/** An in-memory usage sink whose `full` flag simulates a full spool. */
export interface MemorySink {
  readonly records: UsageRecord[];
  full: boolean;
  append(r: UsageRecord): Promise<void>;
  isFull(): boolean;
  readonly recordCount: number;
}

/** Creates an empty in-memory usage sink. */
export function createMemorySink(): MemorySink {
  return {
    records: [],
    full: false,
    async append(r) {
      this.records.push(r);
    },
    isFull() {
      return this.full;
    },
    get recordCount() {
      return this.records.length;
    },
  };
}

/** A built app and everything it was built from. */
export interface TestApp {
  readonly app: FastifyInstance;
  readonly fixture: PolicyFixture;
  readonly store: PolicyStore;
  readonly ledger: BudgetLedger;
  readonly limiter: RateLimiter;
  readonly sink: MemorySink;
  readonly grants: GrantSource & { calls: number };
  /** POSTs JSON `body` to `url` with the named key as a bearer token (null = no key). */
  post(url: string, key: FixtureKeyName | null, body: unknown): Promise<LightMyRequestResponse>;
}

/** Options of `buildTestApp`. */
export interface TestAppOptions {
  /** Mock provider `/v1` base URL of the fixture's accounts. */
  readonly baseUrl: string;
  readonly upstream: UpstreamSend;
  readonly now?: () => number;
  /** Replaces the fixture grant source (e.g. an unreachable control plane). */
  readonly grants?: GrantSource;
  /** Where the Simulator learns budgets' settled use (default: never known). */
  readonly budgetUsage?: BudgetUsageSource;
  /** Where rate-limit units are borrowed (absent: the node's share alone). */
  readonly rates?: (limiter: RateLimiter, store: PolicyStore) => RateUnitSource;
  /** The policy fixture to serve (default: a fresh one); share one between apps to act as several nodes. */
  readonly fixture?: PolicyFixture;
  /** Node id (default "node-t"). */
  readonly nodeId?: string;
  /** The node's shutdown gate (default: never drained). */
  readonly shutdown?: ShutdownGate;
}

/** Builds an app on a fresh fixture policy, ledger, limiter and sink. Close `app` when done. */
export function buildTestApp(opts: TestAppOptions): TestApp {
  const now = opts.now ?? Date.now;
  const fixture = opts.fixture ?? buildPolicyFixture(opts.baseUrl);
  const store = new PolicyStore();
  store.applyUpdate(toFullUpdate(fixture.snapshot));
  const ledger = new BudgetLedger();
  const limiter = new RateLimiter();
  const sink = createMemorySink();
  const fixtureGrants = createFixtureGrantSource(ledger, store, now);
  const grants = opts.grants ? Object.assign(opts.grants, { calls: 0 }) : fixtureGrants;
  const rates = opts.rates?.(limiter, store);
  const app = buildApp({
    nodeId: opts.nodeId ?? "node-t",
    bootId: "boot-t",
    store,
    ledger,
    limiter,
    grants,
    rates,
    usage: sink,
    upstream: opts.upstream,
    logger: silentLogger,
    now,
    bodyLimitBytes: 64 * 1024,
    shutdown: opts.shutdown,
    ...(opts.budgetUsage === undefined ? {} : { budgetUsage: opts.budgetUsage }),
  });
  const post = (url: string, key: FixtureKeyName | null, body: unknown) =>
    app.inject({
      method: "POST",
      url,
      headers: { "content-type": "application/json", ...(key === null ? {} : { authorization: `Bearer ${fixture.secrets[key]}` }) },
      payload: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { app, fixture, store, ledger, limiter, sink, grants, post };
}

/**
 * The `simulate` query: the data plane's Simulator run on the control plane's current snapshot.
 * Same parser (`@tollgate/providers`), same dry-run decision (`simulateDecision`), same report.
 *
 * Differences, by design: the budget ledger is what the control plane knows — for every HARD
 * budget of the key's chain, free = limit - used - outstanding grants of every node in the current
 * window — and no further grant can be assumed (the control plane is the grantor), so `budget_grant`
 * checks do not appear; rate limits are evaluated at their full limit with nothing counted (their
 * counters live on the nodes). A secret of a key the caller may not see answers exactly like an
 * unknown secret; a MEMBER may simulate only their own personal keys.
 */
import {
  BudgetLedger,
  budgetsOfChain,
  buildPolicyIndex,
  isWellFormedSecret,
  looksLikeJwt,
  RateLimiter,
  simulateDecision,
  windowEndOf,
  windowStartOf,
  type DecisionCheck,
  type PolicyIndex,
} from "@tollgate/policy";
import {
  budgetWindowsOfKey,
  isSimulatedPath,
  parseInboundRequest,
  refusedSimulationReport,
  SIMULATED_PATHS,
  simulatedBudgetOf,
  simulationReportOf,
  type SimulatedBudget,
  type SimulationReport,
} from "@tollgate/providers";
import type { Database } from "../db/database.js";
import { badInput } from "../errors.js";
import { verifyVirtualKeyToken } from "../security/virtual-key-token.js";
import { readWindowState } from "../repositories/grant.repository.js";
import { readBudgetUsage } from "./budget-usage.service.js";
import { hmacSecret } from "../security/crypto.js";
import { GRANT_RECLAIM_GRACE_MS } from "./ledger.service.js";
import type { SnapshotEntry } from "../snapshot/policy-feed.js";
import { assertCanManageKey, canSeeOrganization, type Actor } from "./actor.js";

/** What the simulate query is given. */
export interface SimulateInput {
  readonly secret: string;
  readonly path: string;
  readonly body: unknown;
}

/** A holder name no node has (real ones are `node/boot`): every node's grants count as outstanding. */
const NO_HOLDER = "(simulate)";
/** How long the scratch ledger's grants last (longer than any evaluation). */
const SCRATCH_GRANT_MS = 3_600_000;

const check = (name: string, passed: boolean, detail: string): DecisionCheck => ({ name, level: "REQUEST", passed, detail });

/** Runs simulations on the current snapshot. */
export class SimulationService {
  private cached: { version: bigint; index: PolicyIndex } | null = null;

  constructor(
    private readonly db: Database,
    private readonly snapshot: () => Promise<SnapshotEntry>,
    private readonly now: () => number,
    /** How long expired grants still count as outstanding (the ledger's reclaim grace). */
    private readonly reclaimGraceMs: number = GRANT_RECLAIM_GRACE_MS,
  ) {}

  private async index(): Promise<PolicyIndex> {
    const entry = await this.snapshot();
    if (this.cached === null || this.cached.version !== entry.version) this.cached = { version: entry.version, index: buildPolicyIndex(entry.snapshot) };
    return this.cached.index;
  }

  /** Simulates the request as the data plane would answer it; BAD_USER_INPUT for a malformed call. */
  async simulate(actor: Actor, input: SimulateInput): Promise<SimulationReport> {
    if (!isSimulatedPath(input.path)) throw badInput(`path must be one of ${SIMULATED_PATHS.join(", ")}`);
    const index = await this.index();
    const unknownKey = (before: DecisionCheck[]): SimulationReport =>
      refusedSimulationReport("invalid_api_key", 401, "the API key is not valid", [...before, { name: "api_key", level: "VIRTUAL_KEY", passed: false, detail: "the API key is not valid" }]);
    if (!isWellFormedSecret(input.secret) && !looksLikeJwt(input.secret)) return unknownKey([]);
    if (looksLikeJwt(input.secret)) {
      const token = await verifyVirtualKeyToken(index.snapshot.signingKeys, input.secret, this.now());
      if (!token.ok) {
        return refusedSimulationReport("invalid_api_key", 401, token.reason, [{ name: "api_key", level: "VIRTUAL_KEY", passed: false, detail: token.reason }]);
      }
    }
    const parsed = parseInboundRequest(input.path, input.body);
    if (!parsed.ok) return refusedSimulationReport("invalid_request", 400, parsed.message, [check("request", false, parsed.message)]);
    const keyHmac = hmacSecret(index.snapshot.hmacPepper, input.secret);
    const match = index.keyBySecretHmac(keyHmac);
    const requestCheck = check("request", true, `a valid ${input.path} request`);
    if (match === null || !canSeeOrganization(actor, match.key.organizationId)) return unknownKey([requestCheck]);
    assertCanManageKey(actor, match.key);
    const nowMs = this.now();
    const ledger = await this.ledgerFor(index, match.key, nowMs);
    const { decision } = simulateDecision(index, ledger, new RateLimiter(), { keyHmac, request: parsed.shape, now: nowMs, grantsReachable: true }, 1);
    const checks = [requestCheck, ...decision.checks.filter((c) => c.name !== "budget_grant")];
    return simulationReportOf(index, decision, parsed.shape, checks, await this.budgetsOf(index, match.key, nowMs));
  }

  /** Every budget of the key's chain with its settled use (the control plane holds no grants itself). */
  private async budgetsOf(index: PolicyIndex, key: Parameters<PolicyIndex["scopeChainOf"]>[0], nowMs: number): Promise<SimulatedBudget[]> {
    const refs = budgetWindowsOfKey(index, key, nowMs);
    const usage = await readBudgetUsage(
      this.db,
      refs.map((r) => ({ budgetId: r.budget.id, windowStartMs: r.windowStart })),
      nowMs,
      this.reclaimGraceMs,
    );
    return refs.map((ref, i) => simulatedBudgetOf(ref, usage[i]?.used ?? null, null));
  }

  /** A ledger holding, for each HARD budget of the key's chain, what is free in its current window. */
  private async ledgerFor(index: PolicyIndex, key: Parameters<PolicyIndex["scopeChainOf"]>[0], nowMs: number): Promise<BudgetLedger> {
    const ledger = new BudgetLedger();
    for (const budget of budgetsOfChain(index, index.scopeChainOf(key))) {
      if (budget.mode !== "HARD") continue;
      const windowStart = windowStartOf(budget.window, nowMs);
      const state = await readWindowState(this.db, budget.id, windowStart, NO_HOLDER, nowMs, this.reclaimGraceMs);
      const free = budget.limit - state.used - state.othersOutstanding;
      ledger.applyGrant(budget.id, windowStart, free > 0n ? free : 0n, nowMs + SCRATCH_GRANT_MS, true, windowEndOf(budget.window, windowStart));
    }
    return ledger;
  }
}

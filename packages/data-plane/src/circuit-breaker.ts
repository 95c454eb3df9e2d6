/**
 * A circuit breaker per provider account: after `failureThreshold` consecutive failures the
 * account is open (skipped) for `openMs`; then one probe request is let through (half-open): its
 * success closes the circuit, its failure opens it again. A probe that never reports (the client
 * went away) is replaced after another `openMs`.
 */

/** Where an account's circuit stands. */
export type CircuitState = "closed" | "open" | "half_open";

/** Breaker settings. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 5). */
  readonly failureThreshold?: number;
  /** How long an open circuit skips its account before a probe (default 10 s). */
  readonly openMs?: number;
}

interface Circuit {
  failures: number;
  /** Epoch ms the circuit opened; null = closed. */
  openedAt: number | null;
  /** Epoch ms the current half-open probe started; null = none in flight. */
  probeAt: number | null;
}

/** The breakers of one node, keyed by provider account id. */
export class CircuitBreakers {
  private readonly circuits = new Map<string, Circuit>();
  private readonly threshold: number;
  private readonly openMs: number;

  /** `now` is the epoch-ms clock. */
  constructor(
    private readonly now: () => number,
    opts: CircuitBreakerOptions = {},
  ) {
    this.threshold = Math.max(1, opts.failureThreshold ?? 5);
    this.openMs = Math.max(0, opts.openMs ?? 10_000);
  }

  /** The account's state now (an open circuit past `openMs` reads half-open). */
  state(accountId: string): CircuitState {
    const c = this.circuits.get(accountId);
    if (c === undefined || c.openedAt === null) return "closed";
    return this.now() - c.openedAt >= this.openMs ? "half_open" : "open";
  }

  /**
   * Whether a request may go to the account now. Closed: yes. Open: no. Half-open: yes for one
   * probe at a time (this call takes the probe slot). Pair every `true` with a `record*` call.
   */
  tryAcquire(accountId: string): boolean {
    const c = this.circuits.get(accountId);
    if (c === undefined || c.openedAt === null) return true;
    const now = this.now();
    if (now - c.openedAt < this.openMs) return false;
    if (c.probeAt !== null && now - c.probeAt < this.openMs) return false;
    c.probeAt = now;
    return true;
  }

  /** The account answered usably: the circuit closes and its failure count resets. */
  recordSuccess(accountId: string): void {
    this.circuits.delete(accountId);
  }

  /** The account failed (connection, timeout, 429, 5xx): counts toward opening; a failed probe re-opens. */
  recordFailure(accountId: string): void {
    const c = this.circuits.get(accountId) ?? { failures: 0, openedAt: null, probeAt: null };
    this.circuits.set(accountId, c);
    c.failures += 1;
    if (c.openedAt !== null || c.failures >= this.threshold) {
      c.openedAt = this.now();
      c.probeAt = null;
    }
  }

  /** The attempt ended without saying anything about the account (client gone): frees a probe slot. */
  recordNeutral(accountId: string): void {
    const c = this.circuits.get(accountId);
    if (c !== undefined) c.probeAt = null;
  }
}

/**
 * The node's policy in memory: the wire resources it holds (with their hashes), the assembled
 * snapshot and the decision index built from it. An update is applied atomically: every upsert
 * is decoded first (a bad one is NACKed and its last good version kept), the new index is built,
 * and the state is swapped in one assignment. Readers take `current()` once per request.
 * Rate-limit shares (by demand, from the control plane) ride on every update and are replaced as a
 * whole; a `shares_only` update changes only them and the node count, never the policy.
 */
import { create } from "@bufbuild/protobuf";
import { buildPolicyIndex, type PolicyIndex, type PolicySnapshot } from "@tollgate/policy";
import {
  NackSchema,
  PolicyUpdateSchema,
  ResourceDecodeError,
  ResourceVersionSchema,
  assembleSnapshot,
  decodeResource,
  type Nack,
  type PolicyResource,
  type PolicyUpdate,
  type Resource,
  type ResourceVersion,
} from "@tollgate/proto";
import { SecretHmacCache } from "./secret-hmac-cache.js";

/** One policy state, immutable once published. */
export interface PolicyState {
  readonly version: bigint;
  readonly snapshot: PolicySnapshot;
  readonly index: PolicyIndex;
  /** The HMAC key of virtual-key secrets: `Buffer.from(pepper, "hex")`. */
  readonly pepperKey: Buffer;
  /** HMACs of recently presented opaque secrets under `pepperKey` (kept across updates of the same pepper). */
  readonly secretHmacs: SecretHmacCache;
  /** Nodes connected to the control plane at the last update (>= 1). */
  readonly connectedNodes: number;
}

/** What applying an update did. */
export interface ApplyResult {
  /** false when the update was older than what is held (ignored). */
  readonly applied: boolean;
  /** The version held afterwards. */
  readonly version: bigint;
  readonly nacks: readonly Nack[];
}

interface Held {
  readonly wire: Resource;
  readonly decoded: PolicyResource;
}

/** Called after every applied update with the new state. */
export type PolicyListener = (state: PolicyState) => void;

/** Called with the node's rate-limit shares (by rate-limit id) each time an update carries them. */
export type SharesListener = (shares: ReadonlyMap<string, number>) => void;

/** The node's current policy and the rules for changing it. */
export class PolicyStore {
  private state: PolicyState | null = null;
  private held = new Map<string, Held>();
  private pepper = "";
  private isConnected = false;
  private readonly listeners: PolicyListener[] = [];
  private shares: ReadonlyMap<string, number> = new Map();
  private readonly shareListeners: SharesListener[] = [];

  /** The state to decide with, or null before the first snapshot. */
  current(): PolicyState | null {
    return this.state;
  }

  /** The policy version held (0n = nothing). */
  heldVersion(): bigint {
    return this.state?.version ?? 0n;
  }

  /** Key and hash of every resource held (for the Hello). */
  heldResources(): ResourceVersion[] {
    return [...this.held.entries()].map(([key, h]) => create(ResourceVersionSchema, { key, hash: h.wire.hash }));
  }

  /** True while the policy stream to the control plane is open. */
  connected(): boolean {
    return this.isConnected;
  }

  /** Set by the subscriber when its stream opens or breaks. */
  setConnected(connected: boolean): void {
    this.isConnected = connected;
  }

  /** Registers a listener for applied updates. */
  onApplied(listener: PolicyListener): void {
    this.listeners.push(listener);
  }

  /** Registers a listener for rate-limit shares; it is called at once with the shares held. */
  onShares(listener: SharesListener): void {
    this.shareListeners.push(listener);
    listener(this.shares);
  }

  /** The demand-based rate-limit shares held, by rate-limit id. */
  rateLimitShares(): ReadonlyMap<string, number> {
    return this.shares;
  }

  /**
   * Applies a full or delta update atomically; bad resources are NACKed and their last good version
   * kept. A `shares_only` update at the held version sets only the shares and the node count.
   */
  applyUpdate(update: PolicyUpdate): ApplyResult {
    const heldVersion = this.heldVersion();
    if (this.state && update.version < heldVersion) return { applied: false, version: heldVersion, nacks: [] };
    if (update.sharesOnly) {
      if (this.state === null || update.version !== heldVersion) return { applied: false, version: heldVersion, nacks: [] };
      const connectedNodes = Math.max(1, update.connectedNodes || this.state.connectedNodes);
      if (connectedNodes !== this.state.connectedNodes) this.state = { ...this.state, connectedNodes };
      this.setShares(update);
      return { applied: true, version: heldVersion, nacks: [] };
    }
    const next = new Map(this.held);
    const nacks: Nack[] = [];
    if (!update.full) for (const key of update.removals) next.delete(key);
    const fresh = new Set<string>();
    for (const wire of update.upserts) {
      try {
        const decoded = decodeResource(wire);
        next.set(wire.key, { wire, decoded });
        fresh.add(wire.key);
      } catch (err) {
        if (!(err instanceof ResourceDecodeError)) throw err;
        nacks.push(create(NackSchema, { key: wire.key, reason: err.message }));
        fresh.add(wire.key);
      }
    }
    if (update.full) {
      // Replace: drop what the full snapshot no longer names (NACKed keys keep their last good version).
      for (const key of [...next.keys()]) if (!fresh.has(key)) next.delete(key);
    }
    const pepper = update.hmacPepper !== "" ? update.hmacPepper : this.pepper;
    const snapshot = assembleSnapshot(
      update.version,
      pepper,
      [...next.values()].map((h) => h.decoded),
    );
    let index: PolicyIndex;
    try {
      index = buildPolicyIndex(snapshot);
    } catch (err) {
      const reason = `snapshot rejected: ${(err as Error).message}`;
      return { applied: false, version: heldVersion, nacks: update.upserts.map((r) => create(NackSchema, { key: r.key, reason })) };
    }
    this.held = next;
    this.pepper = pepper;
    const pepperKey = Buffer.from(pepper, "hex");
    const kept = this.state?.secretHmacs;
    this.state = {
      version: update.version,
      snapshot,
      index,
      pepperKey,
      secretHmacs: kept !== undefined && kept.pepperKey.equals(pepperKey) ? kept : new SecretHmacCache(pepperKey),
      connectedNodes: Math.max(1, update.connectedNodes || this.state?.connectedNodes || 1),
    };
    this.setShares(update);
    for (const listener of this.listeners) listener(this.state);
    return { applied: true, version: update.version, nacks };
  }

  private setShares(update: PolicyUpdate): void {
    this.shares = new Map(Object.entries(update.rateLimitShares));
    for (const listener of this.shareListeners) listener(this.shares);
  }

  /** The held policy as one full update (what the snapshot cache stores). */
  toFullUpdate(): PolicyUpdate {
    return create(PolicyUpdateSchema, {
      version: this.heldVersion(),
      full: true,
      upserts: [...this.held.values()].map((h) => h.wire),
      hmacPepper: this.pepper,
      connectedNodes: this.state?.connectedNodes ?? 1,
    });
  }
}

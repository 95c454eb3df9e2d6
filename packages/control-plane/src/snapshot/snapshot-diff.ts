/**
 * Diffs encoded snapshot resources against what a node holds (resource key -> hash), with
 * revocations, pauses and deactivations first so they apply before anything else.
 */
import { KeyStatus, type Resource } from "@tollgate/proto";

/** A delta: resources to upsert (urgent first) and keys to remove. */
export interface ResourceDelta {
  readonly upserts: Resource[];
  readonly removals: string[];
}

/** True for a resource that takes access away (non-active key, inactive user). */
export function isRevocation(r: Resource): boolean {
  switch (r.body.case) {
    case "virtualKey":
      return r.body.value.status !== KeyStatus.ACTIVE;
    case "user":
      return !r.body.value.active;
    default:
      return false;
  }
}

/** Orders resources with revocations first, keeping the relative order otherwise. */
export function orderUrgentFirst(resources: readonly Resource[]): Resource[] {
  return [...resources.filter(isRevocation), ...resources.filter((r) => !isRevocation(r))];
}

/** What changes turn `held` into `current`. */
export function diffResources(current: ReadonlyMap<string, Resource>, held: ReadonlyMap<string, string>): ResourceDelta {
  const upserts: Resource[] = [];
  for (const [key, r] of current) if (held.get(key) !== r.hash) upserts.push(r);
  const removals: string[] = [];
  for (const key of held.keys()) if (!current.has(key)) removals.push(key);
  return { upserts: orderUrgentFirst(upserts), removals: removals.sort() };
}

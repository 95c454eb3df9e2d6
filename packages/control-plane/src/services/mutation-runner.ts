/**
 * Runs an admin mutation: one transaction writes the rows and an audit row and, when the change
 * matters to the data plane, bumps `policy_revision`; NOTIFY `tollgate_policy` goes out after commit.
 */
import type { Logger } from "pino";
import type { Database, Queryable } from "../db/database.js";
import type { IdSource } from "../ids.js";
import { insertAudit } from "../repositories/audit.repository.js";
import { bumpPolicyRevision } from "../repositories/settings.repository.js";
import { describeActor, type Actor } from "./actor.js";
import { redactAuditRecord } from "./audit-redaction.js";

/** The NOTIFY channel carrying new policy revisions. */
export const POLICY_CHANNEL = "tollgate_policy";

/** What a mutation body gets. */
export interface MutationContext {
  readonly tx: Queryable;
  readonly nowMs: number;
  readonly actor: Actor;
  readonly newId: IdSource;
  /** Writes the audit row (exactly once per mutation; before/after are redacted here too). */
  audit(entry: { organizationId: string | null; action: string; target: string; before?: object | null; after?: object | null }): Promise<void>;
}

/** Dependencies of the runner. */
export interface MutationRunnerDeps {
  readonly db: Database;
  readonly now: () => number;
  readonly newId: IdSource;
  readonly logger: Logger;
}

/** Runs mutation bodies transactionally with audit and revision bump. */
export class MutationRunner {
  constructor(private readonly deps: MutationRunnerDeps) {}

  /** Runs `fn`; `policy` = the change is visible to data-plane nodes (bump + NOTIFY). */
  async run<R>(actor: Actor, policy: boolean, fn: (m: MutationContext) => Promise<R>): Promise<R> {
    const { db, newId } = this.deps;
    const nowMs = this.deps.now();
    let revision: bigint | null = null;
    const result = await db.transaction(async (tx) => {
      let audited = false;
      const ctx: MutationContext = {
        tx,
        nowMs,
        actor,
        newId,
        audit: async (e) => {
          if (audited) throw new Error(`mutation wrote a second audit row (${e.action}); every mutation writes exactly one`);
          audited = true;
          await insertAudit(
            tx,
            {
              id: newId("aud"),
              organizationId: e.organizationId,
              actor: describeActor(actor),
              action: e.action,
              target: e.target,
              before: redactAuditRecord(e.before),
              after: redactAuditRecord(e.after),
            },
            nowMs,
          );
        },
      };
      const r = await fn(ctx);
      if (!audited) throw new Error("mutation finished without an audit row");
      if (policy) revision = await bumpPolicyRevision(tx);
      return r;
    });
    if (revision !== null) {
      const rev: bigint = revision;
      await db.notify(POLICY_CHANNEL, rev.toString()).catch((e: unknown) => {
        this.deps.logger.warn({ err: e instanceof Error ? e.message : String(e) }, "NOTIFY failed; nodes catch up by polling");
      });
    }
    return result;
  }
}

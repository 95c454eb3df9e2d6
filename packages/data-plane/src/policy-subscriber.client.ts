/**
 * Keeps the node subscribed to the control plane's policy stream: opens `Subscribe`, says Hello
 * (node id, boot id, held version and resources), applies every update through the policy store
 * and ACKs it with its nonce and NACKs. A broken stream is reopened with capped, jittered backoff
 * (200 ms .. 5 s), rotating through the configured addresses.
 */
import { create } from "@bufbuild/protobuf";
import { AckSchema, HelloSchema, SubscribeRequestSchema, type PolicyUpdate } from "@tollgate/proto";
import type { Logger } from "pino";
import { computeBackoffMs, sleep } from "./backoff.js";
import type { ControlPlaneLink } from "./control-plane-link.js";
import type { PolicyStore } from "./policy-store.js";

/** What the subscriber needs. */
export interface PolicySubscriberOptions {
  readonly store: PolicyStore;
  readonly link: ControlPlaneLink;
  readonly nodeId: string;
  readonly bootId: string;
  readonly logger: Logger;
  readonly random: () => number;
}

/** The policy stream's reconnecting client. */
export class PolicySubscriber {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private cancelCurrent: (() => void) | null = null;

  /** See `PolicySubscriberOptions`. */
  constructor(private readonly options: PolicySubscriberOptions) {}

  /** Starts subscribing in the background. */
  start(): void {
    if (!this.loop) this.loop = this.run();
  }

  /** Cancels the stream and stops reconnecting. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.cancelCurrent?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { link, logger, random } = this.options;
    const signal = this.abort.signal;
    let attempt = 0;
    while (!signal.aborted) {
      const received = await this.subscribeOnce();
      this.options.store.setConnected(false);
      if (signal.aborted) break;
      if (received) attempt = 0;
      link.rotate();
      const delay = computeBackoffMs(attempt++, random);
      logger.debug({ delayMs: delay }, "policy stream closed; reconnecting");
      await sleep(delay, signal);
    }
  }

  /** Runs one stream until it ends; true when at least one update arrived on it. */
  private subscribeOnce(): Promise<boolean> {
    const { store, link, nodeId, bootId, logger } = this.options;
    return new Promise<boolean>((resolve) => {
      let received = false;
      let settled = false;
      let call: ReturnType<ReturnType<ControlPlaneLink["current"]>["subscribe"]>;
      let address = "";
      const finish = (): void => {
        if (settled) return;
        settled = true;
        this.cancelCurrent = null;
        resolve(received);
      };
      try {
        const client = link.current();
        address = client.address;
        call = client.subscribe();
      } catch (err) {
        logger.warn({ err: { message: (err as Error).message } }, "cannot open policy stream");
        finish();
        return;
      }
      this.cancelCurrent = () => call.cancel();
      call.on("data", (update: PolicyUpdate) => {
        received = true;
        store.setConnected(true);
        const result = store.applyUpdate(update);
        if (update.sharesOnly) return; // shares and node count only: no new policy, nothing to ACK
        if (result.nacks.length > 0) logger.warn({ nacks: result.nacks.map((n) => ({ key: n.key, reason: n.reason })) }, "policy resources refused");
        if (result.applied) logger.info({ version: result.version.toString(), full: update.full, upserts: update.upserts.length, removals: update.removals.length }, "policy applied");
        call.write(create(SubscribeRequestSchema, { msg: { case: "ack", value: create(AckSchema, { version: result.version, nonce: update.nonce, nacks: [...result.nacks] }) } }));
      });
      call.on("error", (err: Error) => {
        logger.warn({ err: { message: err.message }, address }, "policy stream error");
        finish();
      });
      call.on("end", finish);
      call.on("close", finish);
      call.write(
        create(SubscribeRequestSchema, {
          msg: { case: "hello", value: create(HelloSchema, { nodeId, bootId, heldVersion: store.heldVersion(), held: store.heldResources() }) },
        }),
      );
    });
  }
}

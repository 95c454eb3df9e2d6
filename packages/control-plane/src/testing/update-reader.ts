/** Test support: reads PolicyUpdates from a Subscribe stream one at a time, with a timeout. */
import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { PolicyUpdate, SubscribeRequest } from "@tollgate/proto";

/** Queued reader of a policy stream. */
export interface UpdateReader {
  next(timeoutMs: number): Promise<PolicyUpdate>;
  /** Resolves with the stream's error or end. */
  readonly ended: Promise<string>;
}

/** Wraps a stream: updates are queued as they arrive. */
export function readUpdates(stream: ClientDuplexStream<SubscribeRequest, PolicyUpdate>): UpdateReader {
  const queue: PolicyUpdate[] = [];
  const waiters: Array<(u: PolicyUpdate) => void> = [];
  stream.on("data", (u: PolicyUpdate) => {
    const w = waiters.shift();
    if (w) w(u);
    else queue.push(u);
  });
  const ended = new Promise<string>((resolve) => {
    stream.on("error", (e: Error & { code?: number }) => resolve(`error:${e.code ?? "?"}`));
    stream.on("end", () => resolve("end"));
  });
  return {
    ended,
    next: (timeoutMs) => {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise<PolicyUpdate>((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.indexOf(done);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`no policy update within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (u: PolicyUpdate): void => {
          clearTimeout(timer);
          resolve(u);
        };
        waiters.push(done);
      });
    },
  };
}

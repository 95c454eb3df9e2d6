/**
 * The node's link to the control plane: one gRPC client per configured address, created lazily,
 * with a current address that rotates to the next one on failure. Every control-plane caller
 * (policy stream, grants, usage reporter) goes through `current()`.
 */
import { createControlPlaneClient, type ControlPlaneClient } from "@tollgate/proto";

/** Rotating access to the control plane's clients. */
export interface ControlPlaneLink {
  /** The client of the current address. */
  current(): ControlPlaneClient;
  /** Moves to the next address (after a failure on the current one). */
  rotate(): void;
  /** Closes every client created; later calls to `current()` throw. */
  close(): void;
}

/** Makes a client for one address. */
export type ControlPlaneClientFactory = (address: string) => ControlPlaneClient;

/** Builds a link over `addresses` (at least one) authenticating with `nodeToken`. */
export function createControlPlaneLink(
  addresses: readonly string[],
  nodeToken: string,
  factory: ControlPlaneClientFactory = (address) => createControlPlaneClient(address, nodeToken),
): ControlPlaneLink {
  if (addresses.length === 0) throw new Error("no control-plane address");
  const clients = new Map<string, ControlPlaneClient>();
  let index = 0;
  let closed = false;
  return {
    current() {
      if (closed) throw new Error("control-plane link is closed");
      const address = addresses[index % addresses.length] as string;
      let client = clients.get(address);
      if (!client) {
        client = factory(address);
        clients.set(address, client);
      }
      return client;
    },
    rotate() {
      index = (index + 1) % addresses.length;
    },
    close() {
      closed = true;
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}

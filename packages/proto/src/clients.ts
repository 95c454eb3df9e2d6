/**
 * Typed grpc-js services and clients of the `tollgate.v1` package, and node-token auth.
 */
import { timingSafeEqual, createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { ClientTlsSettings } from "./channel-tls.js";
import { makeGrpcClientConstructor, toGrpcServiceDefinition } from "./grpc-bridge.js";
import {
  PolicyService,
  UsageService,
  type AcquireGrantsRequest,
  type AcquireGrantsResponse,
  type BudgetUsageRequest,
  type BudgetUsageResponse,
  type AcquireRateUnitsRequest,
  type AcquireRateUnitsResponse,
  type PolicyUpdate,
  type ReleaseGrantsRequest,
  type ReleaseGrantsResponse,
  type SubscribeRequest,
  type UsageAck,
  type UsageBatch,
} from "./gen/tollgate/v1/policy_pb.js";

/** grpc-js definition of `tollgate.v1.PolicyService`. */
export const policyServiceDefinition: grpc.ServiceDefinition = toGrpcServiceDefinition(PolicyService);
/** grpc-js definition of `tollgate.v1.UsageService`. */
export const usageServiceDefinition: grpc.ServiceDefinition = toGrpcServiceDefinition(UsageService);

/** Handlers a control plane implements for `PolicyService`. */
export interface PolicyServiceHandlers extends grpc.UntypedServiceImplementation {
  subscribe: grpc.handleBidiStreamingCall<SubscribeRequest, PolicyUpdate>;
  acquireGrants: grpc.handleUnaryCall<AcquireGrantsRequest, AcquireGrantsResponse>;
  releaseGrants: grpc.handleUnaryCall<ReleaseGrantsRequest, ReleaseGrantsResponse>;
  getBudgetUsage: grpc.handleUnaryCall<BudgetUsageRequest, BudgetUsageResponse>;
  acquireRateUnits: grpc.handleUnaryCall<AcquireRateUnitsRequest, AcquireRateUnitsResponse>;
}

/** Handlers a control plane implements for `UsageService`. */
export interface UsageServiceHandlers extends grpc.UntypedServiceImplementation {
  reportUsage: grpc.handleUnaryCall<UsageBatch, UsageAck>;
}

const PolicyClientCtor = makeGrpcClientConstructor(PolicyService);
const UsageClientCtor = makeGrpcClientConstructor(UsageService);

type UnaryMethod<Req, Res> = (req: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall;

interface RawPolicyClient extends grpc.Client {
  subscribe(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<SubscribeRequest, PolicyUpdate>;
  acquireGrants: UnaryMethod<AcquireGrantsRequest, AcquireGrantsResponse>;
  releaseGrants: UnaryMethod<ReleaseGrantsRequest, ReleaseGrantsResponse>;
  getBudgetUsage: UnaryMethod<BudgetUsageRequest, BudgetUsageResponse>;
  acquireRateUnits: UnaryMethod<AcquireRateUnitsRequest, AcquireRateUnitsResponse>;
}

interface RawUsageClient extends grpc.Client {
  reportUsage: UnaryMethod<UsageBatch, UsageAck>;
}

/** A node's connection to one control plane: the policy stream, grants and usage. */
export interface ControlPlaneClient {
  /** The address this client dials. */
  readonly address: string;
  /** Opens a policy subscription stream (the caller writes the Hello first). */
  subscribe(): grpc.ClientDuplexStream<SubscribeRequest, PolicyUpdate>;
  acquireGrants(req: AcquireGrantsRequest, timeoutMs: number): Promise<AcquireGrantsResponse>;
  releaseGrants(req: ReleaseGrantsRequest, timeoutMs: number): Promise<ReleaseGrantsResponse>;
  getBudgetUsage(req: BudgetUsageRequest, timeoutMs: number): Promise<BudgetUsageResponse>;
  acquireRateUnits(req: AcquireRateUnitsRequest, timeoutMs: number): Promise<AcquireRateUnitsResponse>;
  reportUsage(batch: UsageBatch, timeoutMs: number): Promise<UsageAck>;
  /** Closes the channel; open calls are cancelled. */
  close(): void;
}

function unary<Req, Res>(method: UnaryMethod<Req, Res>, self: grpc.Client, metadata: () => grpc.Metadata) {
  return (req: Req, timeoutMs: number): Promise<Res> =>
    new Promise<Res>((resolve, reject) => {
      method.call(self, req, metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(err);
        else if (res === undefined) reject(new Error("empty gRPC response"));
        else resolve(res);
      });
    });
}

/**
 * Creates a client for a control plane at `address` (host:port), authenticating with the node
 * token; over TLS (verifying the server, presenting a client certificate when given) when `tls`
 * is set, plaintext otherwise.
 */
export function createControlPlaneClient(address: string, nodeToken: string, tls: ClientTlsSettings | null = null): ControlPlaneClient {
  const credentials = tls === null ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
  const options: grpc.ChannelOptions = {
    ...(tls?.serverName ? { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName } : {}),
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": 2_000,
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
  };
  const policy = new PolicyClientCtor(address, credentials, options) as unknown as RawPolicyClient;
  const usage = new UsageClientCtor(address, credentials, options) as unknown as RawUsageClient;
  const metadata = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${nodeToken}`);
    return md;
  };
  return {
    address,
    subscribe: () => policy.subscribe(metadata()),
    acquireGrants: unary(policy.acquireGrants, policy, metadata),
    releaseGrants: unary(policy.releaseGrants, policy, metadata),
    getBudgetUsage: unary(policy.getBudgetUsage, policy, metadata),
    acquireRateUnits: unary(policy.acquireRateUnits, policy, metadata),
    reportUsage: unary(usage.reportUsage, usage, metadata),
    close: () => {
      policy.close();
      usage.close();
    },
  };
}

/** True when the call metadata carries `authorization: Bearer <expected>` (constant-time compare). */
export function hasNodeToken(metadata: grpc.Metadata, expected: string): boolean {
  const value = metadata.get("authorization")[0];
  if (typeof value !== "string" || !value.startsWith("Bearer ")) return false;
  const given = createHash("sha256").update(value.slice(7)).digest();
  const want = createHash("sha256").update(expected).digest();
  return timingSafeEqual(given, want);
}

/**
 * The one table mapping the error family to each edge: GraphQL `extensions.code`, the HTTP status
 * of a refusal made before GraphQL runs, and gRPC status.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { ErrorCode } from "./errors.js";

const GRAPHQL_CODES: Readonly<Record<ErrorCode, string>> = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  BAD_USER_INPUT: "BAD_USER_INPUT",
  CONFLICT: "CONFLICT",
  RATE_LIMITED: "RATE_LIMITED",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
};

const HTTP_STATUSES: Readonly<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
};

const GRPC_CODES: Readonly<Record<ErrorCode, GrpcStatus>> = {
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  FORBIDDEN: GrpcStatus.PERMISSION_DENIED,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  BAD_USER_INPUT: GrpcStatus.INVALID_ARGUMENT,
  CONFLICT: GrpcStatus.ALREADY_EXISTS,
  RATE_LIMITED: GrpcStatus.RESOURCE_EXHAUSTED,
  PAYLOAD_TOO_LARGE: GrpcStatus.RESOURCE_EXHAUSTED,
};

/** GraphQL `extensions.code` of an error code. */
export function toGraphQLCode(code: ErrorCode): string {
  return GRAPHQL_CODES[code];
}

/** HTTP status of a refusal made on the HTTP request, before GraphQL runs (the admin API's gate). */
export function toHttpStatus(code: ErrorCode): number {
  return HTTP_STATUSES[code];
}

/** gRPC status of an error code. */
export function toGrpcStatus(code: ErrorCode): GrpcStatus {
  return GRPC_CODES[code];
}

/** Message shown for an unexpected error (the real one is only logged). */
export const MASKED_MESSAGE = "internal error";

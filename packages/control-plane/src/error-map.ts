/**
 * The one table mapping the error family to each edge: GraphQL `extensions.code` and gRPC status.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { ErrorCode } from "./errors.js";

const GRAPHQL_CODES: Readonly<Record<ErrorCode, string>> = {
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  BAD_USER_INPUT: "BAD_USER_INPUT",
  CONFLICT: "CONFLICT",
};

const GRPC_CODES: Readonly<Record<ErrorCode, GrpcStatus>> = {
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  FORBIDDEN: GrpcStatus.PERMISSION_DENIED,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  BAD_USER_INPUT: GrpcStatus.INVALID_ARGUMENT,
  CONFLICT: GrpcStatus.ALREADY_EXISTS,
};

/** GraphQL `extensions.code` of an error code. */
export function toGraphQLCode(code: ErrorCode): string {
  return GRAPHQL_CODES[code];
}

/** gRPC status of an error code. */
export function toGrpcStatus(code: ErrorCode): GrpcStatus {
  return GRPC_CODES[code];
}

/** Message shown for an unexpected error (the real one is only logged). */
export const MASKED_MESSAGE = "internal error";

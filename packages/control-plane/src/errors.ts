/**
 * The control plane's one error family. Services throw `AppError`; `error-map.ts` turns it into a
 * GraphQL `extensions.code` or a gRPC status. Anything else is a bug and is masked at the edge.
 */

/** Codes a caller may see. */
export type ErrorCode = "UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND" | "BAD_USER_INPUT" | "CONFLICT" | "RATE_LIMITED" | "PAYLOAD_TOO_LARGE";

/** An expected failure with a message safe to show to the caller. */
export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: ErrorCode,
    readonly publicMessage: string,
    options?: { cause?: unknown },
  ) {
    super(publicMessage, options);
  }
}

/** "<what> <id> not found" (also used for ids of another organization). */
export function notFound(what: string, id: string): AppError {
  return new AppError("NOT_FOUND", `${what} ${id} not found`);
}

/** A validation failure with a clear message. */
export function badInput(message: string, cause?: unknown): AppError {
  return new AppError("BAD_USER_INPUT", message, { cause });
}

/** A natural key that already exists in its parent. */
export function conflict(message: string, cause?: unknown): AppError {
  return new AppError("CONFLICT", message, { cause });
}

/** Missing or wrong credentials. */
export function unauthenticated(message = "missing or invalid bearer token"): AppError {
  return new AppError("UNAUTHENTICATED", message);
}

/** Too many failed attempts from one client. */
export function rateLimited(message: string): AppError {
  return new AppError("RATE_LIMITED", message);
}

/** A request body over the caller's limit. */
export function payloadTooLarge(message: string): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", message);
}

/** Finds the AppError in `e` or in its `originalError`/`cause` chain. */
export function findAppError(e: unknown): AppError | null {
  let cur: unknown = e;
  for (let depth = 0; depth < 8 && cur !== null && typeof cur === "object"; depth++) {
    if (cur instanceof AppError) return cur;
    const o = cur as { originalError?: unknown; cause?: unknown };
    cur = o.originalError ?? o.cause;
  }
  return null;
}

/** OpenAI-shaped error bodies the mock answers with. */

/** `{error: {message, type, param, code}}` as OpenAI sends it. */
export function buildErrorBody(status: number, message: string, code?: string): Record<string, unknown> {
  const type = status === 401 ? "invalid_request_error" : status === 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error";
  const defaultCode = status === 401 ? "invalid_api_key" : status === 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : "invalid_request";
  return { error: { message, type, param: null, code: code ?? defaultCode } };
}

/** The message of a scripted `[[mock:status=N]]` error. */
export function describeStatus(status: number): string {
  if (status === 429) return "Rate limit reached for requests (mock). Please try again in 1s.";
  if (status >= 500) return "The server had an error while processing your request (mock).";
  return `Mock error with status ${status}.`;
}

/** Test support: a tiny GraphQL-over-HTTP client. */

/** A GraphQL response. */
export interface GraphQLResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly data: T | null;
  readonly errors: Array<{ message: string; extensions?: { code?: string } }> | undefined;
}

/** POSTs a query to `${baseUrl}/graphql` with an optional bearer token. */
export async function postGraphQL<T = Record<string, unknown>>(baseUrl: string, token: string | null, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResponse<T>> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T | null; errors?: GraphQLResponse["errors"] };
  return { status: res.status, data: body.data ?? null, errors: body.errors };
}

/** POSTs a query and returns its data, failing on any error. */
export async function gql<T = Record<string, unknown>>(baseUrl: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await postGraphQL<T>(baseUrl, token, query, variables);
  if (r.errors?.length) throw new Error(`GraphQL error: ${JSON.stringify(r.errors)}`);
  if (r.data === null) throw new Error("GraphQL response without data");
  return r.data;
}

/** The first error code of a response. */
export function errorCode(r: GraphQLResponse<unknown>): string | undefined {
  return r.errors?.[0]?.extensions?.code;
}

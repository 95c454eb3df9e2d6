/**
 * A tiny GraphQL client for tests and scripts: posts an operation with the admin token and
 * throws on GraphQL errors (with their codes).
 */

/** A GraphQL error as the control plane returns it. */
export interface GraphQLErrorShape {
  readonly message: string;
  readonly extensions?: { readonly code?: string };
}

/** Thrown when a response carries `errors`. */
export class GraphQLRequestError extends Error {
  constructor(readonly errors: readonly GraphQLErrorShape[]) {
    super(errors.map((e) => `${e.extensions?.code ?? "?"}: ${e.message}`).join("; "));
  }
  /** The first error's `extensions.code`. */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

/** Creates a function that runs GraphQL operations against `url` with `token`. */
export function graphqlClient(url: string, token: string) {
  return async function gql<T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: GraphQLErrorShape[] };
    if (body.errors && body.errors.length > 0) throw new GraphQLRequestError(body.errors);
    if (!body.data) throw new Error(`no data (HTTP ${res.status})`);
    return body.data;
  };
}

/** GET /graphql: the GraphiQL playground, self-contained (no CDN), rendered once and served gzipped. */
import { gzipSync } from "node:zlib";
import { renderGraphiQL } from "@graphql-yoga/render-graphiql";
import type { FastifyInstance } from "fastify";

/** Registers the playground page on GET `path`. */
export function registerGraphiQLRoute(app: FastifyInstance, path: string): void {
  const html = Buffer.from(
    renderGraphiQL({
      endpoint: path,
      title: "Tollgate admin API",
      headers: JSON.stringify({ Authorization: "Bearer <admin token>" }),
      defaultQuery: "query {\n  me { kind }\n  organizations { id slug name }\n  policyRevision\n}\n",
    }),
    "utf8",
  );
  const gzipped = gzipSync(html, { level: 9 });
  app.get(path, async (req, reply) => {
    reply.header("content-type", "text/html; charset=utf-8").header("cache-control", "no-cache").header("vary", "accept-encoding");
    const accepts = String(req.headers["accept-encoding"] ?? "");
    if (/\bgzip\b/.test(accepts)) return reply.header("content-encoding", "gzip").send(gzipped);
    return reply.send(html);
  });
}

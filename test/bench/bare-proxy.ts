/**
 * The baseline of the benchmark: a bare reverse proxy (node:http + undici) that forwards every
 * request to one upstream, replacing the Authorization header with the upstream key. No policy,
 * no accounting: what any gateway costs at least.
 * Env: BARE_PROXY_PORT, BARE_PROXY_UPSTREAM (http://host:port), BARE_PROXY_UPSTREAM_KEY.
 */
import { createServer } from "node:http";
import { Pool } from "undici";

const port = Number(process.env.BARE_PROXY_PORT ?? "0");
const upstream = process.env.BARE_PROXY_UPSTREAM ?? "http://127.0.0.1:9090";
const upstreamKey = process.env.BARE_PROXY_UPSTREAM_KEY ?? "";
const pool = new Pool(upstream, { connections: 128, pipelining: 1 });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    pool
      .request({
        path: req.url ?? "/",
        method: (req.method ?? "GET") as "GET" | "POST",
        headers: { "content-type": req.headers["content-type"] ?? "application/json", authorization: `Bearer ${upstreamKey}` },
        body: chunks.length > 0 ? Buffer.concat(chunks) : null,
      })
      .then(async (up) => {
        const headers: Record<string, string> = {};
        const ct = up.headers["content-type"];
        if (typeof ct === "string") headers["content-type"] = ct;
        res.writeHead(up.statusCode, headers);
        for await (const chunk of up.body) res.write(chunk as Buffer);
        res.end();
      })
      .catch((err: unknown) => {
        res.writeHead(502, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: String(err), type: "api_error", code: "upstream_error" } }));
      });
  });
});

server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => {
  const addr = server.address();
  const actual = addr !== null && typeof addr !== "string" ? addr.port : port;
  process.stdout.write(`bare proxy listening on http://127.0.0.1:${actual}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  void pool.close().then(() => process.exit(0));
});

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { request } from "node:http";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { loadControlPlaneConfig } from "./config.js";
import { startControlPlane } from "./control-plane.js";
import { DataDirLockedError } from "./db/data-dir-lock.js";
import { errorCode, gql, postGraphQL } from "./testing/graphql-client.js";

function getRaw(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on("error", reject)
      .end();
  });
}

describe("startControlPlane in embedded mode", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tg-embedded-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const config = loadControlPlaneConfig({ TOLLGATE_DATA_DIR: dataDir, CONTROL_PLANE_HTTP_PORT: "0", CONTROL_PLANE_GRPC_PORT: "0", LOG_LEVEL: "silent" });
  const logger = pino({ level: "silent" });

  it("generates secrets on first start, serves health, metrics and the playground, and locks the data directory", async () => {
    const cp = await startControlPlane(config, { logger, nodeToken: "embedded-node-token-0123" });
    let token = "";
    try {
      expect(cp.adminToken).toMatch(/^tg_admin_[A-Za-z0-9_-]{43}$/);
      token = cp.adminToken ?? "";
      expect(cp.nodeToken).toBe("embedded-node-token-0123");
      expect(statSync(join(dataDir, "master.key")).mode & 0o777).toBe(0o600);
      expect((await gql<{ me: { kind: string } }>(cp.httpUrl, token, "{ me { kind } }")).me.kind).toBe("PLATFORM_ADMIN");
      const org = await gql<{ createOrganization: { organization: { id: string } } }>(cp.httpUrl, token, `mutation { createOrganization(input: {name: "A", slug: "a"}) { organization { id } } }`);
      await gql(
        cp.httpUrl,
        token,
        `mutation { createProviderAccount(input: {organizationId: "${org.createOrganization.organization.id}", name: "oa", provider: OPENAI, apiKey: "sk-embedded-000000"}) { providerAccount { id } } }`,
      );

      expect((await fetch(`${cp.httpUrl}/healthz`)).status).toBe(200);
      const ready = await fetch(`${cp.httpUrl}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready" });
      const metrics = await (await fetch(`${cp.httpUrl}/metrics`)).text();
      expect(metrics).toContain("tollgate_policy_revision");
      expect(metrics).toMatch(/tollgate_graphql_requests_total\{outcome="ok"\} \d+/);

      const page = await getRaw(`${cp.httpUrl}/graphql`, { "accept-encoding": "gzip" });
      expect(page.status).toBe(200);
      expect(page.headers["content-encoding"]).toBe("gzip");
      const html = gunzipSync(page.body).toString("utf8");
      expect(html).toContain("GraphiQL");
      expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/);
      const plain = await getRaw(`${cp.httpUrl}/graphql`, {});
      expect(plain.headers["content-encoding"]).toBeUndefined();
      expect(plain.body.length).toBe(Buffer.byteLength(html));

      await expect(startControlPlane(config, { logger })).rejects.toBeInstanceOf(DataDirLockedError);
    } finally {
      await cp.close();
    }

    const again = await startControlPlane(config, { logger });
    try {
      expect(again.adminToken).toBeNull();
      expect((await gql<{ organizations: Array<{ slug: string }> }>(again.httpUrl, token, "{ organizations { slug } }")).organizations.map((o) => o.slug)).toEqual(["a"]);
      expect(errorCode(await postGraphQL(again.httpUrl, "tg_admin_wrong", "{ me { kind } }"))).toBe("UNAUTHENTICATED");
    } finally {
      await again.close();
    }
  }, 60_000);
});

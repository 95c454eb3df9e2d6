import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createDataPlaneLogger } from "./logger.js";

describe("createDataPlaneLogger", () => {
  it("redacts key headers, credentials and bodies", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createDataPlaneLogger("info", "node-a", sink);
    logger.info(
      {
        req: { headers: { authorization: "Bearer tg_live_secret", "x-api-key": "tg_live_a", "x-goog-api-key": "tg_live_b", "x-bf-vk": "tg_live_c" }, query: { key: "tg_live_d" } },
        body: { messages: [{ content: "private prompt" }] },
        account: { apiKey: "sk-provider" },
      },
      "request",
    );
    const out = lines.join("");
    for (const secret of ["tg_live_secret", "tg_live_a", "tg_live_b", "tg_live_c", "tg_live_d", "private prompt", "sk-provider"]) expect(out).not.toContain(secret);
    expect(out).toContain("[redacted]");
    expect(JSON.parse(out)).toMatchObject({ nodeId: "node-a", msg: "request" });
  });
});

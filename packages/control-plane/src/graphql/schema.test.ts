import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SCHEMA_FILE } from "./print-schema.js";
import { printControlPlaneSchema } from "./schema.js";

describe("graphql/schema.graphql", () => {
  it("matches the schema built from the code (run `npm run generate:schema` after changing it)", async () => {
    expect(readFileSync(SCHEMA_FILE, "utf8")).toBe(await printControlPlaneSchema());
  });

  it("names every mutation's single argument `input: <Mutation>Input!` and returns a payload", async () => {
    const sdl = await printControlPlaneSchema();
    const body = /type Mutation \{([\s\S]*?)\n\}/.exec(sdl)?.[1] ?? "";
    const fields = [...body.matchAll(/^ {2}(\w+)\((.*)\): (\w+)!$/gm)];
    expect(fields.length).toBeGreaterThanOrEqual(19);
    for (const [, name = "", args, payload] of fields) {
      const type = name.charAt(0).toUpperCase() + name.slice(1);
      expect(args).toBe(`input: ${type}Input!`);
      expect(payload).toBe(`${type}Payload`);
    }
  });
});

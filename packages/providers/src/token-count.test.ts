import { createRequire } from "node:module";
import { Tiktoken } from "js-tiktoken/lite";
import { describe, expect, it } from "vitest";
import { countTokens } from "./token-count.js";

const require = createRequire(import.meta.url);
const reference = new Tiktoken(require("js-tiktoken/ranks/o200k_base") as ConstructorParameters<typeof Tiktoken>[0]);
const exact = (s: string) => reference.encode(s, [], []).length;

describe("countTokens", () => {
  it("matches o200k_base exactly on ordinary text", () => {
    const texts = [
      "Hello, world!",
      "東京は日本の首都です。",
      "const x = [1, 2, 3].map((n) => n * 2);\n// done",
      "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(50),
      "emoji 🚀 and accents café naïve",
      "<|endoftext|> is plain text",
    ];
    for (const t of texts) expect(countTokens(t)).toBe(exact(t));
    expect(countTokens("")).toBe(0);
  });

  it("never undercounts long single-character runs and stays within one token per byte", () => {
    for (const t of ["a".repeat(300), "🚀".repeat(100), "-".repeat(200) + "x", " ".repeat(100) + "end"]) {
      const n = countTokens(t);
      expect(n).toBeGreaterThanOrEqual(exact(t));
      expect(n).toBeLessThanOrEqual(Buffer.byteLength(t));
    }
  });
});

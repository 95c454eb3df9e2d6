import { describe, expect, it } from "vitest";
import { createIdSource } from "./ids.js";

describe("createIdSource", () => {
  it("makes prefixed ids that sort in creation order, within and across milliseconds", () => {
    let t = 1_700_000_000_000;
    const ids = createIdSource(() => t);
    const made: string[] = [];
    for (let i = 0; i < 200; i++) {
      if (i % 50 === 0) t += 1;
      made.push(ids("vk"));
    }
    expect(made.every((id) => /^vk_[0-9a-z]{26}$/.test(id))).toBe(true);
    expect([...made].sort()).toEqual(made);
    expect(new Set(made).size).toBe(made.length);
  });
});

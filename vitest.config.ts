import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // One copy of graphql: vitest would otherwise load the ESM and CJS builds side by side.
    alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }],
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        // Package tests (pure, in-process servers, databases): in parallel, first.
        test: { name: "unit", include: ["packages/*/src/**/*.test.ts"], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // Real processes (a control plane, several nodes, the mock provider each): one file at a
        // time after the unit tests, so timing figures are not skewed by contention on small machines.
        // They run the built CLI with plain node, as production does: the global setup builds it.
        test: { name: "system", include: ["test/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 1 }, globalSetup: ["test/support/build.setup.ts"] },
      },
    ],
  },
});
